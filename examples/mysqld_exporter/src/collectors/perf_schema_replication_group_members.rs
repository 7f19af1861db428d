//! mysqld_exporter's `perf_schema.replication_group_members`: each member of a MySQL group replication
//! group as `mysql_perf_schema_replication_group_member_info` (1), every column of
//! `performance_schema.replication_group_members` a label (lower-cased), as upstream. Not applicable where
//! the table does not exist (MariaDB).

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::{Assembly, Server};

const INFO: &str = "mysql_perf_schema_replication_group_member_info";
const INFO_HELP: &str = "A member of the replication group (1), its columns as labels";

/// The collector.
pub struct GroupMembers {
    server: Server,
}

impl Collector for GroupMembers {
    fn name(&self) -> &str {
        "perf_schema.replication_group_members"
    }

    fn families(&self) -> Vec<Family> {
        // MySQL 8's columns; a server with others labels with those.
        let labels = [
            "channel_name",
            "member_id",
            "member_host",
            "member_port",
            "member_state",
            "member_role",
            "member_version",
            "member_communication_stack",
        ];
        vec![Family::new(INFO, INFO_HELP, MetricKind::Gauge, labels)]
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let answer = super::fetch_or_not_applicable(
            &self.server,
            "SELECT * FROM performance_schema.replication_group_members",
            "performance_schema.replication_group_members (MySQL group replication)",
        )
        .await?;
        Ok(members(&answer))
    }
}

/// One series per member, every column a label.
pub fn members(answer: &TextRows) -> Vec<Sample> {
    let names: Vec<String> = answer
        .columns
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    answer
        .rows
        .iter()
        .map(|row| {
            let mut sample = Sample::gauge(INFO, INFO_HELP, 1.0);
            for (name, cell) in names.iter().zip(row) {
                sample = sample.label(name.clone(), cell.clone().unwrap_or_default());
            }
            sample
        })
        .collect()
}

/// `--collect.perf_schema.replication_group_members`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "perf_schema.replication_group_members",
    "Members of the MySQL group replication group (performance_schema.replication_group_members)",
    |a| {
        let server = a.server.clone();
        a.add(GroupMembers { server });
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    /// A MySQL 8.0 group member's row, as the server answers it.
    #[test]
    fn every_column_is_a_label() {
        let answer = rows(
            &[
                "CHANNEL_NAME",
                "MEMBER_ID",
                "MEMBER_HOST",
                "MEMBER_PORT",
                "MEMBER_STATE",
                "MEMBER_ROLE",
                "MEMBER_VERSION",
            ],
            &[&[
                "group_replication_applier",
                "uuid-1",
                "db1",
                "3306",
                "ONLINE",
                "PRIMARY",
                "8.0.36",
            ]],
        );
        assert_eq!(
            lines(&members(&answer)),
            ["gauge mysql_perf_schema_replication_group_member_info{channel_name=\"group_replication_applier\",member_host=\"db1\",member_id=\"uuid-1\",member_port=\"3306\",member_role=\"PRIMARY\",member_state=\"ONLINE\",member_version=\"8.0.36\"} 1"]
        );
    }
}
