//! postgres_exporter's `replication_slots`.

use hubble::catalogue::Entry;

use super::Assembly;

/// Replication slots.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT slot_name, COALESCE(database, '') AS database, active,
                    pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                                         ELSE pg_current_wal_lsn() END, restart_lsn)::float8 AS pg_wal_lsn_diff
             FROM pg_replication_slots",
    prefix = "pg_replication_slots"
)]
pub struct PgReplicationSlots {
    #[metric(label)]
    slot_name: String,
    #[metric(label)]
    database: String,
    /// Flag indicating if the slot is active
    #[metric(gauge)]
    active: bool,
    /// Replication lag in bytes
    #[metric(gauge)]
    pg_wal_lsn_diff: Option<f64>,
}

/// Each replication slot's WAL positions, postgres_exporter's slot series of `replication_slots`.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT slot_name, slot_type,
                    (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END
                     - '0/0')::float8 AS slot_current_wal_lsn,
                    CASE WHEN active THEN (COALESCE(confirmed_flush_lsn, '0/0') - '0/0')::float8 END
                      AS slot_confirmed_flush_lsn,
                    active AS slot_is_active, safe_wal_size AS safe_wal_size_bytes
             FROM pg_replication_slots",
    prefix = "pg_replication_slots",
    name = "pg_replication_slots_slot"
)]
pub struct PgReplicationSlotsSlot {
    #[metric(label)]
    slot_name: String,
    #[metric(label)]
    slot_type: String,
    /// current wal lsn value
    #[metric(gauge)]
    slot_current_wal_lsn: Option<f64>,
    /// last lsn confirmed flushed to the replication slot (active slots)
    #[metric(gauge)]
    slot_confirmed_flush_lsn: Option<f64>,
    /// whether the replication slot is active or not
    #[metric(gauge)]
    slot_is_active: bool,
    /// number of bytes that can be written to WAL such that this slot is not in danger of getting in state lost
    #[metric(gauge)]
    safe_wal_size_bytes: Option<i64>,
}

/// The availability of the WAL each replication slot claims: one series per slot, labelled with it.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    query = "SELECT slot_name, slot_type, wal_status, 1 AS present
             FROM pg_replication_slots WHERE wal_status IS NOT NULL",
    prefix = "pg_replication_slots",
    name = "pg_replication_slots_wal_status",
    min_version = 130000
)]
pub struct PgReplicationSlotsWalStatus {
    #[metric(label)]
    slot_name: String,
    #[metric(label)]
    slot_type: String,
    #[metric(label)]
    wal_status: String,
    /// availability of WAL files claimed by this slot
    #[metric(gauge, rename = "wal_status")]
    present: i32,
}

/// `--collector.replication_slots`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "replication_slots",
    "Replication slots: activity, WAL positions, WAL status (pg_replication_slots)",
    |a| {
        a.group::<PgReplicationSlots>();
        a.group::<PgReplicationSlotsSlot>();
        a.group::<PgReplicationSlotsWalStatus>();
    },
);
