//! The contract's enums. Those of the domain are the domain's own (derived with its
//! `graphql` feature); each is read from the `lower_snake` string stored in the read
//! model through [`Stored`].

use async_graphql::Enum;

pub use domain::Role;
pub use domain::interview::{DecisionOutcome, InterviewKind, InterviewStatus};

use crate::read_model::ReadModelError;

/// An enum stored in a read-model column as its `lower_snake` name.
pub trait Stored: Sized {
    /// The column, for the error.
    const COLUMN: &'static str;

    /// The value named `value`, if any.
    fn parse_stored(value: &str) -> Option<Self>;

    /// Reads a stored string; anything else is a read-model error.
    fn from_stored(value: &str) -> Result<Self, ReadModelError> {
        Self::parse_stored(value).ok_or_else(|| ReadModelError::Unexpected {
            column: Self::COLUMN,
            value: value.to_owned(),
        })
    }
}

/// The domain's enums parse their wire names.
macro_rules! stored_as_wire_name {
    ($($name:ty => $column:literal),+ $(,)?) => {$(
        impl Stored for $name {
            const COLUMN: &'static str = $column;

            fn parse_stored(value: &str) -> Option<Self> {
                value.parse().ok()
            }
        }
    )+};
}

stored_as_wire_name! {
    Role => "people.roles",
    InterviewStatus => "interviews.status",
    InterviewKind => "interviews.kind",
    DecisionOutcome => "interviews.decision_outcome",
}

/// What a projection is doing.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProjectionState {
    /// Replaying stored events.
    CatchingUp,
    /// Up to date, following new events.
    Live,
    /// Being rebuilt into fresh tables.
    Rebuilding,
    /// Stopped: its own bookkeeping failed (an event it cannot apply parks that
    /// event's stream instead: see `ProjectionStatus.parked`).
    Failed,
    /// Not running.
    Stopped,
}

impl Stored for ProjectionState {
    const COLUMN: &'static str = "projection_checkpoints.state";

    fn parse_stored(value: &str) -> Option<Self> {
        Some(match value {
            "catching_up" => ProjectionState::CatchingUp,
            "live" => ProjectionState::Live,
            "rebuilding" => ProjectionState::Rebuilding,
            "failed" => ProjectionState::Failed,
            "stopped" => ProjectionState::Stopped,
            _ => return None,
        })
    }
}

/// Order of an interview list.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InterviewOrder {
    /// Earliest start first.
    #[default]
    StartsAtAsc,
    /// Latest start first.
    StartsAtDesc,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_strings_round_trip_and_unknown_ones_are_errors() {
        for s in [
            "scheduled",
            "in_progress",
            "completed",
            "cancelled",
            "no_show",
        ] {
            assert_eq!(InterviewStatus::from_stored(s).expect("known").as_str(), s);
        }
        assert!(InterviewKind::from_stored("chat").is_err());
        assert_eq!(
            ProjectionState::from_stored("catching_up").expect("known"),
            ProjectionState::CatchingUp
        );
    }
}
