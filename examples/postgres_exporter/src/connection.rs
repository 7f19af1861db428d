//! Connection pools of the exporter's targets: a small pool per target with `application_name` and a
//! server-side `statement_timeout`. What a target is (its DSN) is hubble's [`Dsn`].

use std::time::Duration;

pub use hubble::targets::postgres::{Dsn, DsnError, TLS_OPTIONS};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::ConnectOptions;

/// A target's connections, kept between collector runs (one round trip per query).
pub type PgConnections = hubble::connections::Connections<sqlx::Postgres>;

/// What connections are called in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "hubble_postgres_exporter";

/// How the exporter connects to a [`Dsn`]'s server.
pub trait Connect {
    /// Connection options with the application name and a server-side statement timeout, sent in the
    /// startup packet: for connections used for one round (no extra round trip to set it).
    fn startup_options(&self, statement_timeout: Duration) -> Result<PgConnectOptions, String>;

    /// A lazy pool of at most `max` connections, kept between runs: every collector of a target shares them.
    /// With `via`, connections go through the Unix socket in that directory (an
    /// [`AuthGuard`](super::auth_guard::AuthGuard) relaying to this DSN's server) instead of straight to it.
    fn connections(
        &self,
        max: u32,
        statement_timeout: Duration,
        via: Option<&std::path::Path>,
    ) -> Result<PgConnections, String>;

    /// [`startup_options`](Self::startup_options), through the Unix socket in `via` when given.
    fn options(
        &self,
        statement_timeout: Duration,
        via: Option<&std::path::Path>,
    ) -> Result<PgConnectOptions, String>;

    /// The exporter's own connection for the target's batch ([`PgConnections::over_wire`]): the same server,
    /// user, TLS and application name as [`connections`](Self::connections), the session's statement timeout
    /// set after connecting, given up within the same bound as the pool's acquire.
    fn wire_target(
        &self,
        statement_timeout: Duration,
        via: Option<&std::path::Path>,
    ) -> hubble::connections::WireTarget;
}

impl Connect for Dsn {
    fn startup_options(&self, statement_timeout: Duration) -> Result<PgConnectOptions, String> {
        // Enforced by the server: a slow query is cancelled there, not only abandoned by us.
        Ok(session_options(self)?.options([(
            "statement_timeout",
            format!("{}", statement_timeout.as_millis()),
        )]))
    }

    fn connections(
        &self,
        max: u32,
        statement_timeout: Duration,
        via: Option<&std::path::Path>,
    ) -> Result<PgConnections, String> {
        let options = through(session_options(self)?, via);
        // Made on first use: over the exporter's own connection (the default) a target may never need it.
        Ok(PgConnections::lazy(
            pool_options(max, statement_timeout),
            options,
        ))
    }

    fn options(
        &self,
        statement_timeout: Duration,
        via: Option<&std::path::Path>,
    ) -> Result<PgConnectOptions, String> {
        Ok(through(self.startup_options(statement_timeout)?, via))
    }

    fn wire_target(
        &self,
        statement_timeout: Duration,
        via: Option<&std::path::Path>,
    ) -> hubble::connections::WireTarget {
        let mut dsn = self.clone();
        if let Some(dir) = via {
            // In clear over the guard's private socket; the guard makes the TLS connection.
            dsn.host = dir.display().to_string();
            dsn.sslmode = Some("disable".into());
            (dsn.sslrootcert, dsn.sslcert, dsn.sslkey) = (None, None, None);
        }
        hubble::connections::WireTarget {
            dsn,
            params: vec![("application_name".into(), APPLICATION_NAME.into())],
            // As the pool's connections: SET, so the server's value stays the session's reset value.
            setup: Some(format!(
                "SET statement_timeout = {}",
                statement_timeout.as_millis()
            )),
            connect_timeout: statement_timeout.mul_f64(0.8),
            // sqlx's default for the pool's connections.
            max_lifetime: Some(Duration::from_secs(30 * 60)),
        }
    }
}

