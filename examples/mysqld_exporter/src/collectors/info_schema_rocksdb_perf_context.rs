//! mysqld_exporter's `info_schema.rocksdb_perf_context`: MyRocks' per-table performance counters from
//! `information_schema.ROCKSDB_PERF_CONTEXT`, one family per counter upstream knows
//! (`mysql_info_schema_rocksdb_perf_context_<stat>{schema,table,part}`). Not applicable where MyRocks is
//! not installed.

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::{Assembly, Server};
use crate::value::number;

/// The `STAT_TYPE`s exported, as upstream lists them.
const STATS: [&str; 23] = [
    "USER_KEY_COMPARISON_COUNT",
    "BLOCK_CACHE_HIT_COUNT",
    "BLOCK_READ_COUNT",
    "BLOCK_READ_BYTE",
    "GET_READ_BYTES",
    "MULTIGET_READ_BYTES",
    "ITER_READ_BYTES",
    "INTERNAL_KEY_SKIPPED_COUNT",
    "INTERNAL_DELETE_SKIPPED_COUNT",
    "INTERNAL_RECENT_SKIPPED_COUNT",
    "INTERNAL_MERGE_COUNT",
    "GET_FROM_MEMTABLE_COUNT",
    "SEEK_ON_MEMTABLE_COUNT",
    "NEXT_ON_MEMTABLE_COUNT",
    "PREV_ON_MEMTABLE_COUNT",
    "SEEK_CHILD_SEEK_COUNT",
    "BLOOM_MEMTABLE_HIT_COUNT",
    "BLOOM_MEMTABLE_MISS_COUNT",
    "BLOOM_SST_HIT_COUNT",
    "BLOOM_SST_MISS_COUNT",
    "KEY_LOCK_WAIT_COUNT",
    "IO_BYTES_WRITTEN",
    "IO_BYTES_READ",
];
const LABELS: [&str; 3] = ["schema", "table", "part"];
const HELP: &str =
    "A MyRocks performance counter of the table, from information_schema.ROCKSDB_PERF_CONTEXT";

/// The collector.
pub struct RocksdbPerfContext {
    server: Server,
}

impl Collector for RocksdbPerfContext {
    fn name(&self) -> &str {
        "info_schema.rocksdb_perf_context"
    }

    fn families(&self) -> Vec<Family> {
        STATS
            .iter()
            .map(|s| Family::new(family(s), HELP, MetricKind::Counter, LABELS))
            .collect()
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let answer = super::fetch_or_not_applicable(
            &self.server,
            "SELECT TABLE_SCHEMA, TABLE_NAME, IFNULL(PARTITION_NAME, '') AS PARTITION_NAME, STAT_TYPE, VALUE \
             FROM information_schema.ROCKSDB_PERF_CONTEXT",
            "information_schema.ROCKSDB_PERF_CONTEXT (the MyRocks engine)",
        )
        .await?;
        Ok(counters(&answer))
    }
}

fn family(stat: &str) -> String {
    format!(
        "mysql_info_schema_rocksdb_perf_context_{}",
        stat.to_ascii_lowercase()
    )
}

/// One counter per row whose `STAT_TYPE` upstream knows.
pub fn counters(answer: &TextRows) -> Vec<Sample> {
    answer
        .rows
        .iter()
        .filter_map(|row| {
            let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let stat = cell(3);
            if !STATS.contains(&stat.as_str()) {
                return None;
            }
            let value = number(&cell(4))?;
            Some(
                Sample::counter(family(&stat), HELP, value)
                    .label("schema", cell(0))
                    .label("table", cell(1))
                    .label("part", cell(2)),
            )
        })
        .collect()
}

/// `--collect.info_schema.rocksdb_perf_context`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "info_schema.rocksdb_perf_context",
    "MyRocks per-table counters (information_schema.ROCKSDB_PERF_CONTEXT)",
    |a| {
        let server = a.server.clone();
        a.add(RocksdbPerfContext { server });
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn known_stats_only() {
        let answer = rows(
            &[
                "TABLE_SCHEMA",
                "TABLE_NAME",
                "PARTITION_NAME",
                "STAT_TYPE",
                "VALUE",
            ],
            &[
                &["app", "t", "", "BLOCK_READ_COUNT", "7"],
                &["app", "t", "", "SOMETHING_NEW", "1"],
            ],
        );
        assert_eq!(
            lines(&counters(&answer)),
            ["counter mysql_info_schema_rocksdb_perf_context_block_read_count{part=\"\",schema=\"app\",table=\"t\"} 7"]
        );
    }
}
