//! PostgreSQL's protocol, the part a collection needs: connect (TCP or a Unix socket, TLS as `sslmode` says,
//! trust, password, MD5 or SCRAM-SHA-256 authentication) and send simple queries, each answer read in place.
//!
//! Why beside sqlx: a kept sqlx connection holds two 8 KiB buffers however long it waits for its next query
//! (and can keep a third alive), about 19 KB a target in a fleet (`benches/heap_profile.sh`). A
//! [`WireConnection`] holds no buffer between queries: an [`Answer`] owns the bytes it was read into and
//! frees them when dropped. It speaks only the simple query protocol (every value as text, nothing prepared),
//! which is what a batch of collectors' statements is sent over.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hubble::targets::pg_wire::WireError> {
//! use hubble::targets::pg_wire::WireConnection;
//! use hubble::targets::postgres::Dsn;
//!
//! let dsn: Dsn = "postgresql://mon@db1:5432/postgres?sslmode=require".parse().expect("a DSN");
//! let mut conn = WireConnection::connect(&dsn, &[("application_name", "hubble")]).await?;
//! let answer = conn.query("SELECT datname, numbackends FROM pg_stat_database; SELECT 1").await?;
//! let databases = answer.statement(0).expect("answered");
//! let (name, backends) = (databases.column("datname")?, databases.column("numbackends")?);
//! for row in databases.iter() {
//!     println!("{:?} {:?}", row.get(name.unwrap())?, row.get(backends.unwrap())?);
//! }
//! conn.close().await;
//! # Ok(()) }
//! ```

mod answer;
mod auth;
mod frame;
mod link;

pub use answer::{Answer, Cells, Row, Rows};

use std::ops::Range;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::targets::postgres::Dsn;
use link::Link;

/// Why a connection or a query failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The DSN's settings are wrong (an unknown `sslmode`, a certificate file that cannot be read).
    #[error("connection settings: {0}")]
    Settings(String),
    /// The server could not be reached.
    #[error("connecting to {0}")]
    Connect(String),
    /// The TLS negotiation failed, or the server does not offer TLS that `sslmode` requires.
    #[error("TLS: {0}")]
    Tls(String),
    /// Authentication could not be done (a method the reader does not speak, no password for one asked).
    #[error("authentication: {0}")]
    Auth(String),
    /// The server refused the connection (a wrong password, no such database) or a statement failed.
    #[error("{0}")]
    Server(ServerError),
    /// The connection failed while in use.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// What the server sent is not what the protocol allows here.
    #[error("protocol: {0}")]
    Protocol(String),
}

/// An error the server reported (`ErrorResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerError {
    /// `ERROR`, `FATAL` or `PANIC`.
    pub severity: String,
    /// The SQLSTATE code (`42P01`).
    pub code: String,
    /// The primary message.
    pub message: String,
    /// The detail, if any.
    pub detail: Option<String>,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} (SQLSTATE {})",
            self.severity, self.message, self.code
        )
    }
}

/// A session with one server, kept between queries without a buffer of its own.
pub struct WireConnection {
    link: Link,
    server_version: String,
    /// Set while a query is sent and its answer not wholly read: a query dropped half way (its future
    /// cancelled) leaves the stream out of step, and the connection must not be used again.
    in_flight: bool,
}

impl std::fmt::Debug for WireConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireConnection")
            .field("server_version", &self.server_version)
            .field("encrypted", &self.link.encrypted())
            .finish_non_exhaustive()
    }
}

/// The session's parameters besides user and database, as sqlx sets them: values read as text must not
/// depend on the server's defaults. Not `extra_float_digits`: from PostgreSQL 12 on, its default already
/// writes floats in their shortest exact form, and a startup parameter would become the session's reset
/// value, which `pg_settings` reports.
const SESSION: [(&str, &str); 3] = [
    ("DateStyle", "ISO, MDY"),
    ("client_encoding", "UTF8"),
    ("TimeZone", "UTC"),
];

impl WireConnection {
    /// Connects as `dsn` says, the environment filling what it leaves unset as sqlx and libpq do (`PGUSER`,
    /// `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`, `PGOPTIONS`; the user
    /// defaults to the operating system's), with `params` added to the startup message (`application_name`,
    /// say). No `.pgpass` is read. Does not time out: bound it with `tokio::time::timeout`.
    pub async fn connect(dsn: &Dsn, params: &[(&str, &str)]) -> Result<Self, WireError> {
        let dsn = with_environment(dsn.clone());
        let tls = if dsn.host.starts_with('/') {
            None
        } else {
            dsn.tls_client().map_err(WireError::Settings)?
        };
        let link = Link::open(&dsn.host, dsn.port, tls.as_ref()).await?;
        let user = dsn.user.clone().unwrap_or_else(whoami::username);
        let mut startup = vec![("user", user.as_str())];
        if let Some(db) = &dsn.dbname {
            startup.push(("database", db));
        }
        startup.extend(SESSION);
        startup.extend(params.iter().copied());
        // Command-line options for the session (`-c search_path=...`), as sqlx and libpq take them.
        let options = std::env::var("PGOPTIONS").ok().filter(|o| !o.is_empty());
        if let Some(options) = options.as_deref() {
            if !params.iter().any(|(k, _)| *k == "options") {
                startup.push(("options", options));
            }
        }
        let mut conn = WireConnection {
            link,
            server_version: String::new(),
            in_flight: true,
        };
        conn.send(&frame::startup(&startup)).await?;
        conn.authenticate(&user, dsn.password.as_deref()).await?;
        Ok(conn)
    }

