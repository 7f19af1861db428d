//! Statements of one target's collectors that are due together, sent in one message: one round trip per
//! target per interval instead of one per group.
//!
//! Collectors whose runs fall on the same tick ask at the same moment; the first to ask starts a flush task,
//! which lets the others queue their statements (it yields once to the runtime), then sends them all as one
//! simple-protocol message and hands each its own rows, found by position: a statement's rows come before the
//! server's `CommandComplete` for it. What one statement does to its neighbours is bounded:
//! - A statement that fails ends the message there (the server skips the rest of it): the statements before it
//!   have their rows, it has its error, and the statements after it go out again in a message of their own.
//!   A group that keeps failing thus costs one more round trip per interval, not its neighbours' samples.
//! - The batch's prefix (`SET statement_timeout` in the Postgres exporter) can give each statement a server-side
//!   timeout shorter than the collectors' own, so a slow statement is cancelled by the server early enough for
//!   the statements after it to be sent again and still answer in time. Its suffix restores the session (and
//!   a failed message restores it anyway: the server rolls its implicit transaction back).
//! - A failure that belongs to no statement (no connection, a broken one) sends every statement left on its
//!   own, so each gets the error its own query gives.
//!
//! A request whose flush task is gone (the runtime shutting down) runs on its own too.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt;
use sqlx::Database;
use tokio::sync::oneshot;

use super::Connections;

/// How a target's statements are batched: what each message starts and ends with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batching {
    /// Sent before the statements, in the same message (`SET statement_timeout = 2500`, say).
    pub prefix: Option<String>,
    /// Sent after them (`SET statement_timeout = 5000`, to restore the session's).
    pub suffix: Option<String>,
    /// A message not answered within this is given up (its connection dropped), and its statements fail as
    /// a target that does not answer: a network black hole must not hold the batch, and every collection of
    /// the target after it, until TCP gives up.
    pub timeout: Option<std::time::Duration>,
    /// Each statement is sent as `EXECUTE` of a statement prepared on the server (`PREPARE`, the first time
    /// a connection sees it), so the server plans it once per connection rather than in every message, as
    /// it does for the driver's own prepared statements. PostgreSQL only.
    pub prepared: bool,
}

/// The statements waiting for the next message, and whether a flush task is running; each statement's
/// answer is an `R` (the driver's rows, or the text of hubble's own connection).
pub(super) struct Batcher<R> {
    pub(super) batching: Batching,
    queue: Mutex<Queue<R>>,
}

struct Queue<R> {
    pending: Vec<Request<R>>,
    flushing: bool,
}

pub(super) struct Request<R> {
    pub(super) sql: Cow<'static, str>,
    /// Sent with its `PREPARE` (with [`Batching::prepared`], on a connection that does not have it yet).
    pub(super) prepare: bool,
    pub(super) reply: oneshot::Sender<Result<R, sqlx::Error>>,
}

impl<R> Request<R> {
    pub(super) fn new(sql: Cow<'static, str>) -> (Self, oneshot::Receiver<Result<R, sqlx::Error>>) {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            sql,
            prepare: false,
            reply,
        };
        (request, answer)
    }
}

impl<R> Batcher<R> {
    pub(super) fn new(batching: Batching) -> Self {
        Batcher {
            batching,
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                flushing: false,
            }),
        }
    }

    /// Queues `sql`; true when the caller must start the flush task.
    pub(super) fn push(&self, request: Request<R>) -> bool {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.pending.push(request);
        !std::mem::replace(&mut queue.flushing, true)
    }

    /// What is queued, or `None` (and no flush running any more) when nothing is.
    pub(super) fn take(&self) -> Option<Vec<Request<R>>> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.pending.is_empty() {
            queue.flushing = false;
            None
        } else {
            Some(std::mem::take(&mut queue.pending))
        }
    }
}

/// What one message returned, in order: each request's rows, then how it ended.
pub(super) enum Sent<R> {
    /// Every statement answered.
    Answered(Vec<R>),
    /// The requests before `.1` answered with `.0`; request `.1` failed with `.2`; the rest were not run.
    Failed(Vec<R>, usize, sqlx::Error),
    /// The requests before `.1` answered with `.0`; request `.1` is to be sent again, prepared first
    /// (`.2`) or executed as it is; the rest were not run.
    Unprepared(Vec<R>, usize, bool),
    /// Nothing can be said of any statement: no connection or a broken one (with its error), the prefix or
    /// the suffix failed.
    Lost(Option<sqlx::Error>),
}

