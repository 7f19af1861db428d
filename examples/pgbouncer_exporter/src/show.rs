//! One `SHOW` command of PgBouncer's admin console, read as text cells by column name.

use hubble::connections::Connections;
use hubble::text_rows::TextRows;
use hubble::CollectError;

/// The admin console's connections (one is enough: a round of `SHOW` commands takes milliseconds).
pub type Console = Connections<sqlx::Postgres>;

/// The answer to one `SHOW` command.
pub type Answer = TextRows;

/// Runs `SHOW <what>` over the simple query protocol (the console refuses prepared statements), every cell
/// read as text whatever type the console declares for it.
pub async fn show(console: &Console, what: &str) -> Result<Answer, CollectError> {
    TextRows::fetch(console, &format!("SHOW {what}"))
        .await
        .map_err(|e| CollectError::Source(format!("SHOW {what}: {e}").into()))
}

/// A cell as a number: PgBouncer's counters, sizes and flags are integers, some versions print decimals.
pub fn number(cell: &str) -> Option<f64> {
    cell.trim().parse().ok()
}
