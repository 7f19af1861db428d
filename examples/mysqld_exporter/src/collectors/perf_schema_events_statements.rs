//! mysqld_exporter's `perf_schema.eventsstatements`: the statements that took the most time, by schema and
//! digest, from `performance_schema.events_statements_summary_by_digest`, bounded by
//! `--collect.perf_schema.eventsstatements.limit` (digests), `.timelimit` (seconds since last seen) and
//! `.digest_text_limit` (characters of text), without the schemas `.exclude_schemas` adds to `mysql`,
//! `performance_schema` and `information_schema`.
//!
//! `mysql_perf_schema_events_statements_latency` is upstream's summary: `_sum` the statements' time, `_count`
//! their number, and where the server keeps percentiles (MySQL 8.0.28's `QUANTILE_95`, `_99`, `_999`) those,
//! labelled as upstream labels them (`quantile="95"`, `"99"`, `"999"`, not 0.95: dashboards written for
//! upstream select them so). Where the server keeps none (MariaDB, older MySQL) upstream writes quantiles of
//! 0; here the summary has only its sum and count, since a 0 would read as a real latency.
//!
//! CPU time is exported where the server has the column (MySQL 8.0.28 and later), where upstream exports 0
//! elsewhere.

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample, Summary};

use super::columns::{self, quote, Column, From, From::Cell};
use super::{Assembly, Options, Server};
use crate::value::number;

const LABELS: &[(&str, From)] = &[
    ("schema", Cell("SCHEMA_NAME")),
    ("digest", Cell("DIGEST")),
    ("digest_text", Cell("DIGEST_TEXT")),
];

const fn count(family: &'static str, help: &'static str, column: &'static str) -> Column {
    Column::counter(family, help, column, LABELS)
}

const fn seconds(family: &'static str, help: &'static str, column: &'static str) -> Column {
    Column::counter(family, help, column, LABELS).scaled(1e-12)
}

const COLUMNS: &[Column] = &[
    count(
        "mysql_perf_schema_events_statements_total",
        "Statements run, by digest",
        "COUNT_STAR",
    ),
    seconds(
        "mysql_perf_schema_events_statements_seconds_total",
        "Time spent in statements, by digest",
        "SUM_TIMER_WAIT",
    ),
    seconds(
        "mysql_perf_schema_events_statements_lock_time_seconds_total",
        "Time spent waiting for locks, by digest",
        "SUM_LOCK_TIME",
    ),
    seconds(
        "mysql_perf_schema_events_statements_cpu_time_seconds_total",
        "CPU time spent in statements, by digest",
        "SUM_CPU_TIME",
    ),
    count(
        "mysql_perf_schema_events_statements_errors_total",
        "Errors, by digest",
        "SUM_ERRORS",
    ),
    count(
        "mysql_perf_schema_events_statements_warnings_total",
        "Warnings, by digest",
        "SUM_WARNINGS",
    ),
    count(
        "mysql_perf_schema_events_statements_rows_affected_total",
        "Rows affected, by digest",
        "SUM_ROWS_AFFECTED",
    ),
    count(
        "mysql_perf_schema_events_statements_rows_sent_total",
        "Rows sent, by digest",
        "SUM_ROWS_SENT",
    ),
    count(
        "mysql_perf_schema_events_statements_rows_examined_total",
        "Rows examined, by digest",
        "SUM_ROWS_EXAMINED",
    ),
    count(
        "mysql_perf_schema_events_statements_tmp_tables_total",
        "Temporary tables created, by digest",
        "SUM_CREATED_TMP_TABLES",
    ),
    count(
        "mysql_perf_schema_events_statements_tmp_disk_tables_total",
        "Temporary tables created on disk, by digest",
        "SUM_CREATED_TMP_DISK_TABLES",
    ),
    count(
        "mysql_perf_schema_events_statements_sort_merge_passes_total",
        "Merge passes of sorts, by digest",
        "SUM_SORT_MERGE_PASSES",
    ),
    count(
        "mysql_perf_schema_events_statements_sort_rows_total",
        "Rows sorted, by digest",
        "SUM_SORT_ROWS",
    ),
    count(
        "mysql_perf_schema_events_statements_no_index_used_total",
        "Statements that scanned a whole table, by digest",
        "SUM_NO_INDEX_USED",
    ),
];

/// The schemas left out, quoted: upstream's three and the extra ones, each once.
fn excluded(extra: &[String]) -> String {
    let mut quoted: Vec<String> = ["mysql", "performance_schema", "information_schema"]
        .iter()
        .map(|s| format!("'{s}'"))
        .collect();
    for s in extra {
        let q = quote(s);
        if !quoted.contains(&q) {
            quoted.push(q);
        }
    }
    quoted.join(", ")
}

/// The query for the options. Rows are unique per schema and digest already, so upstream's regrouping is
/// not needed; every column is read by name, so one query fits MySQL and MariaDB.
pub(crate) fn query(options: &Options) -> String {
    format!(
        "SELECT IFNULL(SCHEMA_NAME, 'NONE') AS SCHEMA_NAME, DIGEST, LEFT(DIGEST_TEXT, {text}) AS DIGEST_TEXT, d.* \
         FROM performance_schema.events_statements_summary_by_digest d \
         WHERE SCHEMA_NAME NOT IN ({excluded}) AND LAST_SEEN > DATE_SUB(NOW(), INTERVAL {age} SECOND) \
         ORDER BY SUM_TIMER_WAIT DESC LIMIT {limit}",
        text = options.statements_digest_text_limit,
        excluded = excluded(&options.statements_exclude_schemas),
        age = options.statements_timelimit,
        limit = options.statements_limit,
    )
}

