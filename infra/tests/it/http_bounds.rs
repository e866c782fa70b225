//! `infra::serve`: a client dribbling its headers is disconnected after the header
//! timeout, and connections past the limit wait until one closes.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use infra::serve::{HttpBounds, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

async fn start(bounds: HttpBounds) -> (std::net::SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = Router::new().route("/health/live", get(|| async { "ok" }));
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        serve(listener, router, bounds, async move {
            stopped.cancelled().await
        })
        .await
    });
    (addr, stop)
}

const REQUEST: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n";

/// Reads until the peer closes or `within` passes: the bytes, and whether it closed.
async fn read_until_closed(tcp: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (got, false),
        }
    }
}

#[tokio::test]
async fn a_client_dribbling_its_headers_is_disconnected_after_the_header_timeout() {
    let (addr, stop) = start(HttpBounds {
        header_read_timeout: Duration::from_millis(500),
        max_connections: 16,
    })
    .await;

    // One header line, then a byte every 100 ms: never a whole head.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /health/live HTTP/1.1\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let dribble = async {
        for _ in 0..50 {
            if slow.write_all(b"X").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(800), dribble).await;
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(closed, "the slow client is still connected");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // A client that sends its request at once is served meanwhile and after.
    let mut quick = TcpStream::connect(addr).await.expect("connect");
    quick.write_all(REQUEST).await.expect("write");
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(3), quick.read(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    stop.cancel();
}

#[tokio::test]
async fn connections_past_the_limit_wait_until_one_closes() {
    let (addr, stop) = start(HttpBounds {
        header_read_timeout: Duration::from_secs(30),
        max_connections: 2,
    })
    .await;
    let first = TcpStream::connect(addr).await.expect("connect");
    let second = TcpStream::connect(addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The third is not served while two are open...
    let mut third = TcpStream::connect(addr).await.expect("connect (backlog)");
    third.write_all(REQUEST).await.expect("write");
    let mut buf = [0u8; 256];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "served past the limit");

    // ...and is once one of them closes.
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(3), third.read(&mut buf))
        .await
        .expect("served once a connection closed")
        .expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    drop(second);
    stop.cancel();
}
