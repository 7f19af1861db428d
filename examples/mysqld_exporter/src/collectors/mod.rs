//! The collectors, one file each as mysqld_exporter has them (`collector/<name>.go` there), with their
//! names and labels, and the catalogue that names them: `--collect.<name>` / `--no-collect.<name>`, their
//! defaults and help, the status page's list and the build all come from [`CATALOGUE`].

pub mod binlog;
pub(crate) mod columns;
pub mod engine_innodb;
pub mod engine_tokudb;
pub mod global_status;
pub mod global_variables;
pub mod heartbeat;
pub mod info_schema_auto_increment;
pub mod info_schema_clientstats;
pub mod info_schema_innodb_cmp;
pub mod info_schema_innodb_cmpmem;
pub mod info_schema_innodb_metrics;
pub mod info_schema_innodb_sys_tablespaces;
pub mod info_schema_processlist;
pub mod info_schema_query_response_time;
pub mod info_schema_replica_host;
pub mod info_schema_rocksdb_perf_context;
pub mod info_schema_schemastats;
pub mod info_schema_tables;
pub mod info_schema_tablestats;
pub mod info_schema_userstats;
pub mod mysql_user;
pub mod perf_schema_events_statements;
pub mod perf_schema_events_statements_sum;
pub mod perf_schema_events_waits;
pub mod perf_schema_file_events;
pub mod perf_schema_file_instances;
pub mod perf_schema_index_io_waits;
pub mod perf_schema_memory_events;
pub mod perf_schema_replication_applier_status_by_worker;
pub mod perf_schema_replication_group_member_stats;
pub mod perf_schema_replication_group_members;
pub mod perf_schema_table_io_waits;
pub mod perf_schema_table_lock_waits;
pub mod slave_hosts;
pub mod slave_status;
pub(crate) mod statistics;
pub mod sys_user_summary;

use hubble::catalogue::Catalogue;
use hubble::connections::Connections;
use hubble::targets::up::{Answer, Check, Up};
use hubble::text_rows::TextRows;
use hubble::{BaseExporterBuilder, CollectError, Collector, Family, Sample};

use crate::value::{metric_name, number};

pub use global_status::global_status;
pub use global_variables::global_variables;
pub use info_schema_innodb_cmp::innodb_cmp;
pub use info_schema_innodb_cmpmem::innodb_cmpmem;
pub use info_schema_query_response_time::{response_times, QueryResponseTime};
pub use slave_status::slave_status;

/// The server's connections (one is enough: a round takes milliseconds).
pub type Server = Connections<sqlx::MySql>;

pub(crate) async fn rows(server: &Server, sql: &str) -> Result<TextRows, CollectError> {
    TextRows::fetch(server, sql)
        .await
        .map_err(|e| CollectError::Source(format!("{sql}: {e}").into()))
}

/// `sql`'s rows, or not applicable (naming `what`) where the server lacks the table, schema, database or
/// variable or engine it reads: MySQL's "doesn't exist" (1146), "Unknown table" (1109), "Unknown database"
/// (1049), "Unknown system variable" (1193, MariaDB's missing `server_uuid`) and "Unknown storage engine"
/// (1286, TokuDB), by their messages, which MySQL and MariaDB share.
pub(crate) async fn fetch_or_not_applicable(
    server: &Server,
    sql: &str,
    what: &str,
) -> Result<TextRows, CollectError> {
    match TextRows::fetch(server, sql).await {
        Ok(answer) => Ok(answer),
        Err(e) => {
            let text = e.to_string();
            if [
                "doesn't exist",
                "Unknown table",
                "Unknown database",
                "Unknown system variable",
                "Unknown storage engine",
            ]
            .iter()
            .any(|m| text.contains(m))
            {
                Err(CollectError::NotApplicable(
                    format!("{what}: {text}").into(),
                ))
            } else {
                Err(CollectError::Source(format!("{sql}: {text}").into()))
            }
        }
    }
}

/// A collector that reads one query's rows and turns them into series with `map`.
pub struct Rows {
    name: &'static str,
    queries: &'static [&'static str],
    families: fn() -> Vec<Family>,
    map: fn(&TextRows) -> Vec<Sample>,
    server: Server,
}

impl Collector for Rows {
    fn name(&self) -> &str {
        self.name
    }