    /// The server's `server_version` parameter (`16.4 (Debian 16.4-1)`).
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// Whether the connection is over TLS.
    pub fn is_encrypted(&self) -> bool {
        self.link.encrypted()
    }

    /// Whether a query was cut short (its future dropped before the answer was read): the stream is out
    /// of step, and the connection must be dropped.
    pub fn is_broken(&self) -> bool {
        self.in_flight
    }

    /// Whether the server ended the session, or sent anything, while the connection waited between
    /// queries: checked without waiting, so that a kept connection the server closed (a restart,
    /// `idle_session_timeout`, `pg_terminate_backend`) is replaced before a query is lost on it.
    pub fn ended_by_server(&self) -> bool {
        !self.in_flight && self.link.ended_by_server()
    }

    /// Sends `sql` (one or more statements separated by `;`) as one simple query and reads the whole
    /// answer. A statement that fails is not an `Err`: the answer has the rows of those before it and its
    /// error ([`Answer::error`]); the server skips the statements after it.
    pub async fn query(&mut self, sql: &str) -> Result<Answer, WireError> {
        if self.in_flight {
            return Err(WireError::Protocol(
                "the connection's last query was cut short".into(),
            ));
        }
        let message = frame::query(sql)?;
        self.in_flight = true;
        self.send(&message).await?;
        let mut inbox = Inbox::default();
        let mut answer = Answer::default();
        let mut current = answer::Statement::default();
        loop {
            let (tag, body) = inbox.next(&mut self.link).await?;
            // Ranges of the answer are `u32`s: an answer of 4 GB is not a collection's.
            if body.end > u32::MAX as usize {
                return Err(WireError::Protocol("an answer over 4 GB".into()));
            }
            let at = |r: &Range<usize>| r.start as u32..r.end as u32;
            match tag {
                b'T' => current.columns = Some(at(&body)),
                b'D' => answer.rows.push(at(&body)),
                b'C' | b'I' => {
                    let end = answer.rows.len() as u32;
                    current.rows.end = end;
                    // The tag without its NUL; an empty statement (`I`) has none.
                    let tag_len = match tag {
                        b'C' => memchr::memchr(0, &inbox.buf[body.clone()]).unwrap_or(body.len()),
                        _ => 0,
                    };
                    current.tag = at(&(body.start..body.start + tag_len));
                    answer.statements.push(std::mem::take(&mut current));
                    current.rows = end..end;
                }
                b'E' => answer.error = Some(frame::server_error(&inbox.buf[body])),
                b'Z' => break,
                // Notices, parameter changes, notifications: nothing a collection reads.
                b'N' | b'S' | b'A' => {}
                b'G' | b'H' | b'W' => {
                    return Err(WireError::Protocol(
                        "a statement started a COPY, which a collection does not do".into(),
                    ))
                }
                other => return Err(unexpected(other, "a query's answer")),
            }
        }
        self.in_flight = false;
        answer.buf = inbox.buf;
        Ok(answer)
    }

    /// Ends the session (a `Terminate` message) and closes the connection.
    pub async fn close(mut self) {
        if !self.in_flight {
            let _ = self.send(&frame::TERMINATE).await;
        }
        let _ = self.link.shutdown().await;
    }

    /// Writes a whole message and flushes it (TLS holds records until then).
    async fn send(&mut self, message: &[u8]) -> Result<(), WireError> {
        self.link.write_all(message).await?;
        self.link.flush().await?;
        Ok(())
    }

