//! Turns the unix listener into the stream of ready connections tonic serves: each accepted socket
//! completes its TLS handshake in a task of its own, so a slow or hostile client never holds up
//! the next one, and a failed handshake is logged at DEBUG and dropped without touching the server.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Ready connections waiting for the server; small, the host opens one or two.
const BACKLOG: usize = 16;

/// Pause after an accept error (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// A connection ready for HTTP/2: TLS-wrapped, or plain when the user disabled plugin TLS.
#[derive(Debug)]
pub(crate) enum PluginConnection {
    Tls(Box<TlsStream<UnixStream>>),
    Plain(UnixStream),
}

/// tonic asks each connection for peer information; a unix peer has none worth carrying.
impl tonic::transport::server::Connected for PluginConnection {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for PluginConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PluginConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tls(s) => s.is_write_vectored(),
            Self::Plain(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Accepts on `listener` until the returned stream is dropped (tonic drops it when it stops
/// serving), yielding connections that completed the TLS handshake (or every connection when
/// `acceptor` is `None`).
pub(crate) fn incoming(
    listener: UnixListener,
    acceptor: Option<TlsAcceptor>,
) -> ReceiverStream<io::Result<PluginConnection>> {
    let (tx, rx) = mpsc::channel(BACKLOG);
    tokio::spawn(accept_loop(listener, acceptor, tx));
    ReceiverStream::new(rx)
}

async fn accept_loop(
    listener: UnixListener,
    acceptor: Option<TlsAcceptor>,
    tx: mpsc::Sender<io::Result<PluginConnection>>,
) {
    loop {
        let accepted = tokio::select! {
            _ = tx.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a plugin connection failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        match &acceptor {
            None => {
                if tx.send(Ok(PluginConnection::Plain(stream))).await.is_err() {
                    return;
                }
            }
            Some(acceptor) => {
                tokio::spawn(handshake(acceptor.clone(), stream, tx.clone()));
            }
        }
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: UnixStream,
    tx: mpsc::Sender<io::Result<PluginConnection>>,
) {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            tracing::trace!("plugin client completed the TLS handshake");
            // An error here means the server stopped; the connection is simply dropped.
            let _ = tx.send(Ok(PluginConnection::Tls(Box::new(tls)))).await;
        }
        Ok(Err(e)) => tracing::debug!(error = %e, "rejected a plugin client: TLS handshake failed"),
        Err(_) => tracing::debug!("rejected a plugin client: TLS handshake timed out"),
    }
}
