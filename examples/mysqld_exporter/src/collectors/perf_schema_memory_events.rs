//! mysqld_exporter's `perf_schema.memory_events`: memory allocated, freed and in use per instrument, from
//! `performance_schema.memory_summary_global_by_event_name` (instruments that allocated), event names without
//! `--collect.perf_schema.memory_events.remove_prefix` (`memory/`).

use hubble::catalogue::Entry;

use super::columns::{trim_prefix_sql, Column, From, From::Cell};
use super::Assembly;

const LABELS: &[(&str, From)] = &[("event_name", Cell("EVENT_NAME"))];

const COLUMNS: &[Column] = &[
    Column::counter(
        "mysql_perf_schema_memory_events_alloc_bytes_total",
        "Bytes allocated by the instrument",
        "SUM_NUMBER_OF_BYTES_ALLOC",
        LABELS,
    ),
    Column::counter(
        "mysql_perf_schema_memory_events_free_bytes_total",
        "Bytes freed by the instrument",
        "SUM_NUMBER_OF_BYTES_FREE",
        LABELS,
    ),
    Column::gauge(
        "mysql_perf_schema_memory_events_used_bytes",
        "Bytes in use by the instrument",
        "CURRENT_NUMBER_OF_BYTES_USED",
        LABELS,
    ),
];

/// The query, the prefix trimmed by the server.
pub(crate) fn query(remove_prefix: &str) -> String {
    format!(
        "SELECT {} AS EVENT_NAME, SUM_NUMBER_OF_BYTES_ALLOC, SUM_NUMBER_OF_BYTES_FREE, CURRENT_NUMBER_OF_BYTES_USED \
         FROM performance_schema.memory_summary_global_by_event_name WHERE COUNT_ALLOC > 0",
        trim_prefix_sql("EVENT_NAME", remove_prefix)
    )
}

/// `--collect.perf_schema.memory_events`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.memory_events",
    "Memory per instrument (performance_schema.memory_summary_global_by_event_name)",
    |a| {
        let sql = query(&a.options.memory_events_remove_prefix);
        a.columns(
            "perf_schema.memory_events",
            sql,
            COLUMNS,
            "the performance schema's memory instruments",
        );
    },
);
