//! A target's batch over hubble's own PostgreSQL connection ([`pg_wire`](crate::targets::pg_wire)) instead
//! of the driver's: the same messages and the same guarantees as [`Batching`] gives over sqlx, but the
//! connection keeps no buffer between ticks and each statement's rows are read as text where they arrived.
//! The driver's pool stays for what is not batched (queries of their own), opening a connection only then.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::batch::{self, BatchConn, Batcher, Batching, Part, Request, Sent};
use super::Connections;
use crate::targets::pg_wire::{ServerError, WireConnection, WireError};
use crate::targets::postgres::Dsn;
use crate::text_rows::StatementText;

/// Where a target's own connection goes, and how its session is set up.
#[derive(Debug, Clone)]
pub struct WireTarget {
    /// The server, user and TLS (a host that is a directory is a Unix socket's).
    pub dsn: Dsn,
    /// Startup parameters besides user and database (`application_name`).
    pub params: Vec<(String, String)>,
    /// Sent once after connecting, before the first batch (`SET statement_timeout = 5000`): a setting made
    /// this way, not as a startup parameter, leaves the server's value as the session's reset value.
    pub setup: Option<String>,
    /// A connection (TLS and authentication included) not made within this is given up.
    pub connect_timeout: Duration,
    /// A connection older than this is closed and replaced before its next batch (as sqlx's pool retires
    /// its connections at its `max_lifetime`): a backend's caches do not grow for the exporter's life.
    pub max_lifetime: Option<Duration>,
}

/// The batch of a target over its own connection.
pub(super) struct WireBatch {
    batcher: Batcher<StatementText>,
    target: WireTarget,
    /// The kept connection and when it was made, taken out by the flush that uses it (one flush at a time).
    conn: Mutex<Option<(WireConnection, Instant)>>,
}

impl WireBatch {
    pub(super) fn new(batching: Batching, target: WireTarget) -> Arc<Self> {
        Arc::new(WireBatch {
            batcher: Batcher::new(batching),
            target,
            conn: Mutex::new(None),
        })
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Option<(WireConnection, Instant)>> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `sql`; true when the caller must start the flush task.
    pub(super) fn push(
        &self,
        sql: Cow<'static, str>,
    ) -> (
        bool,
        tokio::sync::oneshot::Receiver<Result<StatementText, sqlx::Error>>,
    ) {
        let (request, answer) = Request::new(sql);
        (self.batcher.push(request), answer)
    }

    /// Sends what is queued until nothing is, or until `closing`: what was queued then gets nothing.
    pub(super) async fn flush(&self, closing: &tokio_util::sync::CancellationToken) {
        while let Some(requests) = self.batcher.take() {
            tokio::select! {
                () = closing.cancelled() => {
                    while self.batcher.take().is_some() {}
                    return;
                }
                () = self.send_all(requests) => {}
            }
        }
    }

    async fn send_all(&self, mut requests: Vec<Request<StatementText>>) {
        // One the server closed while it waited (a restart, `idle_session_timeout`) is replaced here, not
        // found closed by the batch, which would fail every statement of the tick.
        let kept = self
            .kept()
            .take()
            .filter(|(c, _)| !c.is_broken() && !c.ended_by_server());
        let kept = match kept {
            Some((old, made))
                if self
                    .target
                    .max_lifetime
                    .is_some_and(|t| made.elapsed() >= t) =>
            {
                let _ = tokio::time::timeout(Duration::from_secs(1), old.close()).await;
                None
            }
            kept => kept,
        };
        let (mut conn, mut made) = match kept {
            Some(kept) => kept,
            None => match self.connect().await {
                Ok(conn) => (conn, Instant::now()),
                Err(e) => return fail_every(requests, &e),
            },
        };
        let mut link = Link(&mut conn);
        let good = batch::drive(&mut link, &self.batcher.batching, &mut requests).await;
        // Those left had their message lost with the connection: on a new one, each on its own.
        if !requests.is_empty() {
            match self.connect().await {
                Ok(new) => (conn, made) = (new, Instant::now()),
                Err(e) => return fail_every(requests, &e),
            }
            // As the driver's batch sends them: plain statements under the session's own timeout.
            let alone = Batching {
                prefix: None,
                suffix: None,
                prepared: false,
                ..self.batcher.batching.clone()
            };
            let mut left = requests.into_iter();
            while let Some(request) = left.next() {
                let mut one = vec![request];
                if !batch::drive(&mut Link(&mut conn), &alone, &mut one).await {
                    // Lost again: its error was given if it could be told. The rest are not sent on a
                    // connection that keeps failing; each is told so.
                    for request in one.into_iter().chain(left) {
                        let _ = request.reply.send(Err(sqlx::Error::Protocol(
                            "the connection to the target was lost during the batch".into(),
                        )));
                    }
                    return;
                }
            }
        } else if !good {
            return;
        }
        *self.kept() = Some((conn, made));
    }

    /// A new connection, set up.
    async fn connect(&self) -> Result<WireConnection, sqlx::Error> {
        let t = &self.target;
        let params: Vec<(&str, &str)> = t
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let made = async {
            let mut conn = WireConnection::connect(&t.dsn, &params).await?;
            if let Some(setup) = &t.setup {
                if let Some(e) = conn.query(setup).await?.error() {
                    return Err(WireError::Server(e.clone()));
                }
            }
            Ok(conn)
        };
        match tokio::time::timeout(t.connect_timeout, made).await {
            Ok(made) => made.map_err(sqlx_error),
            // As the driver's pool says it.
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    /// Ends the kept connection's session.
    pub(super) async fn close(&self) {
        let kept = self.kept().take();
        if let Some((conn, _)) = kept {
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
        }
    }
}

/// Answers every request with `e`. hubble's own connection's errors can all be told again; one that could
/// not would reach each request as its text.
fn fail_every(requests: Vec<Request<StatementText>>, e: &sqlx::Error) {
    for request in batch::fail_all(requests, e) {
        let _ = request
            .reply
            .send(Err(sqlx::Error::Protocol(e.to_string())));
    }
}

/// The kept connection as a batch sends over it.
struct Link<'c>(&'c mut WireConnection);

impl BatchConn for Link<'_> {
    type Rows = StatementText;

    async fn send(
        &mut self,
        batching: &Batching,
        requests: &[Request<StatementText>],
    ) -> Sent<StatementText> {
        let (text, parts) = batch::message(batching, requests);
        let answer = match self.0.query(&text).await {
            Ok(answer) => Arc::new(answer),
            Err(e) => return Sent::Lost(Some(sqlx_error(e))),
        };
        let answered: Vec<StatementText> = (0..answer.len())
            .filter(|&i| matches!(parts.get(i), Some(Part::Answer(_))))
            .map(|i| StatementText::wire(answer.clone(), i))
            .collect();
        match answer.error() {
            Some(e) => batch::failed(
                batching,
                &parts,
                answer.len(),
                answered,
                database_error(e.clone()),
            ),
            None => batch::answered_all(answered, requests.len()),
        }
    }
}

impl<DB: sqlx::Database> Connections<DB> {
    /// Whether batched statements go over hubble's own connection ([`Connections::over_wire`]).
    pub fn is_over_wire(&self) -> bool {
        self.wire.is_some()
    }

