//! mysqld_exporter's `heartbeat`: the timestamps a heartbeat writer (pt-heartbeat) stores per server, beside
//! the server's clock read in the same statement, so replication delay is their difference.

use hubble::catalogue::Entry;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use crate::collectors::{rows, Assembly, Options, Server};

const STORED: (&str, &str) = (
    "mysql_heartbeat_stored_timestamp_seconds",
    "Timestamp stored in the heartbeat table.",
);
const NOW: (&str, &str) = (
    "mysql_heartbeat_now_timestamp_seconds",
    "Timestamp of the current server.",
);

/// The collector.
pub struct Heartbeat {
    pub(crate) server: Server,
    pub(crate) options: Options,
}

/// An identifier quoted for MySQL: backticks around, a backtick inside doubled.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

impl Collector for Heartbeat {
    fn name(&self) -> &str {
        "heartbeat"
    }

    fn families(&self) -> Vec<Family> {
        [STORED, NOW]
            .into_iter()
            .map(|(name, help)| Family::new(name, help, MetricKind::Gauge, ["server_id"]))
            .collect()
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let now = if self.options.heartbeat_utc {
            "UTC_TIMESTAMP(6)"
        } else {
            "NOW(6)"
        };
        let sql = format!(
            "SELECT UNIX_TIMESTAMP(ts), UNIX_TIMESTAMP({now}), server_id FROM {}.{}",
            quoted(&self.options.heartbeat_database),
            quoted(&self.options.heartbeat_table)
        );
        let answer = rows(&self.server, &sql).await?;
        let mut out = Vec::new();
        for row in &answer.rows {
            let cell = |i: usize| row.get(i).cloned().flatten();
            let (Some(server_id), Some(stored), Some(now)) = (cell(2), cell(0), cell(1)) else {
                continue;
            };
            for ((name, help), value) in [(STORED, stored), (NOW, now)] {
                if let Ok(v) = value.parse::<f64>() {
                    out.push(Sample::gauge(name, help, v).label("server_id", server_id.clone()));
                }
            }
        }
        Ok(out)
    }
}

/// `--collect.heartbeat`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "heartbeat",
    "Replication delay from a heartbeat table kept by pt-heartbeat",
    |a| {
        let (server, options) = (a.server.clone(), a.options.clone());
        a.add(Heartbeat { server, options });
    },
);

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(super::quoted("heartbeat"), "`heartbeat`");
        assert_eq!(super::quoted("a`b"), "`a``b`");
    }
}
