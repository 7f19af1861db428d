//! mysqld_exporter's `engine_tokudb_status`: every numeric line of `SHOW ENGINE TOKUDB STATUS` as
//! `mysql_engine_tokudb_<name>` (untyped). Not applicable where TokuDB is not installed (MariaDB 10.6
//! and later, MySQL).

use hubble::catalogue::Entry;
use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, MetricKind, Sample};

use super::{Assembly, Server};
use crate::value::number;

/// The collector.
pub struct EngineTokudbStatus {
    server: Server,
}

impl Collector for EngineTokudbStatus {
    fn name(&self) -> &str {
        "engine_tokudb_status"
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let answer = super::fetch_or_not_applicable(
            &self.server,
            "SHOW ENGINE TOKUDB STATUS",
            "the TokuDB engine",
        )
        .await?;
        Ok(statuses(&answer))
    }
}

/// A status name as upstream turns it into a metric name: lower case; `>`, `,`, `:`, `(`, `)` dropped;
/// spaces and `-` as `_`; `+` and `/` as `and`.
fn name(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.to_lowercase().chars() {
        match c {
            '>' | ',' | ':' | '(' | ')' => {}
            ' ' | '-' => out.push('_'),
            '+' | '/' => out.push_str("and"),
            c => out.push(c),
        }
    }
    out
}

/// The rows (`Type`, `Name`, `Status`) whose status is a number.
pub fn statuses(answer: &TextRows) -> Vec<Sample> {
    answer
        .rows
        .iter()
        .filter_map(|row| {
            let key = row.get(1)?.as_deref()?;
            let value = number(row.get(2)?.as_deref()?)?;
            Some(Sample::new(
                format!("mysql_engine_tokudb_{}", name(key)),
                "Generic metric from SHOW ENGINE TOKUDB STATUS.",
                MetricKind::Untyped,
                value,
            ))
        })
        .collect()
}

/// `--collect.engine_tokudb_status`.
pub(crate) const COLLECTOR: Entry<Assembly> = Entry::off(
    "engine_tokudb_status",
    "TokuDB's status (SHOW ENGINE TOKUDB STATUS)",
    |a| {
        let server = a.server.clone();
        a.add(EngineTokudbStatus { server });
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    #[test]
    fn names_as_upstream() {
        let answer = rows(
            &["Type", "Name", "Status"],
            &[
                &["TokuDB", "cachetable: size current", "1024"],
                &["TokuDB", "ft: promotion: stopped at height 1", "3"],
                &["TokuDB", "db opens (r+w)", "2"],
                &["TokuDB", "time of environment creation", "Mon Jan  1"],
            ],
        );
        assert_eq!(
            lines(&statuses(&answer)),
            [
                "untyped mysql_engine_tokudb_cachetable_size_current{} 1024",
                "untyped mysql_engine_tokudb_db_opens_randw{} 2",
                "untyped mysql_engine_tokudb_ft_promotion_stopped_at_height_1{} 3",
            ]
        );
    }
}
