//! mysqld_exporter's `perf_schema.file_instances`: reads and writes per file, from
//! `performance_schema.file_summary_by_instance`, for the files `--collect.perf_schema.file_instances.filter`
//! matches (a regular expression, `.*`), named without `.remove_prefix` (`/var/lib/mysql/`).

use hubble::catalogue::Entry;

use super::columns::{quote, trim_prefix_sql, Column, From, From::Cell, From::Fixed};
use super::Assembly;

macro_rules! mode {
    ($mode:literal) => {
        &[
            ("file_name", Cell("FILE_NAME")),
            ("event_name", Cell("EVENT_NAME")),
            ("mode", Fixed($mode)),
        ] as &[(&str, From)]
    };
}

const COUNT: (&str, &str) = (
    "mysql_perf_schema_file_instances_total",
    "Reads and writes per file",
);
const BYTES: (&str, &str) = (
    "mysql_perf_schema_file_instances_bytes",
    "Bytes read and written per file",
);

const COLUMNS: &[Column] = &[
    Column::counter(COUNT.0, COUNT.1, "COUNT_READ", mode!("read")),
    Column::counter(COUNT.0, COUNT.1, "COUNT_WRITE", mode!("write")),
    Column::counter(BYTES.0, BYTES.1, "SUM_NUMBER_OF_BYTES_READ", mode!("read")),
    Column::counter(
        BYTES.0,
        BYTES.1,
        "SUM_NUMBER_OF_BYTES_WRITE",
        mode!("write"),
    ),
];

/// The query: files matching `filter`, named without `remove_prefix`.
pub(crate) fn query(filter: &str, remove_prefix: &str) -> String {
    format!(
        "SELECT {} AS FILE_NAME, EVENT_NAME, COUNT_READ, COUNT_WRITE, SUM_NUMBER_OF_BYTES_READ, SUM_NUMBER_OF_BYTES_WRITE \
         FROM performance_schema.file_summary_by_instance WHERE FILE_NAME REGEXP {}",
        trim_prefix_sql("FILE_NAME", remove_prefix),
        quote(filter)
    )
}

/// `--collect.perf_schema.file_instances`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.file_instances",
    "Reads and writes per file (performance_schema.file_summary_by_instance)",
    |a| {
        let sql = query(
            &a.options.file_instances_filter,
            &a.options.file_instances_remove_prefix,
        );
        a.columns(
            "perf_schema.file_instances",
            sql,
            COLUMNS,
            "the performance schema",
        );
    },
);
