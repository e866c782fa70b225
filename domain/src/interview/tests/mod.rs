//! Interview scenarios, one file per group of commands.

mod proptests;
mod review;
mod scheduling;
mod session;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::Role;

const IV: Uuid = Uuid::from_u128(0xA);
const CANDIDATE: Uuid = Uuid::from_u128(0xC);
const ALICE: Uuid = Uuid::from_u128(0x1);
const BOB: Uuid = Uuid::from_u128(0x2);
const STRANGER: Uuid = Uuid::from_u128(0x99);

fn at(h: i64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2027, 3, 1, 0, 0, 0)
        .single()
        .expect("valid");
    base + TimeDelta::hours(h)
}

fn facts(id: Uuid, roles: &[Role]) -> ParticipantFacts {
    ParticipantFacts {
        id,
        roles: Some(roles.to_vec()),
    }
}

fn schedule_cmd() -> InterviewCommand {
    InterviewCommand::Schedule {
        interview_id: IV,
        candidate: facts(CANDIDATE, &[Role::Candidate]),
        interviewers: vec![
            facts(ALICE, &[Role::Interviewer]),
            facts(BOB, &[Role::Interviewer, Role::Candidate]),
        ],
        position: " Backend Engineer ".into(),
        kind: InterviewKind::Technical,
        starts_at: at(10),
        duration_minutes: 60,
        location: Some("Room 4".into()),
    }
}

fn scheduled() -> InterviewEvent {
    InterviewEvent::InterviewScheduled {
        interview_id: IV,
        candidate_id: CANDIDATE,
        interviewer_ids: vec![ALICE, BOB],
        position: "Backend Engineer".into(),
        kind: InterviewKind::Technical,
        starts_at: at(10),
        ends_at: at(11),
        location: Some("Room 4".into()),
    }
}

fn started() -> InterviewEvent {
    InterviewEvent::InterviewStarted { at: at(10) }
}

fn completed() -> InterviewEvent {
    InterviewEvent::InterviewCompleted {
        at: at(11),
        duration_seconds: 3600,
    }
}

fn cancelled() -> InterviewEvent {
    InterviewEvent::InterviewCancelled {
        reason: "candidate withdrew".into(),
    }
}

fn no_show() -> InterviewEvent {
    InterviewEvent::InterviewMarkedNoShow { reason: None }
}

fn feedback_by(interviewer_id: Uuid) -> InterviewEvent {
    InterviewEvent::FeedbackSubmitted {
        interviewer_id,
        rating: 3,
        competencies: vec![],
        notes: None,
    }
}

fn segment(speaker_id: Uuid, start_ms: i64, end_ms: i64, text: &str) -> TranscriptSegment {
    TranscriptSegment {
        speaker_id,
        start_ms,
        end_ms,
        text: text.into(),
    }
}
