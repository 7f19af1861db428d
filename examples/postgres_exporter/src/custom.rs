//! Custom queries without recompiling: a postgres_exporter-compatible queries YAML (`--extend.query-path`).
//!
//! ```yaml
//! pg_replication:
//!   query: "SELECT EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())) AS lag"
//!   metrics:
//!     - lag:
//!         usage: "GAUGE"
//!         description: "Replication lag behind master in seconds"
//! ```
//!
//! Each entry becomes one collector returning [`Sample`]s, as a derived group's does: metric names are
//! `<entry>_<column>`, `LABEL` columns are labels. Supported usages: `LABEL`, `COUNTER`, `GAUGE`, `DISCARD`,
//! `MAPPEDMETRIC` (text mapped to numbers through `mapping`), `DURATION` (a duration text or interval,
//! exported in milliseconds as postgres_exporter does) and `HISTOGRAM`: column `<c>` holds the bucket upper
//! bounds (an array), `<c>_bucket` the cumulative counts (an array of the same length), `<c>_sum` and
//! `<c>_count` the sum and count, as postgres_exporter reads them. Unknown usages and keys are refused with a
//! message naming the file, the entry and the column. An entry runs once, on the target's database
//! (postgres_exporter's `master: true`), unless it says `per_database: true`: then, with
//! `--auto-discover-databases`, it runs in every database with a `datname` label.

use std::collections::BTreeMap;
use std::path::Path;

use hubble::{CollectError, Collector, Family, MetricKind, Sample};
use serde::Deserialize;
use sqlx::postgres::PgRow;
use sqlx::{Column, Row, TypeInfo};

use super::connection::PgConnections;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    query: String,
    #[serde(default)]
    metrics: Vec<BTreeMap<String, RawColumn>>,
    /// postgres_exporter's "the target's database only": what every query does unless `per_database`.
    #[serde(default)]
    master: Option<bool>,
    /// With `--auto-discover-databases`, run in every database (with a `datname` label), not once.
    #[serde(default)]
    per_database: bool,
    /// Accepted for compatibility; hubble caches every group for its interval anyway.
    #[serde(default)]
    cache_seconds: Option<u64>,
    /// Accepted for compatibility; version gating of custom queries is not supported.
    #[serde(default)]
    runonserver: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    usage: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    mapping: BTreeMap<String, f64>,
}

/// What a column is used for.
#[derive(Debug, Clone, PartialEq)]
pub enum Usage {
    /// A label.
    Label,
    /// A counter value.
    Counter,
    /// A gauge value.
    Gauge,
    /// Ignored.
    Discard,
    /// Text mapped to a number.
    Mapped(BTreeMap<String, f64>),
    /// A duration, exported in milliseconds.
    Duration,
    /// Bucket bounds; the counts, sum and count are the columns `<name>_bucket`, `_sum` and `_count`.
    Histogram,
}

/// One column of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryColumn {
    /// Column name.
    pub name: String,
    /// Usage.
    pub usage: Usage,
    /// Help text.
    pub description: String,
}

/// One entry of the queries file.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomQuery {
    /// Entry name: the metric prefix and collector name.
    pub name: String,
    /// The SQL.
    pub query: String,
    /// Its columns, in file order.
    pub columns: Vec<QueryColumn>,
    /// Runs in every database when databases are discovered (`per_database: true`).
    pub per_database: bool,
}

