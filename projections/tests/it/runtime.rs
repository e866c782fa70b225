//! The runtime: one active instance, takeover, notifications, status and metrics.

use std::time::Duration;

use domain::Role;
use domain::interview::InterviewKind;
use infra::EventStore;
use projections::{INTERVIEW_CHANNEL, PROJECTION_CHANNEL, ProjectionState};
use sqlx::postgres::PgListener;

use crate::harness::{Env, assert_same_tables, fast_settings};
use crate::world::at;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_projector_applies_at_a_time_and_another_takes_over_when_it_stops() {
    let env = Env::new().await;
    let first = env.start(fast_settings());
    let second = env.start(fast_settings());
    let mut w = env.world();
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    w.schedule(cand, &[ann], "Ops", InterviewKind::Technical, at(1, 9), 60)
        .await
        .expect("schedule");
    env.drain().await;
    let first_metrics = first.metrics.clone();
    first.stop().await;
    for _ in 0..5 {
        w.register(&[Role::Interviewer]).await;
    }
    env.drain().await;
    let total = env.store.count_after(None).await.expect("count");
    for name in ["people", "interviews", "schedules", "analytics"] {
        let applied = |m: &projections::Metrics| m.get(name).map_or(0, |m| m.events_applied());
        assert_eq!(
            applied(&first_metrics) + applied(&second.metrics),
            total,
            "{name}: every event applied exactly once across both projectors"
        );
    }
    let live = env.dump_all().await;
    second.stop().await;
    env.rebuild().await;
    assert_same_tables(&live, &env.dump_all().await);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_notify_listeners_and_stopping_shows_in_status_and_metrics() {
    let env = Env::new().await;
    let mut listener = PgListener::connect_with(&env.pool).await.expect("listener");
    listener
        .listen_all([PROJECTION_CHANNEL, INTERVIEW_CHANNEL])
        .await
        .expect("listen");
    let running = env.start(fast_settings());
    let mut w = env.world();
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    let id = w
        .schedule(cand, &[ann], "Ops", InterviewKind::Technical, at(1, 9), 60)
        .await
        .expect("schedule");
    let position = w.last_position.to_string();

    let (mut saw_interview, mut saw_position) = (false, false);
    while !(saw_interview && saw_position) {
        let n = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("a notification in time")
            .expect("notification");
        if n.channel() == INTERVIEW_CHANNEL {
            assert_eq!(n.payload(), format!("default.{id}"));
            saw_interview = true;
        } else {
            let payload: serde_json::Value = serde_json::from_str(n.payload()).expect("json");
            if payload["name"] == "interviews" && payload["position"] == position.as_str() {
                assert_eq!(payload["state"], "live");
                saw_position = true;
            }
        }
    }
    env.drain().await;
    let text = running.metrics.render_prometheus();
    assert!(text.contains("projection_events_applied_total{projection=\"interviews\"}"));
    assert!(text.contains("projection_state{projection=\"people\",state=\"live\"} 1"));
    running.stop().await;
    let rows = projections::status(&env.pool).await.expect("status");
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter().all(|r| r.state == ProjectionState::Stopped),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .all(|r| r.position.as_deref() == Some(position.as_str()))
    );
    env.finish().await;
}
