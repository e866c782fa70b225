//! What has happened to an interview.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{CompetencyScore, DecisionOutcome, InterviewKind, TranscriptSegment};
use crate::{DecodeError, DomainEvent, event};

/// The events of an `interview-{id}` stream (API.md §1). Optional fields are left out
/// of the JSON when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum InterviewEvent {
    /// The interview was created.
    InterviewScheduled {
        /// The interview's id.
        interview_id: Uuid,
        /// The candidate.
        candidate_id: Uuid,
        /// The panel, in request order.
        interviewer_ids: Vec<Uuid>,
        /// Position hired for (trimmed).
        position: String,
        /// Interview kind.
        kind: InterviewKind,
        /// Start.
        starts_at: DateTime<Utc>,
        /// End (exclusive).
        ends_at: DateTime<Utc>,
        /// Room or link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
    },
    /// The interview moved.
    InterviewRescheduled {
        /// New start.
        starts_at: DateTime<Utc>,
        /// New end.
        ends_at: DateTime<Utc>,
        /// Start before the move.
        previous_starts_at: DateTime<Utc>,
        /// End before the move.
        previous_ends_at: DateTime<Utc>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The interview was called off.
    InterviewCancelled {
        /// Why.
        reason: String,
    },
    /// The session began.
    InterviewStarted {
        /// When.
        at: DateTime<Utc>,
    },
    /// Transcript segments were recorded.
    TranscriptSegmentsRecorded {
        /// The segments, in request order.
        segments: Vec<TranscriptSegment>,
    },
    /// The session ended.
    InterviewCompleted {
        /// When.
        at: DateTime<Utc>,
        /// `at` minus the start time, in seconds, never negative.
        duration_seconds: i64,
    },
    /// Someone did not turn up.
    InterviewMarkedNoShow {
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A panel member gave feedback.
    FeedbackSubmitted {
        /// Who.
        interviewer_id: Uuid,
        /// Overall rating, 1..4.
        rating: i64,
        /// Competency scores.
        #[serde(default)]
        competencies: Vec<CompetencyScore>,
        /// Free notes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notes: Option<String>,
    },
    /// The hiring decision was taken.
    DecisionMade {
        /// The outcome.
        outcome: DecisionOutcome,
        /// Who decided.
        decided_by: Uuid,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl DomainEvent for InterviewEvent {
    const STREAM_PREFIX: &'static str = "interview-";
    const EVENT_TYPES: &'static [&'static str] = &[
        "InterviewScheduled",
        "InterviewRescheduled",
        "InterviewCancelled",
        "InterviewStarted",
        "TranscriptSegmentsRecorded",
        "InterviewCompleted",
        "InterviewMarkedNoShow",
        "FeedbackSubmitted",
        "DecisionMade",
    ];

    fn event_type(&self) -> &'static str {
        match self {
            InterviewEvent::InterviewScheduled { .. } => "InterviewScheduled",
            InterviewEvent::InterviewRescheduled { .. } => "InterviewRescheduled",
            InterviewEvent::InterviewCancelled { .. } => "InterviewCancelled",
            InterviewEvent::InterviewStarted { .. } => "InterviewStarted",
            InterviewEvent::TranscriptSegmentsRecorded { .. } => "TranscriptSegmentsRecorded",
            InterviewEvent::InterviewCompleted { .. } => "InterviewCompleted",
            InterviewEvent::InterviewMarkedNoShow { .. } => "InterviewMarkedNoShow",
            InterviewEvent::FeedbackSubmitted { .. } => "FeedbackSubmitted",
            InterviewEvent::DecisionMade { .. } => "DecisionMade",
        }
    }

    fn to_data(&self) -> Value {
        event::encode(self)
    }

    fn from_data(event_type: &str, data: Value) -> Result<Self, DecodeError> {
        event::decode(Self::EVENT_TYPES, event_type, &data)
    }
}
