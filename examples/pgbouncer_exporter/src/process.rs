//! `--pgBouncer.pid-file`: PgBouncer's own process metrics (`pgbouncer_process_cpu_seconds_total`,
//! `_resident_memory_bytes`, `_open_fds`, `_start_time_seconds`, ...), as pgbouncer_exporter exports them. The
//! pid is read from the file on every gather, so a restarted PgBouncer is followed.

use std::path::PathBuf;
use std::sync::Mutex;

use hubble::process::ProcessMetrics;
use hubble::prometheus::core::{Collector, Desc};
use hubble::prometheus::proto::MetricFamily;

/// The process collector of whichever process the pid file names.
pub struct PidFileProcess {
    path: PathBuf,
    /// Gives the descriptors, which do not depend on the pid.
    template: ProcessMetrics,
    /// The last problem reading the file, logged once per change.
    problem: Mutex<Option<String>>,
}

impl PidFileProcess {
    /// The process whose pid `path` holds, its families prefixed `pgbouncer_`.
    pub fn new(path: PathBuf) -> Self {
        PidFileProcess {
            path,
            template: ProcessMetrics::for_pid(0, "pgbouncer"),
            problem: Mutex::new(None),
        }
    }

    fn pid(&self) -> Result<u32, String> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        text.trim()
            .parse()
            .map_err(|_| format!("{}: expected a process id", self.path.display()))
    }
}

impl Collector for PidFileProcess {
    fn desc(&self) -> Vec<&Desc> {
        self.template.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let pid = self.pid();
        let problem = pid.as_ref().err().cloned();
        let mut last = self.problem.lock().unwrap_or_else(|e| e.into_inner());
        if *last != problem {
            match &problem {
                Some(error) => tracing::warn!(%error, "pgbouncer process metrics unavailable"),
                None => {
                    tracing::info!(path = %self.path.display(), "pgbouncer process metrics available")
                }
            }
            *last = problem;
        }
        match pid {
            Ok(pid) => ProcessMetrics::for_pid(pid, "pgbouncer").collect(),
            Err(_) => Vec::new(),
        }
    }
}
