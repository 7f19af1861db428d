//! The targets' exporters and the collection settings they were built from, kept together so a reload can
//! change the custom queries of every live target, and targets created later get the new set.

use std::sync::{Arc, Mutex, Weak};

use hubble::{BaseExporter, Exporter, ExporterError, Labels};

use super::auth_guard::AuthGuard;
use super::connection::{Connect as _, Dsn, PgConnections};
use super::custom::{CustomCollector, CustomQuery};
use super::databases::{split_budget, Databases, LocalGroup, PerDatabase};
use super::naming::Naming;
use super::privileges::WithGrantHint;
use super::scrape_stats::ScrapeStats;
use super::up::pg_up;
use super::{exporter, Collection, Schedule};
use hubble::targets::allowlist::KnownGuard;

/// One target's exporter: the base exporter plus its connections, closed together.
pub struct PgExporter {
    member: Arc<Member>,
}

pub(crate) struct Member {
    base: BaseExporter,
    /// Its `server` label (`host:port`).
    server: String,
    connections: PgConnections,
    /// Every database of the server, when they are discovered.
    databases: Option<Arc<Databases>>,
    /// Interval and series limit, for per-database custom queries.
    schedule: Schedule,
    /// The custom queries its collectors run now.
    custom: Mutex<Vec<CustomQuery>>,
    /// Kept alive as long as the exporter.
    _holds: Holds,
}

/// What a target's exporter keeps alive with it.
#[derive(Debug, Default)]
pub struct Holds {
    /// The relay its connections go through (probed targets).
    pub auth_guard: Option<AuthGuard>,
    /// Its server counted as known to `/probe` (discovered targets, the single target).
    pub known: Option<KnownGuard>,
}

impl Member {
    pub(crate) fn as_base(&self) -> &BaseExporter {
        &self.base
    }
}

impl Exporter for PgExporter {
    fn as_base(&self) -> &BaseExporter {
        &self.member.base
    }

    async fn close(&self) {
        self.member.base.close().await;
        // Its connections leave pg_stat_activity now, not when the last handle happens to drop.
        self.member.connections.close().await;
        if let Some(databases) = &self.member.databases {
            databases.close().await;
        }
    }
}

impl PgExporter {
    /// A stand-alone exporter of `dsn` with `labels` (plus `server`) on every series; not reloadable.
    pub fn new(dsn: &Dsn, labels: Labels, collection: &Collection) -> Result<Self, ExporterError> {
        Self::with_holds(dsn, labels, collection, Holds::default())
    }

    fn with_holds(
        dsn: &Dsn,
        labels: Labels,
        collection: &Collection,
        holds: Holds,
    ) -> Result<Self, ExporterError> {
        let via = holds.auth_guard.as_ref().map(AuthGuard::socket_dir);
        let setup = |e: String| ExporterError::Setup {
            exporter: "postgres".into(),
            source: e.into(),
        };
        // With every database visited, the budget is split between the server-wide groups' connections and
        // those kept to other databases.
        let (main, others) = match &collection.databases {
            Some(_) => split_budget(collection.pool_size.max(2)),
            None => (collection.pool_size.max(1), 0),
        };
        let mut connections = dsn
            .connections(main, collection.schedule.timeout, via)
            .map_err(setup)?;
        if collection.batch {
            let batching = crate::connection::batching(collection.schedule.timeout);
            connections = if collection.own_connection {
                let target = dsn.wire_target(collection.schedule.timeout, via);
                connections.over_wire(batching, target)
            } else {
                connections.batched(batching)
            };
        }
        let databases = match &collection.databases {
            Some(filter) => Some(Arc::new(
                Databases::new(
                    connections.clone(),
                    dsn,
                    collection.schedule.timeout,
                    via,
                    filter.clone(),
                    others,
                )
                .map_err(setup)?,
            )),
            None => None,
        };
        let mut labels = labels;
        for (name, value) in collection.const_labels.iter() {
            if labels.get(name).is_none() {
                labels.insert(name.to_owned(), value.to_owned());
            }
        }
        labels.insert("server", dsn.server());
        let up = pg_up(
            connections.clone(),
            collection.schedule.timeout,
            dsn.tls_mode(),
        );
        let base = if collection.disable_default_metrics {
            BaseExporter::builder("postgres")
                .const_labels(labels)
                .interval(collection.schedule.interval)
                .timeout(collection.schedule.timeout)
                .max_series(collection.schedule.max_series)
                .max_series_setting(super::MAX_SERIES_FLAG)
                .collector(collection.naming.apply(up))
                .build()?
        } else {
            exporter(&connections, up, labels, collection, databases.as_ref())?
        };
        let schedule = collection.schedule;
        for q in &collection.custom_queries {
            replace_standard(&base, &q.name);
            add_custom(
                &base,
                collection.naming,
                q,
                &connections,
                databases.as_ref(),
                schedule,
            )?;
        }
        let member = Arc::new(Member {
            base,
            server: dsn.server(),
            connections,
            databases,
            schedule,
            custom: Mutex::new(collection.custom_queries.clone()),
            _holds: holds,
        });
        // postgres_exporter's own names for its users' alerts; the conventional mode has hubble_collector_*.
        if collection.naming == Naming::PostgresExporter {
            member
                .base
                .add_collector(ScrapeStats::new(Arc::downgrade(&member)))?;
        }
        Ok(PgExporter { member })
    }
}

/// Why [`Live::connections_of`] found no target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetLookup {
    /// No live target has that `server`.
    Unknown,
    /// Several targets, and none named.
    Ambiguous,
}

