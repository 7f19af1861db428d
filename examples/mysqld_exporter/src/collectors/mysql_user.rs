//! mysqld_exporter's `mysql.user`: each account's resource limits from `mysql.user`, and with
//! `--collect.mysql.user.privileges` each `*_priv` column as a gauge (1 `Y`, 0 `N`).

use std::time::Duration;

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::{Assembly, Server};
use crate::value::number;

const LABELS: [&str; 2] = ["mysql_user", "hostmask"];
const LIMITS: [(&str, &str); 4] = [
    (
        "max_questions",
        "Queries an hour the account may run (0: no limit)",
    ),
    (
        "max_updates",
        "Updates an hour the account may run (0: no limit)",
    ),
    (
        "max_connections",
        "Connections an hour the account may open (0: no limit)",
    ),
    (
        "max_user_connections",
        "Connections the account may hold at once (0: the server's limit)",
    ),
];
const PRIVILEGES: [&str; 29] = [
    "Select_priv",
    "Insert_priv",
    "Update_priv",
    "Delete_priv",
    "Create_priv",
    "Drop_priv",
    "Reload_priv",
    "Shutdown_priv",
    "Process_priv",
    "File_priv",
    "Grant_priv",
    "References_priv",
    "Index_priv",
    "Alter_priv",
    "Show_db_priv",
    "Super_priv",
    "Create_tmp_table_priv",
    "Lock_tables_priv",
    "Execute_priv",
    "Repl_slave_priv",
    "Repl_client_priv",
    "Create_view_priv",
    "Show_view_priv",
    "Create_routine_priv",
    "Alter_routine_priv",
    "Create_user_priv",
    "Event_priv",
    "Trigger_priv",
    "Create_tablespace_priv",
];

/// The collector.
pub struct MysqlUser {
    server: Server,
    privileges: bool,
}

impl Collector for MysqlUser {
    fn name(&self) -> &str {
        "mysql.user"
    }

    fn families(&self) -> Vec<Family> {
        let mut out: Vec<Family> = LIMITS
            .iter()
            .map(|(name, help)| {
                Family::new(
                    format!("mysql_mysql_{name}"),
                    *help,
                    MetricKind::Gauge,
                    LABELS,
                )
            })
            .collect();
        if self.privileges {
            out.extend(PRIVILEGES.iter().map(|p| {
                Family::new(
                    format!("mysql_mysql_{}", p.to_ascii_lowercase()),
                    format!("{p} by user."),
                    MetricKind::Gauge,
                    LABELS,
                )
            }));
        }
        out
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let sql = format!(
            "SELECT user, host, {}, max_questions, max_updates, max_connections, max_user_connections FROM mysql.user",
            PRIVILEGES.join(", ")
        );
        let answer = super::fetch_or_not_applicable(&self.server, &sql, "mysql.user").await?;
        Ok(users(&answer, self.privileges))
    }
}

/// Each account's limits, and its privileges when asked.
pub fn users(answer: &TextRows, privileges: bool) -> Vec<Sample> {
    let index = |name: &str| {
        answer
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    };
    let mut out = Vec::new();
    for row in &answer.rows {
        let cell = |name: &str| index(name).and_then(|i| row.get(i).cloned().flatten());
        let (user, host) = (
            cell("user").unwrap_or_default(),
            cell("host").unwrap_or_default(),
        );
        let labelled = |sample: Sample| {
            sample
                .label("mysql_user", user.clone())
                .label("hostmask", host.clone())
        };
        if privileges {
            for p in PRIVILEGES {
                let value = match cell(p).as_deref() {
                    Some("Y") => 1.0,
                    Some("N") => 0.0,
                    _ => continue,
                };
                out.push(labelled(Sample::gauge(
                    format!("mysql_mysql_{}", p.to_ascii_lowercase()),
                    format!("{p} by user."),
                    value,
                )));
            }
        }
        for (name, help) in LIMITS {
            if let Some(v) = cell(name).as_deref().and_then(number) {
                out.push(labelled(Sample::gauge(
                    format!("mysql_mysql_{name}"),
                    help,
                    v,
                )));
            }
        }
    }
    out
}

/// `--collect.mysql.user`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "mysql.user",
    "Accounts' resource limits, and with .privileges their privileges (mysql.user)",
    |a: &mut Assembly| {
        let (server, privileges) = (a.server.clone(), a.options.user_privileges);
        a.add(MysqlUser { server, privileges });
    },
)
.every(Duration::from_secs(60));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn limits_and_privileges() {
        let answer = rows(
            &[
                "user",
                "host",
                "Select_priv",
                "Super_priv",
                "max_questions",
                "max_user_connections",
            ],
            &[&["app", "%", "Y", "N", "0", "10"]],
        );
        assert_eq!(
            lines(&users(&answer, false)),
            [
                "gauge mysql_mysql_max_questions{hostmask=\"%\",mysql_user=\"app\"} 0",
                "gauge mysql_mysql_max_user_connections{hostmask=\"%\",mysql_user=\"app\"} 10",
            ]
        );
        let all = lines(&users(&answer, true));
        assert!(all.contains(
            &"gauge mysql_mysql_select_priv{hostmask=\"%\",mysql_user=\"app\"} 1".to_owned()
        ));
        assert!(all.contains(
            &"gauge mysql_mysql_super_priv{hostmask=\"%\",mysql_user=\"app\"} 0".to_owned()
        ));
    }
}
