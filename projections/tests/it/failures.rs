//! Crashes, late commits and poison events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::Role;
use domain::interview::{self, InterviewKind};
use infra::{EventStore, ExpectedVersion, Metadata, NewEvent};
use projections::ProjectionState;
use projections::runtime::{FailAction, Settings};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Env, assert_same_tables, fast_settings};
use crate::replay::{Ids, random_history};
use crate::world::at;

fn crash_at(batch: u64, action: FailAction) -> Settings {
    Settings {
        batch_size: 50,
        failpoint: Some(Arc::new(move |_, n| {
            if n == batch {
                action
            } else {
                FailAction::Continue
            }
        })),
        ..fast_settings()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_or_after_a_commit_neither_loses_nor_double_counts_anything() {
    let env = Env::new().await;
    let mut w = env.world();
    let mut rng = StdRng::seed_from_u64(7);
    random_history(&mut w, &mut Ids::default(), &mut rng, 400).await;

    // Every task dies holding its third batch, applied but not committed.
    env.start(crash_at(3, FailAction::CrashBeforeCommit))
        .join()
        .await;
    let after_first = projections::status(&env.pool).await.expect("status");
    let head = env.store_head().await;
    assert!(
        after_first
            .iter()
            .all(|r| r.events_applied > 0 && r.checkpoint < head)
    );
    // Restarted, each dies again right after committing its second batch.
    env.start(crash_at(2, FailAction::CrashAfterCommit))
        .join()
        .await;
    // Restarted cleanly: it resumes from the committed checkpoints.
    env.project().await;

    let live = env.dump_all().await;
    let (scheduled, facts): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT sum(scheduled) FROM rm.analytics_daily), (SELECT count(*) FROM rm.analytics_interviews)",
    )
    .fetch_one(&env.pool)
    .await
    .expect("sums");
    assert_eq!(scheduled, facts, "each interview counted once");
    env.rebuild().await;
    assert_same_tables(&live, &env.dump_all().await);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_that_commits_late_is_projected_once_it_commits() {
    let env = Env::new().await;
    let running = env.start(fast_settings());
    let mut w = env.world();
    let early = w.register(&[Role::Candidate]).await;
    env.drain().await;

    // An append whose transaction stays open while a later one commits.
    let late = Uuid::new_v4();
    let registered = domain::person::decide(
        &None,
        domain::person::PersonCommand::Register {
            person_id: late,
            name: "Late Larry".into(),
            email: None,
            roles: vec![Role::Interviewer],
            timezone: None,
        },
    )
    .expect("register");
    let mut slow = env.pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
         VALUES ($1, 1, $2, 'PersonRegistered', $3, $4)",
    )
    .bind(domain::person::stream_id(late))
    .bind(Uuid::new_v4())
    .bind(domain::DomainEvent::to_data(&registered[0]))
    .bind(serde_json::to_value(Metadata::anonymous()).expect("metadata"))
    .execute(&mut *slow)
    .await
    .expect("insert");
    let after = w.register(&[Role::Candidate]).await;

    // The later event is ordered after the open transaction, so it cannot be applied
    // before that transaction ends; watch for a moment that it is not.
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM rm.people")
            .fetch_all(&env.pool)
            .await
            .expect("people");
        assert_eq!(ids, vec![early]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    slow.commit().await.expect("commit");
    env.drain().await;
    let mut ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM rm.people")
        .fetch_all(&env.pool)
        .await
        .expect("people");
    ids.sort();
    let mut expected = vec![early, late, after];
    expected.sort();
    assert_eq!(ids, expected);
    running.stop().await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_stops_its_projections_at_that_event_while_the_others_go_on() {
    let env = Env::new().await;
    let running = env.start(fast_settings());
    let mut w = env.world();
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    let good = w
        .schedule(cand, &[ann], "Ops", InterviewKind::Technical, at(1, 9), 60)
        .await
        .expect("schedule");
    let before_poison = w.last_position;
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
    let head = env.store_head().await;

    env.wait_status(
        "interviews and analytics failed, the others live at the head",
        |rows| {
            rows.iter().all(|r| match r.name.as_str() {
                "interviews" | "analytics" => r.state == ProjectionState::Failed,
                _ => r.state == ProjectionState::Live && r.checkpoint == head,
            })
        },
    )
    .await;
    for row in projections::status(&env.pool).await.expect("status") {
        if matches!(row.name.as_str(), "interviews" | "analytics") {
            let error = row.last_error.expect("last error");
            assert!(error.contains(&bad_stream), "{error}");
            assert!(error.contains("InterviewScheduled"), "{error}");
            assert!(error.contains(&poison.position.to_string()), "{error}");
            assert_eq!(
                row.checkpoint,
                Some(before_poison),
                "stopped right before it"
            );
        }
    }
    let scheduled: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM rm.interviews")
        .fetch_all(&env.pool)
        .await
        .expect("interviews");
    assert_eq!(scheduled, vec![good]);
    let later_row: i64 = sqlx::query_scalar("SELECT count(*) FROM rm.people WHERE id = $1")
        .bind(later)
        .fetch_one(&env.pool)
        .await
        .expect("people");
    assert_eq!(later_row, 1);

    // A rebuild stops at the same event and leaves the live tables and states alone.
    let err = projections::rebuild(&env.store, &env.pool, &projections::all(), |_| {})
        .await
        .expect_err("the rebuild meets the poison event too");
    assert!(err.to_string().contains(&bad_stream), "{err}");
    let still: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM rm.interviews")
        .fetch_all(&env.pool)
        .await
        .expect("interviews");
    assert_eq!(still, vec![good]);
    let shadows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rm\\_rebuild\\_%'",
    )
    .fetch_one(&env.pool)
    .await
    .expect("schemas");
    assert_eq!(shadows, 0, "shadow schemas are dropped");
    let states: Vec<(String, String)> =
        sqlx::query_as("SELECT name, state FROM projection_checkpoints ORDER BY name")
            .fetch_all(&env.pool)
            .await
            .expect("states");
    assert_eq!(
        states,
        vec![
            ("analytics".into(), "failed".into()),
            ("interviews".into(), "failed".into()),
            ("people".into(), "live".into()),
            ("schedules".into(), "live".into()),
        ]
    );
    running.stop().await;
    env.finish().await;
}