    fn families(&self) -> Vec<Family> {
        (self.families)()
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
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

/// Every collector, in the order a target's exporter runs them; mysqld_exporter 0.20's collectors not built
/// yet are accepted and ignored with a warning.
pub const CATALOGUE: Catalogue<Assembly> = Catalogue::new(
    "collect.",
    &[
        binlog::COLLECTOR,
        heartbeat::COLLECTOR,
        info_schema_processlist::COLLECTOR,
        global_status::COLLECTOR,
        global_variables::COLLECTOR,
        slave_status::COLLECTOR,
        info_schema_innodb_cmp::COLLECTOR,
        info_schema_innodb_cmpmem::COLLECTOR,
        info_schema_query_response_time::COLLECTOR,
        info_schema_tables::COLLECTOR,
        info_schema_innodb_metrics::COLLECTOR,
        perf_schema_table_io_waits::COLLECTOR,
        perf_schema_index_io_waits::COLLECTOR,
        perf_schema_table_lock_waits::COLLECTOR,
        slave_hosts::COLLECTOR,
        info_schema_innodb_sys_tablespaces::COLLECTOR,
        info_schema_auto_increment::COLLECTOR,
        perf_schema_events_waits::COLLECTOR,
        perf_schema_file_events::COLLECTOR,
        info_schema_userstats::COLLECTOR,
        info_schema_clientstats::COLLECTOR,
        info_schema_tablestats::COLLECTOR,
        info_schema_schemastats::COLLECTOR,
        perf_schema_events_statements::COLLECTOR,
        perf_schema_events_statements_sum::COLLECTOR,
        perf_schema_memory_events::COLLECTOR,
        perf_schema_file_instances::COLLECTOR,
        sys_user_summary::COLLECTOR,
        perf_schema_replication_group_members::COLLECTOR,
        perf_schema_replication_group_member_stats::COLLECTOR,
        perf_schema_replication_applier_status_by_worker::COLLECTOR,
        mysql_user::COLLECTOR,
        engine_innodb::COLLECTOR,
        engine_tokudb::COLLECTOR,
        info_schema_replica_host::COLLECTOR,
        info_schema_rocksdb_perf_context::COLLECTOR,
    ],
);

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
    /// `mysql.user.privileges`: each account's privileges too.
    pub user_privileges: bool,
    /// `info_schema.tables.databases`: the databases whose tables are exported, comma-separated, or `*`.
    pub tables_databases: String,
    /// `perf_schema.eventsstatements.limit`: most digests exported.
    pub statements_limit: u32,
    /// `perf_schema.eventsstatements.timelimit`: digests last seen longer ago (seconds) are left out.
    pub statements_timelimit: u32,
    /// `perf_schema.eventsstatements.digest_text_limit`: characters of statement text kept.
    pub statements_digest_text_limit: u32,
    /// `perf_schema.eventsstatements.exclude_schemas`: schemas left out besides the server's own.
    pub statements_exclude_schemas: Vec<String>,
    /// `perf_schema.memory_events.remove_prefix`: cut from the event names.
    pub memory_events_remove_prefix: String,
    /// `perf_schema.file_instances.filter`: a regular expression the file names must match.
    pub file_instances_filter: String,
    /// `perf_schema.file_instances.remove_prefix`: cut from the file names.
    pub file_instances_remove_prefix: String,
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
            user_privileges: false,
            tables_databases: "*".to_owned(),
            statements_limit: 250,
            statements_timelimit: 86_400,
            statements_digest_text_limit: 120,
            statements_exclude_schemas: Vec::new(),
            memory_events_remove_prefix: "memory/".to_owned(),
            file_instances_filter: ".*".to_owned(),
            file_instances_remove_prefix: "/var/lib/mysql/".to_owned(),
        }
    }
}

/// Adds `mysql_up` (in runs of at most `timeout`) and the collectors `enabled` turns on to `exporter`;
/// `tls_mode` is how its connection was asked to be encrypted
/// ([`Target::tls_mode`](crate::app::Target::tls_mode)).
pub fn add(
    exporter: BaseExporterBuilder,
    server: &Server,
    timeout: std::time::Duration,
    tls_mode: &str,
    enabled: &hubble::catalogue::Selection,
    options: &Options,
) -> BaseExporterBuilder {
    let cipher = Cipher {
        server: server.clone(),
    };
    let mut assembly = Assembly {
        builder: exporter.collector(Up::new(UP, UP_HELP, cipher, timeout).tls_mode(tls_mode)),
        server: server.clone(),
        options: options.clone(),
    };
    CATALOGUE.build(enabled, &mut assembly);
    assembly.builder
}

