//! postgres_exporter 0.20 parity on the server at hand: every collector on, each family upstream exports on
//! this PostgreSQL version present with upstream's label names, collectors that do not apply shown so, and
//! the output promtool parses. Run for each major by `scripts/test.sh` (PG_BIN selects the server).

mod running;

use hubble_test_support as support;

use std::collections::{BTreeMap, BTreeSet};

use postgres_exporter::app::Targets;
use postgres_exporter::collectors::COLLECTORS;
use running::{dsn, Running};
use support::pg::PgCluster;
use support::promtool_check;

/// Where a family's series come from on a test cluster.
#[derive(Clone, Copy, PartialEq)]
enum Needs {
    /// Present on any primary we set up.
    Nothing,
    /// A standby, a running VACUUM or autovacuum, WAL archiving, a logical slot: absent here, as upstream.
    Activity,
}
use Needs::*;

/// `(family, label names, first server_version_num, last + 1, needs)` of what postgres_exporter 0.20
/// exports with every collector on (pg_settings_* aside: one per setting).
const UPSTREAM: &[(&str, &[&str], u32, u32, Needs)] = &[
    ("pg_up", &[], 0, 999_999, Nothing),
    (
        "pg_static",
        &["short_version", "version"],
        0,
        999_999,
        Nothing,
    ),
    ("pg_database_size_bytes", &["datname"], 0, 999_999, Nothing),
    (
        "pg_database_connection_limit",
        &["datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_database_wraparound_age_datfrozenxid_seconds",
        &["datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_database_wraparound_age_datminmxid_seconds",
        &["datname"],
        0,
        999_999,
        Nothing,
    ),
    ("pg_locks_count", &["datname", "mode"], 0, 999_999, Nothing),
    ("pg_long_running_transactions", &[], 0, 999_999, Nothing),
    (
        "pg_long_running_transactions_oldest_timestamp_seconds",
        &[],
        0,
        999_999,
        Nothing,
    ),
    ("pg_postmaster_start_time_seconds", &[], 0, 999_999, Nothing),
    (
        "pg_process_idle_seconds",
        &["application_name", "state"],
        0,
        999_999,
        Nothing,
    ),
    ("pg_replication_lag_seconds", &[], 0, 999_999, Nothing),
    ("pg_replication_is_replica", &[], 0, 999_999, Nothing),
    (
        "pg_replication_last_replay_seconds",
        &[],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_replication_slots_active",
        &["database", "slot_name"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_replication_slots_pg_wal_lsn_diff",
        &["database", "slot_name"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_replication_slots_slot_current_wal_lsn",
        &["slot_name", "slot_type"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_replication_slots_slot_confirmed_flush_lsn",
        &["slot_name", "slot_type"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_replication_slots_slot_is_active",
        &["slot_name", "slot_type"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_replication_slots_safe_wal_size_bytes",
        &["slot_name", "slot_type"],
        130_000,
        999_999,
        Nothing,
    ),
    (
        "pg_replication_slots_wal_status",
        &["slot_name", "slot_type", "wal_status"],
        130_000,
        999_999,
        Nothing,
    ),
    (
        "pg_roles_connection_limit",
        &["rolname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_activity_count",
        &["datname", "state"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_activity_max_tx_duration",
        &["datname", "state"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_activity_autovacuum_timestamp_seconds",
        &["relname"],
        0,
        999_999,
        Activity,
    ),
    ("pg_stat_archiver_archived_count", &[], 0, 999_999, Nothing),
    ("pg_stat_archiver_failed_count", &[], 0, 999_999, Nothing),
    (
        "pg_stat_archiver_last_archive_age",
        &[],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_bgwriter_checkpoints_timed_total",
        &[],
        0,
        170_000,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_checkpoints_req_total",
        &[],
        0,
        170_000,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_checkpoint_write_time_total",
        &[],
        0,
        170_000,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_checkpoint_sync_time_total",
        &[],
        0,
        170_000,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_buffers_checkpoint_total",
        &[],
        0,
        170_000,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_buffers_clean_total",
        &[],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_maxwritten_clean_total",
        &[],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_buffers_backend_total",
        &[],
        0,
        170_000,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_buffers_backend_fsync_total",
        &[],
        0,
        170_000,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_buffers_alloc_total",
        &[],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_bgwriter_stats_reset_total",
        &[],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_checkpointer_num_timed_total",
        &[],
        170_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_checkpointer_num_requested_total",
        &[],
        170_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_checkpointer_restartpoints_timed_total",
        &[],
        170_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_checkpointer_restartpoints_req_total",
        &[],
        170_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_checkpointer_restartpoints_done_total",
        &[],
        170_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_checkpointer_write_time_total",
        &[],
        170_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_checkpointer_sync_time_total",
        &[],
        170_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_checkpointer_buffers_written_total",
        &[],
        170_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_checkpointer_stats_reset_total",
        &[],
        170_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_numbackends",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_xact_commit",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_xact_rollback",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_blks_read",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_blks_hit",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_tup_returned",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_tup_fetched",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_tup_inserted",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_tup_updated",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_tup_deleted",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_conflicts",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_temp_files",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_temp_bytes",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_deadlocks",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_blk_read_time",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_blk_write_time",
        &["datid", "datname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_database_stats_reset",
        &["datid", "datname"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_database_active_time_seconds_total",
        &["datid", "datname"],
        140_000,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_progress_vacuum_heap_blks",
        &["datname", "relname"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_progress_vacuum_heap_blks_scanned",
        &["datname", "relname"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_progress_vacuum_heap_blks_vacuumed",
        &["datname", "relname"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_progress_vacuum_index_vacuums",
        &["datname", "relname"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_progress_vacuum_max_dead_tuples",
        &["datname", "relname"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_progress_vacuum_num_dead_tuples",
        &["datname", "relname"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_progress_vacuum_phase",
        &["datname", "phase", "relname"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_replication_pg_current_wal_lsn_bytes",
        &["application_name", "client_addr", "state", "sync_state"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_replication_pg_wal_lsn_diff",
        &["application_name", "client_addr", "state", "sync_state"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_stat_statements_calls_total",
        &["datname", "queryid", "user"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_statements_seconds_total",
        &["datname", "queryid", "user"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_statements_rows_total",
        &["datname", "queryid", "user"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_statements_block_read_seconds_total",
        &["datname", "queryid", "user"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_statements_block_write_seconds_total",
        &["datname", "queryid", "user"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_statements_query_id",
        &["query", "queryid"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_stat_wal_receiver_receive_start_lsn",
        &["slot_name", "status", "upstream_host"],
        0,
        999_999,
        Activity,
    ),
    (
        "pg_statio_user_indexes_idx_blks_read_total",
        &["indexrelname", "relname", "schemaname"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_statio_user_indexes_idx_blks_hit_total",
        &["indexrelname", "relname", "schemaname"],
        0,
        999_999,
        Nothing,
    ),
    ("pg_wal_segments", &[], 0, 999_999, Nothing),
    ("pg_wal_size_bytes", &[], 0, 999_999, Nothing),
    (
        "pg_buffercache_summary_buffers_used",
        &[],
        160_000,
        999_999,
        Nothing,
    ),
    (
        "pg_buffercache_summary_buffers_unused",
        &[],
        160_000,
        999_999,
        Nothing,
    ),
    (
        "pg_buffercache_summary_buffers_dirty",
        &[],
        160_000,
        999_999,
        Nothing,
    ),
    (
        "pg_buffercache_summary_buffers_pinned",
        &[],
        160_000,
        999_999,
        Nothing,
    ),
    (
        "pg_buffercache_summary_usagecount_avg",
        &[],
        160_000,
        999_999,
        Nothing,
    ),
    ("pg_exporter_last_scrape_error", &[], 0, 999_999, Nothing),
    ("pg_exporter_scrapes_total", &[], 0, 999_999, Nothing),
    (
        "pg_exporter_last_scrape_duration_seconds",
        &[],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_scrape_collector_success",
        &["collector"],
        0,
        999_999,
        Nothing,
    ),
    (
        "pg_scrape_collector_duration_seconds",
        &["collector"],
        0,
        999_999,
        Nothing,
    ),
];

/// Per-table families (`stat_user_tables`, `statio_user_tables`): labels datname, schemaname, relname.
const PER_TABLE: &[&str] = &[
    "pg_stat_user_tables_seq_scan",
    "pg_stat_user_tables_seq_tup_read",
    "pg_stat_user_tables_idx_scan",
    "pg_stat_user_tables_idx_tup_fetch",
    "pg_stat_user_tables_n_tup_ins",
    "pg_stat_user_tables_n_tup_upd",
    "pg_stat_user_tables_n_tup_del",
    "pg_stat_user_tables_n_tup_hot_upd",
    "pg_stat_user_tables_n_live_tup",
    "pg_stat_user_tables_n_dead_tup",
    "pg_stat_user_tables_n_mod_since_analyze",
    "pg_stat_user_tables_last_vacuum",
    "pg_stat_user_tables_last_autovacuum",
    "pg_stat_user_tables_last_analyze",
    "pg_stat_user_tables_last_autoanalyze",
    "pg_stat_user_tables_vacuum_count",
    "pg_stat_user_tables_autovacuum_count",
    "pg_stat_user_tables_analyze_count",
    "pg_stat_user_tables_autoanalyze_count",
    "pg_stat_user_tables_index_size_bytes",
    "pg_stat_user_tables_table_size_bytes",
    "pg_statio_user_tables_heap_blocks_read",
    "pg_statio_user_tables_heap_blocks_hit",
    "pg_statio_user_tables_idx_blocks_read",
    "pg_statio_user_tables_idx_blocks_hit",
    "pg_statio_user_tables_toast_blocks_read",
    "pg_statio_user_tables_toast_blocks_hit",
    "pg_statio_user_tables_tidx_blocks_read",
    "pg_statio_user_tables_tidx_blocks_hit",
];

/// Label names of each family's samples (without the exporter's `server` and a histogram's `le`), keyed by
/// family (a histogram's `_bucket`, `_sum` and `_count` under the family's name).
fn families(body: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut types = BTreeMap::new();
    for line in body.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut words = line.split_whitespace().skip(2);
        if let (Some(name), Some(kind)) = (words.next(), words.next()) {
            types.insert(name.to_owned(), kind.to_owned());
        }
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        let mut name = &line[..end];
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if types.get(base).is_some_and(|k| k == "histogram") {
                    name = base;
                }
            }
        }
        let labels = line[end..]
            .strip_prefix('{')
            .and_then(|rest| rest.split_once("} "))
            .map(|(set, _)| set)
            .unwrap_or("");
        let names = labels
            .split("\",")
            .filter_map(|pair| pair.split_once('=').map(|(n, _)| n.to_owned()))
            .filter(|n| n != "server" && n != "le")
            .collect();
        out.entry(name.to_owned()).or_insert(names);
    }
    out
}

#[test]
fn every_postgres_exporter_family_of_this_version_with_its_labels() {
    let pg = PgCluster::start(&[
        "shared_preload_libraries=pg_stat_statements",
        "max_slot_wal_keep_size=1GB",
    ]);
    let version = pg.version_num() as u32;
    pg.psql(
        "postgres",
        "CREATE EXTENSION pg_stat_statements; CREATE TABLE t (id int PRIMARY KEY); \
         INSERT INTO t SELECT generate_series(1, 100); ANALYZE t; SELECT count(*) FROM t WHERE id = 5; \
         SELECT pg_create_physical_replication_slot('standby1', true);",
    );
    if version >= 160_000 {
        pg.psql("postgres", "CREATE EXTENSION pg_buffercache");
    }
    // An idle client for pg_process_idle (the exporter's own connections may all be busy at a run).
    let _idle = pg.idle_session("postgres");
    let mut collection = running::test_collection();
    for c in COLLECTORS {
        collection.collectors.set(c.name, true).unwrap();
    }
    collection.statements.include_query = true;
    let exporter = Running::start_collection(Targets::Single(dsn(&pg, "postgres")), collection);
    let body = exporter.wait_rounds(2.0);
    exporter.stop();
    let got = families(&body);

    // Every collector ran: up, or not applicable with its reason (never down).
    let down: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("hubble_collector_up{") && l.ends_with(" 0"))
        .collect();
    assert!(down.is_empty(), "collectors down on {version}: {down:?}");
    let not_applicable: BTreeSet<&str> = body
        .lines()
        .filter(|l| l.starts_with("hubble_collector_not_applicable{") && l.ends_with(" 1"))
        .filter_map(|l| l.split("collector=\"").nth(1)?.split('"').next())
        .collect();
    let mut want_na = BTreeSet::from(["pg_stat_wal_receiver"]);
    if version < 170_000 {
        want_na.insert("pg_stat_checkpointer");
    }
    if version < 160_000 {
        want_na.extend(["pg_buffercache_summary", "pg_stat_io"]);
    }
    if version < 140_000 {
        want_na.extend(["pg_stat_wal", "pg_stat_database_sessions"]);
    }
    assert_eq!(not_applicable, want_na, "not applicable on {version}");

    let mut checked = 0;
    let mut missing = Vec::new();
    let mut activity = Vec::new();
    let applicable = UPSTREAM
        .iter()
        .filter(|(_, _, from, to, _)| (*from..*to).contains(&version))
        .map(|(name, labels, _, _, needs)| (*name, labels.to_vec(), *needs))
        .chain(
            PER_TABLE
                .iter()
                .map(|name| (*name, vec!["datname", "relname", "schemaname"], Nothing)),
        );
    for (name, labels, needs) in applicable {
        let want: BTreeSet<String> = labels.iter().map(|l| l.to_string()).collect();
        match (got.get(name), needs) {
            (Some(have), _) if *have == want => checked += 1,
            (Some(have), _) => missing.push(format!("{name}: labels {have:?}, upstream {want:?}")),
            (None, Activity) => activity.push(name),
            (None, Nothing) => missing.push(format!("{name}: absent")),
        }
    }
    let settings = got.keys().filter(|f| f.starts_with("pg_settings_")).count();
    assert!(
        settings > 200,
        "{settings} pg_settings_ families on {version}"
    );
    eprintln!(
        "PostgreSQL {version}: {checked} of {} postgres_exporter 0.20 families present with upstream's labels \
         (+{settings} pg_settings_*); absent without a standby, running vacuum or archiving: {activity:?}; \
         collectors not applicable: {not_applicable:?}",
        checked + missing.len() + activity.len()
    );
    assert!(missing.is_empty(), "on {version}:\n{}", missing.join("\n"));

    // Beyond upstream: the old names stay, and hubble's own collectors.
    for family in ["pg_replication_lag", "pg_xlog_location_bytes"] {
        assert!(got.contains_key(family), "{family} missing on {version}");
    }
    assert_eq!(
        got.contains_key("pg_stat_wal_bytes_total"),
        version >= 140_000
    );
    assert_eq!(
        got.get("pg_stat_io_reads_total").cloned(),
        (version >= 160_000).then(|| ["backend_type", "context", "object"]
            .map(String::from)
            .into())
    );
    // The idle-time histogram: cumulative buckets up to +Inf, which equals the count.
    assert!(
        body.contains("# TYPE pg_process_idle_seconds histogram"),
        "{body}"
    );
    let inf = body
        .lines()
        .find(|l| l.starts_with("pg_process_idle_seconds_bucket{") && l.contains("le=\"+Inf\""))
        .expect("a +Inf bucket");
    assert!(inf.contains("state=\"idle\""), "{inf}");
    // The statement text of a statement run above, once per query ID.
    assert!(
        body.lines()
            .any(|l| l.starts_with("pg_stat_statements_query_id{")
                && l.contains("SELECT count(*) FROM t WHERE id = $1")),
        "{body}"
    );
    let complaints = promtool_check(body.as_bytes());
    assert!(
        !complaints.contains("error while linting") && !complaints.contains("parsing"),
        "{complaints}"
    );
}
