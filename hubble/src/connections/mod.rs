//! Connections a target's collectors keep between runs, so a query costs one round trip.
//!
//! A query on an sqlx [`Pool`] checks a connection out and gives it back, and sqlx tests every connection given
//! back with a ping, in a spawned task: a second round trip, and a task, for every query. A collector that runs
//! every interval does not need that. [`Connections`] keeps a connection that finished its work cleanly
//! ([`Lease::keep`]) for the next query; one that failed, or whose query was cancelled half way, goes back to the
//! pool, which pings it and closes it if it is broken. Kept connections still follow the pool's `idle_timeout`
//! and `max_lifetime`.
//!
//! Build every collector of a target over one `Connections` (it is a handle: clone it), and call
//! [`Connections::close`] when the target goes.
//!
//! ```
//! # async fn demo() -> Result<(), sqlx::Error> {
//! use hubble::connections::Connections;
//!
//! let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
//! let connections = Connections::new(pool);
//! let mut lease = connections.acquire().await?;
//! let (one,): (i64,) = sqlx::query_as("SELECT 1").fetch_one(&mut *lease).await?;
//! lease.keep(); // clean: the next query reuses it
//! assert_eq!(one, 1);
//! connections.close().await;
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod batch;
#[cfg(feature = "postgres")]
mod wire;

pub use batch::Batching;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use wire::{WireDatabaseError, WireTarget};

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, Database, Pool};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Connections kept between queries, over a pool that opens them. A cheap handle: clones share the
/// connections.
pub struct Connections<DB: Database> {
    inner: Arc<Inner<DB>>,
    /// The target's batch, when its statements are batched ([`Connections::batched`]).
    batch: Option<Arc<batch::Batcher<Vec<DB::Row>>>>,
    /// The target's batch over hubble's own connection ([`Connections::over_wire`]).
    #[cfg(feature = "postgres")]
    wire: Option<Arc<wire::WireBatch>>,
}

impl<DB: Database> std::fmt::Debug for Connections<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections").finish_non_exhaustive()
    }
}

struct Inner<DB: Database> {
    /// Made on first use when the connections were made [`lazy`](Connections::lazy).
    pool: OnceLock<Pool<DB>>,
    /// What makes the pool, until it is made.
    make: Mutex<Option<MakePool<DB>>>,
    acquire_timeout: Duration,
    /// One per connection the pool may open. A holder either finds a kept connection or knows the pool has
    /// room for one more, so it never waits on the pool while connections sit kept and unused.
    permits: Semaphore,
    kept: Mutex<Kept<DB>>,
    /// Cancelled by [`Connections::close`]: work the collectors do not own (a batch's flush) stops with it.
    closing: tokio_util::sync::CancellationToken,
    /// The pool's idle timeout: a connection kept unused longer is closed rather than reused.
    idle_timeout: Option<Duration>,
    /// The pool's max lifetime: a connection held longer goes back to the pool, which retires it. (The pool
    /// checks age when a connection is taken from it or given back, and a kept one is neither.)
    max_lifetime: Option<Duration>,
}

type MakePool<DB> = (
    sqlx::pool::PoolOptions<DB>,
    <<DB as Database>::Connection as sqlx::Connection>::Options,
);

struct Kept<DB: Database> {
    idle: Vec<Idle<DB>>,
    closed: bool,
}

struct Idle<DB: Database> {
    conn: PoolConnection<DB>,
    /// When it left the pool: no later than it was opened.
    from_pool: Instant,
    since: Instant,
}

impl<DB: Database> Clone for Connections<DB> {
    fn clone(&self) -> Self {
        Connections {
            inner: self.inner.clone(),
            batch: self.batch.clone(),
            #[cfg(feature = "postgres")]
            wire: self.wire.clone(),
        }
    }
}

impl<DB: Database> From<Pool<DB>> for Connections<DB> {
    fn from(pool: Pool<DB>) -> Self {
        Connections::new(pool)
    }
}

