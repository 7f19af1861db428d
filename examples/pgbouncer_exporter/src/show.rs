//! One `SHOW` command of PgBouncer's admin console, read as text cells by column name.

use hubble::connections::Connections;
use hubble::CollectError;
use sqlx::{Column, Row, ValueRef};

/// The admin console's connections (one is enough: a round of `SHOW` commands takes milliseconds).
pub type Console = Connections<sqlx::Postgres>;

/// The answer to one `SHOW` command: its column names and its rows of text cells (`None`: NULL).
#[derive(Debug, Default)]
pub struct Answer {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each a cell per column.
    pub rows: Vec<Vec<Option<String>>>,
}

impl Answer {
    /// Where column `name` is, if this PgBouncer has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Runs `SHOW <what>` over the simple query protocol (the console refuses prepared statements) and reads
/// every cell as text, whatever type the console declares for it.
pub async fn show(console: &Console, what: &str) -> Result<Answer, CollectError> {
    let sql = format!("SHOW {what}");
    let rows = console
        .fetch_all(sqlx::raw_sql(&sql))
        .await
        .map_err(|e| CollectError::Source(format!("SHOW {what}: {e}").into()))?;
    let mut answer = Answer::default();
    if let Some(first) = rows.first() {
        answer.columns = first
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
    }
    for row in &rows {
        let mut cells = Vec::with_capacity(answer.columns.len());
        for i in 0..answer.columns.len() {
            let raw = row
                .try_get_raw(i)
                .map_err(|e| CollectError::Decode(format!("SHOW {what}: {e}")))?;
            cells.push(if raw.is_null() {
                None
            } else {
                // Simple-protocol answers are text: read as such, whatever type the column is declared.
                Some(
                    raw.as_str()
                        .map_err(|e| CollectError::Decode(format!("SHOW {what}: {e}")))?
                        .to_owned(),
                )
            });
        }
        answer.rows.push(cells);
    }
    Ok(answer)
}

/// A cell as a number: PgBouncer's counters, sizes and flags are integers, some versions print decimals.
pub fn number(cell: &str) -> Option<f64> {
    cell.trim().parse().ok()
}
