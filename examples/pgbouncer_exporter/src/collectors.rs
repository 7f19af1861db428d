//! The collectors: one per `SHOW` command, named in [`CATALOGUE`], plus `pgbouncer_up`.

use std::collections::BTreeMap;

use hubble::catalogue::{Catalogue, Entry, Selection};
use hubble::targets::postgres::{encrypted_by_mode, ssl_mode_name};
use hubble::targets::up::{Answer as UpAnswer, Check, Up};
use hubble::{CollectError, Collector, Family, MetricKind, Sample};
use sqlx::postgres::PgSslMode;

use crate::families::{Column, RowFamilies, Table};
use crate::show::{number, show, Answer, Console};

/// Every collector, one per `SHOW` command, in the order they run; all on by default (pgbouncer_exporter
/// has no switches: these let a user leave out, say, `SHOW CLIENTS` on a PgBouncer with many clients).
pub const CATALOGUE: Catalogue<Assembly> = Catalogue::new(
    "collector.",
    &[
        Entry::on(
            "databases",
            "Each database's pool settings and connections (SHOW DATABASES)",
            |a| a.table(&crate::families::DATABASES),
        ),
        Entry::on(
            "stats_totals",
            "Each database's queries, transactions, bytes and times (SHOW STATS_TOTALS)",
            |a| a.table(&crate::families::STATS_TOTALS),
        ),
        Entry::on(
            "pools",
            "Each pool's clients and servers by state, and wait times (SHOW POOLS)",
            |a| a.table(&crate::families::POOLS),
        ),
        Entry::on(
            "lists",
            "Counts of PgBouncer's internal lists (SHOW LISTS)",
            |a| a.rows(&crate::families::LISTS),
        ),
        Entry::on(
            "config",
            "Connection limits from PgBouncer's settings (SHOW CONFIG)",
            |a| a.rows(&crate::families::CONFIG),
        ),
        Entry::on(
            "clients",
            "Client connections by database, user, state and application (SHOW CLIENTS)",
            |a| {
                let console = a.console.clone();
                a.builder.add(Clients { console });
            },
        ),
    ],
);

/// One PgBouncer's exporter being put together by the catalogue's collectors.
pub struct Assembly {
    builder: hubble::BaseExporterBuilder,
    console: Console,
}

impl AsMut<hubble::BaseExporterBuilder> for Assembly {
    fn as_mut(&mut self) -> &mut hubble::BaseExporterBuilder {
        &mut self.builder
    }
}

impl Assembly {
    fn table(&mut self, table: &'static Table) {
        let console = self.console.clone();
        self.builder.add(TableCollector { console, table });
    }

    fn rows(&mut self, spec: &'static RowFamilies) {
        let console = self.console.clone();
        self.builder.add(RowCollector { console, spec });
    }
}

/// Adds the collectors `enabled` turns on to `exporter`, after `pgbouncer_up` (in runs of at most
/// `timeout`, over a console connected with `ssl_mode`).
pub fn add(
    exporter: hubble::BaseExporterBuilder,
    console: &Console,
    timeout: std::time::Duration,
    ssl_mode: PgSslMode,
    enabled: &Selection,
) -> hubble::BaseExporterBuilder {
    let version = Version {
        console: console.clone(),
        ssl_mode,
    };
    let up = Up::new(UP, UP_HELP, version, timeout)
        .tls_mode(ssl_mode_name(ssl_mode))
        .describes(Family::new(
            VERSION,
            VERSION_HELP,
            MetricKind::Gauge,
            ["version"],
        ));
    let mut assembly = Assembly {
        builder: exporter.collector(up),
        console: console.clone(),
    };
    CATALOGUE.build(enabled, &mut assembly);
    assembly.builder
}

const UP: &str = "pgbouncer_up";
const UP_HELP: &str =
    "Whether PgBouncer's admin console answered the last collection (1) or not (0)";
const VERSION: &str = "pgbouncer_version_info";
const VERSION_HELP: &str = "PgBouncer's version, as SHOW VERSION prints it";

