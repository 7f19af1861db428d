//! `pg_stat_statements_*`: the most expensive statements, postgres_exporter's `stat_statements` collector with
//! its `--collector.stat_statements.*` options. Written by hand: the query depends on the options and on the
//! server's version (`total_time` before 13, `shared_blk_*_time` from 17).
//!
//! The series are bounded: at most `limit` statements (by total execution time) per run, each counted once per
//! user, database and query ID (PostgreSQL 14 and later keep top-level and nested executions of one statement
//! as two rows; they are added up here, where upstream drops the second with a warning).

use std::time::Duration;

use hubble::catalogue::Entry;
use hubble::text_rows::cell;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};
use sqlx::Row;

use super::Assembly;
use crate::connection::PgConnections;

/// The options of the `stat_statements` collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementsOptions {
    /// Export `pg_stat_statements_query_id{queryid, query}` with the statement text.
    pub include_query: bool,
    /// Characters of statement text kept.
    pub query_length: u32,
    /// Most statements exported per run.
    pub limit: u32,
    /// Databases whose statements are left out.
    pub exclude_databases: Vec<String>,
    /// Users whose statements are left out.
    pub exclude_users: Vec<String>,
}

impl Default for StatementsOptions {
    /// postgres_exporter 0.20's defaults.
    fn default() -> Self {
        StatementsOptions {
            include_query: false,
            query_length: 120,
            limit: 100,
            exclude_databases: Vec::new(),
            exclude_users: Vec::new(),
        }
    }
}

/// The `stat_statements` collector.
///
/// Where the target's statements are batched, its query goes in the batch with its parameters written in as
/// literals (a statement there has none), unless a name to exclude is not plain text; it runs on its own
/// from the first time the batch's statement timeout cancels it.
pub struct PgStatStatements {
    connections: PgConnections,
    options: StatementsOptions,
    version: crate::up::ServerVersion,
    /// Whether it still goes in the batch.
    in_batch: crate::connection::InBatch,
}

impl PgStatStatements {
    /// Over a target's shared `connections`.
    pub fn new(connections: PgConnections, options: StatementsOptions) -> Self {
        PgStatStatements {
            connections,
            options,
            version: crate::up::ServerVersion::default(),
            in_batch: crate::connection::InBatch::default(),
        }
    }
}

const LABELS: [&str; 3] = ["user", "datname", "queryid"];

/// `(name, help)` of the per-statement counters, in the query's column order.
const COUNTERS: [(&str, &str); 5] = [
    ("pg_stat_statements_calls_total", "Number of times executed"),
    (
        "pg_stat_statements_seconds_total",
        "Total time spent in the statement, in seconds",
    ),
    (
        "pg_stat_statements_rows_total",
        "Total number of rows retrieved or affected by the statement",
    ),
    (
        "pg_stat_statements_block_read_seconds_total",
        "Total time the statement spent reading blocks, in seconds",
    ),
    (
        "pg_stat_statements_block_write_seconds_total",
        "Total time the statement spent writing blocks, in seconds",
    ),
];

const QUERY_ID: (&str, &str) = (
    "pg_stat_statements_query_id",
    "SQL Query to queryid mapping",
);

/// The query for a server of `server_version_num` `version`. Parameters: `$1` the text length (0: no
/// text), `$2` excluded databases, `$3` excluded users, `$4` the limit.
pub fn statements_query(version: i32) -> String {
    let (exec, read, write) = match version {
        v if v >= 170_000 => (
            "total_exec_time",
            "shared_blk_read_time",
            "shared_blk_write_time",
        ),
        v if v >= 130_000 => ("total_exec_time", "blk_read_time", "blk_write_time"),
        _ => ("total_time", "blk_read_time", "blk_write_time"),
    };
    format!(
        "SELECT pg_get_userbyid(s.userid) AS user_name, d.datname, s.queryid::text AS queryid,
                CASE WHEN $1 > 0 THEN LEFT(min(s.query), $1) END AS query,
                sum(s.calls)::float8 AS calls, (sum(s.{exec}) / 1000.0)::float8 AS seconds,
                sum(s.rows)::float8 AS rows, (sum(s.{read}) / 1000.0)::float8 AS block_read,
                (sum(s.{write}) / 1000.0)::float8 AS block_write
         FROM pg_stat_statements($1 > 0) s JOIN pg_database d ON d.oid = s.dbid
         WHERE s.queryid IS NOT NULL AND d.datname <> ALL($2)
           AND pg_get_userbyid(s.userid) <> ALL($3)
         GROUP BY s.userid, d.datname, s.queryid
         ORDER BY seconds DESC LIMIT $4"
    )
}

/// [`statements_query`] with its parameters written in, for the target's batch: `None` when a name to
/// exclude holds a quote, a backslash or a NUL (it then goes as a parameter, outside the batch), so that no
/// server setting (`standard_conforming_strings`) can change what a literal means.
fn statements_query_inline(
    version: i32,
    length: i32,
    databases: &[String],
    users: &[String],
    limit: i64,
) -> Option<String> {
    fn array(names: &[String]) -> Option<String> {
        if names.iter().any(|n| n.contains(['\'', '\\', '\0'])) {
            return None;
        }
        let items: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        Some(format!("ARRAY[{}]::text[]", items.join(", ")))
    }
    Some(
        statements_query(version)
            .replace("$1", &length.to_string())
            .replace("$2", &array(databases)?)
            .replace("$3", &array(users)?)
            .replace("$4", &limit.to_string()),
    )
}