    /// Answers the server's authentication requests until it is ready for queries.
    async fn authenticate(&mut self, user: &str, password: Option<&str>) -> Result<(), WireError> {
        let mut inbox = Inbox::default();
        let mut scram: Option<auth::Scram> = None;
        let needs = |what: &str| {
            password.ok_or_else(|| {
                WireError::Auth(format!(
                    "the server asks for a password ({what}) and none is given"
                ))
            })
        };
        loop {
            let (tag, body) = inbox.next(&mut self.link).await?;
            let body = &inbox.buf[body];
            match tag {
                b'R' => {
                    let code =
                        frame::be::<4>(body, 0)
                            .map(u32::from_be_bytes)
                            .ok_or_else(|| {
                                WireError::Protocol("an empty authentication request".into())
                            })?;
                    let reply = match code {
                        0 => None,
                        3 => Some(frame::password(needs("in clear")?.as_bytes())),
                        5 => {
                            let salt = frame::be::<4>(body, 4).ok_or_else(|| {
                                WireError::Protocol("an MD5 request without its salt".into())
                            })?;
                            let answer = auth::md5_password(user, needs("MD5")?, salt);
                            Some(frame::password(answer.as_bytes()))
                        }
                        10 => {
                            let offered: Vec<&[u8]> =
                                body[4..].split(|&b| b == 0).filter(|m| !m.is_empty()).collect();
                            if !offered.contains(&&b"SCRAM-SHA-256"[..]) {
                                return Err(WireError::Auth(format!(
                                    "the server offers SASL mechanisms {:?}, none of them SCRAM-SHA-256",
                                    offered
                                        .iter()
                                        .map(|m| String::from_utf8_lossy(m))
                                        .collect::<Vec<_>>()
                                )));
                            }
                            // PostgreSQL takes the user from the startup message, not from SCRAM's.
                            let s = auth::Scram::new("", needs("SCRAM")?, auth::Scram::nonce()?);
                            let first = frame::sasl_initial("SCRAM-SHA-256", s.client_first().as_bytes());
                            scram = Some(s);
                            Some(first)
                        }
                        11 => {
                            let s = scram.as_mut().ok_or_else(|| unexpected(b'R', "SASL continue"))?;
                            Some(frame::sasl_response(s.client_final(&body[4..])?.as_bytes()))
                        }
                        12 => {
                            let s = scram.as_ref().ok_or_else(|| unexpected(b'R', "SASL final"))?;
                            s.verify_server(&body[4..])?;
                            None
                        }
                        2 | 6..=9 => {
                            return Err(WireError::Auth(format!(
                                "the server asks for {} authentication, which this connection does not speak",
                                match code {
                                    2 => "Kerberos V5",
                                    6 => "SCM credential",
                                    7 | 8 => "GSSAPI",
                                    _ => "SSPI",
                                }
                            )))
                        }
                        other => {
                            return Err(WireError::Auth(format!(
                                "the server asks for authentication method {other}, which this connection does not know"
                            )))
                        }
                    };
                    if let Some(reply) = reply {
                        self.send(&reply).await?;
                    }
                }
                b'S' => {
                    if let Some((b"server_version", rest)) = frame::split_cstr(body) {
                        if let Some((value, _)) = frame::split_cstr(rest) {
                            self.server_version = String::from_utf8_lossy(value).into_owned();
                        }
                    }
                }
                b'E' => return Err(WireError::Server(frame::server_error(body))),
                b'Z' => {
                    self.in_flight = false;
                    return Ok(());
                }
                // Its key for cancel requests (a collection's timeout drops the connection instead), notices.
                b'K' | b'N' | b'v' => {}
                other => return Err(unexpected(other, "authentication")),
            }
        }
    }
}

fn unexpected(tag: u8, during: &str) -> WireError {
    WireError::Protocol(format!(
        "unexpected message of type {:?} during {during}",
        char::from(tag)
    ))
}

/// Fills what `dsn` leaves unset from libpq's environment variables, as sqlx's options do.
fn with_environment(mut dsn: Dsn) -> Dsn {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let fill = |field: &mut Option<String>, name: &str| {
        if field.is_none() {
            *field = var(name);
        }
    };
    fill(&mut dsn.user, "PGUSER");
    fill(&mut dsn.password, "PGPASSWORD");
    fill(&mut dsn.dbname, "PGDATABASE");
    fill(&mut dsn.sslmode, "PGSSLMODE");
    fill(&mut dsn.sslrootcert, "PGSSLROOTCERT");
    fill(&mut dsn.sslcert, "PGSSLCERT");
    fill(&mut dsn.sslkey, "PGSSLKEY");
    dsn
}

/// What has been read of the server's messages, kept whole: an answer's rows point into it.
#[derive(Default)]
struct Inbox {
    buf: Vec<u8>,
    /// Where the next message starts.
    at: usize,
}

impl Inbox {
    /// The next message: its tag and where its body is in `buf`.
    async fn next(&mut self, link: &mut Link) -> Result<(u8, Range<usize>), WireError> {
        loop {
            let needed = match frame::header(&self.buf[self.at..])? {
                frame::Next::Whole(tag, len) => {
                    let body = self.at + 5..self.at + 5 + len;
                    self.at = body.end;
                    return Ok((tag, body));
                }
                frame::Next::Needs(needed) => needed,
            };
            let want = self.at + needed - self.buf.len();
            // Read in steps of at least 8 KiB: an answer of many small rows arrives in few reads.
            self.buf.reserve(want.max(8192));
            if link.read_buf(&mut self.buf).await? == 0 {
                return Err(WireError::Closed);
            }
        }
    }
}