/// Parses a queries file; errors name the file, the entry and the column.
pub fn parse(path: &Path, text: &str) -> Result<Vec<CustomQuery>, String> {
    let file = path.display();
    let raw: BTreeMap<String, RawEntry> =
        hubble::yaml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    // Semantic errors come after serde, which has no positions left: find the entry's (and column's) line.
    let at = |name: &str, column: Option<&str>, message: &str| {
        let line = match line_of(text, name, column) {
            Some(n) => format!("line {n}: "),
            None => String::new(),
        };
        match column {
            Some(c) => format!("{file}: {line}entry `{name}`, column `{c}`: {message}"),
            None => format!("{file}: {line}entry `{name}`: {message}"),
        }
    };
    let mut out = Vec::new();
    for (name, entry) in raw {
        let _ = (entry.cache_seconds, entry.runonserver);
        if entry.per_database && entry.master == Some(true) {
            return Err(at(
                &name,
                None,
                "master: true (the target's database only) and per_database: true (every database) contradict",
            ));
        }
        if !hubble::is_valid_metric_name(&name) {
            return Err(at(&name, None, "not a valid metric name prefix"));
        }
        if entry.query.trim().is_empty() {
            return Err(at(&name, None, "empty query"));
        }
        let mut columns = Vec::new();
        for map in entry.metrics {
            for (column, c) in map {
                let usage = match c.usage.to_ascii_uppercase().as_str() {
                    "LABEL" => Usage::Label,
                    "COUNTER" => Usage::Counter,
                    "GAUGE" => Usage::Gauge,
                    "DISCARD" => Usage::Discard,
                    "DURATION" => Usage::Duration,
                    "MAPPEDMETRIC" => {
                        if c.mapping.is_empty() {
                            return Err(at(&name, Some(&column), "MAPPEDMETRIC needs a `mapping`"));
                        }
                        Usage::Mapped(c.mapping)
                    }
                    "HISTOGRAM" => Usage::Histogram,
                    other => {
                        return Err(at(
                            &name,
                            Some(&column),
                            &format!(
                                "unknown usage `{other}` \
                                 (expected LABEL, COUNTER, GAUGE, DISCARD, MAPPEDMETRIC, DURATION or HISTOGRAM)"
                            ),
                        ))
                    }
                };
                let metric = format!("{name}_{column}");
                if usage != Usage::Label
                    && usage != Usage::Discard
                    && !hubble::is_valid_metric_name(&metric)
                {
                    return Err(at(
                        &name,
                        Some(&column),
                        &format!("`{metric}` is not a valid metric name"),
                    ));
                }
                if usage == Usage::Label && !hubble::is_valid_label_name(&column) {
                    return Err(at(&name, Some(&column), "not a valid label name"));
                }
                if usage == Usage::Label && hubble::is_reserved_label_name(&column) {
                    return Err(at(
                        &name,
                        Some(&column),
                        "is a reserved label name (le, quantile and __* belong to Prometheus)",
                    ));
                }
                columns.push(QueryColumn {
                    name: column,
                    usage,
                    description: c.description,
                });
            }
        }
        if !columns
            .iter()
            .any(|c| !matches!(c.usage, Usage::Label | Usage::Discard))
        {
            return Err(at(
                &name,
                None,
                "no value column (COUNTER, GAUGE, MAPPEDMETRIC, DURATION or HISTOGRAM)",
            ));
        }
        out.push(CustomQuery {
            name,
            query: entry.query,
            columns,
            per_database: entry.per_database,
        });
    }
    Ok(out)
}

/// The 1-based line of top-level key `name`, or of key `column` inside it when given.
fn line_of(text: &str, name: &str, column: Option<&str>) -> Option<usize> {
    let is_key = |line: &str, key: &str| {
        [
            format!("{key}:"),
            format!("\"{key}\":"),
            format!("'{key}':"),
        ]
        .iter()
        .any(|k| line.starts_with(k.as_str()))
    };
    let mut lines = text.lines().enumerate();
    let (entry, _) = lines.by_ref().find(|(_, l)| is_key(l, name))?;
    let Some(column) = column else {
        return Some(entry + 1);
    };
    for (i, line) in lines {
        // The next top-level key ends the entry.
        if line.starts_with(|c: char| !c.is_whitespace() && c != '#') {
            break;
        }
        if is_key(
            line.trim_start().trim_start_matches("- ").trim_start(),
            column,
        ) {
            return Some(i + 1);
        }
    }
    Some(entry + 1)
}

