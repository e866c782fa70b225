//! The `analytics` read model: facts and incrementally kept aggregates.

use chrono::{Duration, NaiveDate};
use domain::Role;
use domain::interview::{DecisionOutcome, InterviewKind};

use crate::harness::Env;
use crate::world::at;

type Daily = (NaiveDate, i32, i32, i32, i32, i64);

async fn daily(env: &Env) -> Vec<Daily> {
    sqlx::query_as(
        "SELECT date, scheduled, completed, cancelled, no_show, completed_duration_seconds_sum
         FROM rm.analytics_daily ORDER BY date",
    )
    .fetch_all(&env.pool)
    .await
    .expect("daily")
}

async fn hourly(env: &Env) -> Vec<(i32, i32, i32)> {
    sqlx::query_as("SELECT hour, interviews, completed FROM rm.analytics_hourly ORDER BY hour")
        .fetch_all(&env.pool)
        .await
        .expect("hourly")
}

fn day(d: i64) -> NaiveDate {
    at(d, 0).date_naive()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reschedule_across_days_moves_the_interview_between_days_and_hours() {
    let env = Env::new().await;
    let mut w = env.world();
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    let id = w
        .schedule(
            cand,
            &[ann],
            "Data",
            InterviewKind::Technical,
            at(1, 10),
            60,
        )
        .await
        .expect("schedule");
    env.project().await;
    assert_eq!(daily(&env).await, vec![(day(1), 1, 0, 0, 0, 0)]);
    assert_eq!(hourly(&env).await, vec![(10, 1, 0)]);

    w.reschedule(id, at(2, 14), 45).await.expect("reschedule");
    env.project().await;
    assert_eq!(
        daily(&env).await,
        vec![(day(1), 0, 0, 0, 0, 0), (day(2), 1, 0, 0, 0, 0)]
    );
    assert_eq!(hourly(&env).await, vec![(10, 0, 0), (14, 1, 0)]);
    let fact: (String, i32, i64) = sqlx::query_as(
        "SELECT status, scheduled_minutes, version FROM rm.analytics_interviews WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&env.pool)
    .await
    .expect("fact");
    assert_eq!(fact, ("scheduled".into(), 45, 2));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_move_counts_and_decisions_and_feedback_fill_the_funnel() {
    let env = Env::new().await;
    let mut w = env.world();
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    let ben = w.register(&[Role::Interviewer]).await;
    let done = w
        .schedule(
            cand,
            &[ann, ben],
            "Backend",
            InterviewKind::Technical,
            at(3, 9),
            60,
        )
        .await
        .expect("schedule");
    let cancelled = w
        .schedule(
            cand,
            &[ann],
            "Backend",
            InterviewKind::PhoneScreen,
            at(3, 11),
            30,
        )
        .await
        .expect("schedule");
    let missed = w
        .schedule(
            cand,
            &[ben],
            "Frontend",
            InterviewKind::Final,
            at(3, 13),
            30,
        )
        .await
        .expect("schedule");
    let held = w
        .schedule(
            cand,
            &[ben],
            "Frontend",
            InterviewKind::Onsite,
            at(4, 9),
            30,
        )
        .await
        .expect("schedule");
    env.project().await;
    w.start(done, at(3, 9)).await.expect("start");
    w.complete(done, at(3, 9) + Duration::minutes(50))
        .await
        .expect("complete");
    w.cancel(cancelled).await.expect("cancel");
    w.no_show(missed).await.expect("no-show");
    w.start(held, at(4, 9)).await.expect("start");
    w.complete(held, at(4, 9) + Duration::minutes(20))
        .await
        .expect("complete");
    env.project().await;
    w.feedback(done, ann, 4, &[("coding", 5), ("design", 3)])
        .await
        .expect("feedback");
    w.feedback(done, ben, 3, &[("coding", 4)])
        .await
        .expect("feedback");
    w.feedback(held, ben, 2, &[("coding", 2)])
        .await
        .expect("feedback");
    w.decide(done, DecisionOutcome::Hire, ann)
        .await
        .expect("decision");
    w.decide(held, DecisionOutcome::Hold, ben)
        .await
        .expect("decision");
    env.project().await;

    assert_eq!(
        daily(&env).await,
        vec![(day(3), 3, 1, 1, 1, 50 * 60), (day(4), 1, 1, 0, 0, 20 * 60)]
    );
    assert_eq!(hourly(&env).await, vec![(9, 2, 2), (11, 1, 0), (13, 1, 0)]);
    let funnel: Vec<(String, i32, i32, i32, i32, i32, i32)> = sqlx::query_as(
        "SELECT position, total, completed, advanced, hired, rejected, held
         FROM rm.analytics_funnel ORDER BY position",
    )
    .fetch_all(&env.pool)
    .await
    .expect("funnel");
    assert_eq!(
        funnel,
        vec![
            ("Backend".into(), 2, 1, 0, 1, 0, 0),
            ("Frontend".into(), 2, 1, 0, 0, 0, 1)
        ]
    );
    let competencies: Vec<(String, String, i64, i32)> = sqlx::query_as(
        "SELECT position, name, score_sum, count FROM rm.analytics_competencies ORDER BY 1, 2",
    )
    .fetch_all(&env.pool)
    .await
    .expect("competencies");
    assert_eq!(
        competencies,
        vec![
            ("Backend".into(), "coding".into(), 9, 2),
            ("Backend".into(), "design".into(), 3, 1),
            ("Frontend".into(), "coding".into(), 2, 1),
        ]
    );
    let statuses: Vec<(String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT status, decision_outcome, actual_duration_seconds FROM rm.analytics_interviews ORDER BY starts_at",
    )
    .fetch_all(&env.pool)
    .await
    .expect("facts");
    assert_eq!(
        statuses,
        vec![
            ("completed".into(), Some("hire".into()), Some(3000)),
            ("cancelled".into(), None, None),
            ("no_show".into(), None, None),
            ("completed".into(), Some("hold".into()), Some(1200)),
        ]
    );
    env.finish().await;
}
