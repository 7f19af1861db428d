//! mysqld_exporter's `perf_schema.eventswaits`: wait events by name, from
//! `performance_schema.events_waits_summary_global_by_event_name`.

use hubble::catalogue::Entry;

use super::columns::{Column, From::Cell};
use super::Assembly;

const COLUMNS: &[Column] = &[
    Column::counter(
        "mysql_perf_schema_events_waits_total",
        "Wait events by event name",
        "COUNT_STAR",
        &[("event_name", Cell("EVENT_NAME"))],
    ),
    Column::counter(
        "mysql_perf_schema_events_waits_seconds_total",
        "Time spent in wait events by event name",
        "SUM_TIMER_WAIT",
        &[("event_name", Cell("EVENT_NAME"))],
    )
    .scaled(1e-12),
];

const SQL: &str = "SELECT EVENT_NAME, COUNT_STAR, SUM_TIMER_WAIT \
                   FROM performance_schema.events_waits_summary_global_by_event_name";

/// `--collect.perf_schema.eventswaits`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.eventswaits",
    "Wait events by name (performance_schema.events_waits_summary_global_by_event_name)",
    |a| {
        a.columns(
            "perf_schema.eventswaits",
            SQL.to_owned(),
            COLUMNS,
            "the performance schema",
        )
    },
);
