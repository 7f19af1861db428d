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
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

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
    /// One permit per connection to another database, in use, kept or closing: at most `capacity` exist
    /// on the server.
    permits: Arc<Semaphore>,
    /// Kept connections to other databases with their permits, most recently used first.
    idle: Mutex<VecDeque<(String, PgConnections, OwnedSemaphorePermit)>>,
    /// Told when a connection is kept: one waiting for a permit may close it to make room.
    kept: Notify,
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
            permits: Arc::new(Semaphore::new(capacity)),
            kept: Notify::new(),
            connect_timeout: statement_timeout,
            idle: Mutex::new(VecDeque::new()),
            health: Mutex::new(BTreeMap::new()),
        })
    }

    /// The connected database and every database to visit, in name order.
    async fn list(&self) -> Result<(String, Vec<String>), sqlx::Error> {
        // In the target's batch: over its own connection, no second backend for this query.
        let answer = self
            .main
            .fetch_text(
                "SELECT datname, datname = current_database() FROM pg_database \
                 WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT') \
                 ORDER BY datname",
            )
            .await?;
        let mut current = String::new();
        let mut names = Vec::new();
        answer.try_for_each_row(|row| {
            let name: String = hubble::text_rows::cell(row, 0)?;
            if hubble::text_rows::cell::<bool>(row, 1)? {
                current.clone_from(&name);
            }
            if self.filter.admits(&name) {
                names.push(name);
            }
            Ok::<_, sqlx::Error>(())
        })?;
        Ok((current, names))
    }

    /// Connections to `datname`: the target's own for its database, else a kept or new one within the
    /// budget, held (with its permit) until the checkout is dropped.
    async fn checkout<'a>(&'a self, datname: &str, current: &str) -> Checkout<'a> {
        let (connections, permit) = if datname == current {
            (self.main.clone(), None)
        } else {
            let kept = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.iter()
                    .position(|(d, _, _)| d == datname)
                    .and_then(|i| idle.remove(i))
            };
            match kept {
                Some((_, connections, permit)) => (connections, Some(permit)),
                None => {
                    let permit = self.room().await;
                    let pool = hubble::connections::lazy_pool(1, self.connect_timeout)
                        .acquire_timeout(self.connect_timeout)
                        .connect_lazy_with(self.options.clone().database(datname));
                    // A database's groups run together: their statements go in one message. As plain SQL,
                    // not prepared: with more databases than the budget keeps, a connection lives for one
                    // round, and preparing on each new one costs a message per statement.
                    let connections =
                        PgConnections::new(pool).batched(hubble::connections::Batching {
                            prepared: false,
                            ..crate::connection::batching(self.connect_timeout)
                        });
                    (connections, Some(permit))
                }
            }
        };
        Checkout {
            databases: self,
            datname: datname.to_owned(),
            connections: Some(connections),
            permit,
            finished: false,
        }
    }

    /// A permit for one more connection: a free one, else that of the least recently used kept connection,
    /// once it is closed; else waits for a connection in use to be kept or closed.
    async fn room(&self) -> OwnedSemaphorePermit {
        loop {
            // Registered before looking, so a connection kept meanwhile is not missed.
            let kept = self.kept.notified();
            tokio::pin!(kept);
            kept.as_mut().enable();
            if let Ok(permit) = self.permits.clone().try_acquire_owned() {
                return permit;
            }
            let oldest = self
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_back();
            if let Some((_, connections, permit)) = oldest {
                return self.retire(connections, permit).await;
            }
            tokio::select! {
                permit = self.permits.clone().acquire_owned() => return permit.expect("never closed"),
                () = kept => {}
            }
        }
    }

    /// Closes `connections` and gives back their permit once they are closed (a kept, idle connection).
    async fn retire(
        &self,
        connections: PgConnections,
        permit: OwnedSemaphorePermit,
    ) -> OwnedSemaphorePermit {
        self.closing(connections, permit, tokio::time::Instant::now())
            .await
            .expect("closing does not panic")
    }

    /// Closes `connections` in a task of its own (a round cut short meanwhile does not let the permit go
    /// early), and yields their permit once they are closed and `until` has come.
    fn closing(
        &self,
        connections: PgConnections,
        permit: OwnedSemaphorePermit,
        until: tokio::time::Instant,
    ) -> tokio::task::JoinHandle<OwnedSemaphorePermit> {
        let bound = self.connect_timeout;
        tokio::spawn(async move {
            connections.close_within(bound).await;
            tokio::time::sleep_until(until).await;
            permit
        })
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
                idle.drain(..).partition(|(d, _, _)| present.contains(d));
            *idle = keep.into();
            gone
        };
        for (_, connections, permit) in gone {
            drop(self.retire(connections, permit).await);
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
        for (_, connections, _permit) in all {
            connections.close().await;
        }
    }
}

