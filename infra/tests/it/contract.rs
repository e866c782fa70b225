//! Behaviour every adapter must share.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use infra::{AnyEventStore, EventStore, ExpectedVersion, Position, StoreError};

use crate::contract_test;
use crate::harness::{events, stream};

async fn len(store: &AnyEventStore, s: &str) -> usize {
    store.read_stream(s, 1).await.expect("read").len()
}

contract_test!(expected_version_matrix);
async fn expected_version_matrix(store: AnyEventStore) {
    use ExpectedVersion::*;
    // (expected, on a missing stream ok?, on a stream of 2 events ok?)
    let cases = [
        (Any, true, true),
        (NoStream, true, false),
        (Exact(0), true, false),
        (Exact(1), false, false),
        (Exact(2), false, true),
        (Exact(5), false, false),
    ];
    for (expected, on_missing, on_existing) in cases {
        let missing = stream("matrix");
        let r = store.append(&missing, expected, events(1)).await;
        assert_eq!(
            r.is_ok(),
            on_missing,
            "{expected} on a missing stream: {r:?}"
        );
        if let Err(e) = &r {
            assert!(
                matches!(
                    e,
                    StoreError::WrongExpectedVersion {
                        actual: Some(0),
                        ..
                    }
                ),
                "{e:?}"
            );
            assert_eq!(
                len(&store, &missing).await,
                0,
                "a refused append writes nothing"
            );
        } else {
            assert_eq!(r.as_ref().map(|r| r.version).ok(), Some(1));
        }

        let existing = stream("matrix");
        store
            .append(&existing, NoStream, events(2))
            .await
            .expect("seed");
        let r = store.append(&existing, expected, events(1)).await;
        assert_eq!(
            r.is_ok(),
            on_existing,
            "{expected} on an existing stream: {r:?}"
        );
        match r {
            Ok(r) => assert_eq!(r.version, 3),
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        StoreError::WrongExpectedVersion {
                            actual: Some(2),
                            ..
                        }
                    ),
                    "{e:?}"
                );
                assert_eq!(
                    len(&store, &existing).await,
                    2,
                    "a refused append writes nothing"
                );
            }
        }
    }
}

