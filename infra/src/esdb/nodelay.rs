//! A loopback TCP relay that sets `TCP_NODELAY` on both of its sockets and acknowledges
//! the client's segments at once.
//!
//! Why it exists: the `eventstore` 4.0.0 client builds its own `hyper` connector
//! (`HttpConnector::new()` in its `grpc.rs`, never `set_nodelay(true)`) and offers no
//! setting or hook to change it. Its HTTP/2 writes are small (a HEADERS frame, then the
//! DATA frames of a client-streaming append), so Nagle's algorithm holds the second write
//! until the first is acknowledged, and the receiver delays that ACK by up to 40 ms. Each
//! append then costs ~44 ms on loopback instead of < 1 ms.
//!
//! Options considered:
//! - a setting or hook of the client: none exists (`ClientSettings` has no socket options,
//!   the connector is private, `Client` can only be built from `ClientSettings`);
//! - setting the option on the client's socket from outside: we never get its descriptor
//!   (and `unsafe` is forbidden in this workspace);
//! - forking or patching the client: a maintenance burden for one socket option;
//! - this relay: the client is pointed at an ephemeral port of 127.0.0.1, each accepted
//!   connection is joined to a fresh connection to the real server, bytes are copied both
//!   ways.
//!
//! `TCP_NODELAY` on the relay's sockets alone does not help: the client's own socket still
//! runs Nagle and now waits for the relay's delayed ACK instead of the server's (measured:
//! still 44 ms). So the client-facing socket also sets `TCP_QUICKACK` (Linux), re-armed
//! after every read since the kernel clears it: the client's held-back segment then leaves
//! after one loopback round trip. Measured against the esdb-fake on this machine (debug
//! build, one event per append): 44.1 ms median direct, 1.03 ms through the relay.
//!
//! The relay is plain TCP, listens on loopback only, and carries exactly the bytes the
//! client would send to the server. It is used only for plaintext single-node connection
//! strings: with TLS the client would check the server's certificate against 127.0.0.1,
//! and in cluster mode it connects to the addresses gossip names.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long the relay waits for the real server to accept a connection.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Buffer size of each copy direction (large `$all` reads pass through here).
const COPY_BUFFER: usize = 64 * 1024;

/// A running relay; dropping it stops the listener and closes its connections.
#[derive(Debug)]
pub(super) struct NodelayRelay {
    local: SocketAddr,
    stop: CancellationToken,
}

impl NodelayRelay {
    /// Starts a relay to `host:port` on an ephemeral loopback port.
    pub(super) async fn start(host: String, port: u16) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let local = listener.local_addr()?;
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(listener, host, port, stop.clone()));
        tracing::debug!(%local, "TCP_NODELAY relay for EventStoreDB started");
        Ok(NodelayRelay { local, stop })
    }

    /// The loopback address the client should connect to.
    pub(super) fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for NodelayRelay {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, host: String, port: u16, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((inbound, _)) => {
                tokio::spawn(relay(inbound, host.clone(), port, stop.clone()));
            }
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(error = %e, "EventStoreDB relay cannot accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn relay(inbound: TcpStream, host: String, port: u16, stop: CancellationToken) {
    let upstream = match tokio::time::timeout(
        UPSTREAM_CONNECT_TIMEOUT,
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, %host, port, "EventStoreDB relay: upstream connect failed");
            return; // dropping `inbound` closes the client's connection: it sees the failure
        }
        Err(_) => {
            tracing::debug!(%host, port, "EventStoreDB relay: upstream connect timed out");
            return;
        }
    };
    for s in [&inbound, &upstream] {
        if let Err(e) = s.set_nodelay(true) {
            tracing::debug!(error = %e, "EventStoreDB relay: cannot set TCP_NODELAY");
        }
    }
    let mut inbound = QuickAck(inbound);
    let mut upstream = upstream;
    let copy = tokio::io::copy_bidirectional_with_sizes(
        &mut inbound,
        &mut upstream,
        COPY_BUFFER,
        COPY_BUFFER,
    );
    tokio::select! {
        _ = stop.cancelled() => {}
        r = copy => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "EventStoreDB relay connection ended");
            }
        }
    }
}

/// The client-facing socket: acknowledges every segment at once.
struct QuickAck(TcpStream);

impl QuickAck {
    #[cfg(target_os = "linux")]
    fn arm(&self) {
        // Best effort: without it the relay still works, only slower.
        let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
    }

    #[cfg(not(target_os = "linux"))]
    fn arm(&self) {}
}

impl AsyncRead for QuickAck {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.0).poll_read(cx, buf);
        if polled.is_ready() {
            this.arm();
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}
