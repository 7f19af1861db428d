//! postgres_exporter's `stat_wal_receiver`.

use hubble::catalogue::Entry;

use super::Assembly;

/// The WAL receiver of a standby, postgres_exporter's `stat_wal_receiver`. LSNs are bytes from `0/0`,
/// truncated to their low 52 bits (exact in a float), as upstream.
#[derive(sqlx::FromRow, hubble::MetricGroup)]
#[hubble(
    names_as_declared,
    query = "SELECT COALESCE(trim(both '''' from substring(conninfo from 'host=([^ ]*)')), '') AS upstream_host,
                    COALESCE(slot_name, '') AS slot_name, COALESCE(status, '') AS status,
                    ((receive_start_lsn - '0/0') % (2^52)::bigint)::float8 AS receive_start_lsn,
                    ((flushed_lsn - '0/0') % (2^52)::bigint)::float8 AS flushed_lsn,
                    receive_start_tli::int8 AS receive_start_tli, received_tli::int8 AS received_tli,
                    EXTRACT(EPOCH FROM last_msg_send_time)::float8 AS last_msg_send_time,
                    EXTRACT(EPOCH FROM last_msg_receipt_time)::float8 AS last_msg_receipt_time,
                    ((latest_end_lsn - '0/0') % (2^52)::bigint)::float8 AS latest_end_lsn,
                    EXTRACT(EPOCH FROM latest_end_time)::float8 AS latest_end_time,
                    substring(slot_name from 'repmgr_slot_([0-9]*)')::int8 AS upstream_node
             FROM pg_catalog.pg_stat_wal_receiver",
    prefix = "pg_stat_wal_receiver",
    role = "replica"
)]
pub struct PgStatWalReceiver {
    #[metric(label)]
    upstream_host: String,
    #[metric(label)]
    slot_name: String,
    #[metric(label)]
    status: String,
    /// First write-ahead log location used when WAL receiver is started represented as a decimal
    #[metric(counter)]
    receive_start_lsn: Option<f64>,
    /// Last write-ahead log location already received and flushed to disk, the initial value of this field being the first log location used when WAL receiver is started represented as a decimal
    #[metric(counter)]
    flushed_lsn: Option<f64>,
    /// First timeline number used when WAL receiver is started
    #[metric(gauge)]
    receive_start_tli: Option<i64>,
    /// Timeline number of last write-ahead log location received and flushed to disk
    #[metric(gauge)]
    received_tli: Option<i64>,
    /// Send time of last message received from origin WAL sender
    #[metric(counter)]
    last_msg_send_time: Option<f64>,
    /// Receipt time of last message received from origin WAL sender
    #[metric(counter)]
    last_msg_receipt_time: Option<f64>,
    /// Last write-ahead log location reported to origin WAL sender as integer
    #[metric(counter)]
    latest_end_lsn: Option<f64>,
    /// Time of last write-ahead log location reported to origin WAL sender
    #[metric(counter)]
    latest_end_time: Option<f64>,
    /// Node ID of the upstream node (repmgr slots)
    #[metric(gauge)]
    upstream_node: Option<i64>,
}

/// `--collector.stat_wal_receiver`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "stat_wal_receiver",
    "A standby's WAL receiver (pg_stat_wal_receiver)",
    |a| {
        a.group::<PgStatWalReceiver>();
    },
);
