//! mysqld_exporter's `perf_schema.eventsstatementssum`: `performance_schema.events_statements_summary_by_digest`
//! summed over every digest. Names as upstream's (counters without `_total`); the lock time stays in
//! picoseconds and the wait time is in seconds, as there.

use hubble::catalogue::Entry;

use super::columns::Column;
use super::Assembly;

const COLUMNS: &[Column] = &[
    Column::counter(
        "mysql_perf_schema_events_statements_sum_total",
        "Statements run, over every digest",
        "SUM_COUNT_STAR",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_created_tmp_disk_tables",
        "Statements' created tmp disk tables, summed, over every digest",
        "SUM_SUM_CREATED_TMP_DISK_TABLES",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_created_tmp_tables",
        "Statements' created tmp tables, summed, over every digest",
        "SUM_SUM_CREATED_TMP_TABLES",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_errors",
        "Statements' errors, summed, over every digest",
        "SUM_SUM_ERRORS",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_lock_time",
        "Time spent waiting for locks, in picoseconds (upstream's unit), over every digest",
        "SUM_SUM_LOCK_TIME",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_no_good_index_used",
        "Statements' no good index used, summed, over every digest",
        "SUM_SUM_NO_GOOD_INDEX_USED",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_no_index_used",
        "Statements' no index used, summed, over every digest",
        "SUM_SUM_NO_INDEX_USED",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_rows_affected",
        "Statements' rows affected, summed, over every digest",
        "SUM_SUM_ROWS_AFFECTED",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_rows_examined",
        "Statements' rows examined, summed, over every digest",
        "SUM_SUM_ROWS_EXAMINED",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_rows_sent",
        "Statements' rows sent, summed, over every digest",
        "SUM_SUM_ROWS_SENT",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_select_full_join",
        "Statements' select full join, summed, over every digest",
        "SUM_SUM_SELECT_FULL_JOIN",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_select_full_range_join",
        "Statements' select full range join, summed, over every digest",
        "SUM_SUM_SELECT_FULL_RANGE_JOIN",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_select_range",
        "Statements' select range, summed, over every digest",
        "SUM_SUM_SELECT_RANGE",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_select_range_check",
        "Statements' select range check, summed, over every digest",
        "SUM_SUM_SELECT_RANGE_CHECK",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_select_scan",
        "Statements' select scan, summed, over every digest",
        "SUM_SUM_SELECT_SCAN",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_sort_merge_passes",
        "Statements' sort merge passes, summed, over every digest",
        "SUM_SUM_SORT_MERGE_PASSES",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_sort_range",
        "Statements' sort range, summed, over every digest",
        "SUM_SUM_SORT_RANGE",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_sort_rows",
        "Statements' sort rows, summed, over every digest",
        "SUM_SUM_SORT_ROWS",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_sort_scan",
        "Statements' sort scan, summed, over every digest",
        "SUM_SUM_SORT_SCAN",
        &[],
    ),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_timer_wait",
        "Time spent in statements, in seconds, over every digest",
        "SUM_SUM_TIMER_WAIT",
        &[],
    )
    .scaled(1e-12),
    Column::counter(
        "mysql_perf_schema_events_statements_sum_warnings",
        "Statements' warnings, summed, over every digest",
        "SUM_SUM_WARNINGS",
        &[],
    ),
];

const SQL: &str = "SELECT SUM(COUNT_STAR) AS SUM_COUNT_STAR,
                          SUM(SUM_CREATED_TMP_DISK_TABLES) AS SUM_SUM_CREATED_TMP_DISK_TABLES,
                          SUM(SUM_CREATED_TMP_TABLES) AS SUM_SUM_CREATED_TMP_TABLES,
                          SUM(SUM_ERRORS) AS SUM_SUM_ERRORS,
                          SUM(SUM_LOCK_TIME) AS SUM_SUM_LOCK_TIME,
                          SUM(SUM_NO_GOOD_INDEX_USED) AS SUM_SUM_NO_GOOD_INDEX_USED,
                          SUM(SUM_NO_INDEX_USED) AS SUM_SUM_NO_INDEX_USED,
                          SUM(SUM_ROWS_AFFECTED) AS SUM_SUM_ROWS_AFFECTED,
                          SUM(SUM_ROWS_EXAMINED) AS SUM_SUM_ROWS_EXAMINED,
                          SUM(SUM_ROWS_SENT) AS SUM_SUM_ROWS_SENT,
                          SUM(SUM_SELECT_FULL_JOIN) AS SUM_SUM_SELECT_FULL_JOIN,
                          SUM(SUM_SELECT_FULL_RANGE_JOIN) AS SUM_SUM_SELECT_FULL_RANGE_JOIN,
                          SUM(SUM_SELECT_RANGE) AS SUM_SUM_SELECT_RANGE,
                          SUM(SUM_SELECT_RANGE_CHECK) AS SUM_SUM_SELECT_RANGE_CHECK,
                          SUM(SUM_SELECT_SCAN) AS SUM_SUM_SELECT_SCAN,
                          SUM(SUM_SORT_MERGE_PASSES) AS SUM_SUM_SORT_MERGE_PASSES,
                          SUM(SUM_SORT_RANGE) AS SUM_SUM_SORT_RANGE,
                          SUM(SUM_SORT_ROWS) AS SUM_SUM_SORT_ROWS,
                          SUM(SUM_SORT_SCAN) AS SUM_SUM_SORT_SCAN,
                          SUM(SUM_TIMER_WAIT) AS SUM_SUM_TIMER_WAIT,
                          SUM(SUM_WARNINGS) AS SUM_SUM_WARNINGS
                   FROM performance_schema.events_statements_summary_by_digest";

/// `--collect.perf_schema.eventsstatementssum`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.eventsstatementssum",
    "Statements summed over every digest (performance_schema.events_statements_summary_by_digest)",
    |a| {
        a.columns(
            "perf_schema.eventsstatementssum",
            SQL.to_owned(),
            COLUMNS,
            "the performance schema",
        )
    },
);