/// `pgbouncer_up`'s check and `pgbouncer_version_info{version}`, from `SHOW VERSION`. The console has no
/// view of its own connection's encryption: a link that connected is encrypted where the mode requires it
/// and plain under `disable`; under `prefer` or `allow` it is not known, and `hubble_target_tls` is left out.
pub struct Version {
    console: Console,
    ssl_mode: PgSslMode,
}

impl Check for Version {
    async fn check(&self) -> Result<UpAnswer, String> {
        let answer = show(&self.console, "VERSION")
            .await
            .map_err(|e| e.to_string())?;
        let column = answer.column("version").unwrap_or(0);
        let samples = answer
            .rows
            .first()
            .and_then(|r| r.get(column).cloned().flatten())
            .map(|version| Sample::gauge(VERSION, VERSION_HELP, 1.0).label("version", version))
            .into_iter()
            .collect();
        Ok(UpAnswer {
            encrypted: encrypted_by_mode(self.ssl_mode),
            samples,
        })
    }
}

/// A tabular `SHOW` command: each [`Column::Value`] a family `pgbouncer_<table>_<metric>`, labelled by every
/// [`Column::Label`] (empty where this PgBouncer lacks the column). A value column this PgBouncer lacks is
/// skipped; a NULL or non-numeric cell gives no sample.
pub struct TableCollector {
    pub(crate) console: Console,
    pub(crate) table: &'static Table,
}

impl Collector for TableCollector {
    fn name(&self) -> &str {
        self.table.name
    }

    fn families(&self) -> Vec<Family> {
        let labels: Vec<&str> = self.table.labels().collect();
        let mut out: Vec<Family> = Vec::new();
        for c in self.table.columns {
            if let Column::Value {
                metric, kind, help, ..
            } = c
            {
                for middle in std::iter::once(self.table.name).chain(self.table.legacy_name) {
                    let name = format!("pgbouncer_{middle}_{metric}");
                    if !out.iter().any(|d| d.name == name) {
                        out.push(Family::new(name, *help, *kind, labels.clone()));
                    }
                }
            }
        }
        out
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        Ok(table_metrics(
            self.table,
            &show(&self.console, self.table.command).await?,
        ))
    }
}

