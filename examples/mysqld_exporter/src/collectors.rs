//! The collectors, each one of mysqld_exporter's default scrapers, with its names and labels.

use hubble::connections::Connections;
use hubble::targets::up::{Answer, Check, Up};
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Desc, Labels, Metric, MetricKind};

use crate::value::{metric_name, number};

/// The server's connections (one is enough: a round takes milliseconds).
pub type Server = Connections<sqlx::MySql>;

pub(crate) async fn rows(server: &Server, sql: &str) -> Result<TextRows, CollectError> {
    TextRows::fetch(server, sql)
        .await
        .map_err(|e| CollectError::Source(format!("{sql}: {e}").into()))
}

/// A collector that reads one query's rows and turns them into series with `map`.
pub struct Rows {
    name: &'static str,
    queries: &'static [&'static str],
    descriptors: fn() -> Vec<Desc>,
    map: fn(&TextRows) -> Vec<Metric>,
    server: Server,
}

impl Collector for Rows {
    fn name(&self) -> &str {
        self.name
    }

    fn descriptors(&self) -> Vec<Desc> {
        (self.descriptors)()
    }

    async fn collect(&self) -> Result<Vec<Metric>, CollectError> {
        // Some servers know only some spellings (SHOW ALL SLAVES STATUS is MariaDB's): the first that
        // answers is used.
        let mut last = None;
        for q in self.queries {
            match rows(&self.server, q).await {
                Ok(answer) => return Ok((self.map)(&answer)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| CollectError::Other("no query".into())))
    }
}

/// The collectors `--collect.<name>` turns on and off: (name, on by default, description).
pub const NAMES: [(&str, bool, &str); 9] = [
    ("binlog_size", false, "SHOW BINARY LOGS"),
    ("heartbeat", false, "a heartbeat table (pt-heartbeat)"),
    (
        "info_schema.processlist",
        false,
        "information_schema.processlist",
    ),
    ("global_status", true, "SHOW GLOBAL STATUS"),
    ("global_variables", true, "SHOW GLOBAL VARIABLES"),
    ("slave_status", true, "SHOW SLAVE STATUS"),
    (
        "info_schema.innodb_cmp",
        true,
        "information_schema.innodb_cmp",
    ),
    (
        "info_schema.innodb_cmpmem",
        true,
        "information_schema.innodb_cmpmem",
    ),
    (
        "info_schema.query_response_time",
        true,
        "information_schema.query_response_time",
    ),
];

/// mysqld_exporter 0.20's collectors (all off by default there) that this exporter does not have yet: their
/// `--collect.` flags are accepted, and one turned on is logged as a warning, not refused.
pub const NOT_BUILT: [&str; 27] = [
    "auto_increment.columns",
    "engine_innodb_status",
    "engine_tokudb_status",
    "info_schema.clientstats",
    "info_schema.innodb_metrics",
    "info_schema.innodb_tablespaces",
    "info_schema.replica_host",
    "info_schema.rocksdb_perf_context",
    "info_schema.schemastats",
    "info_schema.tables",
    "info_schema.tablestats",
    "info_schema.userstats",
    "mysql.user",
    "perf_schema.eventsstatements",
    "perf_schema.eventsstatementssum",
    "perf_schema.eventswaits",
    "perf_schema.file_events",
    "perf_schema.file_instances",
    "perf_schema.indexiowaits",
    "perf_schema.memory_events",
    "perf_schema.replication_applier_status_by_worker",
    "perf_schema.replication_group_member_stats",
    "perf_schema.replication_group_members",
    "perf_schema.tableiowaits",
    "perf_schema.tablelocks",
    "slave_hosts",
    "sys.user_summary",
];

/// The options of those collectors (`--collect.<collector>.<option> VALUE`), accepted for the same reason;
/// `true` for the repeatable one.
pub const NOT_BUILT_OPTIONS: [(&str, bool); 9] = [
    ("info_schema.tables.databases", false),
    ("mysql.user.privileges", false),
    ("perf_schema.eventsstatements.digest_text_limit", false),
    ("perf_schema.eventsstatements.exclude_schemas", true),
    ("perf_schema.eventsstatements.limit", false),
    ("perf_schema.eventsstatements.timelimit", false),
    ("perf_schema.file_instances.filter", false),
    ("perf_schema.file_instances.remove_prefix", false),
    ("perf_schema.memory_events.remove_prefix", false),
];

/// The options of the collectors that have them (`--collect.<collector>.<option>`), as mysqld_exporter 0.20
/// names and defaults them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `info_schema.processlist.min_time`: threads in their state for less are not counted.
    pub processlist_min_time: u32,
    /// `info_schema.processlist.processes_by_user`.
    pub processes_by_user: bool,
    /// `info_schema.processlist.processes_by_host`.
    pub processes_by_host: bool,
    /// `heartbeat.database`.
    pub heartbeat_database: String,
    /// `heartbeat.table`.
    pub heartbeat_table: String,
    /// `heartbeat.utc`: the writer stores UTC (`pt-heartbeat --utc`).
    pub heartbeat_utc: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            processlist_min_time: 0,
            processes_by_user: true,
            processes_by_host: true,
            heartbeat_database: "heartbeat".to_owned(),
            heartbeat_table: "heartbeat".to_owned(),
            heartbeat_utc: false,
        }
    }
}

