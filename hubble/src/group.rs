//! Declared metric groups: what `#[derive(MetricGroup)]` implements, and collectors over them.

use std::future::Future;
use std::marker::PhantomData;

use crate::collector::{CollectError, Collector, CollectorOptions, Family};
use crate::metric::Sample;

/// A declared group of metrics: one value (a query row, or a struct filled by your code) becomes one sample per
/// value field, labelled by its label fields.
///
/// Implemented by `#[derive(MetricGroup)]`; see the [crate docs](crate) for the attributes. Turn a group into
/// a collector with [`SqlCollector`] (groups with a query) or [`group_fn`] (groups filled by code).
pub trait MetricGroup: Send + Sync + 'static {
    /// Collector name: the `name` attribute, else the prefix, else the struct name in snake case.
    const NAME: &'static str;
    /// Whether the group reads one database's objects (`#[hubble(per_database)]`): an exporter that visits
    /// every database of a server runs it in each (a `datname` label tells them apart) rather than once.
    const PER_DATABASE: bool = false;
    /// Interval, timeout and condition declared on the group.
    const OPTIONS: CollectorOptions = CollectorOptions {
        interval: None,
        timeout: None,
        max_series: None,
        condition: None,
    };

    /// The families the group produces.
    fn families() -> Vec<Family>;

    /// Appends this value's samples to `out`. Fails when a value does not convert (a string that is not a
    /// number), naming the column.
    fn push_samples(&self, out: &mut Vec<Sample>) -> Result<(), CollectError>;

    /// This value's samples.
    fn to_metrics(&self) -> Result<Vec<Sample>, CollectError> {
        let mut out = Vec::new();
        self.push_samples(&mut out)?;
        Ok(out)
    }
}

/// A group with a SQL query (`#[hubble(query = "...")]`).
#[diagnostic::on_unimplemented(
    message = "metric group `{Self}` declares no query",
    label = "used as a SQL group here",
    note = "add #[hubble(query = \"SELECT ...\")] to `{Self}`, or collect it with hubble::group_fn"
)]
pub trait SqlQuery: MetricGroup {
    /// The query; each row becomes one value of the group.
    const QUERY: &'static str;
    /// Whether the query goes over the simple query protocol (`#[hubble(simple_query)]`): sent as text in
    /// one round trip and answered in text, never prepared. For servers that refuse prepared statements
    /// (PgBouncer's admin console, some proxies), and for connections used for a single run, where a prepared
    /// statement would cost a round trip and be thrown away. The default, `false`, prepares the query once
    /// per connection and reads binary values.
    const SIMPLE_QUERY: bool = false;
}

/// A collector that gets the group's current values from an async function: for groups filled by code rather
/// than by a query.
///
/// ```
/// use hubble::{group_fn, MetricGroup};
///
/// /// Queue depth per queue.
/// #[derive(MetricGroup)]
/// #[hubble(prefix = "app_queue")]
/// struct Queue {
///     #[metric(label)]
///     queue: String,
///     /// Jobs waiting.
///     #[metric(gauge)]
///     depth: u32,
/// }
///
/// let collector = group_fn(|| async {
///     Ok(vec![Queue { queue: "mail".into(), depth: 3 }])
/// });
/// # let _ = collector;
/// ```
pub fn group_fn<G, F, Fut>(f: F) -> FnCollector<G, F>
where
    G: MetricGroup,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<G>, CollectError>> + Send,
{
    FnCollector {
        f,
        _group: PhantomData,
    }
}

/// See [`group_fn`].
pub struct FnCollector<G, F> {
    f: F,
    _group: PhantomData<fn() -> G>,
}

impl<G, F> std::fmt::Debug for FnCollector<G, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnCollector")
            .field("group", &std::any::type_name::<G>())
            .finish_non_exhaustive()
    }
}

/// A collector of group `G` is named, described and scheduled as `G` declares.
macro_rules! group_identity {
    () => {
        fn name(&self) -> &str {
            G::NAME
        }
        fn families(&self) -> Vec<Family> {
            G::families()
        }
        fn options(&self) -> CollectorOptions {
            G::OPTIONS
        }
    };
}

#[diagnostic::do_not_recommend]
impl<G, F, Fut> Collector for FnCollector<G, F>
where
    G: MetricGroup,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<G>, CollectError>> + Send,
{
    group_identity!();
    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let mut out = Vec::new();
        for value in (self.f)().await? {
            value.push_samples(&mut out)?;
        }
        Ok(out)
    }
}

/// Runs a group's query on a pooled connection; every row becomes samples. For SQLite and PostgreSQL (features
/// `sqlite`, `postgres`).
///
/// Built over a `sqlx::Pool`, each query checks a connection out and back in. Built over
/// `connections::Connections` shared by a target's collectors, it keeps the connection
/// between runs: one round trip per query instead of two.
pub struct SqlCollector<G, DB: sqlx_db::Database> {
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
        allow(dead_code)
    )]
    source: SqlSource<DB>,
    _group: PhantomData<fn() -> G>,
}

