//! A check in the authentication handshake of probed targets: the password goes only to a server that asks
//! for SCRAM (or needs none), or to one whose certificate was verified with its name (`verify-full`).
//!
//! sqlx answers a server's request for a cleartext or MD5 password unconditionally, so a server of a caller's
//! choosing (or anything on the path to it, unless the server is authenticated) could ask for the operator's
//! password in clear and get it. SCRAM never shows the password to the server. sqlx offers no option to refuse
//! (libpq's `require_auth`), so a probed target's connections go through a relay on a private Unix socket: it
//! connects to the target, makes the TLS connection itself as the DSN's `sslmode` says (sqlx speaks to the
//! relay in clear, over the socket only this user may open), reads the server's side until authentication is
//! over, and closes both ends with an error of its own if the server asks for a password in any other way.
//! Once the server says `AuthenticationOk`, bytes are copied without inspection.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hubble::targets::postgres::TlsClient;
use hubble::targets::tls::Verify;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::task::JoinSet;

/// Longest message read during authentication (a SASL exchange is a few hundred bytes).
const MAX_MESSAGE: usize = 64 * 1024;

/// The relay of one target; connections stop and the socket goes away when it drops.
#[derive(Debug)]
pub struct AuthGuard {
    dir: PathBuf,
    task: tokio::task::AbortHandle,
}

impl AuthGuard {
    /// Starts a relay to `host`:`port` on `runtime`, over `tls` when given, giving up a connection attempt
    /// (TLS handshake included) after `connect_timeout`.
    pub fn start(
        host: &str,
        port: u16,
        tls: Option<TlsClient>,
        connect_timeout: Duration,
        runtime: &tokio::runtime::Handle,
    ) -> io::Result<AuthGuard> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hubble-auth-guard-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // Only this user may connect to the relay.
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&dir)?;
        let socket = dir.join(format!(".s.PGSQL.{port}"));
        let listener = {
            let _entered = runtime.enter();
            UnixListener::bind(&socket)
        };
        let listener = match listener {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let target = Arc::new(Target {
            host: host.to_owned(),
            port,
            tls,
            connect_timeout,
        });
        let task = runtime.spawn(accept(listener, target)).abort_handle();
        Ok(AuthGuard { dir, task })
    }

    /// The socket directory to give sqlx (`PgConnectOptions::socket`) with the target's port.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for AuthGuard {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every relayed connection.
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where a relay connects, and how.
struct Target {
    host: String,
    port: u16,
    tls: Option<TlsClient>,
    connect_timeout: Duration,
}

impl Target {
    fn name(&self) -> String {
        server_name(&self.host, self.port)
    }
}

