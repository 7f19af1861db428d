//! mysqld_exporter's `info_schema.processlist`: the server's threads counted by command and state, and by
//! user and client host, from `information_schema.processlist` (this exporter's own thread left out).

use std::collections::BTreeMap;

use hubble::catalogue::Entry;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use crate::collectors::{rows, Assembly, Options, Server};

const THREADS: &str = "mysql_info_schema_processlist_threads";
const SECONDS: &str = "mysql_info_schema_processlist_seconds";
const BY_USER: &str = "mysql_info_schema_processlist_processes_by_user";
const BY_HOST: &str = "mysql_info_schema_processlist_processes_by_host";

/// The collector.
pub struct Processlist {
    pub(crate) server: Server,
    pub(crate) options: Options,
}

/// A command or state as a label value, as mysqld_exporter writes it: lower case, `_` for spaces and dashes,
/// punctuation dropped, `unknown` when empty.
fn sanitize(s: &str) -> String {
    if s.is_empty() {
        return "unknown".to_owned();
    }
    s.to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ';' | ',' | ':' | '.' | '(' | ')'))
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

impl Collector for Processlist {
    fn name(&self) -> &str {
        "info_schema.processlist"
    }

    fn families(&self) -> Vec<Family> {
        let gauge = |name, help, labels: &[&'static str]| {
            Family::new(name, help, MetricKind::Gauge, labels.to_vec())
        };
        let mut descs = vec![
            gauge(
                THREADS,
                "The number of threads split by current state.",
                &["command", "state"],
            ),
            gauge(
                SECONDS,
                "The number of seconds threads have used split by current state.",
                &["command", "state"],
            ),
        ];
        if self.options.processes_by_user {
            descs.push(gauge(
                BY_USER,
                "The number of processes by user.",
                &["mysql_user"],
            ));
        }
        if self.options.processes_by_host {
            descs.push(gauge(
                BY_HOST,
                "The number of processes by host.",
                &["client_host"],
            ));
        }
        descs
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let sql = format!(
            "SELECT user, SUBSTRING_INDEX(host, ':', 1) AS host, COALESCE(command, '') AS command, \
                    COALESCE(state, '') AS state, COUNT(*) AS processes, SUM(time) AS seconds \
             FROM information_schema.processlist \
             WHERE ID != connection_id() AND TIME >= {} \
             GROUP BY user, host, command, state",
            self.options.processlist_min_time
        );
        let answer = rows(&self.server, &sql).await?;
        let mut by_state: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
        let (mut by_user, mut by_host) = (BTreeMap::new(), BTreeMap::new());
        for row in &answer.rows {
            let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let number = |i: usize| cell(i).parse::<f64>().unwrap_or(0.0);
            let (count, seconds) = (number(4), number(5));
            let state = by_state
                .entry((sanitize(&cell(2)), sanitize(&cell(3))))
                .or_default();
            state.0 += count;
            state.1 += seconds;
            let host = Some(cell(1))
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "unknown".into());
            *by_host.entry(host).or_insert(0.0) += count;
            *by_user.entry(cell(0)).or_insert(0.0) += count;
        }
        let mut out = Vec::new();
        for ((command, state), (count, seconds)) in by_state {
            out.push(
                Sample::gauge(
                    THREADS,
                    "The number of threads split by current state.",
                    count,
                )
                .label("command", command.clone())
                .label("state", state.clone()),
            );
            out.push(
                Sample::gauge(
                    SECONDS,
                    "The number of seconds threads have used split by current state.",
                    seconds,
                )
                .label("command", command)
                .label("state", state),
            );
        }
        if self.options.processes_by_host {
            out.extend(by_host.into_iter().map(|(host, n)| {
                Sample::gauge(BY_HOST, "The number of processes by host.", n)
                    .label("client_host", host)
            }));
        }
        if self.options.processes_by_user {
            out.extend(by_user.into_iter().map(|(user, n)| {
                Sample::gauge(BY_USER, "The number of processes by user.", n)
                    .label("mysql_user", user)
            }));
        }
        Ok(out)
    }
}

/// `--collect.info_schema.processlist`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.processlist",
    "Threads by command and state, user and host (information_schema.processlist)",
    |a| {
        let (server, options) = (a.server.clone(), a.options.clone());
        a.add(Processlist { server, options });
    },
);

#[cfg(test)]
mod tests {
    #[test]
    fn states_are_sanitized_as_upstream() {
        assert_eq!(
            super::sanitize("Waiting for table metadata lock"),
            "waiting_for_table_metadata_lock"
        );
        assert_eq!(
            super::sanitize("Sending data (to client); done."),
            "sending_data_to_client_done"
        );
        assert_eq!(super::sanitize("Binlog Dump-GTID"), "binlog_dump_gtid");
        assert_eq!(super::sanitize(""), "unknown");
    }
}