/// Reads and parses a queries file.
pub fn load(path: &Path) -> Result<Vec<CustomQuery>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(path, &text)
}

/// postgres_exporter's `--metric-prefix`: the first `pg` in each entry's name becomes `prefix`, as
/// postgres_exporter replaces it in its query namespaces.
pub fn with_metric_prefix(mut queries: Vec<CustomQuery>, prefix: &str) -> Vec<CustomQuery> {
    if prefix != "pg" {
        for q in &mut queries {
            q.name = q.name.replacen("pg", prefix, 1);
        }
    }
    queries
}

/// A custom query as a collector.
///
/// Where the target's statements are batched, the query goes in the batch (one round trip and one
/// connection per target, its rows read as text) when it is one statement `PREPARE` takes. A query whose
/// answer in text does not decode as its typed answer does (an `INTERVAL` column: the driver reads those
/// only in binary) runs on its own from the first time that happens.
pub struct CustomCollector {
    query: CustomQuery,
    connections: PgConnections,
    /// Whether the query may go in the batch at all (one statement that `PREPARE` takes).
    batchable: bool,
    /// Whether it still goes in the batch.
    in_batch: crate::connection::InBatch,
}

impl CustomCollector {
    /// `query` over a target's shared `connections`.
    pub fn new(query: CustomQuery, connections: PgConnections) -> Self {
        let batchable = preparable(&query.query);
        CustomCollector {
            query,
            connections,
            batchable,
            in_batch: crate::connection::InBatch::default(),
        }
    }
}

/// Whether `sql` is a single statement that `PREPARE` takes (a query, not a utility command such as
/// `SHOW`), judged by its first word; a `;` before the end means more than one statement. (A `;` inside a
/// literal or a comment makes a query look like more; it then runs on its own, as before.)
fn preparable(sql: &str) -> bool {
    let sql = sql.trim().trim_end_matches(';');
    let first = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    ["select", "with", "values", "table"]
        .iter()
        .any(|k| first.eq_ignore_ascii_case(k))
        && !sql.contains(';')
}

enum Cell {
    Null,
    Number(f64),
    Text(String),
}

fn cell(row: &PgRow, column: &str) -> Result<Cell, String> {
    let col = row
        .try_column(column)
        .map_err(|_| format!("the query returns no column `{column}`"))?;
    let ty = col.type_info().name().to_owned();
    let err = |e: sqlx::Error| format!("column `{column}` ({ty}): {e}");
    Ok(match ty.as_str() {
        "INT2" => row
            .try_get::<Option<i16>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, |v| Cell::Number(v.into())),
        "INT4" => row
            .try_get::<Option<i32>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, |v| Cell::Number(v.into())),
        "INT8" => row
            .try_get::<Option<i64>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, |v| Cell::Number(v as f64)),
        "FLOAT4" => row
            .try_get::<Option<f32>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, |v| Cell::Number(v.into())),
        "FLOAT8" => row
            .try_get::<Option<f64>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, Cell::Number),
        "NUMERIC" => row
            .try_get::<Option<rust_decimal::Decimal>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, |v| Cell::Number(decimal_number(v))),
        "BOOL" => row
            .try_get::<Option<bool>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, |v| Cell::Number(if v { 1.0 } else { 0.0 })),
        "OID" => row
            .try_get::<Option<sqlx::postgres::types::Oid>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, |v| Cell::Number(v.0.into())),
        "TIMESTAMPTZ" => row
            .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, |v| {
                Cell::Number(v.timestamp_micros() as f64 / 1e6)
            }),
        "INTERVAL" => row
            .try_get::<Option<sqlx::postgres::types::PgInterval>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, |v| {
                let days = f64::from(v.months) * 30.0 + f64::from(v.days);
                Cell::Number(days * 86_400_000.0 + v.microseconds as f64 / 1000.0)
            }),
        "TEXT" | "VARCHAR" | "NAME" | "BPCHAR" | "CHAR" => row
            .try_get::<Option<String>, _>(column)
            .map_err(err)?
            .map_or(Cell::Null, Cell::Text),
        other => {
            return Err(format!(
                "column `{column}` has type {other}; cast it to text or a number in the query"
            ))
        }
    })
}

