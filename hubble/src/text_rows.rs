//! A query's answer read as text, column by name: for sources whose columns are not known when the exporter
//! is written (PgBouncer's `SHOW` commands, MySQL's `SHOW GLOBAL STATUS`, a server version's extra
//! columns), where a declared group's fixed fields do not fit.
//!
//! The query goes over the text protocol (PostgreSQL's simple query protocol, MySQL's `COM_QUERY`), so every
//! cell arrives as text whatever its declared type, and nothing is prepared: servers that refuse prepared
//! statements (PgBouncer's admin console) answer it.
//!
//! ```
//! # #[cfg(feature = "postgres")]
//! # async fn demo(console: hubble::connections::Connections<sqlx::Postgres>) -> Result<(), sqlx::Error> {
//! use hubble::text_rows::TextRows;
//!
//! let lists = TextRows::fetch(&console, "SHOW LISTS").await?;
//! if let (Some(name), Some(items)) = (lists.column("list"), lists.column("items")) {
//!     for row in &lists.rows {
//!         println!("{:?} = {:?}", row[name], row[items]);
//!     }
//! }
//! # Ok(()) }
//! ```

use crate::connections::Connections;

/// Column names and rows of text cells (`None`: NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextRows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each one cell per column.
    pub rows: Vec<Vec<Option<String>>>,
}

impl TextRows {
    /// Where column `name` is, if the answer has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Runs `sql` over the text protocol on a kept connection and reads every cell as text. An answer
    /// without rows has no column names either.
    pub async fn fetch<DB: TextProtocol>(
        connections: &Connections<DB>,
        sql: &str,
    ) -> Result<TextRows, sqlx::Error>
    where
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    {
        use sqlx::{Column, Row};
        let rows = connections.fetch_all(sqlx::raw_sql(sql)).await?;
        let mut out = TextRows::default();
        if let Some(first) = rows.first() {
            out.columns = first
                .columns()
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
        }
        for row in &rows {
            let cells = (0..out.columns.len())
                .map(|i| DB::text(row, i))
                .collect::<Result<_, _>>()?;
            out.rows.push(cells);
        }
        Ok(out)
    }
}

/// A database whose text-protocol cells hubble can read as text. Implemented for the drivers of the enabled
/// features; not for SQLite, which has no protocol.
pub trait TextProtocol: sqlx::Database + private::Sealed {
    /// Cell `i` of `row` as text.
    fn text(row: &Self::Row, i: usize) -> Result<Option<String>, sqlx::Error>;
}

mod private {
    pub trait Sealed {}
}

#[cfg(feature = "postgres")]
impl private::Sealed for sqlx::Postgres {}

#[cfg(feature = "postgres")]
impl TextProtocol for sqlx::Postgres {
    fn text(row: &sqlx::postgres::PgRow, i: usize) -> Result<Option<String>, sqlx::Error> {
        use sqlx::{Row, ValueRef};
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(None);
        }
        raw.as_str()
            .map(|s| Some(s.to_owned()))
            .map_err(|source| sqlx::Error::ColumnDecode {
                index: i.to_string(),
                source,
            })
    }
}

#[cfg(feature = "mysql")]
impl private::Sealed for sqlx::MySql {}

#[cfg(feature = "mysql")]
impl TextProtocol for sqlx::MySql {
    fn text(row: &sqlx::mysql::MySqlRow, i: usize) -> Result<Option<String>, sqlx::Error> {
        use sqlx::Row;
        // Text-protocol cells are their text's bytes whatever the column type; read them unchecked, as a
        // number column would otherwise refuse to be read as text.
        let bytes: Option<Vec<u8>> = row.try_get_unchecked(i)?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }
}