impl<DB> Connections<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    /// Runs `sql` (one statement, no parameters) in the next message of the target's batch, or on its own
    /// when the connections do not batch ([`Connections::batched`]); its rows as the simple query protocol
    /// returns them (text values). With [`Batching::prepared`] the statement must be one `PREPARE` takes
    /// (`SELECT`, `VALUES`, `WITH`, ...).
    pub async fn fetch_batched(
        &self,
        sql: impl Into<Cow<'static, str>>,
    ) -> Result<Vec<DB::Row>, sqlx::Error> {
        let sql = sql.into();
        let Some(batcher) = &self.batch else {
            return self.fetch_all(sqlx::raw_sql(&sql)).await;
        };
        if self.inner.closing.is_cancelled() {
            return Err(sqlx::Error::PoolClosed);
        }
        // Kept for a run of its own should the batch be gone.
        let alone = sql.clone();
        let (request, answer) = Request::new(sql);
        if batcher.push(request) {
            let connections = self.clone();
            tokio::spawn(async move {
                // The other collectors of this tick are ready to run: let them queue first. On one thread
                // a yield is enough (they run before it returns); where other threads run them, a
                // millisecond. Not a sleep on one thread: it would be one more wake-up a tick.
                tokio::task::yield_now().await;
                if tokio::runtime::Handle::current().metrics().num_workers() > 1 {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                connections.flush().await;
            });
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => self.fetch_all(sqlx::raw_sql(&alone)).await,
        }
    }

    /// Sends what is queued until nothing is, or until the connections are closed (a target removed while its
    /// batch waits for a server that refuses connections must not hold the close for the acquire timeout:
    /// its collectors' own queries would have been cancelled with their runs). What was queued then gets
    /// nothing: its requesters fall back to a query of their own, which the closed connections refuse.
    async fn flush(&self) {
        let batcher = self.batch.as_ref().expect("only batched connections flush");
        let closing = self.inner.closing.clone();
        while let Some(requests) = batcher.take() {
            tokio::select! {
                () = closing.cancelled() => {
                    // Dropped unanswered, with whatever queued meanwhile.
                    while batcher.take().is_some() {}
                    return;
                }
                () = self.send_all(&batcher.batching, requests) => {}
            }
        }
    }

    /// Sends `requests` in as few messages as their failures allow, all on one connection (the statements it
    /// prepared for a message are there for the next).
    async fn send_all(&self, batching: &Batching, mut requests: Vec<Request<Vec<DB::Row>>>) {
        // Waiting for a free connection counts against the pool's acquire timeout too: a target that is down
        // is unreachable for the whole batch within that, as it is for a query of its own.
        let bound = self.acquire_timeout();
        let mut lease = match tokio::time::timeout(bound, self.acquire()).await {
            Ok(Ok(lease)) => Some(lease),
            Ok(Err(e)) => {
                requests = fail_all(requests, &e);
                None
            }
            Err(_) => {
                requests = fail_all(requests, &sqlx::Error::PoolTimedOut);
                None
            }
        };
        if let Some(conn) = lease.as_mut() {
            if !drive(conn, batching, &mut requests).await {
                lease = None;
            }
        }
        if let Some(lease) = lease {
            lease.keep();
        }
        // A batch that could not be sent: each on its own, with its own error.
        futures_util::future::join_all(requests.into_iter().map(|request| async move {
            let result = self.fetch_all(sqlx::raw_sql(&request.sql)).await;
            let _ = request.reply.send(result);
        }))
        .await;
    }
}

/// A connection a batch's messages go over: the driver's, or hubble's own.
pub(super) trait BatchConn: Send {
    /// A statement's answer.
    type Rows: Send;

    /// Sends `requests`' statements in one message, framed as `batching` says.
    fn send<'a>(
        &'a mut self,
        batching: &'a Batching,
        requests: &'a [Request<Self::Rows>],
    ) -> impl std::future::Future<Output = Sent<Self::Rows>> + Send + 'a;
}

