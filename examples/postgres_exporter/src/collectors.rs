//! Which collectors run: postgres_exporter's collector names and its `--collector.<name>` /
//! `--no-collector.<name>` flags, so its users' command lines start hubble unchanged.

use std::collections::BTreeSet;

/// One collector: postgres_exporter 0.20's, or one of hubble's own.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// Its name in the flags.
    pub name: &'static str,
    /// On unless turned off.
    pub default: bool,
}

const fn known(name: &'static str, default: bool) -> Known {
    Known { name, default }
}

/// Every collector postgres_exporter 0.20 has, with its defaults, except `postmaster`, which hubble has
/// exported from the start, and `stat_checkpointer`, without which PostgreSQL 17 and later have no
/// checkpoint series at all (they left `pg_stat_bgwriter`). Plus hubble's own: `stat_wal` (on; one row) and
/// `stat_io` (off: a few hundred series per server).
pub const COLLECTORS: &[Known] = &[
    known("buffercache_summary", false),
    known("database", true),
    known("database_wraparound", false),
    known("locks", true),
    known("long_running_transactions", false),
    known("postmaster", true),
    known("process_idle", false),
    known("replication", true),
    known("replication_slots", true),
    known("roles", true),
    known("settings", true),
    known("stat_activity", true),
    known("stat_activity_autovacuum", false),
    known("stat_archiver", true),
    known("stat_bgwriter", true),
    known("stat_checkpointer", true),
    known("stat_database", true),
    known("stat_io", false),
    known("stat_progress_vacuum", true),
    known("stat_replication", true),
    known("stat_statements", false),
    known("stat_user_tables", true),
    known("stat_wal", true),
    known("stat_wal_receiver", false),
    known("statio_user_indexes", false),
    known("statio_user_tables", true),
    known("wal", true),
    known("xlog_location", false),
];

/// The collectors turned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enabled(BTreeSet<&'static str>);

impl Default for Enabled {
    fn default() -> Self {
        Enabled(
            COLLECTORS
                .iter()
                .filter(|c| c.default)
                .map(|c| c.name)
                .collect(),
        )
    }
}

impl Enabled {
    /// Whether collector `name` runs.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// Turns `name` on or off; the error names the flag and lists the collectors.
    pub fn set(&mut self, name: &str, on: bool) -> Result<(), String> {
        let known = COLLECTORS.iter().find(|c| c.name == name).ok_or_else(|| {
            let names: Vec<&str> = COLLECTORS.iter().map(|c| c.name).collect();
            format!(
                "--collector.{name}: unknown collector; expected one of {}",
                names.join(", ")
            )
        })?;
        if on {
            self.0.insert(known.name);
        } else {
            self.0.remove(known.name);
        }
        Ok(())
    }
}

/// The `--collector.<name>` and `--no-collector.<name>` flags, hidden from `--help` (which names them once).
pub fn flags() -> Vec<clap::Arg> {
    hubble_cli::toggle_flags("collector.", COLLECTORS.iter().map(|c| c.name))
}

/// The collectors the flags in `matches` turn on; of two flags for one collector, the later wins.
pub fn from_matches(matches: &clap::ArgMatches) -> Enabled {
    let mut enabled = Enabled::default();
    for c in COLLECTORS {
        if let Some(choice) = hubble_cli::toggled(matches, "collector.", c.name) {
            enabled
                .set(c.name, choice)
                .expect("every flag names a known collector");
        }
    }
    enabled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Enabled {
        let cmd = clap::Command::new("t").args(flags());
        from_matches(&cmd.try_get_matches_from(args).unwrap())
    }

    #[test]
    fn defaults_and_flags() {
        let d = parse(&["t"]);
        assert!(
            d.contains("stat_database") && d.contains("locks") && !d.contains("stat_statements")
        );
        assert!(d.contains("stat_progress_vacuum") && !d.contains("xlog_location"));
        assert!(parse(&["t", "--collector.xlog_location"]).contains("xlog_location"));
        let e = parse(&["t", "--no-collector.locks", "--collector.stat_statements"]);
        assert!(!e.contains("locks") && e.contains("stat_statements"));
        // The later of two flags wins.
        assert!(parse(&["t", "--no-collector.locks", "--collector.locks"]).contains("locks"));
        assert!(!parse(&["t", "--collector.locks", "--no-collector.locks"]).contains("locks"));
        let unknown = clap::Command::new("t")
            .args(flags())
            .try_get_matches_from(["t", "--collector.nope"]);
        assert!(unknown.is_err());
        assert!(Enabled::default()
            .set("nope", true)
            .unwrap_err()
            .starts_with("--collector.nope: unknown collector"));
    }
}
