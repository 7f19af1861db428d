//! mysqld_exporter's `binlog_size`: the binary logs' combined size, their number and the last one's number,
//! from `SHOW BINARY LOGS`; nothing when binary logging is off (the command would fail).

use hubble::catalogue::Entry;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use crate::collectors::{rows, Assembly, Server};

const SIZE: (&str, &str) = (
    "mysql_binlog_size_bytes",
    "Combined size of all registered binlog files.",
);
const FILES: (&str, &str) = ("mysql_binlog_files", "Number of registered binlog files.");
const NUMBER: (&str, &str) = ("mysql_binlog_file_number", "The last binlog file number.");

/// The collector.
pub struct BinlogSize {
    pub(crate) server: Server,
}

impl Collector for BinlogSize {
    fn name(&self) -> &str {
        "binlog_size"
    }

    fn families(&self) -> Vec<Family> {
        [SIZE, FILES, NUMBER]
            .into_iter()
            .map(|(name, help)| Family::new(name, help, MetricKind::Gauge, Vec::<&str>::new()))
            .collect()
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let log_bin = rows(&self.server, "SELECT @@log_bin").await?;
        if log_bin
            .rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .as_deref()
            != Some("1")
        {
            return Ok(Vec::new());
        }
        let logs = rows(&self.server, "SHOW BINARY LOGS").await?;
        let size: f64 = logs
            .rows
            .iter()
            .filter_map(|r| r.get(1)?.as_deref()?.parse::<f64>().ok())
            .sum();
        let mut out = vec![
            Sample::gauge(SIZE.0, SIZE.1, size),
            Sample::gauge(FILES.0, FILES.1, logs.rows.len() as f64),
        ];
        // `mysql-bin.000042` → 42, from the last file.
        let last = logs.rows.last().and_then(|r| r.first().cloned().flatten());
        if let Some(n) = last.and_then(|f| f.rsplit('.').next()?.parse::<f64>().ok()) {
            out.push(Sample::gauge(NUMBER.0, NUMBER.1, n));
        }
        Ok(out)
    }
}

/// `--collect.binlog_size`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "binlog_size",
    "Binary log files and their total size (SHOW BINARY LOGS)",
    |a| {
        let server = a.server.clone();
        a.add(BinlogSize { server });
    },
);