/// Adds `mysql_up` (in runs of at most `timeout`) and the collectors named in `enabled` to `exporter`;
/// `tls_mode` is how its connection was asked to be encrypted
/// ([`Target::tls_mode`](crate::app::Target::tls_mode)).
pub fn add(
    mut exporter: hubble::BaseExporterBuilder,
    server: &Server,
    timeout: std::time::Duration,
    tls_mode: &str,
    enabled: &[&str],
    options: &Options,
) -> hubble::BaseExporterBuilder {
    exporter = exporter.collector(
        Up::new(
            UP,
            UP_HELP,
            Cipher {
                server: server.clone(),
            },
            timeout,
        )
        .tls_mode(tls_mode),
    );
    let rows = |name, queries, descriptors, map| Rows {
        name,
        queries,
        descriptors,
        map,
        server: server.clone(),
    };
    for name in enabled {
        exporter = match *name {
            "global_status" => exporter.collector(rows(
                "global_status",
                &["SHOW GLOBAL STATUS"],
                status_descriptors,
                global_status,
            )),
            "global_variables" => exporter.collector(rows(
                "global_variables",
                &["SHOW GLOBAL VARIABLES"],
                variables_descriptors,
                global_variables,
            )),
            "slave_status" => exporter.collector(rows(
                "slave_status",
                &["SHOW ALL SLAVES STATUS", "SHOW SLAVE STATUS", "SHOW REPLICA STATUS"],
                Vec::new,
                slave_status,
            )),
            "info_schema.innodb_cmp" => exporter.collector(rows(
                "info_schema.innodb_cmp",
                &["SELECT page_size, compress_ops, compress_ops_ok, compress_time, uncompress_ops, uncompress_time \
                   FROM information_schema.innodb_cmp"],
                cmp_descriptors,
                innodb_cmp,
            )),
            "info_schema.innodb_cmpmem" => exporter.collector(rows(
                "info_schema.innodb_cmpmem",
                &["SELECT page_size, buffer_pool_instance, pages_used, pages_free, relocation_ops, relocation_time \
                   FROM information_schema.innodb_cmpmem"],
                cmpmem_descriptors,
                innodb_cmpmem,
            )),
            "info_schema.query_response_time" => exporter.collector(QueryResponseTime {
                server: server.clone(),
            }),
            "info_schema.processlist" => {
                exporter.collector(crate::info_schema_processlist::Processlist {
                    server: server.clone(),
                    options: options.clone(),
                })
            }
            "binlog_size" => exporter.collector(crate::binlog::BinlogSize {
                server: server.clone(),
            }),
            "heartbeat" => exporter.collector(crate::heartbeat::Heartbeat {
                server: server.clone(),
                options: options.clone(),
            }),
            _ => exporter,
        };
    }
    exporter
}

const UP: &str = "mysql_up";
const UP_HELP: &str = "Whether the MySQL server answered the last collection (1) or not (0)";
/// `mysql_up`'s check: the session's TLS cipher, empty on a plaintext link (one round trip, as `SELECT 1`
/// was).
pub struct Cipher {
    server: Server,
}

