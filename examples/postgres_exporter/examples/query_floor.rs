//! The least an exporter built on sqlx can spend asking servers once an interval: kept connections, one
//! message a tick on each over the simple query protocol, its rows read and dropped, buffers given back
//! between ticks (as hubble's kept connections do), on a one-thread runtime. No decoding, no samples, no
//! cache: what is left is the driver, the runtime and the kernel's loopback.
//!
//! `benches/collection_cpu.sh` runs it beside the exporters with `FLOOR=1` (CPU per collection) and
//! `benches/driver_floor.sh` with a thousand connections (memory per target), so hubble's figures can be
//! read against the floor of any exporter on the same driver (`docs/performance.md` §10).
//!
//! Usage: `query_floor DSN [SQL] [INTERVAL_MS] [CONNECTIONS]` (defaults `SELECT 1`, 1000 ms, 1); runs until
//! killed.

use anyhow::Context as _;
use sqlx::Connection as _;

fn main() -> anyhow::Result<()> {
    const USAGE: &str = "usage: query_floor DSN [SQL] [INTERVAL_MS] [CONNECTIONS]";
    let mut args = std::env::args().skip(1);
    let dsn = args.next().context(USAGE)?;
    let sql = args.next().unwrap_or_else(|| "SELECT 1".to_owned());
    let number = |name: &str, arg: Option<String>, default: u64| -> anyhow::Result<u64> {
        arg.map_or(Ok(default), |a| {
            a.parse()
                .with_context(|| format!("{name}: expected a whole number, got {a:?} ({USAGE})"))
        })
    };
    let interval =
        std::time::Duration::from_millis(number("INTERVAL_MS", args.next(), 1000)?.max(1));
    let connections = number("CONNECTIONS", args.next(), 1)?.max(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Tasks local to the one thread: the driver's futures need not be `Send`.
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let mut tasks = tokio::task::JoinSet::new();
        // One after another: a thousand at once would be a fork storm on the server, not the steady state.
        for _ in 0..connections {
            let conn = sqlx::PgConnection::connect(&dsn)
                .await
                .context("connecting to DSN")?; // not echoed: it may hold a password
            tasks.spawn_local(ask(conn, sql.clone(), interval));
        }
        // Only an error ends a connection's loop: the first ends the program.
        match tasks.join_next().await {
            Some(ended) => match ended?? {},
            None => Ok(()),
        }
    })
}

/// Asks `sql` on `conn` every `interval`, dropping the rows and giving the buffers back, until it fails.
async fn ask(
    mut conn: sqlx::PgConnection,
    sql: String,
    interval: std::time::Duration,
) -> Result<std::convert::Infallible, sqlx::Error> {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        let rows = sqlx::raw_sql(&sql).fetch_all(&mut conn).await?;
        std::hint::black_box(rows);
        conn.shrink_buffers();
    }
}
