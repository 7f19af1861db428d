//! `SHOW pool_processes` and `SHOW pool_pools`, counted: a row per child process or connection slot is too
//! many series, so pgpool2_exporter exports how many are in use, by user and database. Counted here the same
//! way, over the rows as text.

use std::collections::BTreeMap;

use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use crate::Pool;

/// A cell by column name; empty where the column or the value is missing.
fn cell<'a>(answer: &'a TextRows, row: &'a [Option<String>], column: &str) -> &'a str {
    answer
        .column(column)
        .and_then(|i| row.get(i)?.as_deref())
        .unwrap_or("")
}

async fn show(pool: &Pool, what: &str) -> Result<TextRows, CollectError> {
    TextRows::fetch(pool, &format!("SHOW {what}"))
        .await
        .map_err(|e| CollectError::Source(format!("SHOW {what}: {e}").into()))
}

fn gauge(name: &'static str, help: &'static str, value: f64) -> Sample {
    Sample::gauge(name, help, value)
}

fn desc(name: &'static str, help: &'static str, labels: &[&'static str]) -> Family {
    Family::new(name, help, MetricKind::Gauge, labels.to_vec())
}

const FRONTEND_USED: &str = "Number of used child processes";
const FRONTEND_TOTAL: &str = "Number of total child processed";
const FRONTEND_RATIO: &str = "Ratio of child processes to total processes";

/// `pgpool2_frontend_*`: Pgpool-II's child processes, and those serving a client, by user and database.
pub struct Processes(pub Pool);

impl Collector for Processes {
    fn name(&self) -> &str {
        "pool_processes"
    }

    fn families(&self) -> Vec<Family> {
        vec![
            desc(
                "pgpool2_frontend_used",
                FRONTEND_USED,
                &["username", "database"],
            ),
            desc("pgpool2_frontend_total", FRONTEND_TOTAL, &[]),
            desc("pgpool2_frontend_used_ratio", FRONTEND_RATIO, &[]),
        ]
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let answer = show(&self.0, "pool_processes").await?;
        let mut used: BTreeMap<(&str, &str), u32> = BTreeMap::new();
        for row in &answer.rows {
            let (database, user) = (
                cell(&answer, row, "database"),
                cell(&answer, row, "username"),
            );
            if !database.is_empty() && !user.is_empty() {
                *used.entry((user, database)).or_default() += 1;
            }
        }
        let total = answer.rows.len() as f64;
        let in_use: u32 = used.values().sum();
        let mut out: Vec<Sample> = used
            .iter()
            .map(|((user, database), n)| {
                gauge("pgpool2_frontend_used", FRONTEND_USED, f64::from(*n))
                    .label("username", *user)
                    .label("database", *database)
            })
            .collect();
        out.push(gauge("pgpool2_frontend_total", FRONTEND_TOTAL, total));
        out.push(gauge(
            "pgpool2_frontend_used_ratio",
            FRONTEND_RATIO,
            f64::from(in_use) / total,
        ));
        Ok(out)
    }
}

const SLOTS_IN_USE: &str = "Number of backend connection slots in use";
const SLOTS_TOTAL: &str = "Number of total possible backend connection slots";
const SLOTS_RATIO: &str = "Ratio of backend connections in use to total backend connection slots";

/// `pgpool2_backend_*`: the backend connection slots of every child process, and those in use.
pub struct Pools(pub Pool);

impl Collector for Pools {
    fn name(&self) -> &str {
        "pool_pools"
    }

    fn families(&self) -> Vec<Family> {
        let by_slot = ["pool_pid", "pool_id", "backend_id", "username", "database"];
        vec![
            desc("pgpool2_backend_by_process_used", SLOTS_IN_USE, &by_slot),
            desc(
                "pgpool2_backend_by_process_used_ratio",
                SLOTS_IN_USE,
                &["pool_pid"],
            ),
            desc(
                "pgpool2_backend_by_process_total",
                SLOTS_IN_USE,
                &["pool_pid"],
            ),
            desc("pgpool2_backend_total", SLOTS_TOTAL, &[]),
            desc("pgpool2_backend_used", SLOTS_IN_USE, &[]),
            desc("pgpool2_backend_used_ratio", SLOTS_RATIO, &[]),
        ]
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let answer = show(&self.0, "pool_pools").await?;
        let mut slots: BTreeMap<&str, f64> = BTreeMap::new();
        let mut in_use: BTreeMap<[&str; 5], u32> = BTreeMap::new();
        for row in &answer.rows {
            let get = |column| cell(&answer, row, column);
            if !get("pool_pid").is_empty() {
                *slots.entry(get("pool_pid")).or_default() += 1.0;
            }
            if !get("username").is_empty() {
                let key = ["pool_pid", "pool_id", "backend_id", "username", "database"].map(get);
                *in_use.entry(key).or_default() += 1;
            }
        }
        let mut out = Vec::new();
        let mut used_by_process: BTreeMap<&str, f64> = BTreeMap::new();
        for (key, n) in &in_use {
            let names = ["pool_pid", "pool_id", "backend_id", "username", "database"];
            let metric = names.iter().zip(key).fold(
                gauge(
                    "pgpool2_backend_by_process_used",
                    SLOTS_IN_USE,
                    f64::from(*n),
                ),
                |m, (name, value)| m.label(*name, *value),
            );
            out.push(metric);
            // pgpool2_exporter counts the distinct slots in use of a process, as here.
            *used_by_process.entry(key[0]).or_default() += 1.0;
        }
        for (pid, used) in &used_by_process {
            let total = slots.get(pid).copied().unwrap_or(0.0);
            out.push(
                gauge(
                    "pgpool2_backend_by_process_used_ratio",
                    SLOTS_IN_USE,
                    used / total,
                )
                .label("pool_pid", *pid),
            );
            out.push(
                gauge("pgpool2_backend_by_process_total", SLOTS_IN_USE, total)
                    .label("pool_pid", *pid),
            );
        }
        let total: f64 = slots.values().sum();
        let used = f64::from(in_use.values().sum::<u32>());
        out.push(gauge("pgpool2_backend_total", SLOTS_TOTAL, total));
        out.push(gauge("pgpool2_backend_used", SLOTS_IN_USE, used));
        out.push(gauge(
            "pgpool2_backend_used_ratio",
            SLOTS_RATIO,
            used / total,
        ));
        Ok(out)
    }
}