impl Check for Cipher {
    async fn check(&self) -> Result<Answer, String> {
        let answer = rows(&self.server, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            .await
            .map_err(|e| e.to_string())?;
        let cipher = answer
            .rows
            .first()
            .and_then(|r| r.get(1).cloned().flatten())
            .unwrap_or_default();
        Ok(Answer {
            encrypted: Some(!cipher.is_empty()),
            samples: Vec::new(),
        })
    }
}

/// Each (name, value) row that is a number, with the row's name as a metric name part.
fn numeric_rows(answer: &TextRows) -> impl Iterator<Item = (String, &str, f64)> + '_ {
    answer.rows.iter().filter_map(|row| {
        let name = row.first()?.as_deref()?;
        let value = row.get(1)?.as_deref()?;
        Some((metric_name(name), value, number(value)?))
    })
}

/// `SHOW GLOBAL STATUS` families gathered under one name with a label: (name prefix, family, label, help).
const STATUS_GROUPS: [(&str, &str, &str, &str); 5] = [
    ("com_", "mysql_global_status_commands_total", "command", "Statements of each kind run (Com_*)"),
    ("handler_", "mysql_global_status_handlers_total", "handler", "Storage engine handler calls of each kind (Handler_*)"),
    ("connection_errors_", "mysql_global_status_connection_errors_total", "error", "Connections refused, by reason (Connection_errors_*)"),
    ("innodb_rows_", "mysql_global_status_innodb_row_ops_total", "operation", "InnoDB row operations of each kind (Innodb_rows_*)"),
    ("performance_schema_", "mysql_global_status_performance_schema_lost_total", "instrumentation", "Performance schema instruments that could not be created or loaded for lack of memory (Performance_schema_*_lost)"),
];
const POOL_PAGES: &str = "mysql_global_status_buffer_pool_pages";
const POOL_PAGES_HELP: &str = "InnoDB buffer pool pages by state";
const POOL_DIRTY: &str = "mysql_global_status_buffer_pool_dirty_pages";
const POOL_DIRTY_HELP: &str = "InnoDB buffer pool pages changed in memory and not yet written";
const POOL_CHANGES: &str = "mysql_global_status_buffer_pool_page_changes_total";
const POOL_CHANGES_HELP: &str = "InnoDB buffer pool page changes by operation";
const GENERIC_STATUS_HELP: &str = "A value from SHOW GLOBAL STATUS";

fn status_descriptors() -> Vec<Desc> {
    let mut d: Vec<Desc> = STATUS_GROUPS
        .iter()
        .map(|(_, family, label, help)| Desc::new(*family, *help, MetricKind::Counter, [*label]))
        .collect();
    d.push(Desc::new(
        POOL_PAGES,
        POOL_PAGES_HELP,
        MetricKind::Gauge,
        ["state"],
    ));
    d.push(Desc::new(
        POOL_DIRTY,
        POOL_DIRTY_HELP,
        MetricKind::Gauge,
        Vec::<&str>::new(),
    ));
    d.push(Desc::new(
        POOL_CHANGES,
        POOL_CHANGES_HELP,
        MetricKind::Counter,
        ["operation"],
    ));
    d
}

/// `SHOW GLOBAL STATUS`: the grouped families above, the buffer pool's pages, and every other numeric row as
/// `mysql_global_status_<name>` (untyped: the server does not say which are counters).
pub fn global_status(answer: &TextRows) -> Vec<Metric> {
    let mut out = Vec::with_capacity(answer.rows.len());
    for (name, _, v) in numeric_rows(answer) {
        if let Some(pages) = name.strip_prefix("innodb_buffer_pool_pages_") {
            out.push(match pages {
                "data" | "free" | "misc" | "old" => {
                    Metric::gauge(POOL_PAGES, POOL_PAGES_HELP, v).label("state", pages.to_owned())
                }
                "dirty" => Metric::gauge(POOL_DIRTY, POOL_DIRTY_HELP, v),
                "total" => continue,
                _ => Metric::counter(POOL_CHANGES, POOL_CHANGES_HELP, v)
                    .label("operation", pages.to_owned()),
            });
            continue;
        }
        if let Some((rest, family, label, help)) = STATUS_GROUPS
            .iter()
            .find_map(|(p, f, l, h)| Some((name.strip_prefix(p)?, *f, *l, *h)))
        {
            out.push(Metric::counter(family, help, v).label(label, rest.to_owned()));
            continue;
        }
        out.push(Metric::new(
            format!("mysql_global_status_{name}"),
            GENERIC_STATUS_HELP,
            MetricKind::Untyped,
            v,
        ));
    }
    out
}

