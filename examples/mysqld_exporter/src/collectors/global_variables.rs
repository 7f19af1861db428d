//! mysqld_exporter's `global_variables`: `SHOW GLOBAL VARIABLES`, the version and the isolation level.

use std::time::Duration;

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{Family, MetricKind, Sample};

use super::{numeric_rows, Assembly};

const VERSION: &str = "mysql_version_info";
const VERSION_HELP: &str = "The server's version and distribution";
const ISOLATION: &str = "mysql_transaction_isolation";
const ISOLATION_HELP: &str = "The server's default transaction isolation level";
const GENERIC_VARIABLE_HELP: &str = "A value from SHOW GLOBAL VARIABLES";

fn variables_descriptors() -> Vec<Family> {
    vec![
        Family::new(
            VERSION,
            VERSION_HELP,
            MetricKind::Gauge,
            ["innodb_version", "version", "version_comment"],
        ),
        Family::new(ISOLATION, ISOLATION_HELP, MetricKind::Gauge, ["level"]),
    ]
}

/// `SHOW GLOBAL VARIABLES`: every numeric variable as the gauge `mysql_global_variables_<name>`, plus
/// `mysql_version_info{innodb_version,version,version_comment}`, `mysql_transaction_isolation{level}` and,
/// on Galera clusters, `mysql_galera_variables_info{wsrep_cluster_name}`.
pub fn global_variables(answer: &TextRows) -> Vec<Sample> {
    let mut out = Vec::with_capacity(answer.rows.len());
    for (name, _, v) in numeric_rows(answer) {
        out.push(Sample::gauge(
            format!("mysql_global_variables_{name}"),
            GENERIC_VARIABLE_HELP,
            v,
        ));
    }
    let text = |key: &str| -> String {
        answer
            .rows
            .iter()
            .find(|r| {
                r.first()
                    .and_then(|c| c.as_deref())
                    .is_some_and(|n| n.eq_ignore_ascii_case(key))
            })
            .and_then(|r| r.get(1).cloned().flatten())
            .unwrap_or_default()
    };
    out.push(
        Sample::gauge(VERSION, VERSION_HELP, 1.0)
            .label("innodb_version", text("innodb_version"))
            .label("version", text("version"))
            .label("version_comment", text("version_comment")),
    );
    let level = Some(text("transaction_isolation"))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| text("tx_isolation"));
    if !level.is_empty() {
        out.push(Sample::gauge(ISOLATION, ISOLATION_HELP, 1.0).label("level", level));
    }
    let cluster = text("wsrep_cluster_name");
    if !cluster.is_empty() {
        out.push(
            Sample::gauge(
                "mysql_galera_variables_info",
                "The Galera cluster's name",
                1.0,
            )
            .label("wsrep_cluster_name", cluster),
        );
    }
    out
}

/// `--collect.global_variables`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "global_variables",
    "Server variables, version and isolation level (SHOW GLOBAL VARIABLES)",
    |a: &mut Assembly| {
        a.rows(
            "global_variables",
            &["SHOW GLOBAL VARIABLES"],
            variables_descriptors,
            global_variables,
        );
    },
)
.every(Duration::from_secs(60));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn variables_and_version() {
        let answer = rows(
            &["Variable_name", "Value"],
            &[
                &["max_connections", "151"],
                &["version", "10.11.6-MariaDB-0+deb12u1"],
                &["version_comment", "Debian 12"],
                &["innodb_version", "10.11.6"],
                &["tx_isolation", "REPEATABLE-READ"],
                &["read_only", "OFF"],
            ],
        );
        assert_eq!(
            lines(&global_variables(&answer)),
            [
                "gauge mysql_global_variables_max_connections{} 151",
                "gauge mysql_global_variables_read_only{} 0",
                "gauge mysql_transaction_isolation{level=\"REPEATABLE-READ\"} 1",
                "gauge mysql_version_info{innodb_version=\"10.11.6\",version=\"10.11.6-MariaDB-0+deb12u1\",version_comment=\"Debian 12\"} 1",
            ]
        );
    }
}