/// What changed in one reload of the custom queries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueryChanges {
    /// Queries added or changed.
    pub added: usize,
    /// Queries removed or changed.
    pub removed: usize,
    /// Live targets updated.
    pub targets: usize,
}

/// The collection settings in force and every live exporter built from them.
pub struct Live {
    state: Mutex<State>,
}

struct State {
    collection: Arc<Collection>,
    members: Vec<Weak<Member>>,
}

impl Live {
    /// Settings for targets created from now on.
    pub fn new(collection: Collection) -> Self {
        Live {
            state: Mutex::new(State {
                collection: Arc::new(collection),
                members: Vec::new(),
            }),
        }
    }

    /// The settings in force.
    pub fn collection(&self) -> Arc<Collection> {
        self.lock().collection.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An exporter for `dsn` under the settings in force, followed by later reloads.
    pub fn exporter(&self, dsn: &Dsn, labels: Labels) -> Result<PgExporter, ExporterError> {
        self.exporter_holding(dsn, labels, Holds::default())
    }

    /// [`exporter`](Self::exporter) keeping `holds` alive with it.
    pub fn exporter_holding(
        &self,
        dsn: &Dsn,
        labels: Labels,
        holds: Holds,
    ) -> Result<PgExporter, ExporterError> {
        // Under the lock: a reload cannot slip between reading the settings and joining the list.
        let mut state = self.lock();
        let exporter = PgExporter::with_holds(dsn, labels, &state.collection, holds)?;
        state.members.retain(|m| m.strong_count() > 0);
        state.members.push(Arc::downgrade(&exporter.member));
        Ok(exporter)
    }

    /// The connections of the live target whose `server` label is `server`, or of the only live target when
    /// `server` is `None`.
    pub fn connections_of(&self, server: Option<&str>) -> Result<PgConnections, TargetLookup> {
        let mut state = self.lock();
        state.members.retain(|m| m.strong_count() > 0);
        let live: Vec<_> = state.members.iter().filter_map(Weak::upgrade).collect();
        let mut matching = live
            .iter()
            .filter(|m| server.is_none_or(|s| m.server == s))
            .map(|m| m.connections.clone());
        match (matching.next(), matching.next(), server) {
            (Some(c), None, _) => Ok(c),
            (Some(_), Some(_), None) => Err(TargetLookup::Ambiguous),
            // The same server under two exporters (a probe beside the discovered one): same answer.
            (Some(c), Some(_), Some(_)) => Ok(c),
            (None, _, _) => Err(TargetLookup::Unknown),
        }
    }

    /// Makes `queries` the custom queries of every live exporter and of those created later. Queries
    /// whose definition is unchanged keep running (their series stay); changed ones are replaced.
    pub fn set_custom_queries(&self, queries: Vec<CustomQuery>) -> QueryChanges {
        let mut state = self.lock();
        let naming = state.collection.naming;
        let mut changes = QueryChanges::default();
        {
            let old = &state.collection.custom_queries;
            changes.removed = old.iter().filter(|q| !queries.contains(q)).count();
            changes.added = queries.iter().filter(|q| !old.contains(q)).count();
        }
        state.members.retain(|m| m.strong_count() > 0);
        for member in state.members.iter().filter_map(Weak::upgrade) {
            let mut current = member.custom.lock().unwrap_or_else(|e| e.into_inner());
            let mut touched = false;
            for gone in current.iter().filter(|q| !queries.contains(q)) {
                touched |= member.base.remove_collector(&gone.name);
            }
            for new in queries.iter().filter(|q| !current.contains(q)) {
                replace_standard(&member.base, &new.name);
                match add_custom(
                    &member.base,
                    naming,
                    new,
                    &member.connections,
                    member.databases.as_ref(),
                    member.schedule,
                ) {
                    Ok(()) => touched = true,
                    // Names are unique within a file and standard groups were replaced: not expected.
                    Err(error) => {
                        tracing::error!(query = %new.name, %error, "custom query not added")
                    }
                }
            }
            *current = queries.clone();
            changes.targets += usize::from(touched);
        }
        Arc::make_mut(&mut state.collection).custom_queries = queries;
        changes
    }
}

/// Adds custom query `q`: once over `connections`, or in every database when it is `per_database` and
/// databases are discovered.
fn add_custom(
    base: &BaseExporter,
    naming: Naming,
    q: &CustomQuery,
    connections: &PgConnections,
    databases: Option<&Arc<Databases>>,
    schedule: Schedule,
) -> Result<(), ExporterError> {
    match databases {
        Some(databases) if q.per_database => {
            let query = q.clone();
            let group =
                LocalGroup::new(connections, move |c| CustomCollector::new(query.clone(), c));
            base.add_collector(
                naming.apply(WithGrantHint(
                    PerDatabase::new(
                        q.name.clone(),
                        databases.clone(),
                        vec![group],
                        schedule.interval,
                        schedule.max_series,
                    )
                    .without_report(),
                )),
            )
        }
        _ => base.add_collector(naming.apply(WithGrantHint(CustomCollector::new(
            q.clone(),
            connections.clone(),
        )))),
    }
}

/// A custom query named like a standard collector replaces it, as postgres_exporter's query files override
/// its built-in maps (the queries.yaml it shipped until 0.12 redefines `pg_postmaster`, `pg_database`, ...).
fn replace_standard(base: &BaseExporter, name: &str) {
    if base.remove_collector(name) {
        tracing::warn!(
            collector = name,
            "a custom query replaces the standard collector of the same name"
        );
    }
}