const VERSION: &str = "mysql_version_info";
const VERSION_HELP: &str = "The server's version and distribution";
const ISOLATION: &str = "mysql_transaction_isolation";
const ISOLATION_HELP: &str = "The server's default transaction isolation level";
const GENERIC_VARIABLE_HELP: &str = "A value from SHOW GLOBAL VARIABLES";

fn variables_descriptors() -> Vec<Desc> {
    vec![
        Desc::new(
            VERSION,
            VERSION_HELP,
            MetricKind::Gauge,
            ["innodb_version", "version", "version_comment"],
        ),
        Desc::new(ISOLATION, ISOLATION_HELP, MetricKind::Gauge, ["level"]),
    ]
}

/// `SHOW GLOBAL VARIABLES`: every numeric variable as the gauge `mysql_global_variables_<name>`, plus
/// `mysql_version_info{innodb_version,version,version_comment}`, `mysql_transaction_isolation{level}` and,
/// on Galera clusters, `mysql_galera_variables_info{wsrep_cluster_name}`.
pub fn global_variables(answer: &TextRows) -> Vec<Metric> {
    let mut out = Vec::with_capacity(answer.rows.len());
    for (name, _, v) in numeric_rows(answer) {
        out.push(Metric::gauge(
            format!("mysql_global_variables_{name}"),
            GENERIC_VARIABLE_HELP,
            v,
        ));
    }
    let text = |key: &str| -> String {
        answer
            .rows
            .iter()
            .find(|r| {
                r.first()
                    .and_then(|c| c.as_deref())
                    .is_some_and(|n| n.eq_ignore_ascii_case(key))
            })
            .and_then(|r| r.get(1).cloned().flatten())
            .unwrap_or_default()
    };
    out.push(
        Metric::gauge(VERSION, VERSION_HELP, 1.0)
            .label("innodb_version", text("innodb_version"))
            .label("version", text("version"))
            .label("version_comment", text("version_comment")),
    );
    let level = Some(text("transaction_isolation"))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| text("tx_isolation"));
    if !level.is_empty() {
        out.push(Metric::gauge(ISOLATION, ISOLATION_HELP, 1.0).label("level", level));
    }
    let cluster = text("wsrep_cluster_name");
    if !cluster.is_empty() {
        out.push(
            Metric::gauge(
                "mysql_galera_variables_info",
                "The Galera cluster's name",
                1.0,
            )
            .label("wsrep_cluster_name", cluster),
        );
    }
    out
}