const LATENCY: &str = "mysql_perf_schema_events_statements_latency";
const LATENCY_HELP: &str =
    "Statement latency by digest: percentiles kept by the server, time and count";

/// The percentile columns and the `quantile` label upstream gives each.
const QUANTILES: [(&str, f64); 3] = [
    ("QUANTILE_95", 95.0),
    ("QUANTILE_99", 99.0),
    ("QUANTILE_999", 999.0),
];

/// Each row's latency summary. A row without a count or time gives none; picoseconds become seconds.
fn latencies(answer: &TextRows) -> Result<Vec<Sample>, CollectError> {
    let index = |name: &str| {
        answer
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    };
    let quantiles: Vec<(usize, f64)> = QUANTILES
        .iter()
        .filter_map(|&(column, q)| Some((index(column)?, q)))
        .collect();
    let (Some(count), Some(time)) = (index("COUNT_STAR"), index("SUM_TIMER_WAIT")) else {
        return Ok(Vec::new());
    };
    let cell = |row: &[Option<String>], i: usize| row.get(i)?.as_deref().and_then(number);
    let mut out = Vec::with_capacity(answer.rows.len());
    for row in &answer.rows {
        let (Some(n), Some(sum)) = (cell(row, count), cell(row, time)) else {
            continue;
        };
        let kept = quantiles
            .iter()
            .filter_map(|&(i, q)| Some((q, cell(row, i)? * 1e-12)));
        // Counts are whole and far below 2^53.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let summary = Summary::new(kept, sum * 1e-12, n as u64)
            .map_err(|e| CollectError::Other(e.to_string()))?;
        let mut sample = Sample::summary(LATENCY, LATENCY_HELP, summary);
        for (label, from) in LABELS {
            if let Cell(column) = from {
                let value = index(column).and_then(|i| row.get(i)?.clone());
                sample = sample.label(*label, value.unwrap_or_default());
            }
        }
        out.push(sample);
    }
    Ok(out)
}

/// The collector: the column map and the latency summary from one query.
struct EventsStatements {
    sql: String,
    server: Server,
}

impl Collector for EventsStatements {
    fn name(&self) -> &str {
        "perf_schema.eventsstatements"
    }

    fn families(&self) -> Vec<Family> {
        let mut families = columns::families(COLUMNS);
        let labels = LABELS.iter().map(|(name, _)| *name);
        families.push(Family::new(
            LATENCY,
            LATENCY_HELP,
            MetricKind::Summary,
            labels,
        ));
        families
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let answer =
            super::fetch_or_not_applicable(&self.server, &self.sql, "the performance schema")
                .await?;
        let mut out = columns::samples(&answer, COLUMNS);
        out.extend(latencies(&answer)?);
        Ok(out)
    }
}

/// `--collect.perf_schema.eventsstatements`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.eventsstatements",
    "The costliest statements by digest (performance_schema.events_statements_summary_by_digest)",
    |a| {
        let sql = query(&a.options);
        let server = a.server.clone();
        a.add(EventsStatements { sql, server });
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::rows;

    #[test]
    fn latency_is_a_summary_with_the_quantiles_the_server_keeps() {
        // MySQL 8.0.28 (recorded columns, picoseconds).
        let mysql = rows(
            &[
                "SCHEMA_NAME",
                "DIGEST",
                "DIGEST_TEXT",
                "COUNT_STAR",
                "SUM_TIMER_WAIT",
                "QUANTILE_95",
                "QUANTILE_99",
                "QUANTILE_999",
            ],
            &[&[
                "app",
                "ab12",
                "SELECT ?",
                "40",
                "2500000000000",
                "10000000000",
                "50000000000",
                "120000000000",
            ]],
        );
        let s = latencies(&mysql).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].kind, MetricKind::Summary);
        assert_eq!(
            s[0].labels.to_string(),
            "{digest=\"ab12\",digest_text=\"SELECT ?\",schema=\"app\"}"
        );
        let summary = s[0].summary.as_deref().unwrap();
        assert_eq!(summary.count(), 40);
        assert!((summary.sum() - 2.5).abs() < 1e-12);
        let q: Vec<(f64, f64)> = summary.quantiles().to_vec();
        assert_eq!(
            q.iter().map(|p| p.0).collect::<Vec<_>>(),
            [95.0, 99.0, 999.0]
        );
        assert!((q[2].1 - 0.12).abs() < 1e-12, "{q:?}");
        // MariaDB keeps no percentiles: sum and count only.
        let mariadb = rows(
            &[
                "SCHEMA_NAME",
                "DIGEST",
                "DIGEST_TEXT",
                "COUNT_STAR",
                "SUM_TIMER_WAIT",
            ],
            &[&["app", "ab12", "SELECT ?", "3", "1000000000000"]],
        );
        let s = latencies(&mariadb).unwrap();
        assert!(s[0].summary.as_deref().unwrap().quantiles().is_empty());
    }

    #[test]
    fn options_shape_the_query() {
        let options = Options {
            statements_exclude_schemas: vec!["app".into(), "mysql".into(), "o'hara".into()],
            ..Options::default()
        };
        let q = query(&options);
        assert!(q.contains("LEFT(DIGEST_TEXT, 120)"), "{q}");
        assert!(
            q.contains(
                "NOT IN ('mysql', 'performance_schema', 'information_schema', 'app', 'o''hara')"
            ),
            "{q}"
        );
        assert!(
            q.contains("INTERVAL 86400 SECOND") && q.ends_with("LIMIT 250"),
            "{q}"
        );
    }
}
