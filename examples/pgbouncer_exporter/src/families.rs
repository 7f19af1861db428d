//! What PgBouncer's `SHOW` answers become: for the tabular commands, each column a label or a family; for
//! `SHOW LISTS` and `SHOW CONFIG`, each row a family. Names and labels are pgbouncer_exporter's.

use hubble::MetricKind;

/// One column of a tabular `SHOW` command.
#[derive(Debug, Clone, Copy)]
pub enum Column {
    /// A label of every family of the command.
    Label(&'static str),
    /// A family: `<prefix>_<metric>`, the cell times `scale`.
    Value {
        /// The column's name.
        column: &'static str,
        /// The family's name after the prefix.
        metric: &'static str,
        /// The family's type.
        kind: MetricKind,
        /// What the cell is multiplied by (microseconds to seconds, say).
        scale: f64,
        /// The family's help.
        help: &'static str,
    },
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &'static str {
        match self {
            Column::Label(c) | Column::Value { column: c, .. } => c,
        }
    }
}

const fn gauge(column: &'static str, metric: &'static str, help: &'static str) -> Column {
    Column::Value {
        column,
        metric,
        kind: MetricKind::Gauge,
        scale: 1.0,
        help,
    }
}

const fn counter(
    column: &'static str,
    metric: &'static str,
    scale: f64,
    help: &'static str,
) -> Column {
    Column::Value {
        column,
        metric,
        kind: MetricKind::Counter,
        scale,
        help,
    }
}

/// PgBouncer reports these times in microseconds.
const MICROS: f64 = 1e-6;

/// A tabular `SHOW` command and its family prefix.
#[derive(Debug)]
pub struct Table {
    /// What follows `SHOW`.
    pub command: &'static str,
    /// The collector's name, and the middle of its family names.
    pub name: &'static str,
    /// Its columns, labels first.
    pub columns: &'static [Column],
    /// A middle its families were also called by, exported beside `name` so dashboards of either era
    /// work.
    pub legacy_name: Option<&'static str>,
}

impl Table {
    /// The label columns, in declaration order.
    pub fn labels(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().filter_map(|c| match c {
            Column::Label(l) => Some(*l),
            Column::Value { .. } => None,
        })
    }
}

/// `SHOW DATABASES`: one series per pooled database.
pub const DATABASES: Table = Table {
    command: "DATABASES",
    name: "databases",
    legacy_name: None,
    columns: &[
        Column::Label("name"),
        Column::Label("host"),
        Column::Label("port"),
        Column::Label("database"),
        Column::Label("force_user"),
        Column::Label("pool_mode"),
        gauge(
            "pool_size",
            "pool_size",
            "Server connections this database's pools may hold",
        ),
        // Renamed in PgBouncer 1.24; one of the two is there.
        gauge(
            "reserve_pool",
            "reserve_pool",
            "Server connections a pool may add when clients wait too long",
        ),
        gauge(
            "reserve_pool_size",
            "reserve_pool",
            "Server connections a pool may add when clients wait too long",
        ),
        gauge(
            "max_connections",
            "max_connections",
            "Server connections allowed for this database in all (0: no limit)",
        ),
        gauge(
            "current_connections",
            "current_connections",
            "Server connections open for this database",
        ),
        gauge(
            "paused",
            "paused",
            "Whether this database is paused (1) or not (0)",
        ),
        gauge(
            "disabled",
            "disabled",
            "Whether this database is disabled (1) or not (0)",
        ),
    ],
};

/// `SHOW STATS_TOTALS`: counters per database since PgBouncer started.
pub const STATS_TOTALS: Table = Table {
    command: "STATS_TOTALS",
    name: "stats_totals",
    // pgbouncer_exporter before 0.11 read SHOW STATS into `pgbouncer_stats_*`; the dashboards written for it
    // still ask for those names.
    legacy_name: Some("stats"),
    columns: &[
        Column::Label("database"),
        counter(
            "query_count",
            "queries_pooled_total",
            1.0,
            "SQL queries pooled",
        ),
        counter(
            "query_time",
            "queries_duration_seconds_total",
            MICROS,
            "Seconds spent connected to the server running queries",
        ),
        counter(
            "bytes_received",
            "received_bytes_total",
            1.0,
            "Bytes received from clients",
        ),
        counter(
            "requests",
            "queries_total",
            1.0,
            "SQL requests pooled (PgBouncer before 1.8)",
        ),
        counter(
            "bytes_sent",
            "sent_bytes_total",
            1.0,
            "Bytes sent to clients",
        ),
        counter(
            "wait_time",
            "client_wait_seconds_total",
            MICROS,
            "Seconds clients spent waiting for a server connection",
        ),
        counter(
            "xact_count",
            "sql_transactions_pooled_total",
            1.0,
            "SQL transactions pooled",
        ),
        counter(
            "xact_time",
            "server_in_transaction_seconds_total",
            MICROS,
            "Seconds spent connected to the server in a transaction, idle in it or running queries",
        ),
        counter(
            "client_parse_count",
            "client_parses_total",
            1.0,
            "Parse messages (prepared statements) received from clients",
        ),
        counter(
            "server_parse_count",
            "server_parses_total",
            1.0,
            "Parse messages (prepared statements) sent to the server",
        ),
        counter(
            "bind_count",
            "binds_total",
            1.0,
            "Bind messages (prepared statements readied to run) received from clients",
        ),
        counter(
            "server_assignment_count",
            "server_assignments_total",
            1.0,
            "Times a server connection was assigned to a client",
        ),
    ],
};

