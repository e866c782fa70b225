//! The `interviews` read model: lifecycle, feedback, competency scores, transcripts.

use chrono::{DateTime, Duration, Utc};
use domain::Role;
use domain::interview::{DecisionOutcome, InterviewKind};
use uuid::Uuid;

use crate::harness::Env;
use crate::world::at;

type Row = (
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    i32,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<i64>,
    i32,
    i64,
);

type Decision = (
    Option<String>,
    Option<Uuid>,
    Option<DateTime<Utc>>,
    Vec<Uuid>,
    String,
);
type Ending = (Uuid, String, Option<String>, Option<String>, i64);

async fn interview(env: &Env, id: Uuid) -> Row {
    sqlx::query_as(
        "SELECT status, starts_at, ends_at, duration_minutes, started_at, completed_at,
                actual_duration_seconds, transcript_segments, version
         FROM rm.interviews WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&env.pool)
    .await
    .expect("interview row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interview_goes_through_its_lifecycle_with_transcript_feedback_and_decision() {
    let env = Env::new().await;
    let mut w = env.world();
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    let ben = w.register(&[Role::Interviewer]).await;
    let id = w
        .schedule(
            cand,
            &[ann, ben],
            "Backend Engineer",
            InterviewKind::Technical,
            at(1, 10),
            60,
        )
        .await
        .expect("schedule");
    let (status, starts, ends, minutes, ..) = {
        env.project().await;
        interview(&env, id).await
    };
    assert_eq!(
        (status.as_str(), starts, ends, minutes),
        ("scheduled", at(1, 10), at(1, 11), 60)
    );

    w.reschedule(id, at(2, 14), 90).await.expect("reschedule");
    w.start(id, at(2, 14)).await.expect("start");
    w.transcript(id, cand, &["Hello there", "I built a distributed cache"])
        .await
        .expect("transcript");
    env.project().await;
    // The second call lands in a later batch: numbering goes on from the stored count.
    w.transcript(id, ann, &["Tell me about consistency"])
        .await
        .expect("transcript");
    w.complete(id, at(2, 14) + Duration::minutes(80))
        .await
        .expect("complete");
    w.feedback(id, ann, 4, &[("coding", 5), ("communication", 4)])
        .await
        .expect("feedback");
    let feedback_at = w.now;
    w.feedback(id, ben, 3, &[]).await.expect("feedback");
    w.decide(id, DecisionOutcome::Hire, ann)
        .await
        .expect("decision");
    let decided_at = w.now;
    env.project().await;

    let row = interview(&env, id).await;
    assert_eq!(row.0, "completed");
    assert_eq!(
        (row.1, row.2, row.3),
        (at(2, 14), at(2, 14) + Duration::minutes(90), 90)
    );
    assert_eq!(row.4, Some(at(2, 14)));
    assert_eq!(row.5, Some(at(2, 14) + Duration::minutes(80)));
    assert_eq!(row.6, Some(80 * 60));
    assert_eq!(row.7, 3);
    assert_eq!(row.8, 9);

    let decision: Decision = sqlx::query_as(
        "SELECT decision_outcome, decided_by, decided_at, interviewer_ids, kind
             FROM rm.interviews WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&env.pool)
    .await
    .expect("decision");
    assert_eq!(
        decision,
        (
            Some("hire".into()),
            Some(ann),
            Some(decided_at),
            vec![ann, ben],
            "technical".into()
        )
    );

    let feedback: Vec<(Uuid, i32, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT interviewer_id, rating, notes, submitted_at FROM rm.feedback
         WHERE interview_id = $1 ORDER BY rating DESC",
    )
    .bind(id)
    .fetch_all(&env.pool)
    .await
    .expect("feedback");
    assert_eq!(feedback.len(), 2);
    assert_eq!(
        (feedback[0].0, feedback[0].1, feedback[0].3),
        (ann, 4, feedback_at)
    );
    assert_eq!(feedback[1].0, ben);

    let scores: Vec<(i32, String, i32)> = sqlx::query_as(
        "SELECT ordinal, name, score FROM rm.competency_scores
         WHERE interview_id = $1 AND interviewer_id = $2 ORDER BY ordinal",
    )
    .bind(id)
    .bind(ann)
    .fetch_all(&env.pool)
    .await
    .expect("scores");
    assert_eq!(
        scores,
        vec![(1, "coding".into(), 5), (2, "communication".into(), 4)]
    );

    let segments: Vec<(i32, Uuid, String)> = sqlx::query_as(
        "SELECT seq, speaker_id, text FROM rm.transcript_segments WHERE interview_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&env.pool)
    .await
    .expect("segments");
    let seqs: Vec<i32> = segments.iter().map(|s| s.0).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(
        (segments[2].1, segments[2].2.as_str()),
        (ann, "Tell me about consistency")
    );
    let hits: Vec<i32> = sqlx::query_scalar(
        "SELECT seq FROM rm.transcript_segments WHERE tsv @@ plainto_tsquery('english', 'caches')",
    )
    .fetch_all(&env.pool)
    .await
    .expect("search");
    assert_eq!(hits, vec![2]);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_and_marking_no_show_record_status_and_reason() {
    let env = Env::new().await;
    let mut w = env.world();
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    let a = w
        .schedule(
            cand,
            &[ann],
            "SRE",
            InterviewKind::PhoneScreen,
            at(1, 9),
            30,
        )
        .await
        .expect("schedule");
    let b = w
        .schedule(cand, &[ann], "SRE", InterviewKind::Final, at(1, 11), 30)
        .await
        .expect("schedule");
    w.cancel(a).await.expect("cancel");
    w.no_show(b).await.expect("no-show");
    env.project().await;

    let rows: Vec<Ending> = sqlx::query_as(
        "SELECT id, status, cancellation_reason, no_show_reason, version FROM rm.interviews ORDER BY starts_at",
    )
    .fetch_all(&env.pool)
    .await
    .expect("rows");
    assert_eq!(
        rows,
        vec![
            (
                a,
                "cancelled".into(),
                Some("candidate withdrew".into()),
                None,
                2
            ),
            (b, "no_show".into(), None, Some("did not join".into()), 2),
        ]
    );
    env.finish().await;
}