/// Options of a target's pool that opens connections when first needed: creating it never fails on a
/// target that is down, the first query connects, and it reconnects after a restart. At most `max`
/// connections; a connection that cannot be had within most (80%) of the collection `timeout` is an error,
/// so a run against a server that is down ends with `up 0` rather than "timed out". Add what the driver
/// needs (`after_connect`), then `connect_lazy_with`.
///
/// ```
/// # async fn demo() {
/// use std::time::Duration;
/// use hubble::connections::{lazy_pool, Connections};
///
/// let options: sqlx::sqlite::SqliteConnectOptions = "sqlite::memory:".parse().unwrap();
/// let connections = Connections::new(
///     lazy_pool::<sqlx::Sqlite>(1, Duration::from_secs(5)).connect_lazy_with(options),
/// );
/// # connections.close().await;
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo());
/// ```
pub fn lazy_pool<DB: Database>(max: u32, timeout: Duration) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(max.max(1))
        .min_connections(0)
        .acquire_timeout(timeout.mul_f64(0.8))
        // No ping before each query: that doubles the round trips of every collection. A connection that
        // died fails one query (that run only, shown in the self-metrics) and the pool replaces it.
        .test_before_acquire(false)
        // A busy server makes every acquire slow; sqlx would warn on each one. The failing collector is
        // already logged once and shown in hubble_collector_up, so keep sqlx's note at debug level.
        .acquire_slow_level(log::LevelFilter::Debug)
}

/// An exporter and the connections its collectors share, closed together: what a target is, for an
/// exporter that reaches each target over connections of its own.
pub struct WithConnections<DB: Database> {
    base: crate::BaseExporter,
    connections: Connections<DB>,
}

impl<DB: Database> std::fmt::Debug for WithConnections<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithConnections")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl<DB: Database> WithConnections<DB> {
    /// `base`, whose collectors run over `connections`.
    pub fn new(base: crate::BaseExporter, connections: Connections<DB>) -> Self {
        WithConnections { base, connections }
    }
}

impl<DB: Database> crate::Exporter for WithConnections<DB> {
    fn as_base(&self) -> &crate::BaseExporter {
        &self.base
    }

    async fn close(&self) {
        self.base.close().await;
        self.connections.close().await;
    }
}

impl<DB: Database> Connections<DB> {
    /// Keeps up to the pool's `max_connections` connections. One kept unused for longer than the pool's
    /// `idle_timeout` is closed; one held for longer than its `max_lifetime` is given back for the pool to
    /// retire.
    pub fn new(pool: Pool<DB>) -> Self {
        let options = pool.options().clone();
        let connections = Self::with_options(&options, None);
        let _ = connections.inner.pool.set(pool);
        connections
    }

    /// Like [`new`](Self::new), with the pool made of `options` and `connect` (as `connect_lazy_with`) when
    /// a query first needs it. Targets whose queries all go over their own connection
    /// ([`over_wire`](Self::over_wire)) never make one: a pool holds a maintenance task and its queue even
    /// while it has no connection, about 4 KB a target in a fleet (`benches/heap_profile.sh`).
    pub fn lazy(
        options: sqlx::pool::PoolOptions<DB>,
        connect: <DB::Connection as sqlx::Connection>::Options,
    ) -> Self {
        let make = (options.clone(), connect);
        Self::with_options(&options, Some(make))
    }

    fn with_options(options: &sqlx::pool::PoolOptions<DB>, make: Option<MakePool<DB>>) -> Self {
        let permits = options.get_max_connections().max(1) as usize;
        Connections {
            inner: Arc::new(Inner {
                pool: OnceLock::new(),
                make: Mutex::new(make),
                acquire_timeout: options.get_acquire_timeout(),
                permits: Semaphore::new(permits),
                kept: Mutex::new(Kept {
                    idle: Vec::new(),
                    closed: false,
                }),
                closing: tokio_util::sync::CancellationToken::new(),
                idle_timeout: options.get_idle_timeout(),
                max_lifetime: options.get_max_lifetime(),
            }),
            batch: None,
            #[cfg(feature = "postgres")]
            wire: None,
        }
    }

    /// Sends the statements that [`fetch_batched`](Self::fetch_batched) is given at the same moment in one
    /// message, framed by `batching`'s prefix and suffix (see [`Batching`]). Without it each goes alone.
    pub fn batched(mut self, batching: Batching) -> Self {
        self.batch = Some(batch::batcher(batching));
        self
    }

    /// Whether statements are batched ([`Connections::batched`]).
    pub fn is_batched(&self) -> bool {
        self.batch.is_some()
    }

    /// The pool the connections come from; made now if it was [`lazy`](Self::lazy) and not made yet (within
    /// a Tokio runtime: the pool spawns its maintenance task). After [`close`](Self::close) it is closed.
    pub fn pool(&self) -> &Pool<DB> {
        self.inner.pool()
    }

