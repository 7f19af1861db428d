//! The main job: an exporter over an embedded SQLite database holding a small job queue.
//!
//! The first run seeds the schema; a background task then keeps enqueuing, running, finishing and failing jobs
//! so the metrics move. Four metric groups are declared with `#[derive(MetricGroup)]` and collected through
//! hubble's SQL collector.

use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use hubble::{BaseExporter, Registry, ServerConfig, SqlCollector};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Sqlite, SqlitePool};
use tokio_util::sync::CancellationToken;

/// Default listen port of the demo (postgres_exporter uses 9187, sql_exporter 9399, query-exporter 9560).
pub const DEFAULT_PORT: u16 = 9745;
/// Default database file, in the current directory.
pub const DEFAULT_DATABASE: &str = "hubble-demo.db";

/// Jobs per queue and state.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT queue, state, COUNT(*) AS jobs, SUM(attempts) AS attempts FROM jobs GROUP BY queue, state",
    prefix = "demo",
    name = "jobs"
)]
pub struct JobsByState {
    #[metric(label)]
    queue: String,
    #[metric(label)]
    state: String,
    /// Jobs in this queue and state.
    #[metric(gauge)]
    jobs: i64,
    /// Attempts made by the jobs in this queue and state.
    #[metric(gauge, rename = "job_attempts")]
    attempts: Option<i64>,
}

/// Per-queue throughput counters and latency.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT s.queue, s.enqueued_total, s.completed_total, s.failed_total,
                    (SELECT unixepoch('now', 'subsec') - MIN(j.created_at) FROM jobs j
                      WHERE j.queue = s.queue AND j.state = 'queued') AS oldest_queued_age_seconds
             FROM queue_stats s",
    prefix = "demo_queue"
)]
pub struct QueueStats {
    #[metric(label)]
    queue: String,
    /// Jobs enqueued since the database was created.
    #[metric(counter)]
    enqueued_total: i64,
    /// Jobs completed successfully.
    #[metric(counter)]
    completed_total: i64,
    /// Job attempts that failed.
    #[metric(counter)]
    failed_total: i64,
    /// Age of the oldest queued job, absent when the queue is empty.
    #[metric(gauge)]
    oldest_queued_age_seconds: Option<f64>,
}

/// Workers and their heartbeats.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT name, queue, busy, unixepoch('now', 'subsec') - last_heartbeat AS heartbeat_age_seconds
             FROM workers",
    prefix = "demo_worker"
)]
pub struct Workers {
    #[metric(label, rename = "worker")]
    name: String,
    #[metric(label)]
    queue: String,
    /// Whether the worker is running a job (1) or idle (0).
    #[metric(gauge)]
    busy: bool,
    /// Seconds since the worker's last heartbeat.
    #[metric(gauge)]
    heartbeat_age_seconds: f64,
}

/// Size of the database file.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT p.page_count * s.page_size AS size_bytes, f.freelist_count * s.page_size AS free_bytes
             FROM pragma_page_count() p, pragma_page_size() s, pragma_freelist_count() f",
    prefix = "demo_database",
    interval = "30s"
)]
pub struct DatabaseSize {
    /// Size of the database in bytes.
    #[metric(gauge)]
    size_bytes: i64,
    /// Bytes of free pages inside the database.
    #[metric(gauge)]
    free_bytes: i64,
}

const QUEUES: [&str; 3] = ["email", "reports", "thumbnails"];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_queue_state ON jobs (queue, state);
CREATE TABLE IF NOT EXISTS queue_stats (
    queue TEXT PRIMARY KEY,
    enqueued_total INTEGER NOT NULL DEFAULT 0,
    completed_total INTEGER NOT NULL DEFAULT 0,
    failed_total INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS workers (
    name TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    busy INTEGER NOT NULL DEFAULT 0,
    last_heartbeat REAL NOT NULL
);
";

/// What the demo runs with (the example's flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// A file path or a `sqlite:` URL.
    pub database_url: String,
    /// Metrics path.
    pub telemetry_path: String,
    /// Collection interval.
    pub interval: Duration,
    /// How often the simulated workload changes the queue.
    pub workload_tick: Duration,
    /// Answer in OpenMetrics when asked (`--web.enable-openmetrics`).
    pub enable_openmetrics: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: DEFAULT_DATABASE.to_owned(),
            telemetry_path: ServerConfig::DEFAULT_TELEMETRY_PATH.to_owned(),
            interval: Duration::from_secs(5),
            workload_tick: Duration::from_millis(500),
            enable_openmetrics: false,
        }
    }
}

/// Opens (creating if missing) the database and seeds the schema on first use.
pub async fn open_database(url: &str) -> anyhow::Result<SqlitePool> {
    let options = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).with_context(|| format!("database URL {url:?}"))?
    } else {
        SqliteConnectOptions::new().filename(PathBuf::from(url))
    }
    .create_if_missing(true)
    .journal_mode(SqliteJournalMode::Wal)
    .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .with_context(|| format!("opening database {url:?}"))?;
    seed(&pool)
        .await
        .with_context(|| format!("seeding database {url:?}"))?;
    Ok(pool)
}

