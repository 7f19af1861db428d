//! The least an exporter built on sqlx can spend asking servers once an interval: kept connections, one
//! message a tick on each over the simple query protocol, its rows read and dropped, buffers given back
//! between ticks (as hubble's kept connections do), on a one-thread runtime. No decoding, no samples, no
//! cache: what is left is the driver, the runtime and the kernel's loopback.
//!
//! `benches/collection_cpu.sh` runs it beside the exporters with `FLOOR=1` (CPU per collection) and
//! `benches/driver_floor.sh` with a thousand connections (memory per target), so hubble's figures can be
//! read against the floor of any exporter on the same driver (`docs/performance.md` §10).
//!
//! With `--wire` it asks the same over a few lines of its own PostgreSQL protocol instead of sqlx: plain TCP,
//! `trust` authentication only, a read buffer allocated per answer and dropped after it. That is the floor
//! under the driver: what a protocol reader of hubble's own could at best get down to (runtime, kernel and
//! loopback only).
//!
//! Usage: `query_floor [--wire] DSN [SQL] [INTERVAL_MS] [CONNECTIONS]` (defaults `SELECT 1`, 1000 ms, 1); runs
//! until killed.

use anyhow::Context as _;
use sqlx::Connection as _;

fn main() -> anyhow::Result<()> {
    const USAGE: &str = "usage: query_floor [--wire] DSN [SQL] [INTERVAL_MS] [CONNECTIONS]";
    let mut args = std::env::args().skip(1).peekable();
    let wire = args.next_if(|a| a == "--wire").is_some();
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
            if wire {
                let conn = wire::connect(&dsn).await.context("connecting to DSN")?;
                tasks.spawn_local(wire::ask(conn, wire::query(&sql), interval));
            } else {
                let conn = sqlx::PgConnection::connect(&dsn)
                    .await
                    .context("connecting to DSN")?; // not echoed: it may hold a password
                tasks.spawn_local(ask(conn, sql.clone(), interval));
            }
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
) -> anyhow::Result<std::convert::Infallible> {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        let rows = sqlx::raw_sql(&sql).fetch_all(&mut conn).await?;
        std::hint::black_box(rows);
        conn.shrink_buffers();
    }
}

/// The simple query protocol by hand, as little of it as the floor needs (PostgreSQL's "Frontend/Backend
/// Protocol" chapter): a startup message, `trust` authentication, then a `Query` message a tick and its answer
/// read up to `ReadyForQuery`.
mod wire {
    use anyhow::{bail, Context as _};
    use std::convert::Infallible;
    use tokio::net::TcpStream;

    /// Opens a connection and reads the server's greeting up to its first `ReadyForQuery`.
    pub async fn connect(dsn: &str) -> anyhow::Result<TcpStream> {
        let dsn: hubble::targets::postgres::Dsn =
            dsn.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        let stream = TcpStream::connect((dsn.host.as_str(), dsn.port)).await?;
        stream.set_nodelay(true)?;
        let user = dsn.user.as_deref().unwrap_or("postgres");
        let mut body = 196_608_i32.to_be_bytes().to_vec(); // protocol 3.0
        for (key, value) in [
            ("user", user),
            ("database", dsn.dbname.as_deref().unwrap_or(user)),
        ] {
            for part in [key, value] {
                body.extend_from_slice(part.as_bytes());
                body.push(0);
            }
        }
        body.push(0);
        let mut message = frame_len(body.len()).to_vec();
        message.extend_from_slice(&body);
        send(&stream, &message).await?;
        answer(&stream, |kind, body| match (kind, body) {
            (b'R', [0, 0, 0, 0]) => Ok(()),
            (b'R', _) => {
                bail!("--wire speaks trust authentication only; the server asks for another")
            }
            _ => Ok(()),
        })
        .await
        .context("reading the server's greeting")?;
        Ok(stream)
    }

    /// A `Query` message of `sql`.
    pub fn query(sql: &str) -> Vec<u8> {
        let mut message = vec![b'Q'];
        message.extend_from_slice(&frame_len(sql.len() + 1));
        message.extend_from_slice(sql.as_bytes());
        message.push(0);
        message
    }

    /// Sends `query` every `interval` and reads its answer, until the connection fails.
    pub async fn ask(
        stream: TcpStream,
        query: Vec<u8>,
        interval: std::time::Duration,
    ) -> anyhow::Result<Infallible> {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            send(&stream, &query).await?;
            answer(&stream, |_, body| {
                std::hint::black_box(body);
                Ok(())
            })
            .await?;
        }
    }

    /// The message of an `ErrorResponse` body (its `M` field; fields are a type byte and a C string each).
    fn message(body: &[u8]) -> String {
        body.split(|&b| b == 0)
            .find_map(|field| field.strip_prefix(b"M"))
            .map_or_else(
                || "(no message)".to_owned(),
                |m| String::from_utf8_lossy(m).into_owned(),
            )
    }

    /// A message's length field: the body and the field itself.
    fn frame_len(body: usize) -> [u8; 4] {
        i32::try_from(body + 4)
            .expect("a short message")
            .to_be_bytes()
    }

    async fn send(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            stream.writable().await?;
            match stream.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads messages up to `ReadyForQuery`, handing each (type, body) to `each`; an `ErrorResponse` ends it
    /// with an error. The buffer lives only as long as the answer, as kept connections' would between ticks.
    async fn answer(
        stream: &TcpStream,
        mut each: impl FnMut(u8, &[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut buf = Vec::with_capacity(8192);
        let mut start = 0;
        loop {
            // Every whole message in the buffer.
            while buf.len() - start >= 5 {
                let kind = buf[start];
                let len =
                    u32::from_be_bytes(buf[start + 1..start + 5].try_into().expect("4 bytes"));
                let end = start + 1 + len as usize;
                if buf.len() < end {
                    break;
                }
                let body = &buf[start + 5..end];
                match kind {
                    b'E' => bail!("the server answered with an error: {}", message(body)),
                    b'Z' => return Ok(()),
                    _ => each(kind, body)?,
                }
                start = end;
            }
            buf.drain(..start);
            start = 0;
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(8192);
            }
            stream.readable().await?;
            let len = buf.len();
            buf.resize(buf.capacity(), 0);
            match stream.try_read(&mut buf[len..]) {
                Ok(0) => bail!("the server closed the connection"),
                Ok(n) => buf.truncate(len + n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => buf.truncate(len),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
