//! mysqld_exporter's `perf_schema.indexiowaits`: I/O waits per index and operation, from
//! `performance_schema.table_io_waits_summary_by_index_usage`. Inserts are counted on the table's row
//! without an index (`index="NONE"`) only, as upstream does: an index has none of its own.

use hubble::catalogue::Entry;

use super::columns::{Column, From, From::Cell, From::Fixed};
use super::Assembly;

const COUNT: &str = "mysql_perf_schema_index_io_waits_total";
const COUNT_HELP: &str = "Index I/O wait events per index and operation";
const SECONDS: &str = "mysql_perf_schema_index_io_waits_seconds_total";
const SECONDS_HELP: &str = "Time spent in index I/O wait events per index and operation";

macro_rules! labels {
    ($op:literal) => {
        &[
            ("schema", Cell("OBJECT_SCHEMA")),
            ("name", Cell("OBJECT_NAME")),
            ("index", Cell("INDEX_NAME")),
            ("operation", Fixed($op)),
        ] as &[(&str, From)]
    };
}

const COLUMNS: &[Column] = &[
    Column::counter(COUNT, COUNT_HELP, "COUNT_FETCH", labels!("fetch")),
    Column::counter(COUNT, COUNT_HELP, "COUNT_INSERT", labels!("insert"))
        .only_when("INDEX_NAME", "NONE"),
    Column::counter(COUNT, COUNT_HELP, "COUNT_UPDATE", labels!("update")),
    Column::counter(COUNT, COUNT_HELP, "COUNT_DELETE", labels!("delete")),
    Column::counter(SECONDS, SECONDS_HELP, "SUM_TIMER_FETCH", labels!("fetch")).scaled(1e-12),
    Column::counter(SECONDS, SECONDS_HELP, "SUM_TIMER_INSERT", labels!("insert"))
        .scaled(1e-12)
        .only_when("INDEX_NAME", "NONE"),
    Column::counter(SECONDS, SECONDS_HELP, "SUM_TIMER_UPDATE", labels!("update")).scaled(1e-12),
    Column::counter(SECONDS, SECONDS_HELP, "SUM_TIMER_DELETE", labels!("delete")).scaled(1e-12),
];

const SQL: &str = "SELECT OBJECT_SCHEMA, OBJECT_NAME, IFNULL(INDEX_NAME, 'NONE') AS INDEX_NAME, \
                          COUNT_FETCH, COUNT_INSERT, COUNT_UPDATE, COUNT_DELETE, \
                          SUM_TIMER_FETCH, SUM_TIMER_INSERT, SUM_TIMER_UPDATE, SUM_TIMER_DELETE \
                   FROM performance_schema.table_io_waits_summary_by_index_usage \
                   WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema')";

/// `--collect.perf_schema.indexiowaits`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.indexiowaits",
    "I/O waits per index (performance_schema.table_io_waits_summary_by_index_usage)",
    |a| {
        a.columns(
            "perf_schema.indexiowaits",
            SQL.to_owned(),
            COLUMNS,
            "the performance schema",
        )
    },
);
