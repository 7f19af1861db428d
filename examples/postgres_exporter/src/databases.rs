//! Every database of a server (`--auto-discover-databases`) under the target's connection budget.
//!
//! Server-wide groups run once, over the target's own connections. The database-local groups (the tables
//! and indexes of `stat_user_tables`, `statio_user_tables`, `statio_user_indexes`, and custom queries marked
//! `per_database`) run in every database in turn, all of them on one connection per database: a database is
//! connected when its turn comes, its connection is kept while it fits in the budget and the least recently
//! used one is closed when it does not. The list of databases is read at every round, so a database created
//! or dropped appears or goes within one interval; templates, databases that refuse connections and those
//! the role may not connect to are skipped. A database that fails (dropped mid-round, no privilege) loses
//! only its own series, is logged once per change, and shows as `pg_exporter_database_up{datname} 0`.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use hubble::{CollectError, Collector, CollectorOptions, Family, MetricKind, Sample};
use sqlx::postgres::PgConnectOptions;
use sqlx::Row;
use tokio::sync::Semaphore;

use super::connection::{Connect as _, Dsn, PgConnections};

/// Which databases `--auto-discover-databases` visits: `--include-databases` (when given, only these) and
/// `--exclude-databases`, as postgres_exporter spells them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseFilter {
    /// Only these, when not empty.
    pub include: Vec<String>,
    /// Never these.
    pub exclude: Vec<String>,
}

impl DatabaseFilter {
    fn admits(&self, datname: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|d| d == datname))
            && !self.exclude.iter().any(|d| d == datname)
    }
}

/// How the budget `--target.max-connections` is split when every database is visited: the server-wide
/// groups' connections, and those kept to visited databases. At least 2 in all.
pub fn split_budget(budget: u32) -> (u32, usize) {
    let main = (budget / 2).max(1);
    (main, budget.saturating_sub(main).max(1) as usize)
}

/// One target's connections to its databases: its own (to the DSN's database) and at most `capacity` more,
/// to other databases, kept least recently used first out.
pub struct Databases {
    main: PgConnections,
    options: PgConnectOptions,
    filter: DatabaseFilter,
    /// One permit per connection to another database: held while it is used, so at most `capacity` exist.
    permits: Semaphore,
    capacity: usize,
    /// Idle connections to other databases, most recently used first.
    idle: Mutex<VecDeque<(String, PgConnections)>>,
    /// How long connecting to a database may take (the server-side statement timeout): a database that does
    /// not answer fails alone, not the whole round.
    connect_timeout: std::time::Duration,
    /// The last error of each (collector, database) (`None`: fine), to log once per change.
    health: Mutex<BTreeMap<(String, String), Option<String>>>,
}

impl Databases {
    /// The databases of the server behind `main` (connections to `dsn`'s database).
    pub fn new(
        main: PgConnections,
        dsn: &Dsn,
        statement_timeout: std::time::Duration,
        via: Option<&std::path::Path>,
        filter: DatabaseFilter,
        capacity: usize,
    ) -> Result<Self, String> {
        Ok(Databases {
            main,
            options: dsn.options(statement_timeout, via)?,
            filter,
            permits: Semaphore::new(capacity),
            capacity,
            connect_timeout: statement_timeout,
            idle: Mutex::new(VecDeque::new()),
            health: Mutex::new(BTreeMap::new()),
        })
    }

    /// The connected database and every database to visit, in name order.
    async fn list(&self) -> Result<(String, Vec<String>), sqlx::Error> {
        let rows = self
            .main
            .fetch_all(sqlx::query(
                "SELECT datname, datname = current_database() FROM pg_database \
                 WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT') \
                 ORDER BY datname",
            ))
            .await?;
        let mut current = String::new();
        let mut names = Vec::new();
        for row in rows {
            let name: String = row.try_get(0)?;
            if row.try_get::<bool, _>(1)? {
                current.clone_from(&name);
            }
            if self.filter.admits(&name) {
                names.push(name);
            }
        }
        Ok((current, names))
    }

