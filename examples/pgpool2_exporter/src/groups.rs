//! Pgpool-II's `SHOW pool_*` commands, declared: one struct per command, one field per column, named and
//! helped as pgpool2_exporter 1.2 names them. Pgpool-II answers its own commands as text over the simple
//! query protocol; a value column is a number written as text.

use hubble::MetricGroup;

/// A backend's status as Pgpool-II writes it: 1 for `up` or `waiting` (or `true`), 0 for `down`, `unused` or
/// anything else, as pgpool2_exporter reads it.
#[derive(Debug, sqlx::Type)]
#[sqlx(transparent)]
pub struct Status(String);

impl hubble::MetricValue for Status {
    fn to_metric_value(&self) -> Result<Option<f64>, hubble::ValueError> {
        Ok(Some(f64::from(u8::from(matches!(
            self.0.as_str(),
            "up" | "waiting" | "true"
        )))))
    }
}

/// `SHOW pool_nodes`: every backend with its status, load-balanced SELECTs and replication delay.
#[derive(sqlx::FromRow, MetricGroup)]
#[hubble(
    query = "SHOW pool_nodes",
    prefix = "pgpool2_pool_nodes",
    name = "pool_nodes",
    simple_query,
    names_as_declared
)]
pub struct PoolNodes {
    #[metric(label)]
    hostname: String,
    #[metric(label)]
    port: String,
    #[metric(label)]
    role: String,
    /// Backend node Status (1 for up or waiting, 0 for down or unused)
    #[metric(gauge)]
    status: Status,
    /// SELECT statement counts issued to each backend
    #[metric(counter)]
    select_cnt: String,
    /// Replication delay
    #[metric(gauge)]
    replication_delay: String,
}

/// `SHOW pool_backend_stats` (Pgpool-II 4.2 and later): statements of each kind sent to each backend, and
/// the errors it returned.
#[derive(sqlx::FromRow, MetricGroup)]
#[hubble(
    query = "SHOW pool_backend_stats",
    prefix = "pgpool2_pool_backend_stats",
    name = "pool_backend_stats",
    min_version = 40200,
    simple_query,
    names_as_declared
)]
pub struct BackendStats {
    #[metric(label)]
    hostname: String,
    #[metric(label)]
    port: String,
    #[metric(label)]
    role: String,
    /// Backend node Status (1 for up or waiting, 0 for down or unused)
    #[metric(gauge)]
    status: Status,
    /// SELECT statement counts issued to each backend
    #[metric(counter)]
    select_cnt: String,
    /// INSERT statement counts issued to each backend
    #[metric(counter)]
    insert_cnt: String,
    /// UPDATE statement counts issued to each backend
    #[metric(counter)]
    update_cnt: String,
    /// DELETE statement counts issued to each backend
    #[metric(counter)]
    delete_cnt: String,
    /// DDL statement counts issued to each backend
    #[metric(counter)]
    ddl_cnt: String,
    /// other statement counts issued to each backend
    #[metric(counter)]
    other_cnt: String,
    /// Panic message counts returned from backend
    #[metric(counter)]
    panic_cnt: String,
    /// Fatal message counts returned from backend
    #[metric(counter)]
    fatal_cnt: String,
    /// Error message counts returned from backend
    #[metric(counter)]
    error_cnt: String,
}

/// `SHOW pool_health_check_stats` (Pgpool-II 4.2 and later): the health checks of each backend.
#[derive(sqlx::FromRow, MetricGroup)]
#[hubble(
    query = "SHOW pool_health_check_stats",
    prefix = "pgpool2_pool_health_check_stats",
    name = "pool_health_check_stats",
    min_version = 40200,
    simple_query,
    names_as_declared
)]
pub struct HealthCheckStats {
    #[metric(label)]
    hostname: String,
    #[metric(label)]
    port: String,
    #[metric(label)]
    role: String,
    /// Backend node Status (1 for up or waiting, 0 for down or unused)
    #[metric(gauge)]
    status: Status,
    /// Number of health check count in total
    #[metric(gauge)]
    total_count: String,
    /// Number of successful health check count in total
    #[metric(gauge)]
    success_count: String,
    /// Number of failed health check count in total
    #[metric(gauge)]
    fail_count: String,
    /// Number of skipped health check count in total
    #[metric(gauge)]
    skip_count: String,
    /// Number of retried health check count in total
    #[metric(gauge)]
    retry_count: String,
    /// Number of average retried health check count in a health check session
    #[metric(gauge)]
    average_retry_count: String,
    /// Number of maximum retried health check count in a health check session
    #[metric(gauge)]
    max_retry_count: String,
    /// Maximum health check duration in Millie seconds
    #[metric(gauge)]
    max_duration: String,
    /// Minimum health check duration in Millie seconds
    #[metric(gauge)]
    min_duration: String,
    /// Average health check duration in Millie seconds
    #[metric(gauge)]
    average_duration: String,
}

/// `SHOW pool_cache`: the in-memory query cache (zeros while `memory_cache_enabled` is off).
#[derive(sqlx::FromRow, MetricGroup)]
#[hubble(
    query = "SHOW pool_cache",
    prefix = "pgpool2_pool_cache",
    name = "pool_cache",
    simple_query
)]
pub struct PoolCache {
    /// The number of hits against the query cache
    #[metric(gauge)]
    num_cache_hits: String,
    /// The number of SELECT that did not hit against the query cache
    #[metric(gauge)]
    num_selects: String,
    /// Query cache hit ratio
    #[metric(gauge)]
    cache_hit_ratio: String,
    /// Number of total hash entries
    #[metric(gauge)]
    num_hash_entries: String,
    /// Number of used hash entries
    #[metric(gauge)]
    used_hash_entries: String,
    /// Number of used cache entries
    #[metric(gauge)]
    num_cache_entries: String,
    /// Total size in bytes of used cache size
    #[metric(gauge)]
    used_cache_entries_size: String,
    /// Total size in bytes of free cache size
    #[metric(gauge)]
    free_cache_entries_size: String,
    /// Total size in bytes of the fragmented cache
    #[metric(gauge)]
    fragment_cache_entries_size: String,
}
