//! Tests of the EventStoreDB adapter. Those that need a server run when `EVENTSTORE_URL`
//! names one (e.g. the esdb-fake) and say "skipped" otherwise; the fake is shared, so every
//! test writes its own streams.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::store::*;
use crate::upcast::Upcasters;
use std::sync::Arc;

fn url() -> Option<String> {
    match std::env::var("EVENTSTORE_URL") {
        Ok(u) if u.starts_with("esdb") => Some(u),
        _ => {
            eprintln!("skipped: EVENTSTORE_URL not set");
            None
        }
    }
}

async fn store(url: &str) -> EsdbEventStore {
    EsdbEventStore::connect(url, Arc::new(Upcasters::standard()))
        .await
        .expect("connect")
}

fn stream(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

fn events(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| NewEvent {
            event_id: Uuid::new_v4(),
            event_type: "EsdbTestHappened".into(),
            data: json!({ "n": i }),
            metadata: crate::store::Metadata::anonymous(),
        })
        .collect()
}

async fn next(feed: &mut EventFeed) -> RecordedEvent {
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .expect("an event in time")
        .expect("feed open")
        .expect("event")
}

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
    hold.abort();
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    // Bind and drop to get a port that refuses connections.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
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
        assert!(
            matches!(r, Err(StoreError::Unavailable(_))),
            "relay {relay}: {r:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

#[tokio::test]
async fn appends_check_the_expected_version() {
    let Some(url) = url() else { return };
    let store = store(&url).await;
    let s = stream("esdb-append");

    let first = store
        .append(&s, ExpectedVersion::NoStream, events(2))
        .await
        .expect("append to a new stream");
    assert_eq!(first.version, 2);
    let second = store
        .append(&s, ExpectedVersion::Exact(2), events(1))
        .await
        .expect("append at the right version");
    assert_eq!(second.version, 3);
    assert!(second.position > first.position);

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
    match store.append(&s, ExpectedVersion::NoStream, events(1)).await {
        Err(StoreError::WrongExpectedVersion { actual, .. }) => assert_eq!(actual, Some(3)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    match store
        .append(
            &stream("esdb-missing"),
            ExpectedVersion::Exact(4),
            events(1),
        )
        .await
    {
        Err(StoreError::WrongExpectedVersion { actual, .. }) => assert_eq!(actual, Some(0)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let any = store
        .append(&s, ExpectedVersion::Any, events(1))
        .await
        .expect("any");
    assert_eq!(any.version, 4);

    // An empty append only checks the expectation.
    let empty = store
        .append(&s, ExpectedVersion::Exact(4), Vec::new())
        .await
        .expect("empty append");
    assert_eq!(empty, any);
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

    assert!(matches!(
        store.append_multi(Vec::new()).await,
        Err(StoreError::Unsupported(_))
    ));
    assert!(!store.supports_multi_stream());
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn a_retried_append_answers_as_the_first_and_writes_nothing() {
    let Some(url) = url() else { return };
    let store = store(&url).await;
    let s = stream("esdb-idem");
    let batch = events(3);
    let first = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("append");
    let again = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("retry");
    assert_eq!(again, first);
    let more = events(1);
    let second = store
        .append(&s, ExpectedVersion::Exact(3), more.clone())
        .await
        .expect("append");
    let again = store
        .append(&s, ExpectedVersion::Exact(3), more.clone())
        .await
        .expect("retry");
    assert_eq!(again, second);
    let read = store.read_stream(&s, 1).await.expect("read");
    assert_eq!(read.len(), 4, "the retries wrote nothing");
}

#[tokio::test]
async fn streams_read_back_whole_and_from_a_version() {
    let Some(url) = url() else { return };
    let store = store(&url).await;
    let s = stream("esdb-read");
    let mut batch = events(1);
    batch[0].metadata.actor = "alice".into();
    batch[0].metadata.correlation_id = Some(Uuid::new_v4());
    batch[0].data = json!({"nested": {"a": [1, 2, "three"]}, "text": "héllo"});
    store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("append");
    // Longer than one page.
    let mut version = 1;
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
    assert_eq!(read[0].event_id, batch[0].event_id);
    assert_eq!(read[0].stream_id, s);
    assert_eq!(read[0].event_type, "EsdbTestHappened");
    assert_eq!(read[0].data, batch[0].data);
    assert_eq!(read[0].metadata, batch[0].metadata);

    let tail = store.read_stream(&s, 1100).await.expect("read");
    assert_eq!(tail.len(), 102);
    assert_eq!(tail[0].version, 1100);
    assert!(store.read_stream(&s, 1202).await.expect("read").is_empty());
    assert!(
        store
            .read_stream(&stream("esdb-none"), 1)
            .await
            .expect("read")
            .is_empty()
    );
}

#[tokio::test]
async fn all_reads_start_strictly_after_a_position() {
    let Some(url) = url() else { return };
    let store = store(&url).await;
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

#[tokio::test]
async fn a_subscription_catches_up_then_goes_live() {
    let Some(url) = url() else { return };
    let store = store(&url).await;
    let s = stream("esdb-sub");
    let before = store.head_position().await.expect("head");
    store
        .append(&s, ExpectedVersion::NoStream, events(3))
        .await
        .expect("append");
    let mut feed = store.subscribe_all(before);
    let mut versions = Vec::new();
    while versions.len() < 3 {
        let e = next(&mut feed).await;
        assert!(!e.stream_id.starts_with('$') && !e.event_type.starts_with('$'));
        if e.stream_id == s {
            versions.push(e.version);
        }
    }
    assert_eq!(versions, vec![1, 2, 3]);
    store
        .append(&s, ExpectedVersion::Exact(3), events(1))
        .await
        .expect("append");
    loop {
        let e = next(&mut feed).await;
        if e.stream_id == s {
            assert_eq!(e.version, 4);
            break;
        }
    }
    // From a position: strictly after it.
    let second = store.read_stream(&s, 2).await.expect("read");
    let mut from_second = store.subscribe_all(Some(second[0].position));
    let e = loop {
        let e = next(&mut from_second).await;
        if e.stream_id == s {
            break e;
        }
    };
    assert_eq!(e.event_id, second[1].event_id);
}

/// Cutting every connection mid-subscription: the feed re-subscribes from the last event
/// it delivered, so nothing is lost and nothing arrives twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_subscription_resumes_without_gaps_or_repeats() {
    let Some(url) = url() else { return };
    let store = store(&url).await;
    let Some(relay) = store.inner.relay.as_ref() else {
        eprintln!("skipped: no relay for {url} (TLS or cluster)");
        return;
    };
    let s = stream("esdb-resub");
    let before = store.head_position().await.expect("head");
    let mut feed = store.subscribe_all(before);
    let mut written = Vec::new();
    let mut seen = Vec::new();
    let mut version = 0;
    for round in 0..4 {
        let batch = events(25);
        written.extend(batch.iter().map(|e| e.event_id));
        version = store
            .append(&s, ExpectedVersion::Exact(version), batch)
            .await
            .expect("append")
            .version;
        // Take part of what was written, then cut the connections.
        while seen.len() < written.len() - 10 {
            let e = next(&mut feed).await;
            if e.stream_id == s {
                seen.push(e.event_id);
            }
        }
        relay.sever();
        eprintln!("round {round}: severed after {} events", seen.len());
    }
    while seen.len() < written.len() {
        let e = next(&mut feed).await;
        if e.stream_id == s {
            seen.push(e.event_id);
        }
    }
    assert_eq!(seen, written, "every event once, in order");
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len());
    // And the store itself works on.
    store.ping().await.expect("ping after the cuts");
}

/// Starts an esdb-fake of this test's own (`ESDB_FAKE_BIN`, or the binary the start script
/// builds) on `port` (0: any), or `None` (said on stderr) when there is no binary.
async fn own_fake(port: u16) -> Option<(tokio::process::Child, String)> {
    let bin = std::env::var("ESDB_FAKE_BIN").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/esdb-fake/release/esdb-fake"
        )
        .into()
    });
    if !std::path::Path::new(&bin).exists() {
        eprintln!("skipped: no esdb-fake binary at {bin}");
        return None;
    }
    let mut child = tokio::process::Command::new(&bin)
        .args(["--port", &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start esdb-fake");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let banner = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("banner in time")
        .expect("read banner")
        .expect("a banner");
    let addr = banner.rsplit(' ').next().expect("address").to_owned();
    Some((child, addr))
}

/// A server that goes away answers `Unavailable` at once, and a new one on the same
/// address is used without reconnecting by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_reconnected() {
    let Some((mut child, addr)) = own_fake(0).await else {
        return;
    };
    let port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    for relay in [true, false] {
        let options = EsdbOptions {
            timeout: Duration::from_secs(2),
            nodelay_relay: relay,
            ..EsdbOptions::default()
        };
        let store = EsdbEventStore::connect_with(
            &format!("esdb://{addr}?tls=false"),
            Arc::new(Upcasters::standard()),
            options,
        )
        .await
        .expect("connect");
        let s = stream("esdb-restart");
        store
            .append(&s, ExpectedVersion::NoStream, events(1))
            .await
            .expect("append");

        child.kill().await.expect("kill");
        let started = Instant::now();
        let down = store.append(&s, ExpectedVersion::Exact(1), events(1)).await;
        let append_took = started.elapsed();
        let pinged = store.ping().await;
        let took = started.elapsed();
        eprintln!(
            "relay {relay}: down: append {append_took:?} {down:?}; ping {pinged:?} after {took:?}"
        );
        assert!(
            matches!(down, Err(StoreError::Unavailable(_))),
            "relay {relay}: {down:?}"
        );
        assert!(pinged.is_err());
        // Refused connections fail at once (a few ms here); the bound is the contract:
        // each call ends within twice its timeout (one fast failure, one retry).
        assert!(took < Duration::from_secs(8), "{took:?}");

        (child, _) = own_fake(port).await.expect("restart");
        // A fresh (empty) server: the stream is new again.
        let up = store.append(&s, ExpectedVersion::NoStream, events(1)).await;
        assert_eq!(
            up.expect("append after the restart").version,
            1,
            "relay {relay}"
        );
        store.ping().await.expect("ping");
    }
    let _ = child.kill().await;
}

/// A paused server (SIGSTOP) answers `Unavailable` within the timeout and the store
/// recovers when it resumes. Needs its own esdb-fake process (the shared one must not be
/// paused): `ESDB_FAKE_BIN`, or the binary the start script builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_server_is_unavailable_then_recovers() {
    let Some((mut child, addr)) = own_fake(0).await else {
        return;
    };
    let pid = child.id().expect("pid").to_string();
    let options = EsdbOptions {
        timeout: Duration::from_secs(2),
        ping_timeout: Duration::from_secs(1),
        ..EsdbOptions::default()
    };
    let store = EsdbEventStore::connect_with(
        &format!("esdb://{addr}?tls=false"),
        Arc::new(Upcasters::standard()),
        options,
    )
    .await
    .expect("connect");
    let s = stream("esdb-pause");
    store
        .append(&s, ExpectedVersion::NoStream, events(1))
        .await
        .expect("append");
    let mut feed = store.subscribe_all(None);
    assert_eq!(next(&mut feed).await.stream_id, s);

    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
    };
    assert!(signal("-STOP").success());
    // The stop is asynchronous: wait until the kernel reports the process stopped.
    let stat = format!("/proc/{pid}/stat");
    for _ in 0..100 {
        match std::fs::read_to_string(&stat) {
            Ok(s)
                if s.rsplit(") ")
                    .next()
                    .is_some_and(|rest| rest.starts_with('T')) =>
            {
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(_) => break, // no procfs: trust the signal
        }
    }
    let started = Instant::now();
    let appended = store.append(&s, ExpectedVersion::Exact(1), events(1)).await;
    let read = store.read_stream(&s, 1).await;
    let pinged = store.ping().await;
    let took = started.elapsed();
    assert!(signal("-CONT").success());
    eprintln!("paused for {took:?}: append {appended:?}; read {read:?}; ping {pinged:?}");
    assert!(
        matches!(appended, Err(StoreError::Unavailable(_))),
        "{appended:?}"
    );
    assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
    assert!(
        matches!(pinged, Err(StoreError::Unavailable(_))),
        "{pinged:?}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");

    // Resumed: the append that timed out may or may not have been applied; a retry with
    // the same expectation resolves it either way.
    let mut ok = false;
    for _ in 0..20 {
        match store.append(&s, ExpectedVersion::Exact(1), events(1)).await {
            Ok(_) | Err(StoreError::WrongExpectedVersion { .. }) => {
                ok = true;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert!(ok, "the store recovers after the server resumes");
    let e = next(&mut feed).await;
    assert_eq!((e.stream_id.as_str(), e.version), (s.as_str(), 2));
    let _ = child.kill().await;
}

/// Sequential append latency through the relay and directly (the client alone). Run with
/// `cargo test -p infra esdb::tests::append_latency -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn append_latency() {
    let Some(url) = url() else { return };
    for relay in [false, true] {
        let options = EsdbOptions {
            nodelay_relay: relay,
            ..EsdbOptions::default()
        };
        let started = Instant::now();
        let store = EsdbEventStore::connect_with(&url, Arc::new(Upcasters::standard()), options)
            .await
            .expect("connect");
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
