//! The collectors, one file each as postgres_exporter has them (`collector/pg_<name>.go` there,
//! `<name>.rs` here), and the catalogue that names them: `--collector.<name>` / `--no-collector.<name>`,
//! their defaults and help, the status page's list and the build all come from [`CATALOGUE`].
//!
//! Every collector postgres_exporter 0.20 has is here, with its default, except that `postmaster` has been
//! on from the start and `stat_checkpointer` is on (without it PostgreSQL 17 and later have no checkpoint
//! series). Plus hubble's own `stat_wal` (on; one row) and `stat_io` (off: a few hundred series per server).

pub mod buffercache_summary;
pub mod database;
pub mod database_wraparound;
pub mod locks;
pub mod long_running_transactions;
pub mod postmaster;
pub mod process_idle;
pub mod replication;
pub mod replication_slots;
pub mod roles;
pub mod settings;
pub mod stat_activity;
pub mod stat_activity_autovacuum;
pub mod stat_archiver;
pub mod stat_bgwriter;
pub mod stat_checkpointer;
pub mod stat_database;
pub mod stat_io;
pub mod stat_progress_vacuum;
pub mod stat_replication;
pub mod stat_statements;
pub mod stat_user_tables;
pub mod stat_wal;
pub mod stat_wal_receiver;
pub mod statio_user_indexes;
pub mod statio_user_tables;
pub mod wal;
pub mod xlog_location;

use hubble::catalogue::Catalogue;
use hubble::{BaseExporterBuilder, Collector, SqlCollector};
use sqlx::Postgres;

use crate::connection::PgConnections;
use crate::databases::LocalGroup;
use crate::naming::{self, Naming};
use crate::privileges::WithGrantHint;
use crate::up::NeedsExtension;

pub use self::buffercache_summary::PgBuffercacheSummary;
pub use self::database::PgDatabaseSize;
pub use self::database_wraparound::PgDatabaseWraparound;
pub use self::locks::PgLocks;
pub use self::long_running_transactions::PgLongRunningTransactions;
pub use self::postmaster::PgPostmaster;
pub use self::process_idle::PgProcessIdle;
pub use self::replication::PgReplication;
pub use self::replication_slots::{
    PgReplicationSlots, PgReplicationSlotsSlot, PgReplicationSlotsWalStatus,
};
pub use self::roles::PgRoles;
pub use self::settings::PgSettings;
pub use self::stat_activity::PgStatActivity;
pub use self::stat_activity_autovacuum::PgStatActivityAutovacuum;
pub use self::stat_archiver::PgStatArchiver;
pub use self::stat_bgwriter::{PgStatBgwriter, PgStatBgwriterSince17};
pub use self::stat_checkpointer::PgStatCheckpointer;
pub use self::stat_database::{
    PgStatDatabase, PgStatDatabaseChecksums, PgStatDatabaseConflicts, PgStatDatabaseSessions,
};
pub use self::stat_io::PgStatIo;
pub use self::stat_progress_vacuum::{PgStatProgressVacuum, PgStatProgressVacuumPhase};
pub use self::stat_replication::{PgStatReplication, PgStatReplicationPid};
pub use self::stat_statements::{PgStatStatements, StatementsOptions};
pub use self::stat_user_tables::PgStatUserTables;
pub use self::stat_wal::PgStatWal;
pub use self::stat_wal_receiver::PgStatWalReceiver;
pub use self::statio_user_indexes::PgStatioUserIndexes;
pub use self::statio_user_tables::PgStatioUserTables;
pub use self::xlog_location::PgXlogLocation;

/// Every collector, in the order a target's exporter runs them.
pub const CATALOGUE: Catalogue<Assembly> = Catalogue::new(
    "collector.",
    &[
        stat_database::COLLECTOR,
        stat_bgwriter::COLLECTOR,
        stat_checkpointer::COLLECTOR,
        stat_activity::COLLECTOR,
        locks::COLLECTOR,
        database::COLLECTOR,
        postmaster::COLLECTOR,
        stat_archiver::COLLECTOR,
        replication::COLLECTOR,
        stat_replication::COLLECTOR,
        replication_slots::COLLECTOR,
        stat_user_tables::COLLECTOR,
        statio_user_tables::COLLECTOR,
        stat_progress_vacuum::COLLECTOR,
        roles::COLLECTOR,
        wal::COLLECTOR,
        buffercache_summary::COLLECTOR,
        database_wraparound::COLLECTOR,
        long_running_transactions::COLLECTOR,
        process_idle::COLLECTOR,
        stat_activity_autovacuum::COLLECTOR,
        stat_statements::COLLECTOR,
        stat_wal_receiver::COLLECTOR,
        statio_user_indexes::COLLECTOR,
        xlog_location::COLLECTOR,
        stat_wal::COLLECTOR,
        stat_io::COLLECTOR,
        settings::COLLECTOR,
    ],
);

/// The collectors turned on (`--collector.<name>`, `--no-collector.<name>`).
pub type Enabled = hubble::catalogue::Selection;

/// A declared group read from PostgreSQL rows.
pub trait PgGroup:
    hubble::SqlQuery + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin
{
}

impl<G> PgGroup for G where
    G: hubble::SqlQuery + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin
{
}

/// One target's exporter being put together by the catalogue's collectors.
pub struct Assembly {
    builder: BaseExporterBuilder,
    connections: PgConnections,
    naming: Naming,
    /// The `stat_statements` collector's options.
    statements: StatementsOptions,
    /// `--collector.stat_replication.pid`.
    stat_replication_pid: bool,
    /// Whether the database-local groups run in every database (`--auto-discover-databases`).
    per_database: bool,
    /// Those groups, when they do.
    local: Vec<LocalGroup>,
}