    /// How long an acquire may wait for a connection (the pool's `acquire_timeout`).
    pub(crate) fn acquire_timeout(&self) -> Duration {
        self.inner.acquire_timeout
    }

    /// A connection: a kept one if there is one, else one from the pool (which may open it). Waits while
    /// every connection is in use. Fails with [`sqlx::Error::PoolClosed`] after [`close`](Self::close).
    pub async fn acquire(&self) -> Result<Lease<'_, DB>, sqlx::Error> {
        let permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let (conn, from_pool) = match self.reuse() {
            Some(kept) => kept,
            None => (self.inner.pool().acquire().await?, Instant::now()),
        };
        Ok(Lease {
            conn: Some(conn),
            from_pool,
            keep: false,
            owner: &self.inner,
            _permit: permit,
        })
    }

    /// Runs `query` on a leased connection and returns its rows; keeps the connection when the query succeeded.
    pub async fn fetch_all<'q, E>(&self, query: E) -> Result<Vec<DB::Row>, sqlx::Error>
    where
        E: 'q + sqlx::Execute<'q, DB>,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    {
        let mut lease = self.acquire().await?;
        let rows = sqlx::Executor::fetch_all(&mut *lease, query).await?;
        lease.keep();
        Ok(rows)
    }

    /// [`fetch_all`](Self::fetch_all)'s first row; [`sqlx::Error::RowNotFound`] when there is none.
    pub async fn fetch_one<'q, E>(&self, query: E) -> Result<DB::Row, sqlx::Error>
    where
        E: 'q + sqlx::Execute<'q, DB>,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    {
        self.fetch_all(query)
            .await?
            .into_iter()
            .next()
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The most recently kept connection, with when it left the pool; drops any kept too long.
    fn reuse(&self) -> Option<(PoolConnection<DB>, Instant)> {
        let mut kept = self.inner.lock();
        while let Some(mut idle) = kept.idle.pop() {
            if self.inner.stale(&idle) {
                self.inner.retire(&mut idle);
                continue;
            }
            return Some((idle.conn, idle.from_pool));
        }
        None
    }

    /// Stops handing out connections, gives the kept ones back and closes the pool. Waits until connections
    /// still leased are dropped, for as long as an acquire may take.
    pub async fn close(&self) {
        // One stuck on a server that stopped answering (a network black hole) would hold the exporter's
        // shutdown forever: give them as long as an acquire may take, then leave them to the runtime (the
        // pool is closed either way).
        self.close_within(self.inner.acquire_timeout).await;
    }

    /// Like [`close`](Self::close), waiting up to `bound` for the connections still in use (a query cut
    /// short runs on until the server ends it) to come back and close.
    pub async fn close_within(&self, bound: Duration) {
        self.inner.closing.cancel();
        self.inner.permits.close();
        let idle = {
            let mut kept = self.inner.lock();
            kept.closed = true;
            std::mem::take(&mut kept.idle)
        };
        drop(idle);
        #[cfg(feature = "postgres")]
        if let Some(wire) = &self.wire {
            wire.close().await;
        }
        // A pool never made has nothing to close (and is made closed if asked for later).
        let Some(pool) = self.inner.made() else {
            return;
        };
        // The pool waits for every connection to come back and close.
        if tokio::time::timeout(bound, pool.close()).await.is_err() {
            tracing::debug!(
                ?bound,
                "connections still busy at close (a target that stopped answering); not waited for"
            );
        }
    }
}

impl<DB: Database> Inner<DB> {
    fn pool(&self) -> &Pool<DB> {
        if let Some(pool) = self.pool.get() {
            return pool;
        }
        // Made and stored under the lock, so `made` after closing sees any pool made before it.
        let mut make = self.make.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = self.pool.get() {
            return pool;
        }
        let (options, connect) = make.take().expect("a pool or what makes it");
        let pool = options.connect_lazy_with(connect);
        if self.closing.is_cancelled() {
            // Closing marks it closed at once; nothing is open on it to wait for.
            drop(pool.close());
        }
        self.pool.get_or_init(|| pool)
    }

    /// The pool, if it was made. Called after `closing` is cancelled: a pool made later is made closed.
    fn made(&self) -> Option<&Pool<DB>> {
        drop(self.make.lock().unwrap_or_else(|e| e.into_inner()));
        self.pool.get()
    }