impl<DB> BatchConn for super::Lease<'_, DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    type Rows = Vec<DB::Row>;

    fn send<'a>(
        &'a mut self,
        batching: &'a Batching,
        requests: &'a [Request<Self::Rows>],
    ) -> impl std::future::Future<Output = Sent<Self::Rows>> + Send + 'a {
        send::<DB>(self, batching, requests)
    }
}

/// Sends `requests` over `conn` in as few messages as their failures allow, answering each that the server
/// answered or refused; those left (the connection lost) are to be sent on their own. False when the
/// connection is not to be used again.
pub(super) async fn drive<C: BatchConn>(
    conn: &mut C,
    batching: &Batching,
    requests: &mut Vec<Request<C::Rows>>,
) -> bool {
    // Each message answers, fails or prepares at least one statement; the bound is a guard all the same.
    let mut messages_left = 2 * requests.len() + 2;
    while !requests.is_empty() && messages_left > 0 {
        messages_left -= 1;
        let sent = match batching.timeout {
            Some(t) => tokio::time::timeout(t, conn.send(batching, requests))
                .await
                .unwrap_or_else(|_| {
                    Sent::Lost(Some(sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no answer to {} statements within {t:?}", requests.len()),
                    ))))
                }),
            None => conn.send(batching, requests).await,
        };
        match sent {
            Sent::Answered(rows) => {
                for (rows, request) in rows.into_iter().zip(requests.drain(..)) {
                    let _ = request.reply.send(Ok(rows));
                }
            }
            Sent::Failed(rows, failed, error) => {
                let mut answered = requests.drain(..=failed);
                // Rows first: zip asks its first iterator first, and must not take the failed request.
                for (rows, request) in rows.into_iter().zip(answered.by_ref()) {
                    let _ = request.reply.send(Ok(rows));
                }
                if let Some(request) = answered.next() {
                    let _ = request.reply.send(Err(error));
                }
            }
            Sent::Unprepared(rows, first, prepare) => {
                for (rows, request) in rows.into_iter().zip(requests.drain(..first)) {
                    let _ = request.reply.send(Ok(rows));
                }
                requests[0].prepare = prepare;
            }
            Sent::Lost(error) => {
                // The connection, not a statement: it is not used again. Where the error says the target
                // cannot be had, every statement gets it at once (a target that is down is unreachable
                // for each of its groups together, not after one timeout each).
                if let Some(error) = error {
                    *requests = fail_all(std::mem::take(requests), &error);
                }
                return false;
            }
        }
    }
    true
}

/// Answers with `error` every request it can be told again to; the others are returned.
pub(super) fn fail_all<R>(requests: Vec<Request<R>>, error: &sqlx::Error) -> Vec<Request<R>> {
    let mut rest = Vec::new();
    for request in requests {
        match same_error(error) {
            Some(e) => {
                let _ = request.reply.send(Err(e));
            }
            None => rest.push(request),
        }
    }
    rest
}

/// One message with `requests`' statements between the prefix and the suffix, on `conn`.
async fn send<DB>(
    conn: &mut DB::Connection,
    batching: &Batching,
    requests: &[Request<Vec<DB::Row>>],
) -> Sent<Vec<DB::Row>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let (text, parts) = message(batching, requests);
    let mut answered: Vec<Vec<DB::Row>> = Vec::with_capacity(requests.len());
    let mut rows = Vec::new();
    let mut completed = 0;
    let mut stream = sqlx::Executor::fetch_many(conn, sqlx::raw_sql(&text));
    loop {
        match stream.try_next().await {
            Ok(Some(sqlx::Either::Right(row))) => rows.push(row),
            Ok(Some(sqlx::Either::Left(_))) => {
                // A statement's end: its rows are a request's answer, or nobody's.
                if let Some(Part::Answer(_)) = parts.get(completed) {
                    answered.push(std::mem::take(&mut rows));
                } else {
                    rows.clear();
                }
                completed += 1;
            }
            Ok(None) => break,
            Err(e @ sqlx::Error::Database(_)) => {
                return failed(batching, &parts, completed, answered, e)
            }
            Err(e) => return Sent::Lost(Some(e)),
        }
    }
    drop(stream);
    answered_all(answered, requests.len())
}

