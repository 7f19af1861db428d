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

use std::borrow::Cow;

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
        let rows = connections.fetch_all(sqlx::raw_sql(sql)).await?;
        TextRows::from_rows::<DB>(&rows)
    }

    /// The text of the driver's rows of a text-protocol answer.
    pub fn from_rows<DB: TextProtocol>(rows: &[DB::Row]) -> Result<TextRows, sqlx::Error> {
        use sqlx::{Column, Row};
        let mut out = TextRows::default();
        if let Some(first) = rows.first() {
            out.columns = first
                .columns()
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
        }
        for row in rows {
            let cells = (0..out.columns.len())
                .map(|i| DB::text(row, i))
                .collect::<Result<_, _>>()?;
            out.rows.push(cells);
        }
        Ok(out)
    }
}

/// One statement's answer as text: read in place from hubble's own PostgreSQL connection
/// ([`Connections::over_wire`](crate::connections::Connections::over_wire)), or the driver's rows copied as
/// text. What [`Connections::fetch_text`](crate::connections::Connections::fetch_text) returns.
#[derive(Debug)]
pub struct StatementText(Text);

#[derive(Debug)]
enum Text {
    /// Statement `.1` of a message's answer, shared by the requests the message answered (freed with the
    /// last of them).
    #[cfg(feature = "postgres")]
    Wire(std::sync::Arc<crate::targets::pg_wire::Answer>, usize),
    Copied(TextRows),
}

impl StatementText {
    #[cfg(feature = "postgres")]
    pub(crate) fn wire(
        answer: std::sync::Arc<crate::targets::pg_wire::Answer>,
        statement: usize,
    ) -> Self {
        StatementText(Text::Wire(answer, statement))
    }

    /// Column names, in order (none for an answer without rows from the driver).
    pub fn columns(&self) -> Result<Vec<&str>, sqlx::Error> {
        match &self.0 {
            #[cfg(feature = "postgres")]
            Text::Wire(answer, i) => wire_rows(answer, *i)?
                .columns()
                .map_err(|e| sqlx::Error::Protocol(e.to_string())),
            Text::Copied(rows) => Ok(rows.columns.iter().map(String::as_str).collect()),
        }
    }

    /// Each column's type OID (`pg_type`), over hubble's own connection; `None` for the driver's rows copied
    /// as text, which keep no types.
    pub fn column_types(&self) -> Result<Option<Vec<u32>>, sqlx::Error> {
        match &self.0 {
            #[cfg(feature = "postgres")]
            Text::Wire(answer, i) => wire_rows(answer, *i)?
                .column_types()
                .map(Some)
                .map_err(|e| sqlx::Error::Protocol(e.to_string())),
            Text::Copied(_) => Ok(None),
        }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        match &self.0 {
            #[cfg(feature = "postgres")]
            Text::Wire(answer, i) => answer.statement(*i).map_or(0, |r| r.len()),
            Text::Copied(rows) => rows.rows.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with each row's cells (`None`: NULL), in order, until it fails.
    pub fn try_for_each_row<'t, E: From<sqlx::Error>>(
        &'t self,
        mut f: impl FnMut(&[Option<&'t str>]) -> Result<(), E>,
    ) -> Result<(), E> {
        match &self.0 {
            #[cfg(feature = "postgres")]
            Text::Wire(answer, i) => {
                let mut cells = Vec::new();
                for row in wire_rows(answer, *i)?.iter() {
                    cells.clear();
                    for cell in row.cells() {
                        cells.push(cell.map_err(|e| sqlx::Error::Protocol(e.to_string()))?);
                    }
                    f(&cells)?;
                }
                Ok(())
            }
            Text::Copied(rows) => {
                let mut cells = Vec::new();
                for row in &rows.rows {
                    cells.clear();
                    cells.extend(row.iter().map(Option::as_deref));
                    f(&cells)?;
                }
                Ok(())
            }
        }
    }

    /// The first row's cells; [`sqlx::Error::RowNotFound`] when there is none.
    pub fn first_row(&self) -> Result<Vec<Option<&str>>, sqlx::Error> {
        let mut first = None;
        self.try_for_each_row(|cells| {
            if first.is_none() {
                first = Some(cells.to_vec());
            }
            Ok::<_, sqlx::Error>(())
        })?;
        first.ok_or(sqlx::Error::RowNotFound)
    }

    /// The answer as owned rows.
    pub fn to_text_rows(&self) -> Result<TextRows, sqlx::Error> {
        #[cfg_attr(not(feature = "postgres"), allow(irrefutable_let_patterns))]
        if let Text::Copied(rows) = &self.0 {
            return Ok(rows.clone());
        }
        let mut out = TextRows {
            columns: self.columns()?.into_iter().map(str::to_owned).collect(),
            rows: Vec::with_capacity(self.len()),
        };
        self.try_for_each_row(|cells| {
            out.rows
                .push(cells.iter().map(|c| c.map(str::to_owned)).collect());
            Ok::<_, sqlx::Error>(())
        })?;
        Ok(out)
    }
}

impl From<TextRows> for StatementText {
    fn from(rows: TextRows) -> Self {
        StatementText(Text::Copied(rows))
    }
}

#[cfg(feature = "postgres")]
fn wire_rows(
    answer: &crate::targets::pg_wire::Answer,
    i: usize,
) -> Result<crate::targets::pg_wire::Rows<'_>, sqlx::Error> {
    answer
        .statement(i)
        .ok_or_else(|| sqlx::Error::Protocol(format!("no statement {i} in the answer")))
}

impl<DB: TextProtocol> Connections<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    /// Runs `sql` (one statement, no parameters) in the next message of the target's batch and returns its
    /// rows as text: over hubble's own connection ([`over_wire`](crate::connections::Connections::over_wire)), read where they arrived,
    /// else over the driver's ([`fetch_batched`](Self::fetch_batched)), copied as text.
    pub async fn fetch_text(
        &self,
        sql: impl Into<Cow<'static, str>>,
    ) -> Result<StatementText, sqlx::Error> {
        let sql = sql.into();
        #[cfg(feature = "postgres")]
        if let Some(answer) = self.fetch_wire(sql.clone()).await {
            return answer;
        }
        let rows = self.fetch_batched(sql).await?;
        TextRows::from_rows::<DB>(&rows).map(StatementText::from)
    }
}

/// Cell `i` of a row of text cells read as a `T`, the error naming its column as sqlx's does.
///
/// ```
/// let row = [Some("150018"), Some("f")];
/// let version: i64 = hubble::text_rows::cell(&row, 0).unwrap();
/// let standby: bool = hubble::text_rows::cell(&row, 1).unwrap();
/// assert_eq!((version, standby), (150018, false));
/// assert!(hubble::text_rows::cell::<i64>(&row, 2).is_err());
/// ```
pub fn cell<T: crate::FromText>(row: &[Option<&str>], i: usize) -> Result<T, sqlx::Error> {
    let text = row
        .get(i)
        .ok_or_else(|| sqlx::Error::ColumnIndexOutOfBounds {
            index: i,
            len: row.len(),
        })?;
    T::from_text(*text).map_err(|why| sqlx::Error::ColumnDecode {
        index: i.to_string(),
        source: why.into(),
    })
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
