//! The one error type every aggregate's `decide` returns, and the event decoding error.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Why a command was refused. Each variant maps to one problem `type` of API.md §2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The command's values are invalid (422 `validation-failed`); every bad field is listed.
    #[error("validation failed: {}", summary(.0))]
    Validation(Vec<FieldError>),
    /// The aggregate the command targets does not exist (404 `not-found`).
    #[error("{entity} {id} not found")]
    NotFound {
        /// `"person"` or `"interview"`.
        entity: &'static str,
        /// The id that was looked for.
        id: Uuid,
    },
    /// A creation targets an id that already exists (409 `already-exists`).
    #[error("{entity} {id} already exists")]
    AlreadyExists {
        /// `"person"` or `"interview"`.
        entity: &'static str,
        /// The id that is taken.
        id: Uuid,
    },
    /// The requested slot cannot be booked (409 `booking-conflict`).
    #[error("booking conflict ({} conflicts)", .0.len())]
    BookingConflict(Vec<Conflict>),
    /// A lifecycle or membership rule forbids the command (422 `rule-violated`).
    #[error("{message}")]
    RuleViolated {
        /// Which rule.
        rule: Rule,
        /// A short human-readable explanation.
        message: String,
    },
}

impl Error {
    /// A [`Error::Validation`] with a single field error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    /// The [`Error::NotFound`] for a command that targets a missing aggregate.
    ///
    /// Update commands do not carry their target's id and a missing aggregate's state is
    /// `None`, so `decide` reports [`Uuid::nil`]; the caller, which knows the id, fills it
    /// in with [`Error::with_target_id`].
    pub fn not_found(entity: &'static str) -> Self {
        Error::NotFound {
            entity,
            id: Uuid::nil(),
        }
    }

    /// Replaces a nil id in [`Error::NotFound`] by `id`; every other error is returned as is.
    pub fn with_target_id(self, id: Uuid) -> Self {
        match self {
            Error::NotFound { entity, id: old } if old.is_nil() => Error::NotFound { entity, id },
            other => other,
        }
    }

    /// A [`Error::RuleViolated`].
    pub fn rule(rule: Rule, message: impl Into<String>) -> Self {
        Error::RuleViolated {
            rule,
            message: message.into(),
        }
    }
}

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One invalid field of a command body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// camelCase JSON path into the REST body, e.g. `interviewerIds[2]`, `segments[3].endMs`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One reason a booking was refused, reported per person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Whose schedule refused the booking.
    pub person_id: Uuid,
    /// The overlapped booking's start, or the requested start when no window covers it.
    pub start: DateTime<Utc>,
    /// The overlapped booking's end, or the requested end when no window covers it.
    pub end: DateTime<Utc>,
    /// The interview holding the overlapped booking; `None` for missing availability.
    pub interview_id: Option<Uuid>,
}

/// The lifecycle and membership rules a command can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The interview is not `scheduled`.
    NotScheduled,
    /// The interview is not `in_progress`.
    NotInProgress,
    /// The interview is not `completed`.
    NotCompleted,
    /// This interviewer already submitted feedback for this interview.
    FeedbackAlreadySubmitted,
    /// The interviewer is not on this interview's panel.
    NotOnPanel,
    /// The interview already has a decision.
    DecisionAlreadyMade,
    /// A transcript speaker is neither the candidate nor a panel member.
    SpeakerNotParticipant,
    /// The interview's transcript would exceed
    /// [`crate::interview::limits::MAX_TRANSCRIPT_SEGMENTS`].
    TranscriptSegmentLimit,
    /// The person's availability would exceed
    /// [`crate::schedule::MAX_AVAILABILITY_WINDOWS`] windows.
    AvailabilityWindowLimit,
}

impl Rule {
    /// Stable kebab-case name, e.g. `not-scheduled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NotScheduled => "not-scheduled",
            Rule::NotInProgress => "not-in-progress",
            Rule::NotCompleted => "not-completed",
            Rule::FeedbackAlreadySubmitted => "feedback-already-submitted",
            Rule::NotOnPanel => "not-on-panel",
            Rule::DecisionAlreadyMade => "decision-already-made",
            Rule::SpeakerNotParticipant => "speaker-not-participant",
            Rule::TranscriptSegmentLimit => "transcript-segment-limit",
            Rule::AvailabilityWindowLimit => "availability-window-limit",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored event could not be turned back into a domain event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The stream holds an event type this aggregate does not know.
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    /// The type is known but its data does not have the expected shape.
    #[error("invalid data for event `{event_type}`: {message}")]
    InvalidData {
        /// The event type that was being decoded.
        event_type: String,
        /// What serde complained about.
        message: String,
    },
}

/// A string is not one of an enum's wire names (returned by the enums' `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind}")]
pub struct UnknownVariant {
    /// The enum's Rust name, e.g. `InterviewKind`.
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}