/// A message whose statements all completed: every request answered, or (the server skipped a statement
/// without an error, which it does not) nothing can be said.
pub(super) fn answered_all<R>(answered: Vec<R>, requests: usize) -> Sent<R> {
    if answered.len() == requests {
        Sent::Answered(answered)
    } else {
        Sent::Lost(None)
    }
}

/// A message in which statement `completed` (counting the prefix's, the `PREPARE`s, ...) failed with `e`,
/// the server's error: whose statement it was, and what to do next.
pub(super) fn failed<R>(
    batching: &Batching,
    parts: &[Part],
    completed: usize,
    answered: Vec<R>,
    e: sqlx::Error,
) -> Sent<R> {
    let code = e
        .as_database_error()
        .and_then(|db| db.code().map(|c| c.into_owned()));
    match (parts.get(completed), code.as_deref()) {
        // Not prepared on this connection (a new one): prepared in the next message.
        (Some(Part::Answer(i)), Some("26000")) if batching.prepared => {
            Sent::Unprepared(answered, *i, true)
        }
        // Prepared already (by a message that failed after it): executed as it is.
        (Some(Part::Prepare(i)), Some("42P05")) => Sent::Unprepared(answered, *i, false),
        (Some(Part::Answer(i) | Part::Prepare(i)), _) => Sent::Failed(answered, *i, e),
        // The prefix or the suffix: the message rolled back, the session as it was.
        _ => {
            tracing::debug!(error = %e, "batch frame failed");
            Sent::Lost(None)
        }
    }
}

/// Whose a statement of a message is.
pub(super) enum Part {
    /// The prefix's or the suffix's.
    Frame,
    /// Request `.0`'s `PREPARE`.
    Prepare(usize),
    /// Request `.0`'s rows.
    Answer(usize),
}

/// A message's text and what each of its statements is.
pub(super) fn message<R>(batching: &Batching, requests: &[Request<R>]) -> (String, Vec<Part>) {
    let mut statements: Vec<String> = Vec::with_capacity(requests.len() + 2);
    let mut parts = Vec::with_capacity(requests.len() + 2);
    if let Some(prefix) = &batching.prefix {
        statements.push(prefix.clone());
        parts.push(Part::Frame);
    }
    for (i, request) in requests.iter().enumerate() {
        let sql = request.sql.trim().trim_end_matches(';');
        if batching.prepared {
            let name = statement_name(sql);
            if request.prepare {
                statements.push(format!("PREPARE {name} AS {sql}"));
                parts.push(Part::Prepare(i));
            }
            statements.push(format!("EXECUTE {name}"));
        } else {
            statements.push(sql.to_owned());
        }
        parts.push(Part::Answer(i));
    }
    if let Some(suffix) = &batching.suffix {
        statements.push(suffix.clone());
        parts.push(Part::Frame);
    }
    // A newline before each `;`, so a statement ending in a `--` comment does not swallow it.
    (statements.join("\n;\n"), parts)
}

/// The server-side name of `sql`'s prepared statement: the same for the same text, in every session.
fn statement_name(sql: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    sql.hash(&mut hasher);
    format!("hubble_{:016x}", hasher.finish())
}

/// An error like `e`, for one more statement, where it says the target cannot be had (no connection, TLS, a
/// broken link); `None` for one that cannot be told again (a server's refusal, with its code).
pub(super) fn same_error(e: &sqlx::Error) -> Option<sqlx::Error> {
    Some(match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        sqlx::Error::Tls(tls) => sqlx::Error::Tls(tls.to_string().into()),
        sqlx::Error::Configuration(c) => sqlx::Error::Configuration(c.to_string().into()),
        sqlx::Error::Protocol(p) => sqlx::Error::Protocol(p.clone()),
        // The server's errors on hubble's own connection, which it can copy.
        #[cfg(feature = "postgres")]
        sqlx::Error::Database(db) => {
            let own = db.try_downcast_ref::<super::WireDatabaseError>()?;
            sqlx::Error::Database(Box::new(own.clone()))
        }
        _ => return None,
    })
}

/// Makes the batcher of [`Connections::batched`].
pub(super) fn batcher<R>(batching: Batching) -> Arc<Batcher<R>> {
    Arc::new(Batcher::new(batching))
}
