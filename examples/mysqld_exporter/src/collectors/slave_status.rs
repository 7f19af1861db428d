//! mysqld_exporter's `slave_status`: each replication channel of `SHOW SLAVE STATUS` (MariaDB's
//! `SHOW ALL SLAVES STATUS`, MySQL 8.4's `SHOW REPLICA STATUS`).

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{Labels, MetricKind, Sample};

use super::Assembly;
use crate::value::{metric_name, number};

/// `SHOW SLAVE STATUS` (or MariaDB's `SHOW ALL SLAVES STATUS`): every numeric column of each replication
/// channel as `mysql_slave_status_<column>{master_host,master_uuid,channel_name,connection_name}`.
pub fn slave_status(answer: &TextRows) -> Vec<Sample> {
    let mut out = Vec::new();
    for row in &answer.rows {
        let cell = |names: &[&str]| -> String {
            names
                .iter()
                .find_map(|n| {
                    answer
                        .column(n)
                        .and_then(|i| row[i].clone())
                        .filter(|v| !v.is_empty())
                })
                .unwrap_or_default()
        };
        let mut labels = Labels::with_capacity(4);
        labels.insert("master_host", cell(&["Master_Host", "Source_Host"]));
        labels.insert("master_uuid", cell(&["Master_UUID", "Source_UUID"]));
        labels.insert("channel_name", cell(&["Channel_Name"]));
        labels.insert("connection_name", cell(&["Connection_name"]));
        for (i, column) in answer.columns.iter().enumerate() {
            let Some(v) = row[i].as_deref().and_then(number) else {
                continue;
            };
            let mut m = Sample::new(
                format!("mysql_slave_status_{}", metric_name(column)),
                "A value from SHOW SLAVE STATUS",
                MetricKind::Untyped,
                v,
            );
            m.labels = labels.clone();
            out.push(m);
        }
        // MariaDB's GTID positions, `domain-server-sequence` lists: one series per domain and server.
        for column in ["Gtid_IO_Pos", "Gtid_Slave_Pos"] {
            let family = format!("mysql_slave_status_{}", metric_name(column));
            for gtid in cell(&[column]).split(',').map(str::trim) {
                let mut parts = gtid.split('-');
                let (Some(domain), Some(server), Some(seq), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let Ok(seq) = seq.parse::<u64>() else {
                    continue;
                };
                let mut m = Sample::gauge(family.clone(), "The last event's sequence number of this GTID domain and server (SHOW SLAVE STATUS)", seq as f64);
                m.labels = labels.clone();
                m.labels.insert("domain_id", domain.to_owned());
                m.labels.insert("server_id", server.to_owned());
                out.push(m);
            }
        }
    }
    out
}

/// `--collect.slave_status`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "slave_status",
    "Each replication channel (SHOW REPLICA STATUS)",
    |a| {
        a.rows(
            "slave_status",
            &[
                "SHOW ALL SLAVES STATUS",
                "SHOW SLAVE STATUS",
                "SHOW REPLICA STATUS",
            ],
            Vec::new,
            slave_status,
        );
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn replication_channels() {
        let answer = rows(
            &[
                "Connection_name",
                "Master_Host",
                "Slave_IO_Running",
                "Seconds_Behind_Master",
                "Master_Log_File",
                "Last_Error",
                "Gtid_IO_Pos",
            ],
            &[
                &[
                    "a",
                    "db1",
                    "Yes",
                    "3",
                    "mysql-bin.000042",
                    "",
                    "0-1-7,1-2-9",
                ],
                &["b", "db2", "Connecting", "", "", "", ""],
            ],
        );
        let out = lines(&slave_status(&answer));
        let labels_a =
            "{channel_name=\"\",connection_name=\"a\",master_host=\"db1\",master_uuid=\"\"}";
        for expected in [
            format!("untyped mysql_slave_status_slave_io_running{labels_a} 1"),
            format!("untyped mysql_slave_status_seconds_behind_master{labels_a} 3"),
            format!("untyped mysql_slave_status_master_log_file{labels_a} 42"),
            "untyped mysql_slave_status_slave_io_running{channel_name=\"\",connection_name=\"b\",master_host=\"db2\",master_uuid=\"\"} 0".to_owned(),
            "gauge mysql_slave_status_gtid_io_pos{channel_name=\"\",connection_name=\"a\",domain_id=\"1\",master_host=\"db1\",master_uuid=\"\",server_id=\"2\"} 9".to_owned(),
        ] {
            assert!(out.contains(&expected), "missing {expected} in {out:#?}");
        }
        assert_eq!(out.len(), 6, "{out:#?}");
    }
}