    /// Connections to `datname`: the target's own for its database, else a kept or new one within the
    /// budget, held (with its permit) until [`checkin`](Self::checkin).
    async fn checkout(&self, datname: &str, current: &str) -> Checkout<'_> {
        if datname == current {
            return Checkout {
                connections: self.main.clone(),
                permit: None,
            };
        }
        let permit = self.permits.acquire().await.expect("never closed");
        let kept = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.iter()
                .position(|(d, _)| d == datname)
                .and_then(|i| idle.remove(i))
        };
        if let Some((_, connections)) = kept {
            return Checkout {
                connections,
                permit: Some(permit),
            };
        }
        // Holding a permit, at most capacity - 1 others are in use: make room among the idle ones.
        let evicted: Vec<_> = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            // Connections in use now, this checkout's included.
            let in_use = self.capacity - self.permits.available_permits();
            let keep = self.capacity.saturating_sub(in_use).min(idle.len());
            idle.drain(keep..).collect()
        };
        for (_, c) in evicted {
            c.close().await;
        }
        let pool = hubble::connections::lazy_pool(1, self.connect_timeout)
            .acquire_timeout(self.connect_timeout)
            .connect_lazy_with(self.options.clone().database(datname));
        Checkout {
            connections: PgConnections::new(pool),
            permit: Some(permit),
        }
    }

    /// Keeps `checkout`'s connections for the next visit to `datname` (the target's own need no keeping).
    fn checkin(&self, datname: &str, checkout: Checkout<'_>) {
        if checkout.permit.is_some() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_front((datname.to_owned(), checkout.connections));
        }
    }

    /// Notes how `datname` fared in `collector`; logs when that changed.
    fn record(&self, collector: &str, datname: &str, error: Option<String>) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let key = (collector.to_owned(), datname.to_owned());
        let before = health.insert(key, error.clone());
        if before.as_ref() != Some(&error) {
            match &error {
                Some(error) => {
                    tracing::warn!(collector, datname, %error, "database-local collection failing")
                }
                None if before.flatten().is_some() => {
                    tracing::info!(collector, datname, "database-local collection recovered")
                }
                None => {}
            }
        }
    }

    /// Forgets databases that are gone, and closes the connections kept to them.
    async fn retain(&self, present: &[String]) {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(_, d), _| present.contains(d));
        let gone: Vec<_> = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            let (keep, gone): (Vec<_>, Vec<_>) =
                idle.drain(..).partition(|(d, _)| present.contains(d));
            *idle = keep.into();
            gone
        };
        for (_, c) in gone {
            c.close().await;
        }
    }

    /// Closes every connection to other databases (the target's own close with the target).
    pub async fn close(&self) {
        let all: Vec<_> = self
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for (_, c) in all {
            c.close().await;
        }
    }
}

/// Connections to one database, and the budget permit they hold.
struct Checkout<'a> {
    connections: PgConnections,
    permit: Option<tokio::sync::SemaphorePermit<'a>>,
}

type Run = Box<
    dyn Fn(PgConnections) -> Pin<Box<dyn Future<Output = Result<Vec<Sample>, CollectError>> + Send>>
        + Send
        + Sync,
>;

/// A group that runs in one database at a time. Its own options (interval, timeout, condition) are not
/// applied: it runs when its [`PerDatabase`] collector does.
pub struct LocalGroup {
    name: String,
    families: Vec<Family>,
    run: Run,
}

impl LocalGroup {
    /// `make(connections)` is the group's collector over a database's connections; `main` gives its
    /// families.
    pub fn new<C: Collector + 'static>(
        main: &PgConnections,
        make: impl Fn(PgConnections) -> C + Send + Sync + 'static,
    ) -> Self {
        let probe = make(main.clone());
        let make = Arc::new(make);
        LocalGroup {
            name: probe.name().to_owned(),
            families: probe.families(),
            run: Box::new(move |connections| {
                let make = make.clone();
                Box::pin(async move { make(connections).collect().await })
            }),
        }
    }
}

