//! EventStoreDB-specific guarantees beyond the contract suite: empty appends, conflicts,
//! paging of long streams and of `$all` (outages are in `esdb_outages`). They need
//! `EVENTSTORE_URL`; without it they say "skipped", except in CI (`CI` set), where that
//! is a failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use infra::esdb::{EsdbEventStore, EsdbOptions};
use infra::upcast::Upcasters;
use infra::{EventStore, ExpectedVersion, StoreError};
use uuid::Uuid;

use crate::harness::{events, stream};

/// Whether a missing server or binary must fail the test rather than skip it.
pub(crate) fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// The server named by `EVENTSTORE_URL`, or `None` (said on stderr) when unset.
pub(crate) fn server_url(test: &str) -> Option<String> {
    match std::env::var("EVENTSTORE_URL") {
        Ok(u) if u.starts_with("esdb") => Some(u),
        _ => {
            assert!(
                !in_ci(),
                "{test}: EVENTSTORE_URL must name an EventStoreDB in CI"
            );
            eprintln!("{test}: skipped: EVENTSTORE_URL not set");
            None
        }
    }
}

/// A store on `url` with `options`.
pub(crate) async fn connect(url: &str, options: EsdbOptions) -> EsdbEventStore {
    EsdbEventStore::connect_with(url, Arc::new(Upcasters::standard()), options)
        .await
        .expect("connect")
}

/// The store at `EVENTSTORE_URL` with default options.
async fn store(test: &str) -> Option<EsdbEventStore> {
    let url = server_url(test)?;
    Some(connect(&url, EsdbOptions::default()).await)
}

#[tokio::test]
async fn an_empty_append_only_checks_the_expectation() {
    let Some(store) = store("an_empty_append_only_checks_the_expectation").await else {
        return;
    };
    let s = stream("esdb-empty");
    let written = store
        .append(&s, ExpectedVersion::NoStream, events(4))
        .await
        .expect("append");

    let empty = store
        .append(&s, ExpectedVersion::Exact(4), Vec::new())
        .await
        .expect("empty append");
    assert_eq!(empty, written);
    assert!(
        store
            .append(&s, ExpectedVersion::Exact(3), Vec::new())
            .await
            .is_err_and(|e| e.is_conflict())
    );
    assert_eq!(
        store
            .append(&stream("esdb-empty"), ExpectedVersion::NoStream, Vec::new())
            .await
            .expect("empty on missing")
            .version,
        0
    );
    assert_eq!(store.read_stream(&s, 1).await.expect("read").len(), 4);
}

