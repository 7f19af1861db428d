//! mysqld_exporter's `info_schema.query_response_time`: the query response time plugin's histograms.

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::{Assembly, Server};
use crate::value::number;

/// The query response time plugin's tables (MariaDB's and Percona Server's), each a histogram family; the
/// read and write ones exist on Percona Server only.
const RESPONSE_TIMES: [(&str, &str); 3] = [
    (
        "QUERY_RESPONSE_TIME",
        "mysql_info_schema_query_response_time_seconds",
    ),
    (
        "QUERY_RESPONSE_TIME_READ",
        "mysql_info_schema_read_query_response_time_seconds",
    ),
    (
        "QUERY_RESPONSE_TIME_WRITE",
        "mysql_info_schema_write_query_response_time_seconds",
    ),
];
const RESPONSE_TIME_HELP: &str = "Query response times, from the query_response_time plugin";

/// `information_schema.query_response_time`: where the plugin is installed and `query_response_time_stats`
/// is on, the distribution of query times as a histogram; elsewhere not applicable, with the reason.
pub struct QueryResponseTime {
    server: Server,
}

impl Collector for QueryResponseTime {
    fn name(&self) -> &str {
        "info_schema.query_response_time"
    }

    fn families(&self) -> Vec<Family> {
        RESPONSE_TIMES
            .iter()
            .map(|(_, f)| {
                Family::new(
                    *f,
                    RESPONSE_TIME_HELP,
                    MetricKind::Histogram,
                    Vec::<&str>::new(),
                )
            })
            .collect()
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let on = TextRows::fetch(&self.server, "SELECT @@query_response_time_stats")
            .await
            .ok()
            .and_then(|r| r.rows.first()?.first()?.clone());
        match on.as_deref().and_then(number) {
            None => {
                return Err(CollectError::NotApplicable(
                    "the query_response_time plugin is not installed (INSTALL SONAME 'query_response_time')".into(),
                ))
            }
            Some(0.0) => {
                return Err(CollectError::NotApplicable("query_response_time_stats is OFF".into()))
            }
            Some(_) => {}
        }
        let mut out = Vec::new();
        for (i, (table, family)) in RESPONSE_TIMES.iter().enumerate() {
            let sql = format!("SELECT TIME, COUNT, TOTAL FROM INFORMATION_SCHEMA.{table}");
            match TextRows::fetch(&self.server, &sql).await {
                Ok(answer) => out.push(response_times(family, &answer)?),
                // The read and write tables are Percona Server's.
                Err(_) if i > 0 => {}
                Err(e) => return Err(CollectError::Source(format!("{sql}: {e}").into())),
            }
        }
        Ok(out)
    }
}

/// A response time table as a histogram: each row a bucket (its time the upper bound, in seconds), counts
/// accumulated; the `TOO LONG` row counts in the total only.
pub fn response_times(family: &'static str, answer: &TextRows) -> Result<Sample, CollectError> {
    let (mut count, mut sum, mut buckets) = (0u64, 0.0, Vec::new());
    for row in &answer.rows {
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let n: u64 = cell(1).trim().parse().unwrap_or(0);
        count += n;
        sum += cell(2).trim().parse::<f64>().unwrap_or(0.0);
        match cell(0).trim().parse::<f64>() {
            Ok(bound) if bound > 0.0 => buckets.push((bound, count)),
            _ => {}
        }
    }
    let histogram = hubble::Histogram::new(buckets, sum, count)
        .map_err(|e| CollectError::Decode(format!("{family}: {e}")))?;
    Ok(Sample::histogram(family, RESPONSE_TIME_HELP, histogram))
}

/// `--collect.info_schema.query_response_time`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::on(
    "info_schema.query_response_time",
    "Query response time histograms (the query_response_time plugin)",
    |a| {
        let server = a.server.clone();
        a.add(QueryResponseTime { server });
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::rows;

    #[test]
    fn response_times_are_a_histogram() {
        let answer = rows(
            &["TIME", "COUNT", "TOTAL"],
            &[
                &["      0.000001", "1", "      0.000000"],
                &["      0.000010", "3", "      0.000020"],
                &["      1.000000", "2", "      1.500000"],
                &["TOO LONG", "1", "TOO LONG"],
            ],
        );
        let m = response_times("mysql_info_schema_query_response_time_seconds", &answer).unwrap();
        let h = m.histogram.unwrap();
        assert_eq!(h.buckets(), [(0.000001, 1), (0.00001, 4), (1.0, 6)]);
        assert_eq!((h.count(), h.sum()), (7, 1.50002));
    }
}