/// The series of a tabular command's answer.
pub fn table_metrics(table: &Table, answer: &Answer) -> Vec<Sample> {
    let labels: Vec<(&'static str, Option<usize>)> =
        table.labels().map(|l| (l, answer.column(l))).collect();
    let values: Vec<(&Column, usize)> = table
        .columns
        .iter()
        .filter(|c| matches!(c, Column::Value { .. }))
        .filter_map(|c| Some((c, answer.column(c.name())?)))
        .collect();
    let mut out = Vec::with_capacity(answer.rows.len() * values.len());
    for row in &answer.rows {
        let mut set = hubble::Labels::with_capacity(labels.len());
        for (name, at) in &labels {
            let value = at.and_then(|i| row[i].clone()).unwrap_or_default();
            set.insert(*name, value);
        }
        for (column, at) in &values {
            let Column::Value {
                metric,
                kind,
                scale,
                help,
                ..
            } = column
            else {
                continue;
            };
            let Some(v) = row[*at].as_deref().and_then(number) else {
                continue;
            };
            for middle in std::iter::once(table.name).chain(table.legacy_name) {
                let mut m = Sample::new(
                    format!("pgbouncer_{middle}_{metric}"),
                    *help,
                    *kind,
                    v * scale,
                );
                m.labels = set.clone();
                out.push(m);
            }
        }
    }
    out
}

/// A `SHOW` command whose rows are families (`SHOW LISTS`, `SHOW CONFIG`): the rows it names become gauges,
/// other rows are skipped.
pub struct RowCollector {
    pub(crate) console: Console,
    pub(crate) spec: &'static RowFamilies,
}

impl Collector for RowCollector {
    fn name(&self) -> &str {
        self.spec.name
    }

    fn families(&self) -> Vec<Family> {
        self.spec
            .families
            .iter()
            .map(|(_, family, help)| {
                Family::new(*family, *help, MetricKind::Gauge, Vec::<&str>::new())
            })
            .collect()
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        row_metrics(self.spec, &show(&self.console, self.spec.command).await?)
    }
}

/// The series of a command whose rows are families.
pub fn row_metrics(spec: &RowFamilies, answer: &Answer) -> Result<Vec<Sample>, CollectError> {
    let (Some(key), Some(value)) = (answer.column(spec.key), answer.column(spec.value)) else {
        if answer.rows.is_empty() {
            return Ok(Vec::new());
        }
        return Err(CollectError::Decode(format!(
            "SHOW {}: no `{}` and `{}` columns in {:?}",
            spec.command, spec.key, spec.value, answer.columns
        )));
    };
    let mut out = Vec::new();
    for row in &answer.rows {
        let Some(name) = row[key].as_deref() else {
            continue;
        };
        let Some((_, family, help)) = spec.families.iter().find(|(n, ..)| *n == name) else {
            continue;
        };
        if let Some(v) = row[value].as_deref().and_then(number) {
            out.push(Sample::gauge(*family, *help, v));
        }
    }
    Ok(out)
}

const CLIENTS: &str = "pgbouncer_client_connections";
const CLIENTS_HELP: &str = "Client connections by database, user, application name and state";
const CLIENT_LABELS: [&str; 4] = ["database", "user", "application_name", "state"];

/// `SHOW CLIENTS`, counted by database, user, application name (empty before PgBouncer has the column) and
/// state: one series per group, not per client.
pub struct Clients {
    pub(crate) console: Console,
}

impl Collector for Clients {
    fn name(&self) -> &str {
        "clients"
    }

    fn families(&self) -> Vec<Family> {
        vec![Family::new(
            CLIENTS,
            CLIENTS_HELP,
            MetricKind::Gauge,
            CLIENT_LABELS,
        )]
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        client_metrics(&show(&self.console, "CLIENTS").await?)
    }
}

/// `SHOW CLIENTS` counted by group.
pub fn client_metrics(answer: &Answer) -> Result<Vec<Sample>, CollectError> {
    if answer.rows.is_empty() {
        return Ok(Vec::new());
    }
    let at: Vec<Option<usize>> = CLIENT_LABELS.iter().map(|l| answer.column(l)).collect();
    for (label, i) in CLIENT_LABELS.iter().zip(&at) {
        if i.is_none() && *label != "application_name" {
            return Err(CollectError::Decode(format!(
                "SHOW CLIENTS: no `{label}` column in {:?}",
                answer.columns
            )));
        }
    }
    let mut counts: BTreeMap<Vec<String>, f64> = BTreeMap::new();
    for row in &answer.rows {
        let key = at
            .iter()
            .map(|i| i.and_then(|i| row[i].clone()).unwrap_or_default())
            .collect();
        *counts.entry(key).or_default() += 1.0;
    }
    Ok(counts
        .into_iter()
        .map(|(key, n)| {
            let mut m = Sample::gauge(CLIENTS, CLIENTS_HELP, n);
            for (label, value) in CLIENT_LABELS.iter().zip(key) {
                m = m.label(*label, value);
            }
            m
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::{CONFIG, DATABASES, LISTS, STATS_TOTALS};

    fn answer(columns: &[&str], rows: &[&[Option<&str>]]) -> Answer {
        Answer {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| c.map(str::to_owned)).collect())
                .collect(),
        }
    }

    fn lines(metrics: &[Sample]) -> Vec<String> {
        let mut out: Vec<String> = metrics
            .iter()
            .map(|m| format!("{}{} {}", m.name, m.labels, m.value))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_column_this_version_lacks_is_skipped_and_renamed_columns_keep_their_family() {
        // 1.18: `reserve_pool`, no `force_user` column, a column hubble does not know.
        let old = answer(
            &[
                "name",
                "host",
                "port",
                "database",
                "pool_size",
                "reserve_pool",
                "paused",
                "pool_mode",
                "new_column",
            ],
            &[&[
                Some("app"),
                None,
                Some("5432"),
                Some("app"),
                Some("20"),
                Some("0"),
                Some("0"),
                None,
                Some("x"),
            ]],
        );
        let labels =
            r#"{database="app",force_user="",host="",name="app",pool_mode="",port="5432"}"#;
        assert_eq!(
            lines(&table_metrics(&DATABASES, &old)),
            [
                format!("pgbouncer_databases_paused{labels} 0"),
                format!("pgbouncer_databases_pool_size{labels} 20"),
                format!("pgbouncer_databases_reserve_pool{labels} 0"),
            ]
        );
        // 1.24 renamed it `reserve_pool_size`: the same family.
        let new = answer(&["name", "reserve_pool_size"], &[&[Some("app"), Some("5")]]);
        assert_eq!(
            lines(&table_metrics(&DATABASES, &new)),
            [
                r#"pgbouncer_databases_reserve_pool{database="",force_user="",host="",name="app",pool_mode="",port=""} 5"#
            ]
        );
    }

    #[test]
    fn times_are_seconds_and_odd_cells_give_no_sample() {
        let a = answer(
            &["database", "query_count", "query_time", "xact_count"],
            &[
                &[Some("app"), Some("7"), Some("2500000"), None],
                &[Some("db2"), Some("n/a"), Some("1"), Some("3")],
            ],
        );
        assert_eq!(
            lines(&table_metrics(&STATS_TOTALS, &a)),
            [
                r#"pgbouncer_stats_queries_duration_seconds_total{database="app"} 2.5"#,
                r#"pgbouncer_stats_queries_duration_seconds_total{database="db2"} 0.000001"#,
                r#"pgbouncer_stats_queries_pooled_total{database="app"} 7"#,
                r#"pgbouncer_stats_sql_transactions_pooled_total{database="db2"} 3"#,
                r#"pgbouncer_stats_totals_queries_duration_seconds_total{database="app"} 2.5"#,
                r#"pgbouncer_stats_totals_queries_duration_seconds_total{database="db2"} 0.000001"#,
                r#"pgbouncer_stats_totals_queries_pooled_total{database="app"} 7"#,
                r#"pgbouncer_stats_totals_sql_transactions_pooled_total{database="db2"} 3"#,
            ]
        );
        let kinds: Vec<_> = table_metrics(&STATS_TOTALS, &a)
            .iter()
            .map(|m| m.kind)
            .collect();
        assert!(kinds.iter().all(|k| *k == MetricKind::Counter));
    }

    #[test]
    fn rows_become_families_where_named() {
        let lists = answer(
            &["list", "items"],
            &[
                &[Some("databases"), Some("2")],
                &[Some("dns_names"), Some("0")],
                &[Some("peers"), Some("1")],
            ],
        );
        assert_eq!(
            lines(&row_metrics(&LISTS, &lists).unwrap()),
            ["pgbouncer_cached_dns_names{} 0", "pgbouncer_databases{} 2"]
        );
        let config = answer(
            &["key", "value", "default", "changeable"],
            &[
                &[
                    Some("max_client_conn"),
                    Some("50"),
                    Some("100"),
                    Some("yes"),
                ],
                &[Some("listen_addr"), Some("*"), Some("*"), Some("no")],
            ],
        );
        assert_eq!(
            lines(&row_metrics(&CONFIG, &config).unwrap()),
            ["pgbouncer_config_max_client_connections{} 50"]
        );
        let wrong = answer(&["name", "n"], &[&[Some("a"), Some("1")]]);
        assert!(row_metrics(&LISTS, &wrong)
            .unwrap_err()
            .to_string()
            .contains("SHOW LISTS"));
    }

    #[test]
    fn clients_are_counted_by_group() {
        let a = answer(
            &["type", "user", "database", "state", "addr"],
            &[
                &[
                    Some("C"),
                    Some("alice"),
                    Some("app"),
                    Some("active"),
                    Some("127.0.0.1"),
                ],
                &[
                    Some("C"),
                    Some("alice"),
                    Some("app"),
                    Some("active"),
                    Some("127.0.0.1"),
                ],
                &[
                    Some("C"),
                    Some("bob"),
                    Some("app"),
                    Some("waiting"),
                    Some("127.0.0.1"),
                ],
            ],
        );
        assert_eq!(
            lines(&client_metrics(&a).unwrap()),
            [
                r#"pgbouncer_client_connections{application_name="",database="app",state="active",user="alice"} 2"#,
                r#"pgbouncer_client_connections{application_name="",database="app",state="waiting",user="bob"} 1"#,
            ]
        );
        let no_state = answer(&["user", "database"], &[&[Some("a"), Some("b")]]);
        assert!(client_metrics(&no_state).is_err());
    }
}
