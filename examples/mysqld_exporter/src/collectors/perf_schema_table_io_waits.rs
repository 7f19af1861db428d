//! mysqld_exporter's `perf_schema.tableiowaits`: I/O waits per table and operation, from
//! `performance_schema.table_io_waits_summary_by_table`.

use hubble::catalogue::Entry;

use super::columns::{operations, Column, From::Cell};
use super::Assembly;

const COLUMNS: &[Column] = operations!(
    "mysql_perf_schema_table_io_waits_total",
    "mysql_perf_schema_table_io_waits_seconds_total",
    "Table I/O wait events per table and operation",
    "Time spent in table I/O wait events per table and operation",
    (("schema", Cell("OBJECT_SCHEMA")), ("name", Cell("OBJECT_NAME"))),
    [
        "fetch" => "COUNT_FETCH", "SUM_TIMER_FETCH";
        "insert" => "COUNT_INSERT", "SUM_TIMER_INSERT";
        "update" => "COUNT_UPDATE", "SUM_TIMER_UPDATE";
        "delete" => "COUNT_DELETE", "SUM_TIMER_DELETE";
    ]
);

const SQL: &str =
    "SELECT OBJECT_SCHEMA, OBJECT_NAME, COUNT_FETCH, COUNT_INSERT, COUNT_UPDATE, COUNT_DELETE, \
                          SUM_TIMER_FETCH, SUM_TIMER_INSERT, SUM_TIMER_UPDATE, SUM_TIMER_DELETE \
                   FROM performance_schema.table_io_waits_summary_by_table \
                   WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema')";

/// `--collect.perf_schema.tableiowaits`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.tableiowaits",
    "I/O waits per table (performance_schema.table_io_waits_summary_by_table)",
    |a| {
        a.columns(
            "perf_schema.tableiowaits",
            SQL.to_owned(),
            COLUMNS,
            "the performance schema",
        )
    },
);