impl AsMut<BaseExporterBuilder> for Assembly {
    fn as_mut(&mut self) -> &mut BaseExporterBuilder {
        &mut self.builder
    }
}

impl Assembly {
    /// An assembly adding to `builder`, over the target's `connections`.
    pub(crate) fn new(
        builder: BaseExporterBuilder,
        connections: &PgConnections,
        collection: &crate::Collection,
        per_database: bool,
    ) -> Self {
        Assembly {
            builder,
            connections: connections.clone(),
            naming: collection.naming,
            statements: collection.statements.clone(),
            stat_replication_pid: collection.stat_replication_pid,
            per_database,
            local: Vec::new(),
        }
    }

    /// The builder with every collector added, and the database-local groups to run in every database.
    pub(crate) fn finish(self) -> (BaseExporterBuilder, Vec<LocalGroup>) {
        (self.builder, self.local)
    }

    fn connections(&self) -> &PgConnections {
        &self.connections
    }

    /// Group `G` over the target's connections.
    fn sql<G: PgGroup>(&self) -> SqlCollector<G, Postgres> {
        SqlCollector::new(self.connections.clone())
    }

    /// `c`, not applicable (with the reason) where `extension` is not installed.
    fn needs<C>(&self, extension: crate::up::Extension, c: C) -> NeedsExtension<C> {
        NeedsExtension::new(self.connections.clone(), extension, c)
    }

    /// Adds `c`: its permission errors name the grant, its families the chosen names.
    fn add<C: Collector>(&mut self, c: C) {
        self.builder.add(wrap(self.naming, c));
    }

    /// Adds group `G`.
    fn group<G: PgGroup>(&mut self) {
        let c = self.sql::<G>();
        self.add(c);
    }

    /// Adds group `G`, or, when databases are visited and `G` is declared `per_database`, puts it among
    /// the groups run in every database.
    fn standard<G: PgGroup>(&mut self) {
        if self.per_database && G::PER_DATABASE {
            self.local.push(LocalGroup::new(&self.connections, |c| {
                SqlCollector::<G, Postgres>::new(c)
            }));
        } else {
            self.group::<G>();
        }
    }
}

/// Every standard collector as it is exported: permission errors name the grant, families the chosen names.
pub(crate) fn wrap<C: Collector>(naming: Naming, c: C) -> naming::Named<WithGrantHint<C>> {
    naming.apply(WithGrantHint(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Enabled {
        let cmd = clap::Command::new("t").args(hubble_cli::catalogue_flags(&CATALOGUE));
        hubble_cli::catalogue_selection(&CATALOGUE, &cmd.try_get_matches_from(args).unwrap())
    }

    #[test]
    fn defaults_and_flags() {
        let d = parse(&["t"]);
        assert!(
            d.contains("stat_database") && d.contains("locks") && !d.contains("stat_statements")
        );
        assert!(d.contains("stat_progress_vacuum") && !d.contains("xlog_location"));
        assert!(parse(&["t", "--collector.xlog_location"]).contains("xlog_location"));
        let e = parse(&["t", "--no-collector.locks", "--collector.stat_statements"]);
        assert!(!e.contains("locks") && e.contains("stat_statements"));
        // The later of two flags wins.
        assert!(parse(&["t", "--no-collector.locks", "--collector.locks"]).contains("locks"));
        assert!(!parse(&["t", "--collector.locks", "--no-collector.locks"]).contains("locks"));
        let unknown = clap::Command::new("t")
            .args(hubble_cli::catalogue_flags(&CATALOGUE))
            .try_get_matches_from(["t", "--collector.nope"]);
        assert!(unknown.is_err());
        assert_eq!(
            CATALOGUE
                .defaults()
                .set("lokcs", true)
                .unwrap_err()
                .to_string(),
            "--collector.lokcs: unknown collector; did you mean locks?"
        );
    }

    /// postgres_exporter 0.20.1's collectors and defaults (`collector/*.go`, `registerCollector(name,
    /// default, ...)`), against which the catalogue is checked; `postmaster` and `stat_checkpointer` are
    /// the two whose default hubble changes (see the module docs).
    const UPSTREAM: [(&str, bool); 26] = [
        ("buffercache_summary", false),
        ("database", true),
        ("database_wraparound", false),
        ("locks", true),
        ("long_running_transactions", false),
        ("postmaster", false),
        ("process_idle", false),
        ("replication", true),
        ("replication_slots", true),
        ("roles", true),
        ("settings", true),
        ("stat_activity", true),
        ("stat_activity_autovacuum", false),
        ("stat_archiver", true),
        ("stat_bgwriter", true),
        ("stat_checkpointer", false),
        ("stat_database", true),
        ("stat_progress_vacuum", true),
        ("stat_replication", true),
        ("stat_statements", false),
        ("stat_user_tables", true),
        ("stat_wal_receiver", false),
        ("statio_user_indexes", false),
        ("statio_user_tables", true),
        ("wal", true),
        ("xlog_location", false),
    ];

    #[test]
    fn every_upstream_collector_with_its_default() {
        for (name, default) in UPSTREAM {
            let entry = CATALOGUE
                .entries()
                .iter()
                .find(|e| e.name == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            let changed = ["postmaster", "stat_checkpointer"].contains(&name);
            assert_eq!(entry.default, default != changed, "{name}");
        }
        let ours: Vec<&str> = CATALOGUE
            .entries()
            .iter()
            .map(|e| e.name)
            .filter(|n| !UPSTREAM.iter().any(|(u, _)| u == n))
            .collect();
        assert_eq!(ours, ["stat_wal", "stat_io"]);
    }
}
