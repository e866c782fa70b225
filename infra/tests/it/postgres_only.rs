//! PostgreSQL-specific guarantees: late-committing transactions and multi-stream appends.

use std::time::Duration;

use futures::StreamExt;
use infra::{AnyEventStore, EventStore, ExpectedVersion, StreamAppend};
use sqlx::Connection;

use crate::harness::{events, postgres, stream};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_append_that_commits_late_is_delivered_not_skipped() {
    let (store, db) = postgres().await;
    let mut feed = store.subscribe_all(None);

    // Hold a transaction open after it inserted an event: it took its id first.
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let mut tx = conn.begin().await.expect("begin");
    let late_id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
         VALUES ('late-1', 1, $1, 'TestHappened', '{}', $2)",
    )
    .bind(late_id)
    .bind(serde_json::to_value(infra::Metadata::anonymous()).expect("json"))
    .execute(&mut *tx)
    .await
    .expect("insert");

    // Meanwhile a later transaction commits.
    let s = stream("early");
    let early = store
        .append(&s, ExpectedVersion::NoStream, events(1))
        .await
        .expect("append");

    // Nothing may be delivered while the older transaction can still commit before it.
    let premature = tokio::time::timeout(Duration::from_millis(300), feed.next()).await;
    assert!(
        premature.is_err(),
        "delivered past a running transaction: {premature:?}"
    );

    tx.commit().await.expect("commit");
    let first = next(&mut feed).await;
    let second = next(&mut feed).await;
    assert_eq!(
        first.event_id, late_id,
        "the late commit is delivered, first (older id)"
    );
    assert_eq!(second.position, early.position);
    let _ = conn.close().await;
    drop(store);
    let _ = db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multi_stream_append_is_all_or_nothing() {
    let (store, db) = postgres().await;
    let AnyEventStore::Postgres(_) = &store else {
        panic!("postgres")
    };
    assert!(store.supports_multi_stream());
    let a = stream("multi");
    let b = stream("multi");
    store
        .append(&b, ExpectedVersion::NoStream, events(1))
        .await
        .expect("seed");

    let refused = store
        .append_multi(vec![
            StreamAppend {
                stream_id: a.clone(),
                expected: ExpectedVersion::NoStream,
                events: events(1),
            },
            StreamAppend {
                stream_id: b.clone(),
                expected: ExpectedVersion::NoStream,
                events: events(1),
            },
        ])
        .await;
    assert!(refused.expect_err("b exists").is_conflict());
    assert!(
        store.read_stream(&a, 1).await.expect("read").is_empty(),
        "nothing half-written"
    );

    let batch_a = events(2);
    let batch_b = events(1);
    let appends = vec![
        StreamAppend {
            stream_id: a.clone(),
            expected: ExpectedVersion::NoStream,
            events: batch_a,
        },
        StreamAppend {
            stream_id: b.clone(),
            expected: ExpectedVersion::Exact(1),
            events: batch_b,
        },
    ];
    let done = store.append_multi(appends.clone()).await.expect("append");
    assert_eq!(
        done.iter().map(|r| r.version).collect::<Vec<_>>(),
        vec![2, 2]
    );
    let again = store
        .append_multi(appends)
        .await
        .expect("an identical retry replays");
    assert_eq!(again, done);
    assert_eq!(store.read_stream(&a, 1).await.expect("read").len(), 2);
    drop(store);
    let _ = db.drop_database().await;
}

async fn next(feed: &mut infra::EventFeed) -> infra::RecordedEvent {
    tokio::time::timeout(Duration::from_secs(10), feed.next())
        .await
        .expect("an event in time")
        .expect("feed open")
        .expect("event")
}