/// The database-local groups, run in every database with a `datname` label on their series, plus
/// `pg_exporter_database_up{datname}`.
pub struct PerDatabase {
    name: String,
    databases: Arc<Databases>,
    groups: Vec<LocalGroup>,
    interval: std::time::Duration,
    /// `--collection.max-series`, applied to each group in each database (a server's total grows with its
    /// databases; one runaway database must not flood Prometheus, nor hide the others).
    max_series: usize,
    /// Whether this one exports `pg_exporter_database_up` (the standard groups' collector does; a custom
    /// query's does not, as one family cannot come from two collectors).
    report: bool,
}

const DATABASE_UP: &str = "pg_exporter_database_up";
const DATABASE_UP_HELP: &str =
    "1 if every database-local group ran in this database in the last round, else 0";

impl PerDatabase {
    /// `groups` in every database of `databases`, each at most `max_series` per database; a round may take
    /// up to `interval` (each query's timeout stays the server-side `statement_timeout`).
    pub fn new(
        name: impl Into<String>,
        databases: Arc<Databases>,
        groups: Vec<LocalGroup>,
        interval: std::time::Duration,
        max_series: usize,
    ) -> Self {
        PerDatabase {
            name: name.into(),
            databases,
            groups,
            interval,
            max_series,
            report: true,
        }
    }

    /// Like [`new`](Self::new), without `pg_exporter_database_up` (for a custom query beside the standard
    /// groups' collector).
    pub fn without_report(mut self) -> Self {
        self.report = false;
        self
    }
}

impl Collector for PerDatabase {
    fn name(&self) -> &str {
        &self.name
    }

    fn families(&self) -> Vec<Family> {
        let mut out = Vec::new();
        if self.report {
            out.push(Family::new(
                DATABASE_UP,
                DATABASE_UP_HELP,
                MetricKind::Gauge,
                ["datname"],
            ));
        }
        for group in &self.groups {
            for d in &group.families {
                let mut d = d.clone();
                if !d.label_names.iter().any(|l| l == "datname") {
                    d.label_names.insert(0, "datname".into());
                }
                out.push(d);
            }
        }
        out
    }

    fn options(&self) -> CollectorOptions {
        // A round visits every database: it may take the whole interval, not one query's timeout.
        CollectorOptions {
            timeout: Some(self.interval),
            // Enforced per group and database in `collect`.
            max_series: Some(usize::MAX),
            ..CollectorOptions::default()
        }
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let (current, names) = self
            .databases
            .list()
            .await
            .map_err(|e| CollectError::Source(format!("listing databases: {e}").into()))?;
        self.databases.retain(&names).await;
        let mut out = Vec::new();
        for datname in &names {
            let checkout = self.databases.checkout(datname, &current).await;
            let mut metrics = Vec::new();
            let mut errors = Vec::new();
            for group in &self.groups {
                match (group.run)(checkout.connections.clone()).await {
                    Ok(m) => {
                        let series: usize = m.iter().map(Sample::series).sum();
                        if series > self.max_series {
                            errors.push(format!(
                                "{}: {series} series, over --collection.max-series {}",
                                group.name, self.max_series
                            ));
                        } else {
                            metrics.extend(m);
                        }
                    }
                    Err(e) => errors.push(format!("{}: {e}", group.name)),
                }
            }
            self.databases.checkin(datname, checkout);
            let error = (!errors.is_empty()).then(|| errors.join("; "));
            let up = error.is_none();
            self.databases.record(&self.name, datname, error);
            out.extend(metrics.into_iter().map(|m| {
                if m.labels.contains("datname") {
                    m
                } else {
                    m.label("datname", datname.clone())
                }
            }));
            if self.report {
                out.push(
                    Sample::gauge(DATABASE_UP, DATABASE_UP_HELP, if up { 1.0 } else { 0.0 })
                        .label("datname", datname.clone()),
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_budget() {
        let f = DatabaseFilter {
            include: vec![],
            exclude: vec!["postgres".into()],
        };
        assert!(f.admits("app") && !f.admits("postgres"));
        let f = DatabaseFilter {
            include: vec!["a".into(), "b".into()],
            exclude: vec!["b".into()],
        };
        assert!(f.admits("a") && !f.admits("b") && !f.admits("c"));
        assert_eq!(split_budget(2), (1, 1));
        assert_eq!(split_budget(3), (1, 2));
        assert_eq!(split_budget(8), (4, 4));
    }
}