/// A numeric array column: a histogram's bounds or counts. `None` for NULL.
fn array_cell(row: &PgRow, column: &str) -> Result<Option<Vec<f64>>, String> {
    let col = row
        .try_column(column)
        .map_err(|_| format!("the query returns no column `{column}` (a HISTOGRAM needs it)"))?;
    let ty = col.type_info().name().to_owned();
    let err = |e: sqlx::Error| format!("column `{column}` ({ty}): {e}");
    fn all<T: Copy>(v: Option<Vec<T>>, f: impl Fn(T) -> f64) -> Option<Vec<f64>> {
        v.map(|v| v.into_iter().map(f).collect())
    }
    Ok(match ty.as_str() {
        "INT2[]" => all(row.try_get::<Option<Vec<i16>>, _>(column).map_err(err)?, f64::from),
        "INT4[]" => all(row.try_get::<Option<Vec<i32>>, _>(column).map_err(err)?, f64::from),
        #[allow(clippy::cast_precision_loss)]
        "INT8[]" => all(row.try_get::<Option<Vec<i64>>, _>(column).map_err(err)?, |v| v as f64),
        "FLOAT4[]" => all(row.try_get::<Option<Vec<f32>>, _>(column).map_err(err)?, f64::from),
        "FLOAT8[]" => all(row.try_get::<Option<Vec<f64>>, _>(column).map_err(err)?, |v| v),
        "NUMERIC[]" => all(
            row.try_get::<Option<Vec<rust_decimal::Decimal>>, _>(column)
                .map_err(err)?,
            decimal_number,
        ),
        other => {
            return Err(format!(
                "column `{column}` has type {other}; a HISTOGRAM needs a numeric array (e.g. ARRAY_AGG(le))"
            ))
        }
    })
}

/// A row of a custom query's answer: the driver's (typed, or text-format with its types), or text read over
/// the exporter's own connection with its columns' types ([`TextRow`]). Both read a column the same way.
trait QueryRow {
    /// Column `column`'s value.
    fn cell(&self, column: &str) -> Result<Cell, String>;
    /// A numeric array column: a histogram's bounds or counts. `None` for NULL.
    fn array_cell(&self, column: &str) -> Result<Option<Vec<f64>>, String>;
}

impl QueryRow for PgRow {
    fn cell(&self, column: &str) -> Result<Cell, String> {
        cell(self, column)
    }

    fn array_cell(&self, column: &str) -> Result<Option<Vec<f64>>, String> {
        array_cell(self, column)
    }
}

/// A row read as text over the exporter's own connection, with its answer's column names and type OIDs.
struct TextRow<'a> {
    columns: &'a [&'a str],
    types: &'a [u32],
    cells: &'a [Option<&'a str>],
}

/// Type OIDs of `pg_type` that custom queries' columns are read as.
mod oid {
    pub const BOOL: u32 = 16;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const INT2_ARRAY: u32 = 1005;
    pub const INT4_ARRAY: u32 = 1007;
    pub const INT8_ARRAY: u32 = 1016;
    pub const FLOAT4_ARRAY: u32 = 1021;
    pub const FLOAT8_ARRAY: u32 = 1022;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC_ARRAY: u32 = 1231;
    pub const NUMERIC: u32 = 1700;
}

impl<'a> TextRow<'a> {
    /// Column `column`'s type and text.
    fn find(&self, column: &str, missing: &str) -> Result<(u32, Option<&'a str>), String> {
        let i = self
            .columns
            .iter()
            .position(|c| *c == column)
            .ok_or_else(|| format!("the query returns no column `{column}`{missing}"))?;
        Ok((self.types[i], self.cells.get(i).copied().flatten()))
    }
}