    fn lock(&self) -> MutexGuard<'_, Kept<DB>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a kept connection may not be used again: unused for longer than the idle timeout, or held
    /// past its max lifetime.
    fn stale(&self, idle: &Idle<DB>) -> bool {
        self.unused_too_long(idle)
            || self
                .max_lifetime
                .is_some_and(|t| idle.from_pool.elapsed() >= t)
    }

    fn unused_too_long(&self, idle: &Idle<DB>) -> bool {
        self.idle_timeout.is_some_and(|t| idle.since.elapsed() >= t)
    }

    /// Readies a stale connection to be dropped: one unused too long is closed (the server may have dropped
    /// it long ago), one only too old goes back to the pool, which retires it.
    fn retire(&self, idle: &mut Idle<DB>) {
        if self.unused_too_long(idle) {
            idle.conn.close_on_drop();
        }
    }
}

/// A connection from [`Connections::acquire`]. Dereferences to the driver's connection (`&mut *lease` is an
/// sqlx executor). Dropped without [`keep`](Self::keep), it goes back to the pool, which tests it.
pub struct Lease<'a, DB: Database> {
    conn: Option<PoolConnection<DB>>,
    from_pool: Instant,
    keep: bool,
    owner: &'a Inner<DB>,
    _permit: SemaphorePermit<'a>,
}

impl<DB: Database> std::fmt::Debug for Lease<'_, DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

