//! mysqld_exporter's `perf_schema.eventsstatements`: the statements that took the most time, by schema and
//! digest, from `performance_schema.events_statements_summary_by_digest`, bounded by
//! `--collect.perf_schema.eventsstatements.limit` (digests), `.timelimit` (seconds since last seen) and
//! `.digest_text_limit` (characters of text), without the schemas `.exclude_schemas` adds to `mysql`,
//! `performance_schema` and `information_schema`.
//!
//! Upstream's `mysql_perf_schema_events_statements_latency` summary (MySQL 8.0.28's quantile columns) is not
//! exported: hubble has no summary type. CPU time is exported where the server has the column (MySQL
//! 8.0.28 and later), where upstream exports 0 elsewhere.

use hubble::catalogue::Entry;

use super::columns::{quote, Column, From, From::Cell};
use super::{Assembly, Options};

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

/// `--collect.perf_schema.eventsstatements`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.eventsstatements",
    "The costliest statements by digest (performance_schema.events_statements_summary_by_digest)",
    |a| {
        let sql = query(&a.options);
        a.columns(
            "perf_schema.eventsstatements",
            sql,
            COLUMNS,
            "the performance schema",
        );
    },
);

#[cfg(test)]
mod tests {
    use super::*;

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