/// One target's exporter being put together by the catalogue's collectors.
pub struct Assembly {
    builder: BaseExporterBuilder,
    server: Server,
    options: Options,
}

impl AsMut<BaseExporterBuilder> for Assembly {
    fn as_mut(&mut self) -> &mut BaseExporterBuilder {
        &mut self.builder
    }
}

impl Assembly {
    fn add(&mut self, c: impl Collector) {
        self.builder.add(c);
    }

    /// Adds a [`Rows`] collector: the first of `queries` that answers, its rows turned into series by `map`.
    fn rows(
        &mut self,
        name: &'static str,
        queries: &'static [&'static str],
        families: fn() -> Vec<Family>,
        map: fn(&TextRows) -> Vec<Sample>,
    ) {
        let server = self.server.clone();
        self.add(Rows {
            name,
            queries,
            families,
            map,
            server,
        });
    }

    /// Adds a [`columns::Columns`] collector: `sql`'s rows mapped by `columns`, not applicable where the
    /// server lacks `missing` (the table's schema or engine).
    fn columns(
        &mut self,
        name: &'static str,
        sql: String,
        columns: &'static [columns::Column],
        missing: &'static str,
    ) {
        let server = self.server.clone();
        self.add(columns::Columns {
            name,
            sql,
            columns,
            missing,
            server,
        });
    }
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
pub(crate) fn numeric_rows(answer: &TextRows) -> impl Iterator<Item = (String, &str, f64)> + '_ {
    answer.rows.iter().filter_map(|row| {
        let name = row.first()?.as_deref()?;
        let value = row.get(1)?.as_deref()?;
        Some((metric_name(name), value, number(value)?))
    })
}

/// Cell `column` of `row` as a number.
pub(crate) fn cell(answer: &TextRows, row: &[Option<String>], column: &str) -> Option<f64> {
    row[answer.column(column)?].as_deref().and_then(number)
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub(crate) fn rows(columns: &[&str], rows: &[&[&str]]) -> TextRows {
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

    pub(crate) fn lines(metrics: &[Sample]) -> Vec<String> {
        let mut out: Vec<String> = metrics
            .iter()
            .map(|m| format!("{} {}{} {}", m.kind, m.name, m.labels, m.value))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;

    /// mysqld_exporter 0.20.0's collectors and defaults (the `scrapers` map of `mysqld_exporter.go`).
    const UPSTREAM: [(&str, bool); 36] = [
        ("global_status", true),
        ("global_variables", true),
        ("slave_status", true),
        ("info_schema.processlist", false),
        ("mysql.user", false),
        ("info_schema.tables", false),
        ("info_schema.innodb_tablespaces", false),
        ("info_schema.innodb_metrics", false),
        ("auto_increment.columns", false),
        ("binlog_size", false),
        ("perf_schema.tableiowaits", false),
        ("perf_schema.indexiowaits", false),
        ("perf_schema.tablelocks", false),
        ("perf_schema.eventsstatements", false),
        ("perf_schema.eventsstatementssum", false),
        ("perf_schema.eventswaits", false),
        ("perf_schema.file_events", false),
        ("perf_schema.file_instances", false),
        ("perf_schema.memory_events", false),
        ("perf_schema.replication_group_members", false),
        ("perf_schema.replication_group_member_stats", false),
        ("perf_schema.replication_applier_status_by_worker", false),
        ("sys.user_summary", false),
        ("info_schema.userstats", false),
        ("info_schema.clientstats", false),
        ("info_schema.tablestats", false),
        ("info_schema.schemastats", false),
        ("info_schema.innodb_cmp", true),
        ("info_schema.innodb_cmpmem", true),
        ("info_schema.query_response_time", true),
        ("engine_tokudb_status", false),
        ("engine_innodb_status", false),
        ("heartbeat", false),
        ("slave_hosts", false),
        ("info_schema.replica_host", false),
        ("info_schema.rocksdb_perf_context", false),
    ];

    #[test]
    fn every_upstream_collector_is_built_with_its_default() {
        for (name, default) in UPSTREAM {
            let entry = CATALOGUE.entries().iter().find(|e| e.name == name);
            assert_eq!(entry.map(|e| e.default), Some(default), "{name}");
        }
        assert!(CATALOGUE.upstream_only().is_empty());
        assert_eq!(
            CATALOGUE.entries().len(),
            UPSTREAM.len(),
            "a name upstream does not have"
        );
    }
}