impl<G, DB: sqlx_db::Database> std::fmt::Debug for SqlCollector<G, DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlCollector")
            .field("group", &std::any::type_name::<G>())
            .finish_non_exhaustive()
    }
}

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
mod sqlx_db {
    //! Without a SQL driver, `SqlCollector` exists but cannot be built.
    pub trait Database {}
    /// Where a `SqlCollector` would get its connection (none without a driver).
    #[derive(Debug)]
    pub struct Source<DB>(std::marker::PhantomData<DB>);
}
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod sqlx_db {
    pub(crate) use sqlx::Database;

    /// Where a [`SqlCollector`](super::SqlCollector) gets its connection: a `sqlx::Pool`, or
    /// [`Connections`](crate::connections::Connections) kept between runs. Made with `.into()` from either.
    #[derive(Debug)]
    pub enum Source<DB: Database> {
        /// Each query checks a connection out of the pool and back in.
        Pool(sqlx::Pool<DB>),
        /// A connection is kept between queries.
        Kept(crate::connections::Connections<DB>),
    }

    impl<DB: Database> From<sqlx::Pool<DB>> for Source<DB> {
        fn from(pool: sqlx::Pool<DB>) -> Self {
            Source::Pool(pool)
        }
    }

    impl<DB: Database> From<crate::connections::Connections<DB>> for Source<DB> {
        fn from(connections: crate::connections::Connections<DB>) -> Self {
            Source::Kept(connections)
        }
    }
}

pub use sqlx_db::Source as SqlSource;

impl<G, DB: sqlx_db::Database> SqlCollector<G, DB> {
    /// A collector of group `G` (a group with a query) over a `sqlx::Pool` or
    /// `connections::Connections`.
    pub fn new(source: impl Into<SqlSource<DB>>) -> Self
    where
        G: SqlQuery,
    {
        SqlCollector {
            source: source.into(),
            _group: PhantomData,
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn query_error<G: MetricGroup>(e: sqlx::Error) -> CollectError {
    match e {
        sqlx::Error::ColumnDecode { index, source } => {
            CollectError::Decode(format!("group `{}`, column {index}: {source}", G::NAME))
        }
        sqlx::Error::ColumnNotFound(column) => CollectError::Decode(format!(
            "group `{}`: the query returns no column `{column}`",
            G::NAME
        )),
        sqlx::Error::Decode(source) => {
            CollectError::Decode(format!("group `{}`: {source}", G::NAME))
        }
        other if unreachable(&other) => CollectError::Unreachable(other.to_string()),
        other => CollectError::Source(format!("group `{}`: {other}", G::NAME).into()),
    }
}

/// Whether `e` says no session could be had with the target at all, rather than that one query failed:
/// the network, TLS, the pool giving up, or the server refusing the session (SQLSTATE classes 08,
/// connection exception, and 28, invalid authorization; 3D000, no such database; 57P03, cannot connect now).
/// A pool that gives up is what a server that is down looks like (sqlx retries the connection until then);
/// it is also what a target whose connections are all busy looks like, which then reads as unreachable too.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Configuration(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("28") || code == "3D000" || code == "57P03"
        }),
        _ => false,
    }
}

macro_rules! sql_collector {
    ($feature:literal, $db:ty, $row:ty) => {
        #[cfg(feature = $feature)]
        #[diagnostic::do_not_recommend]
        impl<G> Collector for SqlCollector<G, $db>
        where
            G: SqlQuery + for<'r> sqlx::FromRow<'r, $row> + Send + Unpin,
        {
            group_identity!();
            async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
                let rows = match (&self.source, G::SIMPLE_QUERY) {
                    // With the target's other groups due now, in one message.
                    (SqlSource::Kept(connections), _) if connections.is_batched() => {
                        connections.fetch_batched(G::QUERY).await
                    }
                    (SqlSource::Pool(pool), false) => sqlx::query(G::QUERY).fetch_all(pool).await,
                    (SqlSource::Pool(pool), true) => sqlx::raw_sql(G::QUERY).fetch_all(pool).await,
                    (SqlSource::Kept(connections), false) => {
                        connections.fetch_all(sqlx::query(G::QUERY)).await
                    }
                    (SqlSource::Kept(connections), true) => {
                        connections.fetch_all(sqlx::raw_sql(G::QUERY)).await
                    }
                }
                .and_then(|rows| rows.iter().map(G::from_row).collect::<Result<Vec<G>, _>>())
                .map_err(query_error::<G>)?;
                let mut out = Vec::with_capacity(rows.len() * 2);
                for row in &rows {
                    row.push_samples(&mut out)?;
                }
                Ok(out)
            }
        }
    };
}

sql_collector!("sqlite", sqlx::Sqlite, sqlx::sqlite::SqliteRow);
sql_collector!("postgres", sqlx::Postgres, sqlx::postgres::PgRow);
sql_collector!("mysql", sqlx::MySql, sqlx::mysql::MySqlRow);