/// A `numeric` as a sample value, whether it came typed or as text: through a `Decimal`.
fn decimal_number(d: rust_decimal::Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(f64::NAN)
}

impl QueryRow for TextRow<'_> {
    fn cell(&self, column: &str) -> Result<Cell, String> {
        let (ty, text) = self.find(column, "")?;
        let Some(text) = text else {
            return Ok(Cell::Null);
        };
        let err = |e: String| format!("column `{column}` (type {ty}): {e}");
        Ok(match ty {
            oid::INT2 | oid::INT4 | oid::INT8 | oid::OID => {
                Cell::Number(text.parse::<i64>().map_err(|e| err(e.to_string()))? as f64)
            }
            oid::FLOAT4 => Cell::Number(f64::from(
                <f32 as hubble::FromText>::from_text(Some(text)).map_err(err)?,
            )),
            oid::FLOAT8 => {
                Cell::Number(<f64 as hubble::FromText>::from_text(Some(text)).map_err(err)?)
            }
            oid::NUMERIC => Cell::Number(decimal_number(
                <rust_decimal::Decimal as hubble::FromText>::from_text(Some(text)).map_err(err)?,
            )),
            oid::BOOL => Cell::Number(match text {
                "t" => 1.0,
                "f" => 0.0,
                other => return Err(err(format!("{other:?} is not a boolean"))),
            }),
            // ISO with the session's UTC zone: `2026-01-02 03:04:05.5+00`.
            oid::TIMESTAMPTZ => {
                let t = chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z")
                    .map_err(|e| err(format!("{text:?}: {e}")))?;
                Cell::Number(t.timestamp_micros() as f64 / 1e6)
            }
            oid::TEXT | oid::VARCHAR | oid::NAME | oid::BPCHAR | oid::CHAR => {
                Cell::Text(text.to_owned())
            }
            // Read by the driver in binary only (an interval, say): the query then runs on its own.
            other => {
                return Err(format!(
                    "column `{column}` has type {other}, not read as text here; it runs on its own"
                ))
            }
        })
    }

    fn array_cell(&self, column: &str) -> Result<Option<Vec<f64>>, String> {
        let (ty, text) = self.find(column, " (a HISTOGRAM needs it)")?;
        let Some(text) = text else {
            return Ok(None);
        };
        /// The array of `T`s `text` holds, as numbers.
        fn all<T>(text: &str, f: impl Fn(T) -> f64) -> Result<Vec<f64>, String>
        where
            Vec<T>: hubble::FromText,
        {
            <Vec<T> as hubble::FromText>::from_text(Some(text))
                .map(|v| v.into_iter().map(f).collect())
        }
        let numbers = match ty {
            oid::INT2_ARRAY | oid::INT4_ARRAY | oid::INT8_ARRAY => all(text, |v: i64| v as f64),
            oid::FLOAT4_ARRAY => all(text, |v: f32| f64::from(v)),
            oid::FLOAT8_ARRAY => all(text, |v: f64| v),
            oid::NUMERIC_ARRAY => all(text, decimal_number),
            other => {
                return Err(format!(
                    "column `{column}` has type {other}; a HISTOGRAM needs a numeric array (e.g. ARRAY_AGG(le))"
                ))
            }
        };
        numbers
            .map(Some)
            .map_err(|e| format!("column `{column}` (type {ty}): {e}"))
    }
}

/// A number cell (a histogram's sum or count); `None` for NULL.
fn number_cell(row: &impl QueryRow, column: &str) -> Result<Option<f64>, String> {
    match row.cell(column)? {
        Cell::Null => Ok(None),
        Cell::Number(n) => Ok(Some(n)),
        Cell::Text(t) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("column `{column}`: {t:?} is not a number")),
    }
}

