//! mysqld_exporter's `sys.user_summary`: statements, latency, file I/O, connections and memory per user, from
//! the sys schema's `x$user_summary` (MySQL 5.7+, MariaDB 10.6+; the performance schema on).

use hubble::catalogue::Entry;

use super::columns::{Column, From, From::Cell};
use super::Assembly;

const LABELS: &[(&str, From)] = &[("user", Cell("user"))];

const COLUMNS: &[Column] = &[
    Column::counter(
        "mysql_sys_statements_total",
        "Statements run by the user",
        "statements",
        LABELS,
    ),
    Column::counter(
        "mysql_sys_statement_latency",
        "Time spent in the user's statements, in seconds",
        "statement_latency",
        LABELS,
    )
    .scaled(1e-12),
    Column::counter(
        "mysql_sys_table_scans_total",
        "Full table scans by the user's statements",
        "table_scans",
        LABELS,
    ),
    Column::counter(
        "mysql_sys_file_ios_total",
        "File I/O events of the user",
        "file_ios",
        LABELS,
    ),
    Column::counter(
        "mysql_sys_file_io_seconds_total",
        "Time spent in the user's file I/O, in seconds",
        "file_io_latency",
        LABELS,
    )
    .scaled(1e-12),
    Column::gauge(
        "mysql_sys_current_connections",
        "The user's connections now",
        "current_connections",
        LABELS,
    ),
    Column::counter(
        "mysql_sys_connections_total",
        "Connections the user made",
        "total_connections",
        LABELS,
    ),
    Column::counter(
        "mysql_sys_unique_hosts_total",
        "Hosts the user connected from",
        "unique_hosts",
        LABELS,
    ),
    Column::gauge(
        "mysql_sys_current_memory_bytes",
        "Memory the user's threads hold, in bytes",
        "current_memory",
        LABELS,
    ),
    Column::counter(
        "mysql_sys_memory_allocated_bytes_total",
        "Memory the user's threads allocated, in bytes",
        "total_memory_allocated",
        LABELS,
    ),
];

const SQL: &str = "SELECT user, statements, statement_latency, table_scans, file_ios, file_io_latency, \
                          current_connections, total_connections, unique_hosts, current_memory, total_memory_allocated \
                   FROM sys.x$user_summary";

/// `--collect.sys.user_summary`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "sys.user_summary",
    "Activity per user (sys.x$user_summary)",
    |a| {
        a.columns(
            "sys.user_summary",
            SQL.to_owned(),
            COLUMNS,
            "the sys schema",
        )
    },
);
