//! The `schedules` read model: merged availability and bookings.

use chrono::{DateTime, Utc};
use domain::Role;
use domain::interview::InterviewKind;
use uuid::Uuid;

use crate::harness::Env;
use crate::world::{World, at};

async fn windows(env: &Env, person: Uuid) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    sqlx::query_as(
        "SELECT start_at, end_at FROM rm.availability_windows WHERE person_id = $1 ORDER BY start_at",
    )
    .bind(person)
    .fetch_all(&env.pool)
    .await
    .expect("windows")
}

fn domain_windows(w: &World, person: Uuid) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    w.schedules[&person]
        .availability()
        .iter()
        .map(|r| (r.start(), r.end()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_stays_merged_and_disjoint_exactly_as_the_domain_keeps_it() {
    let env = Env::new().await;
    let mut w = env.world();
    let p = w.register(&[Role::Interviewer]).await;
    w.availability(
        p,
        &[
            (at(1, 9), at(1, 12)),
            (at(1, 11), at(1, 14)),
            (at(1, 16), at(1, 18)),
        ],
        &[],
    )
    .await;
    env.project().await;
    assert_eq!(
        windows(&env, p).await,
        vec![(at(1, 9), at(1, 14)), (at(1, 16), at(1, 18))]
    );

    // A hole punched in one window, and a touching window that bridges two others.
    w.availability(p, &[], &[(at(1, 10), at(1, 11))]).await;
    env.project().await;
    w.availability(p, &[(at(1, 14), at(1, 16))], &[]).await;
    w.availability(p, &[(at(2, 9), at(2, 10))], &[(at(2, 9), at(2, 10))])
        .await;
    env.project().await;
    let expected = vec![(at(1, 9), at(1, 10)), (at(1, 11), at(1, 18))];
    assert_eq!(domain_windows(&w, p), expected);
    assert_eq!(windows(&env, p).await, expected);

    let owner: (bool, i64) = sqlx::query_as(
        "SELECT declared_availability, version FROM rm.schedule_owners WHERE person_id = $1",
    )
    .bind(p)
    .fetch_one(&env.pool)
    .await
    .expect("owner");
    assert_eq!(owner, (true, 7));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_follow_scheduling_rescheduling_and_cancelling() {
    let env = Env::new().await;
    let mut w = env.world();
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    let ben = w.register(&[Role::Interviewer]).await;
    w.availability(ann, &[(at(1, 8), at(1, 18))], &[]).await;
    let a = w
        .schedule(
            cand,
            &[ann, ben],
            "QA",
            InterviewKind::Behavioral,
            at(1, 9),
            60,
        )
        .await
        .expect("schedule");
    let b = w
        .schedule(cand, &[ben], "QA", InterviewKind::Onsite, at(1, 12), 30)
        .await
        .expect("schedule");
    env.project().await;
    w.reschedule(a, at(1, 15), 45).await.expect("reschedule");
    w.cancel(b).await.expect("cancel");
    env.project().await;

    let rows: Vec<(Uuid, Uuid, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT person_id, interview_id, start_at, end_at FROM rm.bookings ORDER BY person_id",
    )
    .fetch_all(&env.pool)
    .await
    .expect("bookings");
    let mut expected: Vec<_> = [cand, ann, ben]
        .into_iter()
        .flat_map(|p| {
            w.schedules[&p]
                .bookings()
                .iter()
                .map(move |(iv, r)| (p, *iv, r.start(), r.end()))
                .collect::<Vec<_>>()
        })
        .collect();
    expected.sort();
    assert_eq!(rows, expected);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.1 == a && r.2 == at(1, 15)));

    // Only Ann ever declared availability; the others are free at any time.
    let declared: Vec<(Uuid, bool)> =
        sqlx::query_as("SELECT person_id, declared_availability FROM rm.schedule_owners WHERE declared_availability")
            .fetch_all(&env.pool)
            .await
            .expect("owners");
    assert_eq!(declared, vec![(ann, true)]);
    env.finish().await;
}