/// `SHOW POOLS`: one series per pool (database and user).
pub const POOLS: Table = Table {
    command: "POOLS",
    name: "pools",
    legacy_name: None,
    columns: &[
        Column::Label("database"),
        Column::Label("user"),
        gauge("cl_active", "client_active_connections", "Client connections paired with a server connection or idle with none needed"),
        gauge("cl_active_cancel_req", "client_active_cancel_connections", "Client connections that forwarded a cancel request and await its answer"),
        gauge("cl_waiting", "client_waiting_connections", "Client connections waiting for a server connection"),
        gauge("cl_waiting_cancel_req", "client_waiting_cancel_connections", "Client connections whose cancel request is not forwarded yet"),
        gauge("sv_active", "server_active_connections", "Server connections paired with a client"),
        gauge("sv_active_cancel", "server_active_cancel_connections", "Server connections forwarding a cancel request"),
        gauge("sv_being_canceled", "server_being_canceled_connections", "Server connections kept from idling until the cancel requests sent to them are answered"),
        gauge("sv_idle", "server_idle_connections", "Server connections idle and ready for a client"),
        gauge("sv_used", "server_used_connections", "Server connections idle longer than server_check_delay, to be checked before reuse"),
        gauge("sv_tested", "server_testing_connections", "Server connections running server_reset_query or server_check_query"),
        gauge("sv_login", "server_login_connections", "Server connections logging in"),
        gauge("maxwait", "client_maxwait_seconds", "Seconds the oldest waiting client has waited"),
    ],
};

/// The tabular commands, in collection order.
pub const TABLES: [&Table; 3] = [&DATABASES, &STATS_TOTALS, &POOLS];

/// A `SHOW` command whose rows are families: the name in one column, the value in another.
#[derive(Debug)]
pub struct RowFamilies {
    /// What follows `SHOW`.
    pub command: &'static str,
    /// The collector's name.
    pub name: &'static str,
    /// The column of the row's name.
    pub key: &'static str,
    /// The column of its value.
    pub value: &'static str,
    /// The rows exported (others are skipped): (row name, family, help); every family is a gauge without
    /// labels.
    pub families: &'static [(&'static str, &'static str, &'static str)],
}

/// `SHOW LISTS`: sizes of PgBouncer's internal lists.
pub const LISTS: RowFamilies = RowFamilies {
    command: "LISTS",
    name: "lists",
    key: "list",
    value: "items",
    families: &[
        ("databases", "pgbouncer_databases", "Databases configured"),
        ("users", "pgbouncer_users", "Users known"),
        ("pools", "pgbouncer_pools", "Pools"),
        (
            "free_clients",
            "pgbouncer_free_clients",
            "Client connection slots free",
        ),
        (
            "used_clients",
            "pgbouncer_used_clients",
            "Client connections in use",
        ),
        (
            "login_clients",
            "pgbouncer_login_clients",
            "Client connections logging in",
        ),
        (
            "free_servers",
            "pgbouncer_free_servers",
            "Server connection slots free",
        ),
        (
            "used_servers",
            "pgbouncer_used_servers",
            "Server connections in use",
        ),
        (
            "dns_names",
            "pgbouncer_cached_dns_names",
            "Host names in the DNS cache",
        ),
        (
            "dns_zones",
            "pgbouncer_cached_dns_zones",
            "DNS zones in the cache",
        ),
        (
            "dns_queries",
            "pgbouncer_in_flight_dns_queries",
            "DNS queries in flight",
        ),
    ],
};

/// `SHOW CONFIG`: the connection limits.
pub const CONFIG: RowFamilies = RowFamilies {
    command: "CONFIG",
    name: "config",
    key: "key",
    value: "value",
    families: &[
        (
            "max_client_conn",
            "pgbouncer_config_max_client_connections",
            "Client connections allowed (max_client_conn)",
        ),
        (
            "max_user_connections",
            "pgbouncer_config_max_user_connections",
            "Server connections allowed per user (max_user_connections; 0: no limit)",
        ),
    ],
};
