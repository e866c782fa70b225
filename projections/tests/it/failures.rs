//! Crashes and late commits (poison events: `parking`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::Role;
use infra::Metadata;
use projections::runtime::{FailAction, Settings};
use rand::SeedableRng;
use rand::rngs::StdRng;
use uuid::Uuid;

use crate::harness::{Env, assert_same_tables, fast_settings};
use crate::replay::{Ids, random_history};

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