#[tokio::test]
async fn a_conflict_names_the_stream_and_both_versions() {
    let Some(store) = store("a_conflict_names_the_stream_and_both_versions").await else {
        return;
    };
    let s = stream("esdb-append");
    store
        .append(&s, ExpectedVersion::NoStream, events(3))
        .await
        .expect("append");
    match store.append(&s, ExpectedVersion::Exact(2), events(1)).await {
        Err(StoreError::WrongExpectedVersion {
            stream,
            expected,
            actual,
        }) => {
            assert_eq!(stream, s);
            assert_eq!(expected, ExpectedVersion::Exact(2));
            assert_eq!(actual, Some(3));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn multi_stream_appends_are_unsupported() {
    let Some(store) = store("multi_stream_appends_are_unsupported").await else {
        return;
    };
    assert!(matches!(
        store.append_multi(Vec::new()).await,
        Err(StoreError::Unsupported(_))
    ));
    assert!(!store.supports_multi_stream());
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn a_stream_longer_than_a_page_reads_back_whole() {
    let Some(store) = store("a_stream_longer_than_a_page_reads_back_whole").await else {
        return;
    };
    let s = stream("esdb-read");
    let mut version = store
        .append(&s, ExpectedVersion::NoStream, events(1))
        .await
        .expect("append")
        .version;
    // Longer than one page of the adapter.
    for _ in 0..3 {
        version = store
            .append(&s, ExpectedVersion::Exact(version), events(400))
            .await
            .expect("append")
            .version;
    }
    assert_eq!(version, 1201);

    let read = store.read_stream(&s, 1).await.expect("read");
    assert_eq!(read.len(), 1201);
    assert!(
        read.iter()
            .enumerate()
            .all(|(i, e)| e.version == i as u64 + 1)
    );
    assert!(read.windows(2).all(|w| w[0].position < w[1].position));

    let tail = store.read_stream(&s, 1100).await.expect("read");
    assert_eq!(tail.len(), 102);
    assert_eq!(tail[0].version, 1100);
    assert!(store.read_stream(&s, 1202).await.expect("read").is_empty());
}

#[tokio::test]
async fn all_reads_start_strictly_after_a_position() {
    let Some(store) = store("all_reads_start_strictly_after_a_position").await else {
        return;
    };
    let s = stream("esdb-all");
    let start = store.head_position().await.expect("head");
    let written = store
        .append(&s, ExpectedVersion::NoStream, events(5))
        .await
        .expect("append");
    assert!(store.head_position().await.expect("head") >= Some(written.position));
    let mine = store.read_stream(&s, 1).await.expect("read");

    let after_second = store
        .read_all(Some(mine[1].position), 100_000)
        .await
        .expect("read_all");
    let ids: Vec<Uuid> = after_second
        .iter()
        .filter(|e| e.stream_id == s)
        .map(|e| e.event_id)
        .collect();
    assert_eq!(
        ids,
        mine[2..].iter().map(|e| e.event_id).collect::<Vec<_>>()
    );
    assert!(after_second.iter().all(|e| e.position > mine[1].position));
    assert!(after_second.iter().all(|e| !e.stream_id.starts_with('$')));

    // In pages of 2 from `start`: the same events, in the same order.
    let mut paged = Vec::new();
    let mut after = start;
    loop {
        let page = store.read_all(after, 2).await.expect("page");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.position);
        paged.extend(
            page.into_iter()
                .filter(|e| e.stream_id == s)
                .map(|e| e.event_id),
        );
    }
    assert_eq!(paged, mine.iter().map(|e| e.event_id).collect::<Vec<_>>());
    assert!(store.count_after(start).await.expect("count") >= 5);
    assert_eq!(
        store
            .count_after(Some(written.position))
            .await
            .expect("count"),
        store
            .read_all(Some(written.position), 1_000_000)
            .await
            .expect("read")
            .len() as u64
    );
    assert!(store.read_all(start, 0).await.expect("zero").is_empty());
}

/// Sequential append latency through the relay and directly (the client alone). Run with
/// `cargo test -p infra --test it esdb::append_latency -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn append_latency() {
    let Some(url) = server_url("append_latency") else {
        return;
    };
    for relay in [false, true] {
        let options = EsdbOptions {
            nodelay_relay: relay,
            ..EsdbOptions::default()
        };
        let started = Instant::now();
        let store = connect(&url, options).await;
        eprintln!("relay {relay}: connect took {:?}", started.elapsed());
        let s = stream("esdb-latency");
        let n = if relay { 500 } else { 50 };
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let started = Instant::now();
            store
                .append(&s, ExpectedVersion::Exact(i as u64), events(1))
                .await
                .expect("append");
            times.push(started.elapsed());
        }
        let started = Instant::now();
        for _ in 0..n {
            store.read_stream(&s, 1).await.expect("read");
        }
        let read = started.elapsed() / n as u32;
        times.sort();
        eprintln!(
            "relay {relay}: {n} sequential appends: median {:?}, p90 {:?}, mean {:?}; \
             read_stream of {n}: mean {read:?}",
            times[n / 2],
            times[n * 9 / 10],
            times.iter().sum::<Duration>() / n as u32,
        );
    }
}
