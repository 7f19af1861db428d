//! A simple query's answer as it arrived: the server's messages in one buffer, indexed by statement, read
//! in place (a cell is a `&str` into the buffer; nothing is copied per row or cell).

use std::ops::Range;

use super::{frame, ServerError, WireError};

/// The answer to one [`WireConnection::query`](super::WireConnection::query): each statement's rows, in
/// order, up to the first that failed.
#[derive(Debug, Default)]
pub struct Answer {
    pub(super) buf: Vec<u8>,
    pub(super) statements: Vec<Statement>,
    /// Every `DataRow`'s body, in order; a statement's rows are a range of it.
    pub(super) rows: Vec<Range<u32>>,
    pub(super) error: Option<ServerError>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Statement {
    /// The `RowDescription`'s body: none for a statement without rows (`SET`).
    pub(super) columns: Option<Range<u32>>,
    pub(super) rows: Range<u32>,
    /// The `CommandComplete` tag (`SELECT 3`); empty for an empty statement.
    pub(super) tag: Range<u32>,
}

impl Answer {
    /// Statements that completed, in the order they were sent.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Whether no statement completed.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The `i`th statement's result, if it completed.
    pub fn statement(&self, i: usize) -> Option<Rows<'_>> {
        let s = self.statements.get(i)?;
        Some(Rows {
            buf: &self.buf,
            columns: s.columns.clone().map(|r| range(&self.buf, r)),
            rows: &self.rows[s.rows.start as usize..s.rows.end as usize],
            tag: range(&self.buf, s.tag.clone()),
        })
    }

    /// The error of the statement after the last that completed (statement [`len`](Self::len)): the server
    /// skips the rest of the message after it.
    pub fn error(&self) -> Option<&ServerError> {
        self.error.as_ref()
    }

    /// Bytes the answer holds (its messages as read).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }
}

fn range(buf: &[u8], r: Range<u32>) -> &[u8] {
    &buf[r.start as usize..r.end as usize]
}

/// One statement's rows.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    buf: &'a [u8],
    columns: Option<&'a [u8]>,
    rows: &'a [Range<u32>],
    tag: &'a [u8],
}

impl<'a> Rows<'a> {
    /// The statement's command tag (`SELECT 3`, `SET`).
    pub fn tag(&self) -> &'a str {
        std::str::from_utf8(self.tag).unwrap_or_default()
    }

    /// Rows returned.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it returned no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Column names, in order (none for a statement that returns no rows, such as `SET`).
    pub fn columns(&self) -> Result<Vec<&'a str>, WireError> {
        self.described(|name, _| name)
    }

    /// Each column's type (its OID in `pg_type`: 20 for `int8`, 1700 for `numeric`), in order.
    pub fn column_types(&self) -> Result<Vec<u32>, WireError> {
        self.described(|_, oid| oid)
    }

    /// What `pick` takes of each column's name and type OID, in order.
    fn described<T>(&self, pick: impl Fn(&'a str, u32) -> T) -> Result<Vec<T>, WireError> {
        let Some(body) = self.columns else {
            return Ok(Vec::new());
        };
        let bad = || WireError::Protocol("a malformed RowDescription".into());
        let count = u16::from_be_bytes(frame::be(body, 0).ok_or_else(bad)?);
        let mut out = Vec::with_capacity(count.into());
        let mut rest = &body[2..];
        for _ in 0..count {
            let (name, after) = frame::split_cstr(rest).ok_or_else(bad)?;
            let name = std::str::from_utf8(name).map_err(|_| bad())?;
            // Table OID (4), column number (2), type OID (4), size, modifier, format: 18 bytes.
            let oid = u32::from_be_bytes(frame::be(after, 6).ok_or_else(bad)?);
            out.push(pick(name, oid));
            rest = after.get(18..).ok_or_else(bad)?;
        }
        Ok(out)
    }

    /// Where column `name` is.
    pub fn column(&self, name: &str) -> Result<Option<usize>, WireError> {
        Ok(self.columns()?.iter().position(|c| *c == name))
    }

    /// The rows, in the order the server sent them.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Row<'a>> + 'a {
        let buf = self.buf;
        self.rows.iter().map(move |r| Row {
            body: &buf[r.start as usize..r.end as usize],
        })
    }
}

/// One row: its cells as text (the simple protocol sends every value as text), `None` for NULL.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    body: &'a [u8],
}

impl<'a> Row<'a> {
    /// Its cells, in column order.
    pub fn cells(&self) -> Cells<'a> {
        let count = frame::be::<2>(self.body, 0).map_or(0, u16::from_be_bytes);
        Cells {
            rest: self.body.get(2..).unwrap_or_default(),
            left: count,
        }
    }

    /// The cell of column `i`.
    pub fn get(&self, i: usize) -> Result<Option<&'a str>, WireError> {
        self.cells()
            .nth(i)
            .unwrap_or_else(|| Err(WireError::Protocol(format!("a row has no column {i}"))))
    }
}

/// The cells of a [`Row`].
#[derive(Debug, Clone)]
pub struct Cells<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for Cells<'a> {
    type Item = Result<Option<&'a str>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let bad = |what: &str| {
            Some(Err(WireError::Protocol(format!(
                "a malformed DataRow: {what}"
            ))))
        };
        let Some(len) = frame::be::<4>(self.rest, 0).map(i32::from_be_bytes) else {
            self.left = 0;
            return bad("cut short");
        };
        self.rest = &self.rest[4..];
        if len < 0 {
            return Some(Ok(None));
        }
        let Some((cell, rest)) = self.rest.split_at_checked(len as usize) else {
            self.left = 0;
            return bad("a cell longer than the row");
        };
        self.rest = rest;
        // The session's client_encoding is UTF-8.
        Some(
            std::str::from_utf8(cell)
                .map(Some)
                .map_err(|_| WireError::Protocol("a cell that is not UTF-8".into())),
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left.into()))
    }
}