/// `SHOW SLAVE STATUS` (or MariaDB's `SHOW ALL SLAVES STATUS`): every numeric column of each replication
/// channel as `mysql_slave_status_<column>{master_host,master_uuid,channel_name,connection_name}`.
pub fn slave_status(answer: &TextRows) -> Vec<Metric> {
    let mut out = Vec::new();
    for row in &answer.rows {
        let cell = |names: &[&str]| -> String {
            names
                .iter()
                .find_map(|n| {
                    answer
                        .column(n)
                        .and_then(|i| row[i].clone())
                        .filter(|v| !v.is_empty())
                })
                .unwrap_or_default()
        };
        let mut labels = Labels::with_capacity(4);
        labels.insert("master_host", cell(&["Master_Host", "Source_Host"]));
        labels.insert("master_uuid", cell(&["Master_UUID", "Source_UUID"]));
        labels.insert("channel_name", cell(&["Channel_Name"]));
        labels.insert("connection_name", cell(&["Connection_name"]));
        for (i, column) in answer.columns.iter().enumerate() {
            let Some(v) = row[i].as_deref().and_then(number) else {
                continue;
            };
            let mut m = Metric::new(
                format!("mysql_slave_status_{}", metric_name(column)),
                "A value from SHOW SLAVE STATUS",
                MetricKind::Untyped,
                v,
            );
            m.labels = labels.clone();
            out.push(m);
        }
        // MariaDB's GTID positions, `domain-server-sequence` lists: one series per domain and server.
        for column in ["Gtid_IO_Pos", "Gtid_Slave_Pos"] {
            let family = format!("mysql_slave_status_{}", metric_name(column));
            for gtid in cell(&[column]).split(',').map(str::trim) {
                let mut parts = gtid.split('-');
                let (Some(domain), Some(server), Some(seq), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let Ok(seq) = seq.parse::<u64>() else {
                    continue;
                };
                let mut m = Metric::gauge(family.clone(), "The last event's sequence number of this GTID domain and server (SHOW SLAVE STATUS)", seq as f64);
                m.labels = labels.clone();
                m.labels.insert("domain_id", domain.to_owned());
                m.labels.insert("server_id", server.to_owned());
                out.push(m);
            }
        }
    }
    out
}

/// The query response time plugin's tables (MariaDB's and Percona Server's), each a histogram family; the
/// read and write ones exist on Percona Server only.
const RESPONSE_TIMES: [(&str, &str); 3] = [
    (
        "QUERY_RESPONSE_TIME",
        "mysql_info_schema_query_response_time_seconds",
    ),
    (
        "QUERY_RESPONSE_TIME_READ",
        "mysql_info_schema_read_query_response_time_seconds",
    ),
    (
        "QUERY_RESPONSE_TIME_WRITE",
        "mysql_info_schema_write_query_response_time_seconds",
    ),
];
const RESPONSE_TIME_HELP: &str = "Query response times, from the query_response_time plugin";

/// `information_schema.query_response_time`: where the plugin is installed and `query_response_time_stats`
/// is on, the distribution of query times as a histogram; elsewhere not applicable, with the reason.
pub struct QueryResponseTime {
    server: Server,
}

impl Collector for QueryResponseTime {
    fn name(&self) -> &str {
        "info_schema.query_response_time"
    }

    fn descriptors(&self) -> Vec<Desc> {
        RESPONSE_TIMES
            .iter()
            .map(|(_, f)| {
                Desc::new(
                    *f,
                    RESPONSE_TIME_HELP,
                    MetricKind::Histogram,
                    Vec::<&str>::new(),
                )
            })
            .collect()
    }

    async fn collect(&self) -> Result<Vec<Metric>, CollectError> {
        let on = TextRows::fetch(&self.server, "SELECT @@query_response_time_stats")
            .await
            .ok()
            .and_then(|r| r.rows.first()?.first()?.clone());
        match on.as_deref().and_then(number) {
            None => {
                return Err(CollectError::NotApplicable(
                    "the query_response_time plugin is not installed (INSTALL SONAME 'query_response_time')".into(),
                ))
            }
            Some(0.0) => {
                return Err(CollectError::NotApplicable("query_response_time_stats is OFF".into()))
            }
            Some(_) => {}
        }
        let mut out = Vec::new();
        for (i, (table, family)) in RESPONSE_TIMES.iter().enumerate() {
            let sql = format!("SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.{table}");
            match TextRows::fetch(&self.server, &sql).await {
                Ok(answer) => out.push(response_times(family, &answer)?),
                // The read and write tables are Percona Server's.
                Err(_) if i > 0 => {}
                Err(e) => return Err(CollectError::Source(format!("{sql}: {e}").into())),
            }
        }
        Ok(out)
    }
}

/// A response time table as a histogram: each row a bucket (its time the upper bound, in seconds), counts
/// accumulated; the `TOO LONG` row counts in the total only.
pub fn response_times(family: &'static str, answer: &TextRows) -> Result<Metric, CollectError> {
    let (mut count, mut sum, mut buckets) = (0u64, 0.0, Vec::new());
    for row in &answer.rows {
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let n: u64 = cell(1).trim().parse().unwrap_or(0);
        count += n;
        sum += cell(2).trim().parse::<f64>().unwrap_or(0.0);
        match cell(0).trim().parse::<f64>() {
            Ok(bound) if bound > 0.0 => buckets.push((bound, count)),
            _ => {}
        }
    }
    let histogram = hubble::Histogram::new(buckets, sum, count)
        .map_err(|e| CollectError::Decode(format!("{family}: {e}")))?;
    Ok(Metric::histogram(family, RESPONSE_TIME_HELP, histogram))
}

/// Cell `column` of `row` as a number.
fn cell(answer: &TextRows, row: &[Option<String>], column: &str) -> Option<f64> {
    row[answer.column(column)?].as_deref().and_then(number)
}

/// (column, family, help, scale) of `information_schema.innodb_cmp`.
const CMP: [(&str, &str, &str, f64); 5] = [
    (
        "compress_ops",
        "mysql_info_schema_innodb_cmp_compress_ops_total",
        "Pages compressed",
        1.0,
    ),
    (
        "compress_ops_ok",
        "mysql_info_schema_innodb_cmp_compress_ops_ok_total",
        "Pages compressed successfully",
        1.0,
    ),
    (
        "compress_time",
        "mysql_info_schema_innodb_cmp_compress_time_seconds_total",
        "Seconds spent compressing pages",
        1.0,
    ),
    (
        "uncompress_ops",
        "mysql_info_schema_innodb_cmp_uncompress_ops_total",
        "Pages uncompressed",
        1.0,
    ),
    (
        "uncompress_time",
        "mysql_info_schema_innodb_cmp_uncompress_time_seconds_total",
        "Seconds spent uncompressing pages",
        1.0,
    ),
];

/// (column, family, help, scale) of `information_schema.innodb_cmpmem`; relocation time is in milliseconds.
const CMPMEM: [(&str, &str, &str, f64); 4] = [
    (
        "pages_used",
        "mysql_info_schema_innodb_cmpmem_pages_used_total",
        "Compressed pages in use in the buffer pool",
        1.0,
    ),
    (
        "pages_free",
        "mysql_info_schema_innodb_cmpmem_pages_free_total",
        "Compressed pages free in the buffer pool",
        1.0,
    ),
    (
        "relocation_ops",
        "mysql_info_schema_innodb_cmpmem_relocation_ops_total",
        "Compressed pages relocated in the buffer pool",
        1.0,
    ),
    (
        "relocation_time",
        "mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total",
        "Seconds spent relocating compressed pages",
        1e-3,
    ),
];

fn cmp_descriptors() -> Vec<Desc> {
    CMP.iter()
        .map(|(_, f, h, _)| Desc::new(*f, *h, MetricKind::Counter, ["page_size"]))
        .collect()
}

fn cmpmem_descriptors() -> Vec<Desc> {
    CMPMEM
        .iter()
        .map(|(_, f, h, _)| Desc::new(*f, *h, MetricKind::Counter, ["page_size", "buffer_pool"]))
        .collect()
}

/// `information_schema.innodb_cmp`, one series per page size.
pub fn innodb_cmp(answer: &TextRows) -> Vec<Metric> {
    let mut out = Vec::new();
    for row in &answer.rows {
        let page = answer
            .column("page_size")
            .and_then(|i| row[i].clone())
            .unwrap_or_default();
        for (column, family, help, scale) in CMP {
            if let Some(v) = cell(answer, row, column) {
                out.push(Metric::counter(family, help, v * scale).label("page_size", page.clone()));
            }
        }
    }
    out
}

/// `information_schema.innodb_cmpmem`, one series per page size and buffer pool instance.
pub fn innodb_cmpmem(answer: &TextRows) -> Vec<Metric> {
    let mut out = Vec::new();
    for row in &answer.rows {
        let text = |c: &str| {
            answer
                .column(c)
                .and_then(|i| row[i].clone())
                .unwrap_or_default()
        };
        let (page, pool) = (text("page_size"), text("buffer_pool_instance"));
        for (column, family, help, scale) in CMPMEM {
            if let Some(v) = cell(answer, row, column) {
                out.push(
                    Metric::counter(family, help, v * scale)
                        .label("page_size", page.clone())
                        .label("buffer_pool", pool.clone()),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(columns: &[&str], rows: &[&[&str]]) -> TextRows {
        TextRows {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|c| (!c.is_empty()).then(|| c.to_string()))
                        .collect()
                })
                .collect(),
        }
    }

    fn lines(metrics: &[Metric]) -> Vec<String> {
        let mut out: Vec<String> = metrics
            .iter()
            .map(|m| format!("{} {}{} {}", m.kind, m.name, m.labels, m.value))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn status_rows_grouped_or_generic() {
        let answer = rows(
            &["Variable_name", "Value"],
            &[
                &["Com_select", "7"],
                &["Handler_read_rnd", "2"],
                &["Innodb_buffer_pool_pages_free", "100"],
                &["Innodb_buffer_pool_pages_dirty", "3"],
                &["Innodb_buffer_pool_pages_total", "200"],
                &["Innodb_buffer_pool_pages_flushed", "9"],
                &["Uptime", "60"],
                &["Slave_running", "OFF"],
                &["Ssl_cipher", ""],
                &["Rpl_status", "AUTH_MASTER"],
            ],
        );
        assert_eq!(
            lines(&global_status(&answer)),
            [
                "counter mysql_global_status_buffer_pool_page_changes_total{operation=\"flushed\"} 9",
                "counter mysql_global_status_commands_total{command=\"select\"} 7",
                "counter mysql_global_status_handlers_total{handler=\"read_rnd\"} 2",
                "gauge mysql_global_status_buffer_pool_dirty_pages{} 3",
                "gauge mysql_global_status_buffer_pool_pages{state=\"free\"} 100",
                "untyped mysql_global_status_slave_running{} 0",
                "untyped mysql_global_status_uptime{} 60",
            ]
        );
    }

    #[test]
    fn variables_and_version() {
        let answer = rows(
            &["Variable_name", "Value"],
            &[
                &["max_connections", "151"],
                &["version", "10.11.6-MariaDB-0+deb12u1"],
                &["version_comment", "Debian 12"],
                &["innodb_version", "10.11.6"],
                &["tx_isolation", "REPEATABLE-READ"],
                &["read_only", "OFF"],
            ],
        );
        assert_eq!(
            lines(&global_variables(&answer)),
            [
                "gauge mysql_global_variables_max_connections{} 151",
                "gauge mysql_global_variables_read_only{} 0",
                "gauge mysql_transaction_isolation{level=\"REPEATABLE-READ\"} 1",
                "gauge mysql_version_info{innodb_version=\"10.11.6\",version=\"10.11.6-MariaDB-0+deb12u1\",version_comment=\"Debian 12\"} 1",
            ]
        );
    }

    #[test]
    fn replication_channels() {
        let answer = rows(
            &[
                "Connection_name",
                "Master_Host",
                "Slave_IO_Running",
                "Seconds_Behind_Master",
                "Master_Log_File",
                "Last_Error",
                "Gtid_IO_Pos",
            ],
            &[
                &[
                    "a",
                    "db1",
                    "Yes",
                    "3",
                    "mysql-bin.000042",
                    "",
                    "0-1-7,1-2-9",
                ],
                &["b", "db2", "Connecting", "", "", "", ""],
            ],
        );
        let out = lines(&slave_status(&answer));
        let labels_a =
            "{channel_name=\"\",connection_name=\"a\",master_host=\"db1\",master_uuid=\"\"}";
        for expected in [
            format!("untyped mysql_slave_status_slave_io_running{labels_a} 1"),
            format!("untyped mysql_slave_status_seconds_behind_master{labels_a} 3"),
            format!("untyped mysql_slave_status_master_log_file{labels_a} 42"),
            "untyped mysql_slave_status_slave_io_running{channel_name=\"\",connection_name=\"b\",master_host=\"db2\",master_uuid=\"\"} 0".to_owned(),
            "gauge mysql_slave_status_gtid_io_pos{channel_name=\"\",connection_name=\"a\",domain_id=\"1\",master_host=\"db1\",master_uuid=\"\",server_id=\"2\"} 9".to_owned(),
        ] {
            assert!(out.contains(&expected), "missing {expected} in {out:#?}");
        }
        assert_eq!(out.len(), 6, "{out:#?}");
    }

    #[test]
    fn response_times_are_a_histogram() {
        let answer = rows(
            &["TIME", "COUNT", "TOTAL"],
            &[
                &["      0.000001", "1", "      0.000000"],
                &["      0.000010", "3", "      0.000020"],
                &["      1.000000", "2", "      1.500000"],
                &["TOO LONG", "1", "TOO LONG"],
            ],
        );
        let m = response_times("mysql_info_schema_query_response_time_seconds", &answer).unwrap();
        let h = m.histogram.unwrap();
        assert_eq!(h.buckets(), [(0.000001, 1), (0.00001, 4), (1.0, 6)]);
        assert_eq!((h.count(), h.sum()), (7, 1.50002));
    }

    #[test]
    fn compression_in_seconds() {
        let answer = rows(
            &[
                "page_size",
                "buffer_pool_instance",
                "pages_used",
                "pages_free",
                "relocation_ops",
                "relocation_time",
            ],
            &[&["1024", "0", "1", "2", "3", "1500"]],
        );
        assert!(lines(&innodb_cmpmem(&answer)).contains(
            &"counter mysql_info_schema_innodb_cmpmem_relocation_time_seconds_total{buffer_pool=\"0\",page_size=\"1024\"} 1.5".to_owned()
        ));
    }
}
