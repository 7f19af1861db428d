//! postgres_exporter 0.20 parity on the server at hand: every collector on, each family upstream exports on
//! this PostgreSQL version present with upstream's label names, collectors that do not apply shown so, and
//! the output promtool parses. Run for each major by `scripts/test.sh` (PG_BIN selects the server).

mod running;

use hubble_test_support as support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use postgres_exporter::app::Targets;
use postgres_exporter::collectors::CATALOGUE;
use running::{dsn, Running};
use support::pg::PgCluster;
use support::promtool_check;

/// Where a family's series come from on a test cluster.
#[derive(Clone, Copy, PartialEq)]
enum Needs {
    /// Present on any primary we set up.
    Nothing,
    /// A standby (streaming through a repmgr-named slot), a running autovacuum, WAL archiving, a logical
    /// slot: the test sets each up, since upstream too exports nothing without them.
    Activity,
}
use Needs::*;

/// What postgres_exporter 0.20 exports with every collector on: `(family, label names, first
/// server_version_num, first without it, needs)`, from `upstream_families.txt`.
fn upstream() -> Vec<(&'static str, Vec<&'static str>, u32, u32, Needs)> {
    include_str!("upstream_families.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 5, "five columns in {l:?}");
            let version = |v: &str| match v {
                "-" => u32::MAX,
                v => v.parse().unwrap_or_else(|_| panic!("a version in {l:?}")),
            };
            let needs = match f[3] {
                "activity" => Activity,
                "-" => Nothing,
                other => panic!("{other:?} in {l:?}"),
            };
            let labels = match f[4] {
                "-" => vec![],
                l => l.split(',').collect(),
            };
            (f[0], labels, version(f[1]), version(f[2]), needs)
        })
        .collect()
}

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

/// Runs the exporter with every collector on against `pg` for two rounds: the body, and the collectors not
/// applicable. No collector may be down.
fn scrape_everything(pg: &PgCluster, what: &str) -> (String, BTreeSet<String>) {
    let mut collection = running::test_collection();
    for c in CATALOGUE.entries() {
        collection.collectors.set(c.name, true).unwrap();
    }
    collection.statements.include_query = true;
    let exporter = Running::start_collection(Targets::Single(dsn(pg, "postgres")), collection);
    let body = exporter.wait_rounds(2.0);
    exporter.stop();
    // Every collector ran: up, or not applicable with its reason (never down).
    let down: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("hubble_collector_up{") && l.ends_with(" 0"))
        .collect();
    assert!(down.is_empty(), "collectors down on the {what}: {down:?}");
    let not_applicable = body
        .lines()
        .filter(|l| l.starts_with("hubble_collector_not_applicable{") && l.ends_with(" 1"))
        .filter_map(|l| l.split("collector=\"").nth(1)?.split('"').next())
        .map(str::to_owned)
        .collect();
    (body, not_applicable)
}

