//! Value types shared by interview commands, events and state.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::macros::wire_enum;

wire_enum! {
    /// Where an interview is in its lifecycle.
    #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
    pub enum InterviewStatus {
        /// Booked, not started yet.
        Scheduled => "scheduled",
        /// Started, not completed yet.
        InProgress => "in_progress",
        /// Took place.
        Completed => "completed",
        /// Called off before it started.
        Cancelled => "cancelled",
        /// Someone did not turn up.
        NoShow => "no_show",
    }
}

wire_enum! {
    /// What sort of interview it is.
    #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
    pub enum InterviewKind {
        /// A short first call.
        PhoneScreen => "phone_screen",
        /// A technical interview.
        Technical => "technical",
        /// A behavioural interview.
        Behavioral => "behavioral",
        /// A system design interview.
        SystemDesign => "system_design",
        /// An onsite loop.
        Onsite => "onsite",
        /// The last round.
        Final => "final",
    }
}

wire_enum! {
    /// The hiring decision taken after an interview.
    #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
    pub enum DecisionOutcome {
        /// Go on to the next round.
        Advance => "advance",
        /// Stop here.
        Reject => "reject",
        /// Make an offer.
        Hire => "hire",
        /// Decide later.
        Hold => "hold",
    }
}

/// One utterance of the transcript; times in milliseconds from the start of the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptSegment {
    /// Who spoke: the candidate or a panel member.
    pub speaker_id: Uuid,
    /// Offset of the first word, `>= 0`.
    pub start_ms: i64,
    /// Offset after the last word, `> start_ms`.
    pub end_ms: i64,
    /// What was said, 1..10 000 characters.
    pub text: String,
}

/// One competency score of a feedback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompetencyScore {
    /// Competency name, 1..100 characters (trimmed).
    pub name: String,
    /// Score, 1..5.
    pub score: i64,
}