impl<DB: Database> Lease<'_, DB> {
    /// The connection's work ended cleanly (no error, nothing left unread): keep it for the next query.
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl<DB: Database> Deref for Lease<'_, DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl<DB: Database> DerefMut for Lease<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl<DB: Database> Drop for Lease<'_, DB> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if !self.keep {
            return; // back to the pool
        }
        // A kept connection waits an interval for its next query: its buffers go back to their default size
        // (sqlx keeps them as large as the largest answer it read): 7.5 of a fleet target's 94 KB of heap
        // (`benches/heap_profile.sh`). The next answer grows them again.
        conn.shrink_buffers();
        // Under the lock, so close() cannot miss a connection kept while it runs.
        let mut kept = self.owner.lock();
        // Reuse takes the most recently kept, so one kept beside it (after a burst of queries opened a
        // second connection) would never be looked at again, and hold a backend for good: the others are
        // checked each time one is kept.
        kept.idle.retain_mut(|idle| {
            let stale = self.owner.stale(idle);
            if stale {
                self.owner.retire(idle);
            }
            !stale
        });
        if !kept.closed {
            kept.idle.push(Idle {
                conn,
                from_pool: self.from_pool,
                since: Instant::now(),
            });
        }
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    async fn pool(max: u32) -> Pool<sqlx::Sqlite> {
        connect(SqlitePoolOptions::new().max_connections(max)).await
    }

    async fn connect(options: SqlitePoolOptions) -> Pool<sqlx::Sqlite> {
        options.connect("sqlite::memory:").await.unwrap()
    }

    /// A temp table lives and dies with its connection: it tells connections apart. Leaves one marked
    /// connection kept in `c`.
    async fn keep_marked(c: &Connections<sqlx::Sqlite>) {
        let mut lease = c.acquire().await.unwrap();
        sqlx::query("CREATE TEMP TABLE marker (x)")
            .execute(&mut *lease)
            .await
            .unwrap();
        lease.keep();
    }

    /// Whether the lease's connection is the marked one.
    async fn marked(lease: &mut Lease<'_, sqlx::Sqlite>) -> bool {
        sqlx::query("SELECT count(*) FROM marker")
            .fetch_one(&mut **lease)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_lazy_pool_is_made_by_the_first_query_and_never_after_closing() {
        let options: sqlx::sqlite::SqliteConnectOptions = "sqlite::memory:".parse().unwrap();
        let c = Connections::lazy(SqlitePoolOptions::new().max_connections(1), options.clone());
        assert!(c.inner.made().is_none(), "no pool before a query");
        assert_eq!(
            c.acquire_timeout(),
            SqlitePoolOptions::new().get_acquire_timeout()
        );
        drop(one(&c).await);
        assert_eq!(
            c.inner.made().map(|p| p.size()),
            Some(1),
            "the query made it"
        );
        c.close().await;
        assert!(c.pool().is_closed());

        let never = Connections::lazy(SqlitePoolOptions::new(), options);
        never.close().await;
        assert!(never.inner.made().is_none(), "closing makes none");
        assert!(
            never.pool().is_closed(),
            "one asked for after closing is closed"
        );
        assert!(matches!(
            never.acquire().await.map(|_| ()),
            Err(sqlx::Error::PoolClosed)
        ));
    }

    async fn one(c: &Connections<sqlx::Sqlite>) -> Lease<'_, sqlx::Sqlite> {
        let mut lease = c.acquire().await.unwrap();
        let (v,): (i64,) = sqlx::query_as("SELECT 1")
            .fetch_one(&mut *lease)
            .await
            .unwrap();
        assert_eq!(v, 1);
        lease
    }

    #[tokio::test]
    async fn a_kept_connection_is_reused_and_stays_checked_out() {
        let c = Connections::new(pool(2).await);
        one(&c).await.keep();
        // Kept, so still checked out of the pool: nothing idle there, even after the pool's own tasks ran.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(c.pool().size(), 1);
        assert_eq!(c.pool().num_idle(), 0);
        assert_eq!(c.inner.lock().idle.len(), 1);
        one(&c).await.keep();
        assert_eq!(c.pool().size(), 1, "the kept connection was reused");
        c.close().await;
        assert!(c.pool().is_closed());
    }

    #[tokio::test]
    async fn a_lease_dropped_without_keep_goes_back_to_the_pool() {
        let c = Connections::new(pool(2).await);
        drop(one(&c).await);
        // The pool takes it back in a task of its own.
        for _ in 0..100 {
            if c.pool().num_idle() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(c.pool().num_idle(), 1);
        assert!(c.inner.lock().idle.is_empty());
        c.close().await;
    }

    #[tokio::test]
    async fn no_more_leases_than_the_pool_has_connections() {
        let c = Connections::new(pool(1).await);
        let held = one(&c).await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), c.acquire()).await;
        assert!(waiting.is_err(), "a second lease must wait for the first");
        held.keep();
        let mut again = tokio::time::timeout(Duration::from_secs(5), c.acquire())
            .await
            .expect("the kept connection is handed on")
            .unwrap();
        sqlx::query("SELECT 1").execute(&mut *again).await.unwrap();
        drop(again);
        c.close().await;
    }

    #[tokio::test]
    async fn close_ends_leasing_and_does_not_wait_for_kept_connections() {
        let c = Connections::new(pool(2).await);
        one(&c).await.keep();
        tokio::time::timeout(Duration::from_secs(5), c.close())
            .await
            .expect("close returns the kept connection to the pool before closing it");
        assert!(matches!(c.acquire().await, Err(sqlx::Error::PoolClosed)));
    }

    #[tokio::test]
    async fn a_connection_held_past_the_max_lifetime_is_retired_not_reused() {
        let options = SqlitePoolOptions::new()
            .max_connections(2)
            .max_lifetime(Duration::from_millis(50));
        let c = Connections::new(connect(options).await);
        keep_marked(&c).await;
        // Used all along, so never idle: only its age retires it.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut lease = c.acquire().await.unwrap();
            let found = marked(&mut lease).await;
            lease.keep();
            if !found {
                break; // a fresh connection
            }
            assert!(
                Instant::now() < deadline,
                "the old connection was kept forever"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        c.close().await;
    }

    #[tokio::test]
    async fn a_connection_kept_beside_the_one_in_use_is_closed_after_the_idle_timeout() {
        let options = SqlitePoolOptions::new()
            .max_connections(2)
            .idle_timeout(Duration::from_millis(50));
        let c = Connections::new(connect(options).await);
        // A burst: two at once, both kept.
        let (a, b) = (one(&c).await, one(&c).await);
        a.keep();
        b.keep();
        assert_eq!(c.inner.lock().idle.len(), 2);
        // From then on one at a time: the most recently kept is reused, the other is left idle.
        let deadline = Instant::now() + Duration::from_secs(5);
        while c.inner.lock().idle.len() > 1 || c.pool().size() > 1 {
            assert!(
                Instant::now() < deadline,
                "the idle one was kept beside the other for good"
            );
            one(&c).await.keep();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        c.close().await;
    }

    #[tokio::test]
    async fn a_connection_kept_past_the_idle_timeout_is_closed_not_reused() {
        let options = SqlitePoolOptions::new()
            .max_connections(2)
            .idle_timeout(Duration::from_millis(20));
        let c = Connections::new(connect(options).await);
        keep_marked(&c).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
        let mut fresh = c.acquire().await.unwrap();
        assert!(
            !marked(&mut fresh).await,
            "a fresh connection has no temp table"
        );
        drop(fresh);
        c.close().await;
    }
}