async fn seed(pool: &SqlitePool) -> sqlx::Result<()> {
    sqlx::raw_sql(SCHEMA).execute(pool).await?;
    let mut tx = pool.begin().await?;
    for (i, q) in QUEUES.iter().enumerate() {
        sqlx::query("INSERT OR IGNORE INTO queue_stats (queue) VALUES (?)")
            .bind(q)
            .execute(&mut *tx)
            .await?;
        for w in 0..2 {
            sqlx::query(
                "INSERT OR IGNORE INTO workers (name, queue, last_heartbeat) VALUES (?, ?, unixepoch('now', 'subsec'))",
            )
            .bind(format!("worker-{}", i * 2 + w + 1))
            .bind(q)
            .execute(&mut *tx)
            .await?;
        }
    }
    // A few jobs on first creation, so every metric group has rows from the first collection.
    let (jobs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs")
        .fetch_one(&mut *tx)
        .await?;
    if jobs == 0 {
        for q in QUEUES {
            sqlx::query("INSERT INTO jobs (queue, state, created_at) VALUES (?, 'queued', unixepoch('now', 'subsec'))")
                .bind(q)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE queue_stats SET enqueued_total = enqueued_total + 1 WHERE queue = ?",
            )
            .bind(q)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
}

/// A tiny xorshift: the workload needs variety, not cryptographic randomness.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.as_nanos() as u64);
        Rng(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One step of the simulated workload: enqueue, start, finish or fail jobs, heartbeat, prune.
async fn workload_step(pool: &SqlitePool, rng: &mut Rng) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let queue = QUEUES[rng.below(QUEUES.len() as u64) as usize];
    let new_jobs = rng.below(4);
    for _ in 0..new_jobs {
        sqlx::query("INSERT INTO jobs (queue, state, created_at) VALUES (?, 'queued', unixepoch('now', 'subsec'))")
            .bind(queue)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE queue_stats SET enqueued_total = enqueued_total + ? WHERE queue = ?")
        .bind(new_jobs as i64)
        .bind(queue)
        .execute(&mut *tx)
        .await?;
    // Finish some running jobs: most succeed, some fail and go back to the queue (up to 3 attempts).
    let running: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT id, queue, attempts FROM jobs WHERE state = 'running' ORDER BY id LIMIT 3",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (id, q, attempts) in running {
        let failed = rng.below(5) == 0;
        let (state, column) = match (failed, attempts + 1 >= 3) {
            (false, _) => ("done", "completed_total"),
            (true, true) => ("failed", "failed_total"),
            (true, false) => ("queued", "failed_total"),
        };
        sqlx::query("UPDATE jobs SET state = ?, attempts = attempts + 1, finished_at = unixepoch('now', 'subsec') WHERE id = ?")
            .bind(state)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "UPDATE queue_stats SET {column} = {column} + 1 WHERE queue = ?"
        ))
        .bind(q)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE jobs SET state = 'running' WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT ?)",
    )
    .bind(rng.below(4) as i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE workers SET last_heartbeat = unixepoch('now', 'subsec'),
                busy = EXISTS (SELECT 1 FROM jobs WHERE jobs.queue = workers.queue AND state = 'running')
         WHERE abs(random()) % 3 > 0",
    )
    .execute(&mut *tx)
    .await?;
    // Keep the file small: forget finished jobs after ten minutes (the counters remember them).
    sqlx::query("DELETE FROM jobs WHERE state IN ('done', 'failed') AND finished_at < unixepoch('now') - 600")
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Runs the simulated workload until cancelled.
pub async fn simulate(pool: SqlitePool, tick: Duration, cancel: CancellationToken) {
    let mut rng = Rng::new();
    let mut ticker = tokio::time::interval(tick);
    let mut failing = false;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match workload_step(&pool, &mut rng).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("workload recovered");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "workload step failed");
            }
            Err(_) => {}
        }
    }
}

/// The demo's exporter: its four groups over `pool`.
pub fn exporter(
    pool: &SqlitePool,
    interval: Duration,
) -> Result<BaseExporter, hubble::ExporterError> {
    BaseExporter::builder("sqlite_demo")
        .interval(interval)
        .collector(SqlCollector::<JobsByState, Sqlite>::new(pool.clone()))
        .collector(SqlCollector::<QueueStats, Sqlite>::new(pool.clone()))
        .collector(SqlCollector::<Workers, Sqlite>::new(pool.clone()))
        .collector(SqlCollector::<DatabaseSize, Sqlite>::new(pool.clone()))
        .build()
}

/// Opens the database, registers the exporter in `registry`, serves until `shutdown`, then closes everything.
pub async fn run(
    config: Config,
    listener: impl Into<hubble::Listeners>,
    registry: Registry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = open_database(&config.database_url).await?;
    let cancel = CancellationToken::new();
    let workload = tokio::spawn(simulate(pool.clone(), config.workload_tick, cancel.clone()));
    registry.register(exporter(&pool, config.interval)?).await?;
    let router = hubble::router(
        registry.clone(),
        ServerConfig {
            telemetry_path: config.telemetry_path.clone(),
            title: "hubble SQLite demo exporter".to_owned(),
            enable_openmetrics: config.enable_openmetrics,
            ..ServerConfig::default()
        },
    );
    tracing::info!(database = %config.database_url, "SQLite demo");
    let served = hubble::serve(listener, router, shutdown).await;
    cancel.cancel();
    let _ = workload.await;
    registry.close_all().await;
    pool.close().await;
    served.context("serving HTTP")
}