/// The options every connection of the exporter has, without a statement timeout. Nothing here changes
/// a numeric or boolean setting's reset value: `pg_settings_*` report `reset_val`, what the server
/// gives a session of this user and database, not what the exporter changed in its own.
fn session_options(dsn: &Dsn) -> Result<PgConnectOptions, String> {
    let o = dsn
        .connect_options()?
        .application_name(APPLICATION_NAME)
        // sqlx sends extra_float_digits=2 by default; since PostgreSQL 12 every value above 0 prints
        // floats exactly, and leaving it out keeps the server's own value in pg_settings_extra_float_digits.
        .extra_float_digits(None);
    // sqlx warns on every statement over a second; under load that floods the log once per query.
    // hubble_collector_duration_seconds shows slow groups, and failures are logged once per change.
    Ok(o.log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1)))
}

/// `options` through the password guard's relay in `via`, if any: sqlx speaks to the relay in clear over
/// its private socket, and the relay makes the DSN's TLS connection to the server itself.
fn through(options: PgConnectOptions, via: Option<&std::path::Path>) -> PgConnectOptions {
    match via {
        Some(dir) => options.socket(dir).ssl_mode(PgSslMode::Disable),
        None => options,
    }
}

/// Whether a group whose statement may go in the target's batch still does: it leaves for good once it ran
/// better on its own. In the batch a statement has half the collection timeout ([`batching`]), so a group
/// that needs more is cancelled there every time (SQLSTATE 57014) and runs on its own, with the whole
/// timeout, from then on.
#[derive(Default)]
pub(crate) struct InBatch {
    left: std::sync::atomic::AtomicBool,
}

impl InBatch {
    /// Still goes in the batch.
    pub(crate) fn stays(&self) -> bool {
        !self.left.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs on its own from now on; `why` is logged.
    pub(crate) fn leave(&self, group: &str, why: &str) {
        if !self.left.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::info!(group, why, "runs outside the target's batch from now on");
        }
    }

    /// Leaves if `e` is the batch's statement timeout cancelling the group's statement.
    pub(crate) fn note(&self, group: &str, e: &sqlx::Error) {
        if e.as_database_error()
            .is_some_and(|d| d.code().as_deref() == Some("57014"))
        {
            self.leave(group, "cancelled at the batch's statement timeout");
        }
    }
}

/// A lazy pool of at most `max` connections: creating it never fails on a target that is down, the first
/// query connects (and reconnects after a restart).
/// The groups of a target due together go to the server in one message, each executed by name from a statement
/// prepared once per connection (planned once, as sqlx's own prepared statements are). Inside the message each
/// statement has half the collection timeout, enforced by the server: a slow one is cancelled while there is
/// still time to send the statements after it again (a failed statement ends the message). The session's
/// timeout is set back after the statements, or by the rollback of a message that failed.
pub fn batching(statement_timeout: Duration) -> hubble::connections::Batching {
    let ms = statement_timeout.as_millis();
    hubble::connections::Batching {
        prefix: Some(format!("SET statement_timeout = {}", (ms / 2).max(1))),
        suffix: Some(format!("SET statement_timeout = {ms}")),
        timeout: Some(statement_timeout),
        prepared: true,
    }
}

fn pool_options(max: u32, statement_timeout: Duration) -> sqlx::pool::PoolOptions<sqlx::Postgres> {
    hubble::connections::lazy_pool::<sqlx::Postgres>(max, statement_timeout)
        .idle_timeout(Duration::from_secs(300))
        // SET, not a startup option: a startup option becomes the session's reset value, and
        // pg_settings_statement_timeout_seconds would show the exporter's timeout instead of the server's.
        // One round trip per new connection of a pool that keeps them.
        .after_connect(move |conn, _| {
            Box::pin(async move {
                use sqlx::Executor as _;
                let set = format!("SET statement_timeout = {}", statement_timeout.as_millis());
                conn.execute(set.as_str()).await.map(|_| ())
            })
        })
}
