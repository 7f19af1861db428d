//! mysqld_exporter's `perf_schema.tablelocks`: SQL and external lock waits per table and lock type, from
//! `performance_schema.table_lock_waits_summary_by_table`.

use hubble::catalogue::Entry;

use super::columns::{operations, Column, From::Cell};
use super::Assembly;

const SQL_LOCKS: &[Column] = operations!(
    "mysql_perf_schema_sql_lock_waits_total",
    "mysql_perf_schema_sql_lock_waits_seconds_total",
    "SQL lock wait events per table and lock type",
    "Time spent in SQL lock wait events per table and lock type",
    (("schema", Cell("OBJECT_SCHEMA")), ("name", Cell("OBJECT_NAME"))),
    [
        "read_normal" => "COUNT_READ_NORMAL", "SUM_TIMER_READ_NORMAL";
        "read_with_shared_locks" => "COUNT_READ_WITH_SHARED_LOCKS", "SUM_TIMER_READ_WITH_SHARED_LOCKS";
        "read_high_priority" => "COUNT_READ_HIGH_PRIORITY", "SUM_TIMER_READ_HIGH_PRIORITY";
        "read_no_insert" => "COUNT_READ_NO_INSERT", "SUM_TIMER_READ_NO_INSERT";
        "write_normal" => "COUNT_WRITE_NORMAL", "SUM_TIMER_WRITE_NORMAL";
        "write_allow_write" => "COUNT_WRITE_ALLOW_WRITE", "SUM_TIMER_WRITE_ALLOW_WRITE";
        "write_concurrent_insert" => "COUNT_WRITE_CONCURRENT_INSERT", "SUM_TIMER_WRITE_CONCURRENT_INSERT";
        "write_low_priority" => "COUNT_WRITE_LOW_PRIORITY", "SUM_TIMER_WRITE_LOW_PRIORITY";
    ]
);

const EXTERNAL_LOCKS: &[Column] = operations!(
    "mysql_perf_schema_external_lock_waits_total",
    "mysql_perf_schema_external_lock_waits_seconds_total",
    "External (storage engine) lock wait events per table and operation",
    "Time spent in external lock wait events per table and operation",
    (("schema", Cell("OBJECT_SCHEMA")), ("name", Cell("OBJECT_NAME"))),
    [
        "read" => "COUNT_READ_EXTERNAL", "SUM_TIMER_READ_EXTERNAL";
        "write" => "COUNT_WRITE_EXTERNAL", "SUM_TIMER_WRITE_EXTERNAL";
    ]
);

const COLUMNS: &[Column] = &{
    let mut all = [SQL_LOCKS[0]; 20];
    let mut i = 0;
    while i < 20 {
        all[i] = if i < 16 {
            SQL_LOCKS[i]
        } else {
            EXTERNAL_LOCKS[i - 16]
        };
        i += 1;
    }
    all
};

const SQL: &str = "SELECT * FROM performance_schema.table_lock_waits_summary_by_table \
                   WHERE OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema', 'information_schema')";

/// `--collect.perf_schema.tablelocks`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.tablelocks",
    "Lock waits per table (performance_schema.table_lock_waits_summary_by_table)",
    |a| {
        a.columns(
            "perf_schema.tablelocks",
            SQL.to_owned(),
            COLUMNS,
            "the performance schema",
        )
    },
);
