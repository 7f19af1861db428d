//! The Postgres exporter run in-process on a loopback port, with test defaults.
// Each test binary uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hubble::{Registry, WebConfigHandle};
use postgres_exporter::app::{self, Config, ProbeConfig, Targets};
use postgres_exporter::connection::{Dsn, APPLICATION_NAME};
use postgres_exporter::custom::CustomQuery;
use postgres_exporter::naming::Naming;
use postgres_exporter::{Collection, Schedule};

use hubble_test_support::pg::PgCluster;
use hubble_test_support::{get, serve_in_thread, wait_showing, InThread};

/// Series that tell whether targets and collectors are up, shown when a wait times out.
const HEALTH: [&str; 5] = [
    "pg_up",
    "hubble_collector_up",
    "hubble_collector_errors_total",
    "hubble_dispatcher_targets",
    "hubble_discovery_errors_total",
];

pub struct Running {
    pub server: InThread,
    pub addr: SocketAddr,
}

impl Running {
    pub fn start(targets: Targets) -> Running {
        Running::start_with(targets, Vec::new())
    }

    pub fn start_with(targets: Targets, custom_queries: Vec<CustomQuery>) -> Running {
        Running::start_full(targets, custom_queries, Naming::PostgresExporter)
    }

    pub fn start_full(
        targets: Targets,
        custom_queries: Vec<CustomQuery>,
        naming: Naming,
    ) -> Running {
        Running::start_collection(
            targets,
            Collection {
                custom_queries,
                naming,
                ..test_collection()
            },
        )
    }

    pub fn start_collection(targets: Targets, collection: Collection) -> Running {
        Running::start_config(config(targets, collection))
    }

    pub fn start_config(config: Config) -> Running {
        let server = serve_in_thread(move |listener, shutdown| {
            app::run(config, listener, Registry::new(), shutdown)
        });
        Running {
            addr: server.addr,
            server,
        }
    }

    /// Scrapes until `check` accepts the body. On timeout the panic shows the targets' and collectors' health
    /// in the last scrape, so a failure says which part never came up.
    pub fn wait_metrics(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        wait_showing(Duration::from_secs(30), what, || {
            let body = get(self.addr, "/metrics", &[])
                .map_err(|e| format!("GET /metrics failed: {e}"))?
                .text();
            if check(&body) {
                return Ok(body);
            }
            let health: Vec<_> = body
                .lines()
                .filter(|l| HEALTH.iter().any(|h| l.starts_with(h)))
                .collect();
            Err(format!("health in the last scrape:\n{}", health.join("\n")))
        })
    }

    /// Scrapes until a single target has counted `n` collection rounds (`pg_exporter_scrapes_total`): every
    /// collector that is on has run by then.
    pub fn wait_rounds(&self, n: f64) -> String {
        self.wait_metrics(&format!("{n} collection rounds"), |b| rounds(b) >= n)
    }

    pub fn stop(self) {
        self.server.stop().expect("clean shutdown");
    }
}

/// Fast collections (every 300 ms) of the standard groups, the slow ones too: tests change what the server
/// holds and wait for it. (The slow groups' own defaults are tested by the catalogue's unit tests and by
/// `settings_are_read_again_only_after_a_reload`.)
pub fn test_collection() -> Collection {
    let catalogue = &postgres_exporter::collectors::CATALOGUE;
    let mut collectors = catalogue.defaults();
    for entry in catalogue.entries().iter().filter(|e| e.interval.is_some()) {
        collectors
            .set_interval(entry.name, Duration::from_millis(300))
            .unwrap();
    }
    Collection {
        collectors,
        schedule: Schedule {
            interval: Duration::from_millis(300),
            timeout: Duration::from_millis(300),
            ..Schedule::default()
        },
        custom_queries: Vec::new(),
        naming: Naming::PostgresExporter,
        disable_default_metrics: false,
        pool_size: 2,
        ..Collection::default()
    }
}

/// The test defaults: fast collections and discovery, plain HTTP, no lifecycle API, `/probe` as shipped.
pub fn config(targets: Targets, collection: Collection) -> Config {
    Config {
        targets,
        defaults: Dsn {
            user: Some("postgres".into()),
            dbname: Some("postgres".into()),
            sslmode: Some("disable".into()),
            ..Dsn::default()
        },
        collection,
        discovery_interval: Duration::from_millis(200),
        shard: None,
        cluster: None,
        patroni_grace: Duration::from_secs(45),
        telemetry_path: "/metrics".into(),
        probe_idle_timeout: Duration::from_millis(500),
        web: Arc::new(WebConfigHandle::plain()),
        enable_lifecycle: false,
        query_path: None,
        consul_token_file: None,
        probe: ProbeConfig::default(),
        enable_openmetrics: false,
    }
}

pub fn dsn(pg: &PgCluster, db: &str) -> Dsn {
    format!(
        "postgresql://postgres@127.0.0.1:{}/{db}?sslmode=disable",
        pg.port
    )
    .parse()
    .unwrap()
}

/// Collection rounds of the single target in `body` (`pg_exporter_scrapes_total`), 0 before the first.
pub fn rounds(body: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with("pg_exporter_scrapes_total{"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Connections of this exporter as the server sees them.
pub fn our_connections(pg: &PgCluster) -> usize {
    pg.count(
        "postgres",
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{APPLICATION_NAME}'"
        ),
    )
}