async fn accept(listener: UnixListener, target: Arc<Target>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    connections.spawn(relay(client, target.clone()));
                }
                Err(error) => {
                    tracing::debug!(%error, "auth guard: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// PostgreSQL's `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// The server's side of a relayed connection: TCP, or TLS over it.
enum Link {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Connects to the target and, as its `sslmode` says, asks for TLS and makes the handshake.
async fn connect(target: &Target) -> Result<Link, String> {
    let mut server = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connecting to {}: {e}", target.name()))?;
    let _ = server.set_nodelay(true);
    let Some(tls) = &target.tls else {
        return Ok(Link::Plain(server));
    };
    let mut answer = [0u8; 1];
    let asked = async {
        server.write_all(&SSL_REQUEST).await?;
        server.read_exact(&mut answer).await
    };
    asked
        .await
        .map_err(|e| format!("asking {} for TLS: {e}", target.name()))?;
    match answer[0] {
        b'S' => tokio_rustls::TlsConnector::from(tls.config.clone())
            .connect(tls.server_name.clone(), server)
            .await
            .map(|s| Link::Tls(Box::new(s)))
            .map_err(|e| {
                format!(
                    "TLS handshake with {} (sslmode={}): {e}",
                    target.name(),
                    tls.mode
                )
            }),
        b'N' if tls.required => Err(format!(
            "{} does not offer TLS, which sslmode={} requires",
            target.name(),
            tls.mode
        )),
        b'N' => Ok(Link::Plain(server)),
        other => Err(format!(
            "{} answered the TLS request with {other:#04x}, not S or N: not a PostgreSQL server?",
            target.name()
        )),
    }
}

async fn relay(mut client: UnixStream, target: Arc<Target>) {
    let link = match tokio::time::timeout(target.connect_timeout, connect(&target)).await {
        Ok(Ok(link)) => link,
        Ok(Err(message)) => {
            refuse_connection(&mut client, &message).await;
            return;
        }
        Err(_) => {
            let message = format!(
                "connecting to {}: timed out after {:?}",
                target.name(),
                target.connect_timeout
            );
            refuse_connection(&mut client, &message).await;
            return;
        }
    };
    // A server authenticated by its certificate and name may ask for the password as it likes.
    let verified = matches!(&target.tls, Some(t) if t.verify == Verify::ChainAndName)
        && matches!(link, Link::Tls(_));
    match link {
        Link::Plain(server) => pump(client, server, verified, &target).await,
        Link::Tls(server) => pump(client, *server, verified, &target).await,
    }
}

/// Copies between sqlx and the server, checking the server's side until authentication is over.
async fn pump<S>(client: UnixStream, server: S, verified: bool, target: &Target)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let down = async {
        match authenticate(&mut server_read, &mut client_write, verified).await {
            Ok(()) => {
                let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
            }
            Err(Refused(reason)) => {
                let message = format!(
                    "hubble refused to send the password to {}: {reason}; probed targets must use \
                     scram-sha-256 or be verified with sslmode=verify-full (or start the exporter with \
                     --probe.allow-insecure-auth)",
                    target.name()
                );
                let _ = client_write
                    .write_all(&error_response("28000", &message))
                    .await;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::pin!(up, down);
    tokio::select! {
        () = &mut up => down.await,
        // The server side ended (or was refused): nothing more goes to the server.
        () = &mut down => {}
    }
}

/// Answers the client's startup message with a connection error, as a server would. The startup message is
/// read first: closing before the client has written it could give it a broken pipe instead of the reason.
async fn refuse_connection(client: &mut UnixStream, message: &str) {
    let read_startup = async {
        let mut len = [0u8; 4];
        client.read_exact(&mut len).await?;
        let len = (u32::from_be_bytes(len) as usize).clamp(4, MAX_MESSAGE);
        let mut rest = vec![0u8; len - 4];
        client.read_exact(&mut rest).await.map(drop)
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), read_startup).await;
    let _ = client.write_all(&error_response("08001", message)).await;
}

fn server_name(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Why the handshake was cut.
#[derive(Debug, PartialEq, Eq)]
struct Refused(String);

/// Forwards the server's messages until `AuthenticationOk`, refusing any password request but SASL unless
/// the server is `verified`.
async fn authenticate<R, W>(server: &mut R, client: &mut W, verified: bool) -> Result<(), Refused>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let io = |e: io::Error| Refused(format!("reading its handshake: {e}"));
    loop {
        let mut head = [0u8; 5];
        match server.read_exact(&mut head).await {
            Ok(_) => {}
            // The server closed (e.g. after an error message): nothing left to guard.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io(e)),
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if !(4..=MAX_MESSAGE).contains(&len) {
            return Err(Refused(format!(
                "it sent a malformed message ({len} bytes)"
            )));
        }
        let mut body = vec![0u8; len - 4];
        server.read_exact(&mut body).await.map_err(io)?;
        let mut done = false;
        if head[0] == b'R' {
            let code = body
                .get(..4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .ok_or_else(|| Refused("it sent a malformed authentication request".into()))?;
            match code {
                0 => done = true,
                // SASL (SCRAM): start, continue, final.
                10..=12 => {}
                // Cleartext and MD5, to a server whose certificate names it.
                3 | 5 if verified => {}
                3 => return Err(Refused("it asked for the password in cleartext".into())),
                5 => return Err(Refused("it asked for an MD5 password hash".into())),
                other => {
                    return Err(Refused(format!(
                        "it asked for an unsupported authentication method ({other})"
                    )))
                }
            }
        }
        let forwarded = async {
            client.write_all(&head).await?;
            client.write_all(&body).await?;
            client.flush().await
        };
        if forwarded.await.is_err() {
            return Ok(());
        }
        if done {
            return Ok(());
        }
    }
}

/// A FATAL `ErrorResponse` with `code` (SQLSTATE) and `message`, as a server sends it.
fn error_response(code: &str, message: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (tag, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', code),
        (b'M', message),
    ] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut out = vec![b'E'];
    out.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(&fields);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn auth(code: u32, rest: &[u8]) -> Vec<u8> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(rest);
        message(b'R', &body)
    }

    async fn run(server_sends: Vec<u8>) -> (Result<(), Refused>, Vec<u8>) {
        let mut client = Vec::new();
        let result = authenticate(&mut server_sends.as_slice(), &mut client, false).await;
        (result, client)
    }

    #[tokio::test]
    async fn password_requests_but_scram_are_refused_before_reaching_the_client() {
        for (code, reason) in [(3, "cleartext"), (5, "MD5"), (7, "unsupported")] {
            let (result, forwarded) = run(auth(code, &[1, 2, 3, 4])).await;
            assert!(result.unwrap_err().0.contains(reason), "{code}");
            assert!(forwarded.is_empty(), "the request must not reach sqlx");
        }
        // A server verified with verify-full may ask for the password in clear.
        let mut forwarded = Vec::new();
        let request = auth(3, &[]);
        let result = authenticate(&mut request.as_slice(), &mut forwarded, true).await;
        assert_eq!((result, forwarded), (Ok(()), request));
    }

    #[tokio::test]
    async fn scram_and_trust_pass_through_up_to_authentication_ok() {
        let mut stream = auth(10, b"SCRAM-SHA-256\0\0");
        stream.extend(auth(11, b"r=abc"));
        stream.extend(auth(12, b"v=xyz"));
        stream.extend(auth(0, &[]));
        let after = message(b'S', b"server_version\x0017\0");
        let mut all = stream.clone();
        all.extend(&after);
        let (result, forwarded) = run(all).await;
        assert_eq!(result, Ok(()));
        assert_eq!(
            forwarded, stream,
            "forwarded up to AuthenticationOk, the rest is copied"
        );
        let (result, forwarded) = run(auth(0, &[])).await;
        assert_eq!((result, forwarded), (Ok(()), auth(0, &[])));
    }

    #[tokio::test]
    async fn errors_pass_and_malformed_messages_are_refused() {
        let error = error_response("28P01", "password authentication failed");
        let (result, forwarded) = run(error.clone()).await;
        assert_eq!((result, forwarded), (Ok(()), error));
        let (result, _) = run(vec![b'R', 0xff, 0, 0, 0]).await;
        assert!(result.unwrap_err().0.contains("malformed"));
    }

    #[test]
    fn error_responses_are_well_formed() {
        let e = error_response("08001", "no");
        assert_eq!(e[0], b'E');
        assert_eq!(
            u32::from_be_bytes([e[1], e[2], e[3], e[4]]) as usize,
            e.len() - 1
        );
        assert_eq!(&e[5..], b"SFATAL\0VFATAL\0C08001\0Mno\0\0");
    }
}
