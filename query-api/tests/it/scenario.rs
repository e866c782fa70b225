//! A small hiring week shared by several tests.

use domain::Role;
use domain::interview::{
    CompetencyScore, DecisionOutcome, InterviewCommand, InterviewKind, TranscriptSegment,
};
use uuid::Uuid;

use crate::harness::TestApp;
use crate::world::{Spec, t};

/// Who and what the scenario made.
pub struct Hiring {
    pub alice: Uuid,
    pub dan: Uuid,
    pub eve: Uuid,
    pub bob: Uuid,
    pub carol: Uuid,
    /// Alice, Bob + Carol, backend, technical, Mar 1 09:00 60 min: held 55 min, two
    /// feedbacks, hired.
    pub held: Uuid,
    /// Dan, Bob, backend, phone screen, Mar 1 14:00 30 min: cancelled.
    pub cancelled: Uuid,
    /// Alice, Carol, frontend, behavioral, Mar 2 10:00 → Mar 3 11:00 45 min: no-show.
    pub no_show: Uuid,
    /// Dan, Bob + Carol, backend, system design, Mar 3 09:00 60 min: scheduled.
    pub upcoming: Uuid,
    /// Eve, Bob, frontend, final, Mar 2 16:00 60 min: held 50 min with a transcript,
    /// rejected.
    pub final_round: Uuid,
}

fn scores(v: &[(&str, i64)]) -> Vec<CompetencyScore> {
    v.iter()
        .map(|(name, score)| CompetencyScore {
            name: (*name).into(),
            score: *score,
        })
        .collect()
}

/// Builds the scenario and waits for the projections.
pub async fn hiring(app: &mut TestApp) -> Hiring {
    let w = &mut app.world;
    let alice = w.person("Alice Martin", &[Role::Candidate]).await;
    let dan = w.person("Dan Brown", &[Role::Candidate]).await;
    let eve = w
        .person("Eve Adams", &[Role::Candidate, Role::Interviewer])
        .await;
    let bob = w.person("Bob Stone", &[Role::Interviewer]).await;
    let carol = w.person("Carol White", &[Role::Interviewer]).await;

    let spec = |candidate, panel, position, kind, starts_at, minutes| Spec {
        candidate,
        panel,
        position,
        kind,
        starts_at,
        minutes,
    };
    let held = w
        .schedule(spec(
            alice,
            vec![bob, carol],
            "Backend Engineer",
            InterviewKind::Technical,
            "2027-03-01T09:00:00Z",
            60,
        ))
        .await;
    let cancelled = w
        .schedule(spec(
            dan,
            vec![bob],
            "Backend Engineer",
            InterviewKind::PhoneScreen,
            "2027-03-01T14:00:00Z",
            30,
        ))
        .await;
    let no_show = w
        .schedule(spec(
            alice,
            vec![carol],
            "Frontend Engineer",
            InterviewKind::Behavioral,
            "2027-03-02T10:00:00Z",
            45,
        ))
        .await;
    let upcoming = w
        .schedule(spec(
            dan,
            vec![bob, carol],
            "Backend Engineer",
            InterviewKind::SystemDesign,
            "2027-03-03T09:00:00Z",
            60,
        ))
        .await;
    let final_round = w
        .schedule(spec(
            eve,
            vec![bob],
            "Frontend Engineer",
            InterviewKind::Final,
            "2027-03-02T16:00:00Z",
            60,
        ))
        .await;

    w.set_now("2027-03-01T08:00:00Z");
    w.hold(held, "2027-03-01T09:00:00Z", 55).await;
    w.set_now("2027-03-01T10:00:00Z");
    w.act(
        held,
        InterviewCommand::SubmitFeedback {
            interviewer_id: bob,
            rating: 3,
            competencies: scores(&[("Coding", 4), ("Communication", 3)]),
            notes: Some("solid".into()),
        },
    )
    .await;
    w.act(
        held,
        InterviewCommand::SubmitFeedback {
            interviewer_id: carol,
            rating: 4,
            competencies: scores(&[("Coding", 5)]),
            notes: None,
        },
    )
    .await;
    w.set_now("2027-03-01T11:55:00Z");
    w.act(
        held,
        InterviewCommand::MakeDecision {
            outcome: DecisionOutcome::Hire,
            decided_by: bob,
            reason: Some("strong".into()),
        },
    )
    .await;

    w.act(
        cancelled,
        InterviewCommand::Cancel {
            reason: "candidate withdrew".into(),
        },
    )
    .await;
    w.act(
        no_show,
        InterviewCommand::Reschedule {
            starts_at: t("2027-03-03T11:00:00Z"),
            duration_minutes: None,
            reason: Some("room".into()),
        },
    )
    .await;
    w.act(no_show, InterviewCommand::MarkNoShow { reason: None })
        .await;

    w.set_now("2027-03-02T15:00:00Z");
    w.act(
        final_round,
        InterviewCommand::Start {
            at: t("2027-03-02T16:00:00Z"),
        },
    )
    .await;
    let segment = |speaker, start_ms, end_ms, text: &str| TranscriptSegment {
        speaker_id: speaker,
        start_ms,
        end_ms,
        text: text.into(),
    };
    w.act(
        final_round,
        InterviewCommand::RecordTranscript {
            segments: vec![
                segment(
                    bob,
                    0,
                    4000,
                    "Tell me about a distributed system you designed.",
                ),
                segment(
                    eve,
                    4000,
                    20000,
                    "I built an event sourced ledger with PostgreSQL projections.",
                ),
                segment(
                    bob,
                    20000,
                    25000,
                    "How did you keep the projections consistent?",
                ),
                segment(
                    eve,
                    25000,
                    40000,
                    "Each batch commits with its checkpoint, so replays are safe.",
                ),
            ],
        },
    )
    .await;
    w.act(
        final_round,
        InterviewCommand::Complete {
            at: t("2027-03-02T16:50:00Z"),
        },
    )
    .await;
    w.set_now("2027-03-02T20:50:00Z");
    w.act(
        final_round,
        InterviewCommand::MakeDecision {
            outcome: DecisionOutcome::Reject,
            decided_by: bob,
            reason: None,
        },
    )
    .await;
    app.settle().await;
    Hiring {
        alice,
        dan,
        eve,
        bob,
        carol,
        held,
        cancelled,
        no_show,
        upcoming,
        final_round,
    }
}
