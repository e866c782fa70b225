//! Tests of the EventStoreDB adapter that need no server. Those that do are in
//! `tests/it/esdb.rs`, beside the contract suite.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::store::StoreError;
use crate::upcast::Upcasters;

#[tokio::test]
async fn a_malformed_url_is_a_clear_error_without_the_password() {
    for bad in [
        "",
        "not a url",
        "http://127.0.0.1:2113",
        "esdb://admin:s3cret@host:2113?tls=maybe",
        "esdb://admin:s3cret@ho st:2113",
        "esdb://host:2113?nodePreference=nobody",
    ] {
        let err = EsdbEventStore::connect(bad, Arc::new(Upcasters::standard()))
            .await
            .expect_err(bad);
        let text = err.to_string();
        assert!(matches!(err, StoreError::Other(_)), "{bad}: {err:?}");
        assert!(text.contains("connection string"), "{bad}: {text}");
        assert!(!text.contains("s3cret"), "{bad}: {text}");
    }
}

/// Connecting to `127.0.0.1:port`, with and without the relay, fails `Unavailable`
/// within three times the 1 s timeout.
async fn assert_unavailable_in_time(port: u16) {
    for relay in [true, false] {
        let options = EsdbOptions {
            timeout: Duration::from_secs(1),
            nodelay_relay: relay,
            ..EsdbOptions::default()
        };
        let started = Instant::now();
        let r = EsdbEventStore::connect_with(
            &format!("esdb://127.0.0.1:{port}?tls=false"),
            Arc::new(Upcasters::standard()),
            options,
        )
        .await;
        let took = started.elapsed();
        assert!(
            matches!(r, Err(StoreError::Unavailable(_))),
            "relay {relay}: {r:?}"
        );
        assert!(
            took < Duration::from_secs(3),
            "relay {relay}: took {took:?}"
        );
    }
}

/// A server that accepts connections and never answers (as a paused one does) yields
/// `Unavailable` after the timeout, not a hang.
#[tokio::test]
async fn a_silent_server_is_unavailable_in_time() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    assert_unavailable_in_time(port).await;
    hold.abort();
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    // Bind and drop to get a port that refuses connections.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    assert_unavailable_in_time(port).await;
}
