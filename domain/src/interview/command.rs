//! What can be asked of an interview.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CompetencyScore, DecisionOutcome, InterviewKind, TranscriptSegment};
use crate::Role;

/// What the command handler looked up about a participant in their `person-{id}` stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantFacts {
    /// The person id given in the request.
    pub id: Uuid,
    /// The person's roles; `None` when no such person exists.
    pub roles: Option<Vec<Role>>,
}

/// A request to change an interview. Values arrive raw; `decide` validates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterviewCommand {
    /// Create the interview.
    Schedule {
        /// The new interview's id.
        interview_id: Uuid,
        /// The candidate, who must hold the candidate role.
        candidate: ParticipantFacts,
        /// 1..10 distinct interviewers holding the interviewer role, without the candidate.
        interviewers: Vec<ParticipantFacts>,
        /// The position hired for, 1..200 characters.
        position: String,
        /// Interview kind.
        kind: InterviewKind,
        /// Start time.
        starts_at: DateTime<Utc>,
        /// Length, 5..480 minutes.
        duration_minutes: i64,
        /// Room or link, at most 500 characters; blank counts as none.
        location: Option<String>,
    },
    /// Move the interview (only while scheduled).
    Reschedule {
        /// New start.
        starts_at: DateTime<Utc>,
        /// New length, 5..480 minutes; `None` keeps the current length.
        duration_minutes: Option<i64>,
        /// Why, at most 2000 characters.
        reason: Option<String>,
    },
    /// Call the interview off (only while scheduled).
    Cancel {
        /// Why, 1..2000 characters.
        reason: String,
    },
    /// The session begins (only while scheduled).
    Start {
        /// When it began.
        at: DateTime<Utc>,
    },
    /// Append transcript segments (only in progress).
    RecordTranscript {
        /// 1..1000 segments.
        segments: Vec<TranscriptSegment>,
    },
    /// The session ends (only in progress).
    Complete {
        /// When it ended.
        at: DateTime<Utc>,
    },
    /// Someone did not turn up (only while scheduled).
    MarkNoShow {
        /// Why, at most 2000 characters.
        reason: Option<String>,
    },
    /// A panel member's feedback (only once completed, once per interviewer).
    SubmitFeedback {
        /// The panel member giving feedback.
        interviewer_id: Uuid,
        /// Overall rating, 1..4.
        rating: i64,
        /// At most 50 distinct competencies.
        competencies: Vec<CompetencyScore>,
        /// Free notes, at most 10 000 characters.
        notes: Option<String>,
    },
    /// The hiring decision (only once completed, once per interview).
    MakeDecision {
        /// The outcome.
        outcome: DecisionOutcome,
        /// Who decided.
        decided_by: Uuid,
        /// Why, at most 2000 characters.
        reason: Option<String>,
    },
}
