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

/// A projector's batch transaction writes read models, so it has a transaction id, but it
/// never appends events: while it runs, events committed after it started are still
/// delivered at once. An ordinary transaction with an id still holds them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_running_projector_transaction_does_not_hold_the_feed_back() {
    let (store, db) = postgres().await;
    let mut feed = store.subscribe_all(None);
    let options: sqlx::postgres::PgConnectOptions = db.url.parse().expect("url");
    let mut projector = sqlx::PgConnection::connect_with(&infra::postgres::non_appending(&options))
        .await
        .expect("connect");
    sqlx::query("CREATE TABLE scratch (n int)")
        .execute(&mut projector)
        .await
        .expect("create");
    let mut batch = projector.begin().await.expect("begin");
    sqlx::query("INSERT INTO scratch VALUES (1)")
        .execute(&mut *batch)
        .await
        .expect("a write takes a transaction id");

    let first = store
        .append(&stream("during"), ExpectedVersion::NoStream, events(1))
        .await
        .expect("append");
    assert_eq!(next(&mut feed).await.position, first.position);
    let page = store.read_all(None, 10).await.expect("read_all");
    assert_eq!(
        page.iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![first.position],
        "read_all is not held back either"
    );

    // An ordinary connection's running transaction may still append: it holds back what
    // commits after it, the projector's transaction notwithstanding.
    let mut other = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let mut open = other.begin().await.expect("begin");
    sqlx::query("INSERT INTO scratch VALUES (2)")
        .execute(&mut *open)
        .await
        .expect("insert");
    let second = store
        .append(&stream("during"), ExpectedVersion::NoStream, events(1))
        .await
        .expect("append");
    let premature = tokio::time::timeout(Duration::from_millis(300), feed.next()).await;
    assert!(
        premature.is_err(),
        "delivered past a running ordinary transaction: {premature:?}"
    );
    assert_eq!(
        store
            .read_all(Some(first.position), 10)
            .await
            .expect("read_all")
            .len(),
        0
    );
    open.commit().await.expect("commit");
    assert_eq!(next(&mut feed).await.position, second.position);

    batch.commit().await.expect("commit");
    let _ = projector.close().await;
    let _ = other.close().await;
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

/// Concurrent commands share statements (group commit); each still gets its own answer:
/// commands on distinct streams all succeed, of several racing for one version exactly
/// one wins, a re-sent command answers as the first time, and a multi-stream command
/// refused on one stream writes none of its streams while its batch-mates commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batched_appends_answer_each_command_on_its_own() {
    let (store, db) = postgres().await;
    let store = std::sync::Arc::new(store);
    let hot = stream("hot");
    let resent = stream("resent");
    let resent_events = events(2);
    let first = store
        .append(&resent, ExpectedVersion::NoStream, resent_events.clone())
        .await
        .expect("first append");
    let blocked = stream("blocked");
    store
        .append(&blocked, ExpectedVersion::NoStream, events(1))
        .await
        .expect("seed blocked");

    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = store.clone();
        let (hot, resent, blocked) = (hot.clone(), resent.clone(), blocked.clone());
        let resent_events = resent_events.clone();
        tasks.push(tokio::spawn(async move {
            match i % 6 {
                // Racing for the first version of one stream.
                0 => (
                    "hot",
                    store
                        .append(&hot, ExpectedVersion::NoStream, events(1))
                        .await
                        .map(|r| vec![r]),
                ),
                // The same command again (a retry after a lost answer).
                1 if i == 1 => (
                    "resent",
                    store
                        .append(&resent, ExpectedVersion::NoStream, resent_events)
                        .await
                        .map(|r| vec![r]),
                ),
                // A multi-stream command whose second stream is not where it expects.
                2 if i == 2 => (
                    "refused",
                    store
                        .append_multi(vec![
                            StreamAppend {
                                stream_id: stream("fresh"),
                                expected: ExpectedVersion::NoStream,
                                events: events(1),
                            },
                            StreamAppend {
                                stream_id: blocked,
                                expected: ExpectedVersion::NoStream,
                                events: events(1),
                            },
                        ])
                        .await,
                ),
                _ => (
                    "distinct",
                    store
                        .append_multi(vec![
                            StreamAppend {
                                stream_id: stream("d1"),
                                expected: ExpectedVersion::NoStream,
                                events: events(2),
                            },
                            StreamAppend {
                                stream_id: stream("d2"),
                                expected: ExpectedVersion::NoStream,
                                events: events(1),
                            },
                        ])
                        .await,
                ),
            }
        }));
    }
    let mut hot_wins = 0;
    let mut distinct = 0;
    for t in tasks {
        let (kind, result) = t.await.expect("task");
        match kind {
            "hot" => match result {
                Ok(r) => {
                    assert_eq!(r[0].version, 1);
                    hot_wins += 1;
                }
                Err(e) => assert!(e.is_conflict(), "a lost race is a conflict: {e}"),
            },
            "resent" => assert_eq!(result.expect("a retry replays")[0], first),
            "refused" => assert!(result.expect_err("refused").is_conflict()),
            _ => {
                let r = result.expect("distinct streams all commit");
                assert_eq!((r[0].version, r[1].version), (2, 1));
                distinct += 1;
            }
        }
    }
    assert_eq!(hot_wins, 1, "exactly one of the racing commands wins");
    assert_eq!(distinct, 48);
    assert_eq!(store.read_stream(&hot, 1).await.expect("read").len(), 1);
    assert_eq!(store.read_stream(&resent, 1).await.expect("read").len(), 2);
    assert_eq!(store.read_stream(&blocked, 1).await.expect("read").len(), 1);
    // Counted in the table: `$all` readers wait for every older transaction on the
    // server, and other tests hold some open on purpose.
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    // seed (2 + 1) + hot 1 + 48 × 3 distinct; the refused command wrote nothing.
    assert_eq!(stored, 3 + 1 + 48 * 3);
    let _ = conn.close().await;
    drop(store);
    let _ = db.drop_database().await;
}
