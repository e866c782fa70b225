//! Poison events park their stream: the rest of the log goes on, later events of the
//! stream are held in order, operators see it (status, metrics) and release it with
//! `retry` (after a fix) or `skip` (recorded as an audit event).

use std::time::{Duration, Instant};

use domain::Role;
use domain::interview::{self, InterviewKind};
use domain::person::{self, PersonCommand};
use infra::{EventStore, ExpectedVersion, Metadata, NewEvent};
use projections::parked::{self, AUDIT_STREAM, Release, SKIP_EVENT_TYPE};
use projections::{Projection, ProjectionState};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Env, Running, fast_settings};
use crate::world::{World, at};

/// The people projection (the one every person stream goes through).
fn people() -> std::sync::Arc<dyn Projection> {
    projections::by_names(&["people".into()])
        .expect("people")
        .remove(0)
}

/// Name and version of a person's read-model row.
async fn person_row(env: &Env, id: Uuid) -> Option<(String, i64)> {
    sqlx::query_as("SELECT name, version FROM rm.people WHERE id = $1")
        .bind(id)
        .fetch_optional(&env.pool)
        .await
        .expect("people")
}

/// Waits (bounded) until `check` holds for the parked streams.
async fn wait_parked(env: &Env, what: &str, check: impl Fn(&[parked::ParkedStream]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = parked::parked(&env.pool).await.expect("parked");
        if check(&rows) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until every projection's checkpoint is at the head (parked streams do not
/// stop it), and none failed.
async fn drain(env: &Env) {
    env.drain().await;
}

/// Writes version `version` of `id`'s stream straight into the events table: a
/// `PersonDetailsChanged` with `metadata` (ours or not).
async fn insert_raw(env: &Env, id: Uuid, version: i64, metadata: serde_json::Value) -> Uuid {
    let state = person::Person {
        version: (version - 1) as u64,
        ..person_state(env, id).await
    };
    let events = person::decide(
        &Some(state),
        PersonCommand::ChangeDetails {
            name: Some("Fixed Name".into()),
            email: None,
            timezone: None,
        },
    )
    .expect("change details");
    let event_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(person::stream_id(id))
    .bind(version)
    .bind(event_id)
    .bind(domain::DomainEvent::event_type(&events[0]))
    .bind(domain::DomainEvent::to_data(&events[0]))
    .bind(metadata)
    .execute(&env.pool)
    .await
    .expect("insert raw event");
    event_id
}

async fn person_state(env: &Env, id: Uuid) -> person::Person {
    let events = env
        .store
        .read_stream(&person::stream_id(id), 1)
        .await
        .expect("read");
    let mut state = None;
    for e in events {
        let event: person::PersonEvent =
            domain::DomainEvent::from_data_ref(&e.event_type, &e.data).expect("decode");
        state = person::evolve(state, &event);
    }
    state.expect("registered")
}

fn metric(running: &Running, projection: &str) -> u64 {
    running
        .metrics
        .get(projection)
        .expect("metrics")
        .parked_streams()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_event_parks_its_stream_holds_its_later_events_and_a_retry_applies_them_in_order()
 {
    let env = Env::new().await;
    let running = env.start(fast_settings());
    let mut w = env.world();
    let bad = w.register(&[Role::Candidate]).await;
    drain(&env).await;

    // Version 2 of `bad` has metadata that is not ours: no store can decode it.
    insert_raw(&env, bad, 2, json!({"bogus": true})).await;
    w.people.get_mut(&bad).expect("bad").version = 2;
    w.rename(bad, "Later Name").await; // version 3: held behind version 2
    let other = w.register(&[Role::Interviewer]).await; // another stream goes on
    drain(&env).await;

    wait_parked(&env, "every projection parks the stream", |rows| {
        rows.len() == 4 && rows.iter().all(|r| r.held == 1)
    })
    .await;
    for r in parked::parked(&env.pool).await.expect("parked") {
        assert_eq!(r.stream_id, person::stream_id(bad));
        assert_eq!(r.version, 2);
        assert_eq!(r.event_type, "PersonDetailsChanged");
        assert!(r.reason.contains("metadata"), "{}", r.reason);
    }
    assert_eq!(
        person_row(&env, bad).await.map(|(_, v)| v),
        Some(1),
        "held at 1"
    );
    assert!(person_row(&env, other).await.is_some(), "the rest goes on");
    for row in projections::status(&env.pool).await.expect("status") {
        assert_eq!(row.parked_streams, 1, "{}", row.name);
        assert_ne!(row.state, ProjectionState::Failed);
    }
    assert_eq!(metric(&running, "people"), 1);
    let text = running.metrics.render_prometheus();
    assert!(
        text.contains("projection_parked_streams{projection=\"people\"} 1"),
        "{text}"
    );

    // A crash and a restart keep the parking; events of the stream still wait.
    running.stop().await;
    let running = env.start(fast_settings());
    w.rename(bad, "Latest Name").await; // version 4
    drain(&env).await;
    wait_parked(&env, "the restarted runner holds version 4 too", |rows| {
        rows.len() == 4 && rows.iter().all(|r| r.held == 2)
    })
    .await;
    assert_eq!(person_row(&env, bad).await.map(|(_, v)| v), Some(1));

    // A rebuild reads past it too (both in bulk and in its tail) and parks it the same way.
    let report = env.rebuild().await;
    assert_eq!(
        report.events, 5,
        "every event, the undecodable one included"
    );
    wait_parked(&env, "the rebuild parked it again, 2 held", |rows| {
        rows.len() == 4 && rows.iter().all(|r| r.held == 2 && r.version == 2)
    })
    .await;
    assert_eq!(person_row(&env, bad).await.map(|(_, v)| v), Some(1));
    assert!(person_row(&env, other).await.is_some());

    // A retry before the fix parks it again where it was.
    let again = parked::retry(&env.store, &env.pool, people().as_ref(), None)
        .await
        .expect("retry");
    assert_eq!(again.len(), 1);
    assert!(
        matches!(&again[0].release, Release::Parked { version: 2, reason } if reason.contains("metadata")),
        "{again:?}"
    );

    // The fix: the event gets proper metadata. Retry applies 2, 3 and 4 in order.
    sqlx::query("UPDATE events SET metadata = $2 WHERE stream_id = $1 AND version = 2")
        .bind(person::stream_id(bad))
        .bind(serde_json::to_value(Metadata::anonymous()).expect("metadata"))
        .execute(&env.pool)
        .await
        .expect("fix");
    for p in projections::all() {
        let done = parked::retry(
            &env.store,
            &env.pool,
            p.as_ref(),
            Some(&person::stream_id(bad)),
        )
        .await
        .expect("retry");
        assert_eq!(
            done[0].release,
            Release::Released { applied: 3 },
            "{}",
            p.name()
        );
    }
    assert_eq!(
        person_row(&env, bad).await,
        Some(("Latest Name".to_owned(), 4))
    );
    assert!(parked::parked(&env.pool).await.expect("parked").is_empty());
    // The runner goes on with the stream, and the gauge follows.
    w.rename(bad, "After Retry").await;
    drain(&env).await;
    assert_eq!(
        person_row(&env, bad).await,
        Some(("After Retry".to_owned(), 5))
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&running, "people") != 0 {
        assert!(Instant::now() < deadline, "the parked gauge drops to 0");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.stop().await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_cannot_be_applied_parks_its_stream_and_a_skip_is_recorded_and_releases_it() {
    let env = Env::new().await;
    let running = env.start(fast_settings());
    let mut w = env.world();
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    let good = w
        .schedule(cand, &[ann], "Ops", InterviewKind::Technical, at(1, 9), 60)
        .await
        .expect("schedule");
    let bad_stream = interview::stream_id(Uuid::new_v4());
    let poison = env
        .store
        .append(
            &bad_stream,
            ExpectedVersion::NoStream,
            vec![NewEvent {
                event_id: Uuid::new_v4(),
                event_type: "InterviewScheduled".into(),
                data: json!({ "interviewId": "not-a-uuid", "position": 7 }),
                metadata: Metadata::anonymous(),
            }],
        )
        .await
        .expect("append poison");
    let later = w.register(&[Role::Candidate]).await;
    drain(&env).await;

    wait_parked(&env, "interviews and analytics park the stream", |rows| {
        let mut names: Vec<&str> = rows.iter().map(|r| r.projection.as_str()).collect();
        names.sort();
        names == ["analytics", "interviews"]
    })
    .await;
    for r in parked::parked(&env.pool).await.expect("parked") {
        assert_eq!(r.stream_id, bad_stream);
        assert_eq!(r.position, poison.position);
        assert!(
            !r.reason.contains("not-a-uuid"),
            "no data in the reason: {}",
            r.reason
        );
    }
    for row in projections::status(&env.pool).await.expect("status") {
        assert_ne!(row.state, ProjectionState::Failed, "{}", row.name);
    }
    let scheduled: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM rm.interviews")
        .fetch_all(&env.pool)
        .await
        .expect("interviews");
    assert_eq!(scheduled, vec![good]);
    assert!(person_row(&env, later).await.is_some());

    // A rebuild meets it the same way: it parks, it does not stop.
    env.rebuild().await;
    wait_parked(&env, "the rebuild parked it again", |rows| rows.len() == 2).await;

    // Skip it for `interviews`: an audit event, a row, the stream released.
    let interviews = projections::by_names(&["interviews".into()])
        .expect("interviews")
        .remove(0);
    let done = parked::skip(
        &env.store,
        &env.pool,
        interviews.as_ref(),
        &bad_stream,
        "garbage written by a test",
        "ops-alice",
    )
    .await
    .expect("skip");
    assert_eq!(done.release, Release::Released { applied: 0 });
    let audit = env.store.read_stream(AUDIT_STREAM, 1).await.expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].event_type, SKIP_EVENT_TYPE);
    assert_eq!(audit[0].metadata.actor, "ops-alice");
    assert_eq!(audit[0].data["streamId"], json!(bad_stream));
    assert_eq!(audit[0].data["projection"], json!("interviews"));
    assert_eq!(audit[0].data["reason"], json!("garbage written by a test"));
    let skips: Vec<(String, String, Uuid)> =
        sqlx::query_as("SELECT projection, actor, audit_event_id FROM projection_skips")
            .fetch_all(&env.pool)
            .await
            .expect("skips");
    assert_eq!(
        skips,
        vec![("interviews".into(), "ops-alice".into(), audit[0].event_id)]
    );
    // The audit event goes through every projection without parking anything.
    drain(&env).await;
    let left = parked::parked(&env.pool).await.expect("parked");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].projection, "analytics");
    // Skipping a stream that is not parked is refused.
    let err = parked::skip(
        &env.store,
        &env.pool,
        interviews.as_ref(),
        &bad_stream,
        "x",
        "ops",
    )
    .await
    .expect_err("not parked");
    assert!(matches!(err, parked::ParkError::NotParked { .. }), "{err}");
    running.stop().await;
    env.finish().await;
}

/// The same through EventStoreDB: data that is not JSON, written by another client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_eventstoredb_non_json_data_parks_its_stream_and_skips_release_it() {
    let Some((_server, url)) = crate::harness::own_esdb().await else {
        return;
    };
    let env = Env::with_esdb(&url).await;
    let running = env.start(fast_settings());
    let mut w = World::new(env.store.clone());
    let first = w.register(&[Role::Candidate]).await;

    // A stream whose first event is not JSON, then a proper one behind it.
    let bad = Uuid::new_v4();
    let bad_stream = person::stream_id(bad);
    let client = eventstore::Client::new(url.parse().expect("settings")).expect("client");
    let raw = eventstore::EventData::binary("PersonRegistered", b"\x00not json"[..].into())
        .id(Uuid::new_v4());
    client
        .append_to_stream(bad_stream.as_str(), &Default::default(), raw)
        .await
        .expect("raw append");
    let renamed = person::decide(
        &Some(person::Person {
            version: 1,
            ..person_state(&env, first).await
        }),
        PersonCommand::ChangeDetails {
            name: Some("Held".into()),
            email: None,
            timezone: None,
        },
    )
    .expect("rename");
    env.store
        .append(
            &bad_stream,
            ExpectedVersion::Exact(1),
            vec![NewEvent {
                event_id: Uuid::new_v4(),
                event_type: domain::DomainEvent::event_type(&renamed[0]).to_owned(),
                data: domain::DomainEvent::to_data(&renamed[0]),
                metadata: Metadata::anonymous(),
            }],
        )
        .await
        .expect("append behind");
    let second = w.register(&[Role::Interviewer]).await;
    drain(&env).await;

    wait_parked(&env, "every projection parks the stream", |rows| {
        rows.len() == 4 && rows.iter().all(|r| r.held == 1 && r.version == 1)
    })
    .await;
    let rows = parked::parked(&env.pool).await.expect("parked");
    assert!(rows[0].reason.contains("not JSON"), "{}", rows[0].reason);
    assert!(person_row(&env, first).await.is_some());
    assert!(person_row(&env, second).await.is_some(), "the rest goes on");
    assert_eq!(metric(&running, "people"), 1);

    // A retry cannot help: the data is still not JSON.
    let again = parked::retry(&env.store, &env.pool, people().as_ref(), Some(&bad_stream))
        .await
        .expect("retry");
    assert!(
        matches!(again[0].release, Release::Parked { version: 1, .. }),
        "{again:?}"
    );

    // Skipping it applies the held event, which cannot go alone (no person registered):
    // it parks the stream in turn, said so; a second skip releases the stream.
    let done = parked::skip(
        &env.store,
        &env.pool,
        people().as_ref(),
        &bad_stream,
        "corrupt",
        "ops",
    )
    .await
    .expect("skip");
    assert!(
        matches!(done.release, Release::Parked { version: 2, .. }),
        "{done:?}"
    );
    let done = parked::skip(
        &env.store,
        &env.pool,
        people().as_ref(),
        &bad_stream,
        "orphan",
        "ops",
    )
    .await
    .expect("skip");
    assert_eq!(done.release, Release::Released { applied: 0 });
    let audit = env.store.read_stream(AUDIT_STREAM, 1).await.expect("audit");
    assert_eq!(audit.len(), 2);
    drain(&env).await;
    let left: Vec<String> = parked::parked(&env.pool)
        .await
        .expect("parked")
        .into_iter()
        .map(|r| r.projection)
        .collect();
    assert_eq!(left, vec!["analytics", "interviews", "schedules"]);
    running.stop().await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_is_retried_not_parked() {
    let env = Env::new().await;
    let running = env.start_only(vec![people()], fast_settings());
    let mut w = env.world();
    w.register(&[Role::Candidate]).await;
    env.wait_status("people applied the first event", |rows| {
        rows.iter()
            .any(|r| r.name == "people" && r.events_applied == 1)
    })
    .await;

    // The runner's connection dies between batches: its next batch fails on it.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'il-projector'",
    )
    .fetch_all(&env.pool)
    .await
    .expect("terminate");
    assert!(!killed.is_empty(), "the runner has a connection");
    let later = w.register(&[Role::Interviewer]).await;

    env.wait_status("people applied the second event", |rows| {
        rows.iter()
            .any(|r| r.name == "people" && r.events_applied == 2)
    })
    .await;
    assert!(person_row(&env, later).await.is_some());
    assert!(parked::parked(&env.pool).await.expect("parked").is_empty());
    let text = running.metrics.render_prometheus();
    assert!(
        !text.contains("projection_transient_errors_total{projection=\"people\"} 0"),
        "the interruption was counted as transient: {text}"
    );
    running.stop().await;
    env.finish().await;
}