impl Collector for PgStatStatements {
    fn name(&self) -> &str {
        "pg_stat_statements"
    }

    fn families(&self) -> Vec<Family> {
        let mut d: Vec<Family> = COUNTERS
            .iter()
            .map(|(name, help)| Family::new(*name, *help, MetricKind::Counter, LABELS))
            .collect();
        if self.options.include_query {
            d.push(Family::new(
                QUERY_ID.0,
                QUERY_ID.1,
                MetricKind::Counter,
                ["queryid", "query"],
            ));
        }
        d
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let version = self.version.get(&self.connections, self.name()).await?;
        let o = &self.options;
        let length = if o.include_query {
            i32::try_from(o.query_length).unwrap_or(i32::MAX).max(1)
        } else {
            0
        };
        let inline = (self.connections.is_batched() && self.in_batch.stays())
            .then(|| {
                statements_query_inline(
                    version,
                    length,
                    &o.exclude_databases,
                    &o.exclude_users,
                    i64::from(o.limit),
                )
            })
            .flatten();
        let source = |e: sqlx::Error| {
            CollectError::Source(format!("group `pg_stat_statements`: {e}").into())
        };
        let decode =
            |e: sqlx::Error| CollectError::Decode(format!("group `pg_stat_statements`: {e}"));
        let mut out = Vec::new();
        let mut texts = std::collections::HashSet::new();
        let mut push = |label: &dyn Fn(usize) -> Result<Option<String>, sqlx::Error>,
                        value: &dyn Fn(usize) -> Result<Option<f64>, sqlx::Error>|
         -> Result<(), CollectError> {
            let label = |i: usize| -> Result<String, CollectError> {
                Ok(label(i)
                    .map_err(decode)?
                    .unwrap_or_else(|| "unknown".to_owned()))
            };
            let (user, datname, queryid) = (label(0)?, label(1)?, label(2)?);
            for (i, (name, help)) in COUNTERS.iter().enumerate() {
                let value = value(4 + i).map_err(decode)?;
                out.push(
                    Sample::counter(*name, *help, value.unwrap_or(0.0))
                        .label("user", user.as_str())
                        .label("datname", datname.as_str())
                        .label("queryid", queryid.as_str()),
                );
            }
            // One text per query ID, however many users and databases ran it.
            if o.include_query && texts.insert(queryid.clone()) {
                let text = label(3)?;
                out.push(
                    Sample::counter(QUERY_ID.0, QUERY_ID.1, 1.0)
                        .label("queryid", queryid)
                        .label("query", text),
                );
            }
            Ok(())
        };
        match inline {
            // Read as text where it arrived, over the exporter's own connection.
            Some(sql) if self.connections.is_over_wire() => {
                let text = self
                    .connections
                    .fetch_text(sql)
                    .await
                    .inspect_err(|e| self.in_batch.note("pg_stat_statements", e))
                    .map_err(source)?;
                text.try_for_each_row(|cells| push(&|i| cell(cells, i), &|i| cell(cells, i)))?;
            }
            inline => {
                let rows = match inline {
                    Some(sql) => self
                        .connections
                        .fetch_batched(sql)
                        .await
                        .inspect_err(|e| self.in_batch.note("pg_stat_statements", e)),
                    None => {
                        self.connections
                            .fetch_all(
                                sqlx::query(&statements_query(version))
                                    .bind(length)
                                    .bind(&o.exclude_databases)
                                    .bind(&o.exclude_users)
                                    .bind(i64::from(o.limit)),
                            )
                            .await
                    }
                }
                .map_err(source)?;
                for row in &rows {
                    push(&|i| row.try_get(i), &|i| row.try_get(i))?;
                }
            }
        }
        Ok(out)
    }
}

/// `--collector.stat_statements`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "stat_statements",
    "The most expensive statements (needs the pg_stat_statements extension)",
    |a: &mut Assembly| {
        let c = PgStatStatements::new(a.connections().clone(), a.statements.clone());
        let c = a.needs(crate::extension!("pg_stat_statements"), c);
        a.add(c);
    },
)
.every(Duration::from_secs(60));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_written_in_only_where_they_are_plain() {
        let q = statements_query_inline(
            150_000,
            120,
            &["template1".into(), "my db".into()],
            &[],
            100,
        )
        .unwrap();
        assert!(!q.contains('$'), "{q}");
        assert!(q.contains("LEFT(min(s.query), 120)") && q.contains("pg_stat_statements(120 > 0)"));
        assert!(
            q.contains("<> ALL(ARRAY['template1', 'my db']::text[])"),
            "{q}"
        );
        assert!(
            q.contains("<> ALL(ARRAY[]::text[])") && q.ends_with("LIMIT 100"),
            "{q}"
        );
        for odd in ["o'neil", "back\\slash", "nul\0"] {
            assert_eq!(
                statements_query_inline(150_000, 0, &[], &[odd.into()], 100),
                None,
                "{odd:?}"
            );
        }
    }

    #[test]
    fn columns_follow_the_version() {
        assert!(statements_query(120_000).contains("sum(s.total_time)"));
        let q13 = statements_query(130_000);
        assert!(q13.contains("sum(s.total_exec_time)") && q13.contains("sum(s.blk_read_time)"));
        let q17 = statements_query(170_000);
        assert!(
            q17.contains("sum(s.shared_blk_read_time)")
                && q17.contains("sum(s.shared_blk_write_time)")
        );
    }
}