/// Connections to one database, and the budget permit they hold.
struct Checkout<'a> {
    databases: &'a Databases,
    datname: String,
    /// Taken only by `drop`.
    connections: Option<PgConnections>,
    permit: Option<OwnedSemaphorePermit>,
    /// Whether the visit ran to its end (else the round was cut short during it).
    finished: bool,
}

impl Checkout<'_> {
    fn connections(&self) -> PgConnections {
        self.connections.clone().expect("taken only by drop")
    }

    /// The visit ran to its end: the connection is idle, and kept.
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Checkout<'_> {
    /// Kept, with its permit, for the next visit to the database. A visit cut short leaves its statement
    /// running on the server, connection closed or not, until the statement timeout ends it: the permit goes
    /// only then, or the next visit's new connection would overshoot the budget.
    fn drop(&mut self) {
        let (Some(permit), Some(connections)) = (self.permit.take(), self.connections.take())
        else {
            return;
        };
        if self.finished {
            self.databases
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_front((std::mem::take(&mut self.datname), connections, permit));
            self.databases.kept.notify_waiters();
            return;
        }
        // Outside a runtime (none to close it in) the connection just drops.
        if tokio::runtime::Handle::try_current().is_ok() {
            let until = tokio::time::Instant::now() + self.databases.connect_timeout;
            drop(self.databases.closing(connections, permit, until));
        }
    }
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
            // Together, so that their statements go to the database in one message.
            let runs = self
                .groups
                .iter()
                .map(|group| (group.run)(checkout.connections()));
            let results = futures_util::future::join_all(runs).await;
            for (group, result) in self.groups.iter().zip(results) {
                match result {
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
            checkout.finish();
            let error = (!errors.is_empty()).then(|| errors.join("; "));
            let up = error.is_none();
            self.databases.record(&self.name, datname, error);
            out.extend(with_datname(metrics, datname));
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

/// `metrics` with `datname` added where they lack it. A row's samples share one label set: they share the one
/// with `datname` too (the encoder writes a shared set once per run); a set of its own gets it in place.
fn with_datname(metrics: Vec<Sample>, datname: &str) -> impl Iterator<Item = Sample> + '_ {
    let mut last: Option<(hubble::Labels, hubble::Labels)> = None;
    metrics.into_iter().map(move |mut m| {
        if m.labels.contains("datname") {
            return m;
        }
        if !m.labels.is_shared() {
            m.labels.insert("datname", datname.to_owned());
            return m;
        }
        match &last {
            Some((was, now)) if was.is_clone_of(&m.labels) => m.labels = now.clone(),
            _ => {
                let now = m.labels.clone().with("datname", datname).shared();
                last = Some((std::mem::replace(&mut m.labels, now.clone()), now));
            }
        }
        m
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datname_joins_each_set_and_rows_keep_sharing_theirs() {
        let row = |t: &str| hubble::Labels::new().with("relname", t.to_owned()).shared();
        let (a, b) = (row("a"), row("b"));
        let sample = |labels: &hubble::Labels, name: &'static str| {
            let mut s = Sample::gauge(name, "H.", 1.0);
            s.labels = labels.clone();
            s
        };
        let metrics = vec![
            sample(&a, "x"),
            sample(&a, "y"),
            sample(&b, "x"),
            sample(&b, "y"),
            Sample::gauge("own", "H.", 1.0).label("k", "v"),
            Sample::gauge("named", "H.", 1.0).label("datname", "other"),
        ];
        let out: Vec<Sample> = with_datname(metrics, "app").collect();
        let shown: Vec<String> = out.iter().map(|m| m.labels.to_string()).collect();
        assert_eq!(
            shown,
            [
                r#"{datname="app",relname="a"}"#,
                r#"{datname="app",relname="a"}"#,
                r#"{datname="app",relname="b"}"#,
                r#"{datname="app",relname="b"}"#,
                r#"{datname="app",k="v"}"#,
                r#"{datname="other"}"#,
            ]
        );
        assert!(out[0].labels.is_clone_of(&out[1].labels));
        assert!(out[2].labels.is_clone_of(&out[3].labels));
        assert!(!out[1].labels.is_clone_of(&out[2].labels));
    }

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