    /// Runs `sql` in the next message of the target's batch over its own connection; `None` when the
    /// connections have none.
    pub(crate) async fn fetch_wire(
        &self,
        sql: Cow<'static, str>,
    ) -> Option<Result<StatementText, sqlx::Error>> {
        let wire = self.wire.as_ref()?;
        if self.inner.closing.is_cancelled() {
            return Some(Err(sqlx::Error::PoolClosed));
        }
        let (first, answer) = wire.push(sql);
        if first {
            let wire = wire.clone();
            let closing = self.inner.closing.clone();
            tokio::spawn(async move {
                // As the driver's batch: the collectors of this tick queue first.
                tokio::task::yield_now().await;
                if tokio::runtime::Handle::current().metrics().num_workers() > 1 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                wire.flush(&closing).await;
            });
        }
        Some(answer.await.unwrap_or(Err(sqlx::Error::PoolClosed)))
    }
}

impl Connections<sqlx::Postgres> {
    /// Sends the target's batched statements read as text ([`fetch_text`](Self::fetch_text), and derived
    /// groups read from text) over a connection of hubble's own to `target`, framed as `batching` says.
    /// Statements whose rows are the driver's ([`fetch_batched`](Self::fetch_batched)) are batched over the
    /// pool's, as [`batched`](Self::batched) does; the pool also serves every query of its own, opening a
    /// connection only then.
    pub fn over_wire(self, batching: Batching, target: WireTarget) -> Self {
        let mut connections = self.batched(batching.clone());
        connections.wire = Some(WireBatch::new(batching, target));
        connections
    }
}

/// An error of the server on hubble's own connection, as sqlx's errors carry one: its code and message
/// read the same way as the driver's.
#[derive(Debug, Clone)]
pub struct WireDatabaseError(pub ServerError);

impl std::fmt::Display for WireDatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As sqlx shows PostgreSQL's errors: the message alone.
        f.pad(&self.0.message)
    }
}

impl std::error::Error for WireDatabaseError {}

impl sqlx::error::DatabaseError for WireDatabaseError {
    fn message(&self) -> &str {
        &self.0.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.0.code))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        match self.0.code.as_str() {
            "23505" => sqlx::error::ErrorKind::UniqueViolation,
            "23503" => sqlx::error::ErrorKind::ForeignKeyViolation,
            "23502" => sqlx::error::ErrorKind::NotNullViolation,
            "23514" => sqlx::error::ErrorKind::CheckViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

fn database_error(e: ServerError) -> sqlx::Error {
    sqlx::Error::Database(Box::new(WireDatabaseError(e)))
}

/// hubble's own connection's error as the driver's of the same kind, so that a run's error is judged the
/// same way (unreachable or not, its SQLSTATE) whichever connection it came over.
pub(crate) fn sqlx_error(e: WireError) -> sqlx::Error {
    match e {
        WireError::Settings(m) | WireError::Auth(m) => sqlx::Error::Configuration(m.into()),
        WireError::Connect(m) => sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            m,
        )),
        WireError::Tls(m) => sqlx::Error::Tls(m.into()),
        WireError::Server(e) => database_error(e),
        WireError::Io(e) => sqlx::Error::Io(e),
        WireError::Closed => sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            WireError::Closed.to_string(),
        )),
        WireError::Protocol(m) => sqlx::Error::Protocol(m),
    }
}
