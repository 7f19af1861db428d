//! mysqld_exporter's `perf_schema.file_events`: file I/O events, their time and bytes by event name and
//! mode, from `performance_schema.file_summary_by_event_name`.

use hubble::catalogue::Entry;

use super::columns::{Column, From, From::Cell, From::Fixed};
use super::Assembly;

const COUNT: (&str, &str) = (
    "mysql_perf_schema_file_events_total",
    "File events by event name and mode",
);
const SECONDS: (&str, &str) = (
    "mysql_perf_schema_file_events_seconds_total",
    "Time spent in file events by event name and mode",
);
const BYTES: (&str, &str) = (
    "mysql_perf_schema_file_events_bytes_total",
    "Bytes of file events by event name and mode",
);

macro_rules! mode {
    ($mode:literal) => {
        &[("event_name", Cell("EVENT_NAME")), ("mode", Fixed($mode))] as &[(&str, From)]
    };
}

const COLUMNS: &[Column] = &[
    Column::counter(COUNT.0, COUNT.1, "COUNT_READ", mode!("read")),
    Column::counter(SECONDS.0, SECONDS.1, "SUM_TIMER_READ", mode!("read")).scaled(1e-12),
    Column::counter(BYTES.0, BYTES.1, "SUM_NUMBER_OF_BYTES_READ", mode!("read")),
    Column::counter(COUNT.0, COUNT.1, "COUNT_WRITE", mode!("write")),
    Column::counter(SECONDS.0, SECONDS.1, "SUM_TIMER_WRITE", mode!("write")).scaled(1e-12),
    Column::counter(
        BYTES.0,
        BYTES.1,
        "SUM_NUMBER_OF_BYTES_WRITE",
        mode!("write"),
    ),
    Column::counter(COUNT.0, COUNT.1, "COUNT_MISC", mode!("misc")),
    Column::counter(SECONDS.0, SECONDS.1, "SUM_TIMER_MISC", mode!("misc")).scaled(1e-12),
];

const SQL: &str = "SELECT EVENT_NAME, COUNT_READ, SUM_TIMER_READ, SUM_NUMBER_OF_BYTES_READ, \
                          COUNT_WRITE, SUM_TIMER_WRITE, SUM_NUMBER_OF_BYTES_WRITE, COUNT_MISC, SUM_TIMER_MISC \
                   FROM performance_schema.file_summary_by_event_name";

/// `--collect.perf_schema.file_events`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.file_events",
    "File I/O by event name (performance_schema.file_summary_by_event_name)",
    |a| {
        a.columns(
            "perf_schema.file_events",
            SQL.to_owned(),
            COLUMNS,
            "the performance schema",
        )
    },
);
