//! Declared metric groups: what `#[derive(MetricCollector)]` implements, and collectors over them.

use std::future::Future;
use std::marker::PhantomData;

use crate::collector::{CollectError, Desc, MetricCollector};
use crate::exporter::CollectorOptions;
use crate::metric::Metric;

/// A declared group of metrics: one value (a query row, or a struct filled by your code) becomes one sample per
/// value field, labelled by its label fields.
///
/// Implemented by `#[derive(MetricCollector)]`; see the [crate docs](crate) for the attributes. Turn a group into
/// a collector with [`SqlCollector`] (groups with a query) or [`group_fn`] (groups filled by code).
pub trait MetricGroup: Send + Sync + 'static {
    /// Collector name: the `name` attribute, else the prefix, else the struct name in snake case.
    const NAME: &'static str;
    /// Interval and timeout overrides declared on the group.
    const OPTIONS: CollectorOptions = CollectorOptions {
        interval: None,
        timeout: None,
        max_series: None,
    };

    /// The families the group produces.
    fn descriptors() -> Vec<Desc>;

    /// Appends this value's samples to `out`. Fails when a value does not convert (a string that is not a
    /// number), naming the column.
    fn push_samples(&self, out: &mut Vec<Metric>) -> Result<(), CollectError>;

    /// This value's samples.
    fn to_metrics(&self) -> Result<Vec<Metric>, CollectError> {
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
}

/// A collector that gets the group's current values from an async function: for groups filled by code rather
/// than by a query.
///
/// ```
/// use hubble::{group_fn, MetricCollector};
///
/// /// Queue depth per queue.
/// #[derive(MetricCollector)]
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

impl<G, F, Fut> MetricCollector for FnCollector<G, F>
where
    G: MetricGroup,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<G>, CollectError>> + Send,
{
    fn name(&self) -> &str {
        G::NAME
    }
    fn descriptors(&self) -> Vec<Desc> {
        G::descriptors()
    }
    fn options(&self) -> CollectorOptions {
        G::OPTIONS
    }
    async fn collect(&self) -> Result<Vec<Metric>, CollectError> {
        let mut out = Vec::new();
        for value in (self.f)().await? {
            value.push_samples(&mut out)?;
        }
        Ok(out)
    }
}

/// Runs a group's query on a pooled connection; every row becomes samples. For SQLite and PostgreSQL (features
/// `sqlite`, `postgres`).
pub struct SqlCollector<G, DB: sqlx_db::Database> {
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pool: sqlx_db::Pool<DB>,
    _group: PhantomData<fn() -> G>,
}

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
mod sqlx_db {
    //! Without a SQL driver, `SqlCollector` exists but cannot be built.
    pub trait Database {}
    pub struct Pool<DB>(std::marker::PhantomData<DB>);
}
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use sqlx as sqlx_db;

impl<G, DB: sqlx_db::Database> SqlCollector<G, DB> {
    /// A collector of group `G` over `pool`.
    pub fn new(pool: sqlx_db::Pool<DB>) -> Self {
        SqlCollector {
            pool,
            _group: PhantomData,
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
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
        other => CollectError::Source(format!("group `{}`: {other}", G::NAME).into()),
    }
}

macro_rules! sql_collector {
    ($feature:literal, $db:ty, $row:ty) => {
        #[cfg(feature = $feature)]
        impl<G> MetricCollector for SqlCollector<G, $db>
        where
            G: SqlQuery + for<'r> sqlx::FromRow<'r, $row> + Send + Unpin,
        {
            fn name(&self) -> &str {
                G::NAME
            }
            fn descriptors(&self) -> Vec<Desc> {
                G::descriptors()
            }
            fn options(&self) -> CollectorOptions {
                G::OPTIONS
            }
            async fn collect(&self) -> Result<Vec<Metric>, CollectError> {
                let rows: Vec<G> = sqlx::query_as::<_, G>(G::QUERY)
                    .fetch_all(&self.pool)
                    .await
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
