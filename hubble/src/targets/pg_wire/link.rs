//! The byte stream under a connection: TCP, a Unix socket (a host that is a directory, as libpq reads it),
//! or TLS over TCP as the DSN's `sslmode` asks.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use super::{frame, WireError};
use crate::targets::postgres::TlsClient;

pub(super) enum Link {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Link {
    /// Connects to `host`:`port` and makes the TLS handshake `tls` asks for (none over a Unix socket, as
    /// libpq).
    pub(super) async fn open(
        host: &str,
        port: u16,
        tls: Option<&TlsClient>,
    ) -> Result<Link, WireError> {
        let at = |e: io::Error| WireError::Connect(format!("{host}:{port}: {e}"));
        if host.starts_with('/') {
            let path = std::path::Path::new(host).join(format!(".s.PGSQL.{port}"));
            return UnixStream::connect(&path)
                .await
                .map(Link::Unix)
                .map_err(|e| WireError::Connect(format!("{}: {e}", path.display())));
        }
        let mut tcp = TcpStream::connect((host, port)).await.map_err(at)?;
        // Each message is written whole: no reason to wait for more.
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(Link::Tcp(tcp));
        };
        let mut answer = [0u8; 1];
        tcp.write_all(&frame::SSL_REQUEST).await.map_err(at)?;
        tcp.read_exact(&mut answer).await.map_err(at)?;
        match answer[0] {
            b'S' => tokio_rustls::TlsConnector::from(tls.config.clone())
                .connect(tls.server_name.clone(), tcp)
                .await
                .map(|s| Link::Tls(Box::new(s)))
                .map_err(|e| WireError::Tls(format!("sslmode={}: {e}", tls.mode))),
            b'N' if tls.required => Err(WireError::Tls(format!(
                "the server does not offer TLS, which sslmode={} requires",
                tls.mode
            ))),
            b'N' => Ok(Link::Tcp(tcp)),
            other => Err(WireError::Protocol(format!(
                "the server answered the TLS request with {other:#04x}, not S or N: not PostgreSQL?"
            ))),
        }
    }

    pub(super) fn encrypted(&self) -> bool {
        matches!(self, Link::Tls(_))
    }

    /// Whether the server closed the link, or sent something, while it waited between queries: a session
    /// ended by the server (a restart, `idle_session_timeout`, `pg_terminate_backend`) says so with an error
    /// and its end of the stream. Nothing else is expected then but a parameter change (a promoted standby
    /// reports `in_hot_standby`), after which a new session is as good. Reads without waiting; what it reads
    /// is dropped with the link.
    pub(super) fn ended_by_server(&self) -> bool {
        let mut probe = [0u8; 64];
        let read = match self {
            Link::Tcp(s) => s.try_read(&mut probe),
            Link::Unix(s) => s.try_read(&mut probe),
            // The socket under TLS: any record, or its end, is the same news.
            Link::Tls(s) => s.get_ref().0.try_read(&mut probe),
        };
        !matches!(read, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

impl AsyncRead for Link {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Link::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Link::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Link {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Link::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Link::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Link::Tcp(s) => Pin::new(s).poll_flush(cx),
            Link::Unix(s) => Pin::new(s).poll_flush(cx),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Link::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Link::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
