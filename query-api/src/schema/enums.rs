//! The contract's enums, mapped to the lower_snake strings stored in the read model.

use async_graphql::Enum;

use crate::read_model::ReadModelError;

/// Maps between GraphQL enum values and the read model's strings.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident, $column:literal { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The string stored in the read model.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Reads a stored string; anything else is a read-model error.
            pub fn from_stored(value: &str) -> Result<Self, ReadModelError> {
                match value {
                    $($wire => Ok($name::$variant),)+
                    other => Err(ReadModelError::Unexpected {
                        column: $column,
                        value: other.to_owned(),
                    }),
                }
            }
        }
    };
}

stored_enum! {
    /// What a person can take part in an interview as.
    Role, "people.roles" {
        /// Is interviewed.
        Candidate => "candidate",
        /// Sits on panels.
        Interviewer => "interviewer",
    }
}

stored_enum! {
    /// Where an interview is in its lifecycle.
    InterviewStatus, "interviews.status" {
        /// Booked, not started yet.
        Scheduled => "scheduled",
        /// Started, not completed yet.
        InProgress => "in_progress",
        /// Took place.
        Completed => "completed",
        /// Called off.
        Cancelled => "cancelled",
        /// Someone did not turn up.
        NoShow => "no_show",
    }
}

stored_enum! {
    /// What sort of interview it is.
    InterviewKind, "interviews.kind" {
        /// A short first call.
        PhoneScreen => "phone_screen",
        /// Technical.
        Technical => "technical",
        /// Behavioural.
        Behavioral => "behavioral",
        /// System design.
        SystemDesign => "system_design",
        /// An onsite loop.
        Onsite => "onsite",
        /// The last round.
        Final => "final",
    }
}

stored_enum! {
    /// The hiring decision.
    DecisionOutcome, "interviews.decision_outcome" {
        /// Next round.
        Advance => "advance",
        /// Stop here.
        Reject => "reject",
        /// Make an offer.
        Hire => "hire",
        /// Decide later.
        Hold => "hold",
    }
}

stored_enum! {
    /// What a projection is doing.
    ProjectionState, "projection_checkpoints.state" {
        /// Replaying stored events.
        CatchingUp => "catching_up",
        /// Up to date, following new events.
        Live => "live",
        /// Being rebuilt into fresh tables.
        Rebuilding => "rebuilding",
        /// Stopped at an event it cannot apply.
        Failed => "failed",
        /// Not running.
        Stopped => "stopped",
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

impl From<domain::interview::InterviewStatus> for InterviewStatus {
    fn from(s: domain::interview::InterviewStatus) -> Self {
        use domain::interview::InterviewStatus as D;
        match s {
            D::Scheduled => InterviewStatus::Scheduled,
            D::InProgress => InterviewStatus::InProgress,
            D::Completed => InterviewStatus::Completed,
            D::Cancelled => InterviewStatus::Cancelled,
            D::NoShow => InterviewStatus::NoShow,
        }
    }
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