contract_test!(appends_report_versions_and_growing_positions);
async fn appends_report_versions_and_growing_positions(store: AnyEventStore) {
    let s = stream("grow");
    let a = store
        .append(&s, ExpectedVersion::NoStream, events(3))
        .await
        .expect("append");
    assert_eq!(a.version, 3);
    let b = store
        .append(&s, ExpectedVersion::Exact(3), events(2))
        .await
        .expect("append");
    assert_eq!(b.version, 5);
    assert!(b.position > a.position);
    let read = store.read_stream(&s, 1).await.expect("read");
    assert_eq!(
        read.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(read[2].position, a.position);
    assert_eq!(read[4].position, b.position);
    let tail = store.read_stream(&s, 4).await.expect("read");
    assert_eq!(tail.len(), 2);
    let parsed: Position = b
        .position
        .to_string()
        .parse()
        .expect("positions print and parse");
    assert_eq!(parsed, b.position);
    assert!(
        store
            .read_stream(&stream("none"), 1)
            .await
            .expect("read")
            .is_empty()
    );
    let head = store
        .head_position()
        .await
        .expect("head")
        .expect("not empty");
    assert!(head >= b.position);
}

contract_test!(metadata_and_data_round_trip);
async fn metadata_and_data_round_trip(store: AnyEventStore) {
    let s = stream("meta");
    let mut batch = events(1);
    batch[0].metadata.actor = "alice".into();
    batch[0].metadata.correlation_id = Some(uuid::Uuid::new_v4());
    batch[0].metadata.causation_id = Some(uuid::Uuid::new_v4());
    batch[0].data = serde_json::json!({"nested": {"a": [1, 2, "three"]}, "text": "héllo"});
    store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("append");
    let read = store.read_stream(&s, 1).await.expect("read");
    assert_eq!(read[0].event_id, batch[0].event_id);
    assert_eq!(read[0].event_type, "TestHappened");
    assert_eq!(read[0].data, batch[0].data);
    assert_eq!(read[0].metadata.actor, "alice");
    assert_eq!(
        read[0].metadata.correlation_id,
        batch[0].metadata.correlation_id
    );
    assert_eq!(
        read[0].metadata.causation_id,
        batch[0].metadata.causation_id
    );
    assert_eq!(read[0].metadata.schema_version, 1);
    let drift = (read[0].metadata.occurred_at - batch[0].metadata.occurred_at).num_milliseconds();
    assert!(
        drift.abs() <= 1,
        "occurredAt survives (to the millisecond): {drift}"
    );
}

contract_test!(reappending_stored_event_ids_is_an_idempotent_success);
async fn reappending_stored_event_ids_is_an_idempotent_success(store: AnyEventStore) {
    let s = stream("idem");
    let batch = events(2);
    let first = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("append");
    let again = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("retry");
    assert_eq!(again, first, "a retry answers as the first append did");
    assert_eq!(len(&store, &s).await, 2, "and writes nothing");

    let next = events(1);
    let second = store
        .append(&s, ExpectedVersion::Exact(2), next.clone())
        .await
        .expect("append");
    let again = store
        .append(&s, ExpectedVersion::Exact(2), next.clone())
        .await
        .expect("retry");
    assert_eq!(again, second);
    assert_eq!(len(&store, &s).await, 3);

    // The same ids under another expectation, or only some of them, are not a retry.
    let mut mixed = next.clone();
    mixed.extend(events(1));
    let r = store.append(&s, ExpectedVersion::Exact(2), mixed).await;
    assert!(r.is_err(), "partly stored ids conflict: {r:?}");
    assert_eq!(len(&store, &s).await, 3);
}

contract_test!(two_writers_racing_on_one_version_one_wins);
async fn two_writers_racing_on_one_version_one_wins(store: AnyEventStore) {
    for round in 0..20 {
        let s = stream("race");
        store
            .append(&s, ExpectedVersion::NoStream, events(1))
            .await
            .expect("seed");
        let (a, b) = tokio::join!(
            store.append(&s, ExpectedVersion::Exact(1), events(1)),
            store.append(&s, ExpectedVersion::Exact(1), events(1)),
        );
        let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: exactly one wins: {a:?} {b:?}");
        let loser = if a.is_err() { a } else { b };
        assert!(loser.expect_err("loser").is_conflict());
        assert_eq!(len(&store, &s).await, 2);
    }
}

contract_test!(concurrent_writers_are_delivered_exactly_once_in_one_order);
async fn concurrent_writers_are_delivered_exactly_once_in_one_order(store: AnyEventStore) {
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 500;
    let start = store.head_position().await.expect("head");
    let streams: Vec<String> = (0..16).map(|_| stream("conc")).collect();
    let mut feed = store.subscribe_all(start);

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let streams = streams.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..PER_WRITER {
                let s = &streams[(w * 7 + i) % streams.len()];
                let batch = events(1);
                ids.push(batch[0].event_id);
                store
                    .append(s, ExpectedVersion::Any, batch)
                    .await
                    .expect("append");
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for w in writers {
        written.extend(w.await.expect("writer"));
    }

    let mine: HashSet<&String> = streams.iter().collect();
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    let mut last_version: HashMap<String, u64> = HashMap::new();
    let mut last_position = start;
    while seen.len() < WRITERS * PER_WRITER {
        let event = tokio::time::timeout(Duration::from_secs(30), feed.next())
            .await
            .expect("subscriber keeps up")
            .expect("feed open")
            .expect("event");
        assert!(Some(event.position) > last_position, "positions grow");
        last_position = Some(event.position);
        if !mine.contains(&event.stream_id) {
            continue;
        }
        assert!(
            seen.insert(event.event_id),
            "delivered twice: {}",
            event.event_id
        );
        let prev = last_version
            .insert(event.stream_id.clone(), event.version)
            .unwrap_or(0);
        assert_eq!(
            event.version,
            prev + 1,
            "versions ascend without gaps in {}",
            event.stream_id
        );
        order.push(event.event_id);
    }
    assert_eq!(seen, written, "every written event arrives");

    // A second reader (read_all in pages) sees the same order.
    let mut again = Vec::new();
    let mut after = start;
    loop {
        let page = store.read_all(after, 333).await.expect("read_all");
        let Some(last) = page.last() else { break };
        after = Some(last.position);
        again.extend(
            page.into_iter()
                .filter(|e| mine.contains(&e.stream_id))
                .map(|e| e.event_id),
        );
    }
    assert_eq!(again, order, "one consistent order");
    let lag = store.count_after(start).await.expect("count");
    assert!(lag >= (WRITERS * PER_WRITER) as u64);
}

contract_test!(a_subscriber_gets_live_events_after_catching_up);
async fn a_subscriber_gets_live_events_after_catching_up(store: AnyEventStore) {
    let s = stream("live");
    let before = store.head_position().await.expect("head");
    store
        .append(&s, ExpectedVersion::NoStream, events(2))
        .await
        .expect("append");
    let mut feed = store.subscribe_all(before);
    let mut got = Vec::new();
    while got.len() < 2 {
        let e = next(&mut feed).await;
        if e.stream_id == s {
            got.push(e.version);
        }
    }
    store
        .append(&s, ExpectedVersion::Exact(2), events(1))
        .await
        .expect("append");
    loop {
        let e = next(&mut feed).await;
        if e.stream_id == s {
            assert_eq!(e.version, 3);
            break;
        }
    }
    // Subscribing after a position starts strictly after it.
    let third = store.read_stream(&s, 3).await.expect("read");
    let mut from_second =
        store.subscribe_all(Some(store.read_stream(&s, 2).await.expect("r")[0].position));
    let e = loop {
        let e = next(&mut from_second).await;
        if e.stream_id == s {
            break e;
        }
    };
    assert_eq!(e.event_id, third[0].event_id);
}

/// The feed's next event, within 10 s.
pub(crate) async fn next(feed: &mut infra::EventFeed) -> infra::RecordedEvent {
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .expect("an event in time")
        .expect("feed open")
        .expect("event")
}
