//! mysqld_exporter's `engine_innodb_status`: the queries inside InnoDB and in its queue, and the read views
//! open, read from the text of `SHOW ENGINE INNODB STATUS`.

use hubble::catalogue::Entry;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::{rows, Assembly, Server};

const INSIDE: (&str, &str) = (
    "mysql_engine_innodb_queries_inside_innodb",
    "Queries inside InnoDB.",
);
const QUEUED: (&str, &str) = ("mysql_engine_innodb_queries_in_queue", "Queries in queue.");
const VIEWS: (&str, &str) = (
    "mysql_engine_innodb_read_views_open_inside_innodb",
    "Read views open inside InnoDB.",
);

/// The collector.
pub struct EngineInnodbStatus {
    server: Server,
}

impl Collector for EngineInnodbStatus {
    fn name(&self) -> &str {
        "engine_innodb_status"
    }

    fn families(&self) -> Vec<Family> {
        [INSIDE, QUEUED, VIEWS]
            .into_iter()
            .map(|(name, help)| Family::new(name, help, MetricKind::Gauge, Vec::<&str>::new()))
            .collect()
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let answer = rows(&self.server, "SHOW ENGINE INNODB STATUS").await?;
        let status = answer
            .rows
            .first()
            .and_then(|r| r.get(2).cloned().flatten())
            .unwrap_or_default();
        Ok(parse(&status))
    }
}

/// The numbers before `queries inside InnoDB, ` / `queries in queue` and `read views open inside InnoDB`.
pub fn parse(status: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in status.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let number_before = |phrase: &[&str]| -> Option<f64> {
            let at = words.windows(phrase.len()).position(|w| w == phrase)?;
            words
                .get(at.checked_sub(1)?)?
                .trim_end_matches(',')
                .parse()
                .ok()
        };
        if let (Some(inside), Some(queued)) = (
            number_before(&["queries", "inside", "InnoDB,"]),
            number_before(&["queries", "in", "queue"]),
        ) {
            out.push(Sample::gauge(INSIDE.0, INSIDE.1, inside));
            out.push(Sample::gauge(QUEUED.0, QUEUED.1, queued));
        } else if let Some(views) = number_before(&["read", "views", "open", "inside", "InnoDB"]) {
            out.push(Sample::gauge(VIEWS.0, VIEWS.1, views));
        }
    }
    out
}

/// `--collect.engine_innodb_status`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "engine_innodb_status",
    "Queries inside InnoDB and read views open (SHOW ENGINE INNODB STATUS)",
    |a| {
        let server = a.server.clone();
        a.add(EngineInnodbStatus { server });
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::lines;

    #[test]
    fn the_status_text() {
        let status = "--------------\nROW OPERATIONS\n--------------\n\
                      2 queries inside InnoDB, 1 queries in queue\n1 read views open inside InnoDB\n\
                      Process ID=1, Main thread ID=2, state: sleeping\n";
        assert_eq!(
            lines(&parse(status)),
            [
                "gauge mysql_engine_innodb_queries_in_queue{} 1",
                "gauge mysql_engine_innodb_queries_inside_innodb{} 2",
                "gauge mysql_engine_innodb_read_views_open_inside_innodb{} 1",
            ]
        );
    }
}
