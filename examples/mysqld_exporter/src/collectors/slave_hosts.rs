//! mysqld_exporter's `slave_hosts`: the replicas registered with this server, from `SHOW SLAVE HOSTS` (MySQL
//! 8.4's `SHOW REPLICAS`), each a series of `mysql_heartbeat_mysql_slave_hosts_info` (upstream's name).

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::{rows, Assembly, Server};

const INFO: &str = "mysql_heartbeat_mysql_slave_hosts_info";
const INFO_HELP: &str = "A replica registered with this server (1)";
const LABELS: [&str; 5] = ["server_id", "slave_host", "port", "master_id", "slave_uuid"];

/// The collector.
pub struct SlaveHosts {
    server: Server,
}

impl Collector for SlaveHosts {
    fn name(&self) -> &str {
        "slave_hosts"
    }

    fn families(&self) -> Vec<Family> {
        vec![Family::new(INFO, INFO_HELP, MetricKind::Gauge, LABELS)]
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let answer = match rows(&self.server, "SHOW SLAVE HOSTS").await {
            Ok(answer) => answer,
            // MySQL 8.4 knows only the new spelling.
            Err(_) => rows(&self.server, "SHOW REPLICAS").await?,
        };
        Ok(hosts(&answer))
    }
}

/// One series per row. The fourth and fifth columns are `Master_id` and `Slave_UUID` on MySQL 5.7 and 8,
/// `Rpl_recovery_rank` and `Master_id` on older servers (told apart by whether the fifth is a UUID), and
/// MariaDB has only `Master_id` fourth.
pub fn hosts(answer: &TextRows) -> Vec<Sample> {
    answer
        .rows
        .iter()
        .map(|row| {
            let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let (master_id, uuid) = match answer.columns.len() {
                5 if is_uuid(&cell(4)) => (cell(3), cell(4)),
                5 => (cell(4), String::new()),
                _ => (cell(3), String::new()),
            };
            let mut sample = Sample::gauge(INFO, INFO_HELP, 1.0);
            for (label, value) in LABELS
                .iter()
                .zip([cell(0), cell(1), cell(2), master_id, uuid])
            {
                sample = sample.label(*label, value);
            }
            sample
        })
        .collect()
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `--collect.slave_hosts`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "slave_hosts",
    "Replicas registered with this server (SHOW SLAVE HOSTS)",
    |a| {
        let server = a.server.clone();
        a.add(SlaveHosts { server });
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn every_server_kind() {
        let mariadb = rows(
            &["Server_id", "Host", "Port", "Master_id"],
            &[&["2", "r1", "3306", "1"]],
        );
        let mysql8 = rows(
            &["Server_id", "Host", "Port", "Source_id", "Replica_UUID"],
            &[&[
                "3",
                "r2",
                "3307",
                "1",
                "a1b2c3d4-0000-1111-2222-333344445555",
            ]],
        );
        let old = rows(
            &[
                "Server_id",
                "Host",
                "Port",
                "Rpl_recovery_rank",
                "Master_id",
            ],
            &[&["4", "r3", "3308", "0", "1"]],
        );
        let all: Vec<String> = [mariadb, mysql8, old]
            .iter()
            .flat_map(|a| lines(&hosts(a)))
            .collect();
        assert_eq!(
            all,
            [
                "gauge mysql_heartbeat_mysql_slave_hosts_info{master_id=\"1\",port=\"3306\",server_id=\"2\",slave_host=\"r1\",slave_uuid=\"\"} 1",
                "gauge mysql_heartbeat_mysql_slave_hosts_info{master_id=\"1\",port=\"3307\",server_id=\"3\",slave_host=\"r2\",slave_uuid=\"a1b2c3d4-0000-1111-2222-333344445555\"} 1",
                "gauge mysql_heartbeat_mysql_slave_hosts_info{master_id=\"1\",port=\"3308\",server_id=\"4\",slave_host=\"r3\",slave_uuid=\"\"} 1",
            ]
        );
    }
}