#[test]
fn every_postgres_exporter_family_of_this_version_with_its_labels() {
    // Logical decoding for a logical slot, archiving (to `true`) for the archiver's times.
    let pg = PgCluster::start(&[
        "shared_preload_libraries=pg_stat_statements",
        "max_slot_wal_keep_size=1GB",
        "wal_level=logical",
        "archive_mode=on",
        "archive_command=true",
        "autovacuum_naptime=1",
    ]);
    let version = pg.version_num() as u32;
    // A streaming standby: pg_stat_replication on the primary, pg_stat_wal_receiver on the standby.
    pg.psql(
        "postgres",
        "SELECT pg_create_physical_replication_slot('repmgr_slot_1', true)",
    );
    let standby = pg.replica(Some("repmgr_slot_1"));
    pg.psql(
        "postgres",
        "CREATE EXTENSION pg_stat_statements; CREATE TABLE t (id int PRIMARY KEY); \
         INSERT INTO t SELECT generate_series(1, 100); ANALYZE t; SELECT count(*) FROM t WHERE id = 5;",
    );
    // Alone: psql -c runs one transaction, and a logical slot cannot follow writes in it.
    pg.psql(
        "postgres",
        "SELECT pg_create_logical_replication_slot('logical1', 'test_decoding')",
    );
    pg.psql(
        "postgres",
        "SELECT pg_stat_reset(); SELECT pg_switch_wal();",
    );
    if version >= 160_000 {
        pg.psql("postgres", "CREATE EXTENSION pg_buffercache");
    }
    // A slow autovacuum (one page per 100 ms) runs through both scrapes: pg_stat_progress_vacuum and the
    // autovacuum worker in pg_stat_activity.
    pg.psql(
        "postgres",
        "CREATE TABLE big (id int, pad text) WITH (autovacuum_vacuum_threshold = 0, \
         autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1); \
         INSERT INTO big SELECT g, repeat('x', 500) FROM generate_series(1, 20000) g; \
         DELETE FROM big WHERE id % 2 = 0;",
    );
    support::wait_for(Duration::from_secs(60), "an autovacuum of big", || {
        (pg.count(
            "postgres",
            "SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = 'big'::regclass",
        ) == 1)
            .then_some(())
    });
    support::wait_for(Duration::from_secs(30), "a WAL file archived", || {
        (pg.count("postgres", "SELECT archived_count FROM pg_stat_archiver") >= 1).then_some(())
    });
    // An idle client for pg_process_idle (the exporter's own connections may all be busy at a run).
    let _idle = pg.idle_session("postgres");
    let (body, not_applicable) = scrape_everything(&pg, "primary");
    let got = families(&body);
    let (standby_body, standby_not_applicable) = scrape_everything(&standby, "standby");
    let standby_got = families(&standby_body);

    let mut want_na = BTreeSet::from(["pg_stat_wal_receiver".to_owned()]);
    if version < 170_000 {
        want_na.insert("pg_stat_checkpointer".into());
    }
    if version < 160_000 {
        want_na.extend(["pg_buffercache_summary".into(), "pg_stat_io".into()]);
    }
    if version < 140_000 {
        want_na.extend(["pg_stat_wal".into(), "pg_stat_database_sessions".into()]);
    }
    assert_eq!(not_applicable, want_na, "not applicable on {version}");
    // On the standby the WAL receiver applies; pg_buffercache's extension is there once replayed.
    want_na.remove("pg_stat_wal_receiver");
    assert_eq!(
        standby_not_applicable, want_na,
        "not applicable on a {version} standby"
    );

    let mut checked = 0;
    let mut on_standby = Vec::new();
    let mut missing = Vec::new();
    let applicable = upstream()
        .into_iter()
        .filter(|(_, _, from, to, _)| (*from..*to).contains(&version))
        .map(|(name, labels, _, _, needs)| (name, labels, needs));
    for (name, labels, needs) in applicable {
        let want: BTreeSet<String> = labels.iter().map(|l| l.to_string()).collect();
        match (got.get(name), standby_got.get(name), needs) {
            (Some(have), _, _) if *have == want => checked += 1,
            (Some(have), _, _) => {
                missing.push(format!("{name}: labels {have:?}, upstream {want:?}"))
            }
            (None, Some(have), _) if *have == want => on_standby.push(name),
            (None, Some(have), _) => missing.push(format!(
                "{name}: labels on the standby {have:?}, upstream {want:?}"
            )),
            (None, None, Activity) => {
                missing.push(format!("{name}: absent despite the activity set up"))
            }
            (None, None, Nothing) => missing.push(format!("{name}: absent")),
        }
    }
    let settings = got.keys().filter(|f| f.starts_with("pg_settings_")).count();
    assert!(
        settings > 200,
        "{settings} pg_settings_ families on {version}"
    );
    eprintln!(
        "PostgreSQL {version}: {} of {} postgres_exporter 0.20 families present with upstream's labels \
         ({checked} on the primary, {} more on its standby: {on_standby:?}; +{settings} pg_settings_*); \
         collectors not applicable: {not_applicable:?}",
        checked + on_standby.len(),
        checked + on_standby.len() + missing.len(),
        on_standby.len(),
    );
    assert!(missing.is_empty(), "on {version}:\n{}", missing.join("\n"));
    for family in [
        "pg_stat_replication_pg_wal_lsn_diff",
        "pg_replication_slots_slot_confirmed_flush_lsn",
        "pg_stat_archiver_last_archive_age",
        "pg_stat_database_stats_reset",
    ] {
        assert!(
            got.contains_key(family),
            "{family} missing on the {version} primary"
        );
    }
    for family in [
        "pg_stat_wal_receiver_receive_start_lsn",
        "pg_replication_last_replay_seconds",
    ] {
        assert!(
            standby_got.contains_key(family),
            "{family} missing on the {version} standby"
        );
    }
    assert!(
        standby_body.contains("pg_replication_is_replica{server=") && standby_body.contains("} 1"),
        "{standby_body}"
    );

    // Beyond upstream: the old names stay, and hubble's own collectors.
    for family in [
        "pg_replication_lag",
        "pg_xlog_location_bytes",
        "pg_stat_bgwriter_checkpoints_timed_total",
        "pg_stat_bgwriter_buffers_backend_total",
    ] {
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
