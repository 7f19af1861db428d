//! A query's rows as series, declared: each [`Column`] names the family one cell of every row becomes and
//! the labels it takes from the row's other cells. Most of mysqld_exporter's collectors are such a map; this
//! is the one implementation of it.

use hubble::text_rows::TextRows;
use hubble::{CollectError, Collector, Family, MetricKind, Sample};

use super::Server;
use crate::value::number;

/// Where a label's value comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum From {
    /// The row's cell in this column (column names compared without case); empty when NULL.
    Cell(&'static str),
    /// This text, the same on every row (`operation="fetch"`).
    Fixed(&'static str),
}

type Str = &'static str;
/// Label names, and where each value comes from.
type LabelsFrom = &'static [(&'static str, From)];

/// One family read from one column of each row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub family: &'static str,
    pub kind: MetricKind,
    pub help: &'static str,
    /// The column holding the value; a row whose cell is NULL or not a number gives no sample.
    pub value: &'static str,
    pub labels: LabelsFrom,
    /// The value is multiplied by it (`1e-12` turns picoseconds into seconds).
    pub scale: f64,
    /// Only rows whose cell in this column has this text give a sample.
    pub only_when: Option<(&'static str, &'static str)>,
}

impl Column {
    /// A counter of `value`, labelled by `labels`.
    pub(crate) const fn counter(family: Str, help: Str, value: Str, labels: LabelsFrom) -> Self {
        Column {
            family,
            kind: MetricKind::Counter,
            help,
            value,
            labels,
            scale: 1.0,
            only_when: None,
        }
    }

    /// A gauge of `value`, labelled by `labels`.
    pub(crate) const fn gauge(family: Str, help: Str, value: Str, labels: LabelsFrom) -> Self {
        Column {
            kind: MetricKind::Gauge,
            ..Column::counter(family, help, value, labels)
        }
    }

    /// The value times `scale`.
    pub(crate) const fn scaled(mut self, scale: f64) -> Self {
        self.scale = scale;
        self
    }

    /// Only where `column` holds `text`.
    pub(crate) const fn only_when(mut self, column: &'static str, text: &'static str) -> Self {
        self.only_when = Some((column, text));
        self
    }
}

/// The collector: one query, its rows mapped by the columns. A server without the queried table (an engine
/// or schema it lacks) makes it not applicable, with `missing` as the reason.
pub(crate) struct Columns {
    pub name: &'static str,
    pub sql: String,
    pub columns: &'static [Column],
    pub missing: &'static str,
    pub server: Server,
}

impl Collector for Columns {
    fn name(&self) -> &str {
        self.name
    }

    fn families(&self) -> Vec<Family> {
        families(self.columns)
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        let answer = super::fetch_or_not_applicable(&self.server, &self.sql, self.missing).await?;
        Ok(samples(&answer, self.columns))
    }
}

/// The families `columns` declare, each once (several columns may feed one family, by label).
pub(crate) fn families(columns: &[Column]) -> Vec<Family> {
    let mut out: Vec<Family> = Vec::new();
    for c in columns {
        if !out.iter().any(|f| f.name == c.family) {
            let labels = c.labels.iter().map(|(name, _)| *name);
            out.push(Family::new(c.family, c.help, c.kind, labels));
        }
    }
    out
}

/// Every row's samples, column by column.
pub(crate) fn samples(answer: &TextRows, columns: &[Column]) -> Vec<Sample> {
    let index = |name: &str| {
        answer
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    };
    let mut out = Vec::with_capacity(answer.rows.len() * columns.len());
    for row in &answer.rows {
        let text = |name: &str| -> &str {
            index(name)
                .and_then(|i| row.get(i)?.as_deref())
                .unwrap_or("")
        };
        for c in columns {
            if let Some((column, want)) = c.only_when {
                if text(column) != want {
                    continue;
                }
            }
            let Some(v) = number(text(c.value)) else {
                continue;
            };
            let mut sample = Sample::new(c.family, c.help, c.kind, v * c.scale);
            for (label, from) in c.labels {
                let value = match from {
                    From::Cell(column) => text(column).to_owned(),
                    From::Fixed(text) => (*text).to_owned(),
                };
                sample = sample.label(*label, value);
            }
            out.push(sample);
        }
    }
    out
}

/// `column` without the leading `prefix`, computed by the server: `IF(LEFT(..) = 'prefix', SUBSTRING(..), ..)`.
pub(crate) fn trim_prefix_sql(column: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        return column.to_owned();
    }
    let n = prefix.chars().count();
    format!(
        "IF(LEFT({column}, {n}) = {}, SUBSTRING({column}, {}), {column})",
        quote(prefix),
        n + 1
    )
}

/// `text` as an SQL string literal.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Wait counts and their timers (picoseconds, exported as seconds) per operation, as the performance
/// schema's summaries give them: `operations!(count_family, seconds_family, count_help, seconds_help,
/// (labels...), ["op" => COUNT_COLUMN, TIMER_COLUMN; ...])`.
macro_rules! operations {
    ($count:expr, $seconds:expr, $count_help:expr, $seconds_help:expr, $labels:tt,
     [$($op:literal => $count_col:literal, $timer_col:literal);* $(;)?]) => {
        &[$(
            $crate::collectors::columns::Column::counter(
                $count, $count_help, $count_col, $crate::collectors::columns::with_operation!($labels, $op),
            ),
            $crate::collectors::columns::Column::counter(
                $seconds, $seconds_help, $timer_col, $crate::collectors::columns::with_operation!($labels, $op),
            )
            .scaled(1e-12),
        )*]
    };
}

/// `labels` and `operation="<op>"`.
macro_rules! with_operation {
    (($($label:expr),* $(,)?), $op:expr) => {
        &[$($label,)* ("operation", $crate::collectors::columns::From::Fixed($op))]
    };
}
pub(crate) use {operations, with_operation};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{lines, rows};

    const WAITS: &[Column] = operations!(
        "t_waits_total",
        "t_waits_seconds_total",
        "Waits",
        "Wait time",
        (("schema", From::Cell("OBJECT_SCHEMA"))),
        ["fetch" => "count_fetch", "sum_timer_fetch"]
    );
    const ROWS: &[Column] =
        &[Column::gauge("t_rows", "Rows", "rows", &[]).only_when("kind", "base")];

    #[test]
    fn prefixes_are_trimmed_by_the_server() {
        assert_eq!(
            trim_prefix_sql("FILE_NAME", "/var/lib/mysql/"),
            "IF(LEFT(FILE_NAME, 15) = '/var/lib/mysql/', SUBSTRING(FILE_NAME, 16), FILE_NAME)"
        );
        assert_eq!(trim_prefix_sql("EVENT_NAME", ""), "EVENT_NAME");
        assert_eq!(quote("o'h\\"), "'o''h\\\\'");
    }

    #[test]
    fn cells_become_labelled_samples() {
        let answer = rows(
            &[
                "OBJECT_SCHEMA",
                "COUNT_FETCH",
                "SUM_TIMER_FETCH",
                "ROWS",
                "KIND",
            ],
            &[
                &["app", "3", "2000000000000", "9", "base"],
                &["", "x", "", "4", "view"],
            ],
        );
        assert_eq!(
            lines(&[samples(&answer, WAITS), samples(&answer, ROWS)].concat()),
            [
                "counter t_waits_seconds_total{operation=\"fetch\",schema=\"app\"} 2",
                "counter t_waits_total{operation=\"fetch\",schema=\"app\"} 3",
                "gauge t_rows{} 9",
            ]
        );
    }
}