/// The histogram of column `column` in `row` of custom query `query`, from it and its `_bucket`, `_sum` and
/// `_count` columns.
fn histogram_cell(
    row: &impl QueryRow,
    query: &str,
    column: &str,
) -> Result<Option<hubble::Histogram>, CollectError> {
    let decode = |e: String| CollectError::Decode(format!("custom query `{query}`: {e}"));
    let bounds = row.array_cell(column).map_err(decode)?;
    let counts = row
        .array_cell(&format!("{column}_bucket"))
        .map_err(decode)?;
    let sum = number_cell(row, &format!("{column}_sum")).map_err(decode)?;
    let count = number_cell(row, &format!("{column}_count")).map_err(decode)?;
    // Files written for postgres_exporter are taken as it takes them (see Histogram::as_given).
    hubble::Histogram::from_columns_as_given(&bounds, &counts, &sum, &count).map_err(|source| {
        CollectError::Value {
            column: column.to_owned().into(),
            source,
        }
    })
}

/// `"1h2m3.5s"`-style or plain-millisecond text to milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    if let Ok(v) = text.trim().parse::<f64>() {
        return Some(v);
    }
    humantime::parse_duration(text.trim())
        .ok()
        .map(|d| d.as_secs_f64() * 1000.0)
}

impl Collector for CustomCollector {
    fn name(&self) -> &str {
        &self.query.name
    }

    fn families(&self) -> Vec<Family> {
        let labels: Vec<String> = self
            .query
            .columns
            .iter()
            .filter(|c| c.usage == Usage::Label)
            .map(|c| c.name.clone())
            .collect();
        self.query
            .columns
            .iter()
            .filter(|c| !matches!(c.usage, Usage::Label | Usage::Discard))
            .map(|c| {
                let kind = match c.usage {
                    Usage::Counter => MetricKind::Counter,
                    Usage::Histogram => MetricKind::Histogram,
                    _ => MetricKind::Gauge,
                };
                Family::new(
                    format!("{}_{}", self.query.name, c.name),
                    c.description.clone(),
                    kind,
                    labels.clone(),
                )
            })
            .collect()
    }

    async fn collect(&self) -> Result<Vec<Sample>, CollectError> {
        if self.batchable && self.connections.is_batched() && self.in_batch.stays() {
            let failed = |e: sqlx::Error| {
                self.in_batch.note(&self.query.name, &e);
                self.source_error(e)
            };
            let sql = self.query.query.clone();
            // Read as text where it arrived over the target's own connection, else the driver's rows.
            let samples = if self.connections.is_over_wire() {
                let text = self.connections.fetch_text(sql).await.map_err(failed)?;
                self.text_samples(&text)
            } else {
                let rows = self.connections.fetch_batched(sql).await.map_err(failed)?;
                self.samples(&rows)
            };
            return self.or_alone(samples).await;
        }
        self.typed().await
    }
}

impl CustomCollector {
    /// A batched answer's samples; where they could not be read from text, the query on its own.
    async fn or_alone(
        &self,
        samples: Result<Vec<Sample>, CollectError>,
    ) -> Result<Vec<Sample>, CollectError> {
        match samples {
            Err(CollectError::Decode(why)) => {
                // Read as text the way the typed answer is read, except for the types the driver decodes
                // only in binary: asked on its own, and so from now on if that answers.
                let typed = self.typed().await;
                if typed.is_ok() {
                    self.in_batch.leave(&self.query.name, &why);
                }
                typed
            }
            other => other,
        }
    }

    fn source_error(&self, e: sqlx::Error) -> CollectError {
        CollectError::Source(format!("custom query `{}`: {e}", self.query.name).into())
    }

    /// The query on its own, with typed (binary) values.
    async fn typed(&self) -> Result<Vec<Sample>, CollectError> {
        let rows = self
            .connections
            .fetch_all(sqlx::query(&self.query.query))
            .await
            .map_err(|e| self.source_error(e))?;
        self.samples(&rows)
    }

    /// The samples of `rows`, typed or text.
    fn samples(&self, rows: &[PgRow]) -> Result<Vec<Sample>, CollectError> {
        let mut out = Vec::new();
        for row in rows {
            self.push_row(row, &mut out)?;
        }
        Ok(out)
    }

    /// The samples of an answer read as text over the exporter's own connection.
    fn text_samples(
        &self,
        text: &hubble::text_rows::StatementText,
    ) -> Result<Vec<Sample>, CollectError> {
        let columns = text.columns().map_err(|e| self.source_error(e))?;
        let types = text
            .column_types()
            .map_err(|e| self.source_error(e))?
            .unwrap_or_default();
        let mut out = Vec::new();
        text.try_for_each_row(|cells| {
            let row = TextRow {
                columns: &columns,
                types: &types,
                cells,
            };
            self.push_row(&row, &mut out)
        })?;
        Ok(out)
    }

    /// Appends `row`'s samples to `out`.
    fn push_row(&self, row: &impl QueryRow, out: &mut Vec<Sample>) -> Result<(), CollectError> {
        let name = &self.query.name;
        {
            let mut labels = hubble::Labels::new();
            for c in self
                .query
                .columns
                .iter()
                .filter(|c| c.usage == Usage::Label)
            {
                let v = match row
                    .cell(&c.name)
                    .map_err(|e| CollectError::Decode(format!("custom query `{name}`: {e}")))?
                {
                    Cell::Null => String::new(),
                    Cell::Number(n) => n.to_string(),
                    Cell::Text(t) => t,
                };
                labels.insert(c.name.clone(), v);
            }
            // The row's samples share one set.
            let labels = labels.shared();
            for c in &self.query.columns {
                let (kind, value) = match &c.usage {
                    Usage::Label | Usage::Discard => continue,
                    Usage::Histogram => {
                        if let Some(h) = histogram_cell(row, name, &c.name)? {
                            let mut m = Sample::histogram(
                                format!("{name}_{}", c.name),
                                c.description.clone(),
                                h,
                            );
                            m.labels = labels.clone();
                            out.push(m);
                        }
                        continue;
                    }
                    usage => {
                        let cell = row.cell(&c.name).map_err(|e| {
                            CollectError::Decode(format!("custom query `{name}`: {e}"))
                        })?;
                        let value = match (usage, cell) {
                            (_, Cell::Null) => None,
                            (Usage::Mapped(map), Cell::Text(t)) => map.get(&t).copied(),
                            (Usage::Duration, Cell::Text(t)) => duration_ms(&t),
                            (_, Cell::Number(n)) => Some(n),
                            (_, Cell::Text(t)) => {
                                Some(t.trim().parse::<f64>().map_err(|_| CollectError::Value {
                                    column: c.name.clone().into(),
                                    source: hubble::ValueError::NotANumber(t.clone()),
                                })?)
                            }
                        };
                        let kind = if *usage == Usage::Counter {
                            MetricKind::Counter
                        } else {
                            MetricKind::Gauge
                        };
                        (kind, value)
                    }
                };
                if let Some(v) = value {
                    let mut sample =
                        Sample::new(format!("{name}_{}", c.name), c.description.clone(), kind, v);
                    sample.labels = labels.clone();
                    out.push(sample);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
pg_replication:
  query: "SELECT 1 AS lag"
  master: true
  metrics:
    - lag:
        usage: "GAUGE"
        description: "Replication lag behind master in seconds"
pg_custom:
  query: "SELECT datname, state, n, d, s FROM x"
  cache_seconds: 30
  metrics:
    - datname: {usage: "LABEL", description: "db"}
    - state: {usage: "MAPPEDMETRIC", description: "state", mapping: {up: 1, down: 0}}
    - n: {usage: "COUNTER", description: "n"}
    - d: {usage: "DURATION", description: "d"}
    - s: {usage: "DISCARD"}
"#;

    #[test]
    fn only_one_preparable_statement_goes_in_the_batch() {
        for sql in [
            "SELECT 1",
            "  select 1;  ",
            "WITH q AS (SELECT 1) SELECT * FROM q",
            "VALUES (1)",
            "TABLE pg_database",
            "SELECT(1)",
            "SELECT 1 -- trailing comment",
        ] {
            assert!(preparable(sql), "{sql:?}");
        }
        for sql in [
            "SHOW server_version",
            "SELECT 1; SELECT 2",
            "EXPLAIN SELECT 1",
            "",
            "SELECT ';'",
        ] {
            assert!(!preparable(sql), "{sql:?}");
        }
    }

    #[test]
    fn parses_postgres_exporter_files() {
        let q = parse(Path::new("q.yaml"), GOOD).unwrap();
        assert_eq!(q.len(), 2);
        let custom = q.iter().find(|q| q.name == "pg_custom").unwrap();
        assert_eq!(custom.columns.len(), 5);
        assert_eq!(
            custom.columns[1].usage,
            Usage::Mapped([("down".into(), 0.0), ("up".into(), 1.0)].into())
        );
        assert_eq!(duration_ms("1m30s"), Some(90_000.0));
        assert_eq!(duration_ms("250"), Some(250.0));
    }

    #[test]
    fn errors_name_file_entry_and_column() {
        let bad_usage = "e:\n  query: SELECT 1\n  metrics:\n    - c: {usage: WEIRD}\n";
        assert_eq!(
            parse(Path::new("q.yaml"), bad_usage).unwrap_err(),
            "q.yaml: line 4: entry `e`, column `c`: unknown usage `WEIRD` (expected LABEL, COUNTER, GAUGE, DISCARD, MAPPEDMETRIC, DURATION or HISTOGRAM)"
        );
        let histogram = "e:\n  query: SELECT 1\n  metrics:\n    - c: {usage: HISTOGRAM}\n";
        assert_eq!(
            parse(Path::new("q.yaml"), histogram).unwrap()[0].columns[0].usage,
            Usage::Histogram
        );
        let no_value = "e:\n  query: SELECT 1\n  metrics:\n    - c: {usage: LABEL}\n";
        assert!(parse(Path::new("q.yaml"), no_value)
            .unwrap_err()
            .starts_with("q.yaml: line 1: entry `e`: no value column"));
        let second =
            "a:\n  query: SELECT 1\n  metrics:\n    - v: {usage: GAUGE}\n\"b\":\n  query: \" \"\n";
        assert_eq!(
            parse(Path::new("q.yaml"), second).unwrap_err(),
            "q.yaml: line 5: entry `b`: empty query"
        );
        let unknown_key = "e:\n  query: SELECT 1\n  metricz: []\n";
        assert!(parse(Path::new("q.yaml"), unknown_key)
            .unwrap_err()
            .contains("unknown field `metricz`"));
        let le = "e:\n  query: SELECT 1\n  metrics:\n    - le: {usage: LABEL}\n    - v: {usage: GAUGE}\n";
        assert_eq!(
            parse(Path::new("q.yaml"), le).unwrap_err(),
            "q.yaml: line 4: entry `e`, column `le`: is a reserved label name (le, quantile and __* belong to Prometheus)"
        );
        let broken = "e:\n  query: [\n";
        assert!(parse(Path::new("q.yaml"), broken)
            .unwrap_err()
            .starts_with("q.yaml: line "));
        let mapped = "e:\n  query: SELECT 1\n  metrics:\n    - c: {usage: MAPPEDMETRIC}\n";
        assert!(parse(Path::new("q.yaml"), mapped)
            .unwrap_err()
            .contains("needs a `mapping`"));
    }
}
