//! The `interview-{id}` stream: scheduling, the session itself, feedback and the decision.
//!
//! Lifecycle: `scheduled → in_progress → completed`, `scheduled → cancelled`,
//! `scheduled → no_show`. Booking the participants' schedules is not decided here: the
//! command handler books each `schedule-{personId}` stream with the times this stream emits.

mod command;
mod decide;
mod event;
mod state;
mod types;

#[cfg(test)]
mod tests;

pub use command::{InterviewCommand, ParticipantFacts};
pub use decide::{decide, limits};
pub use event::InterviewEvent;
pub use state::{Interview, evolve, replay};
pub use types::{
    CompetencyScore, DecisionOutcome, InterviewKind, InterviewStatus, TranscriptSegment,
};

use uuid::Uuid;

use crate::DomainEvent;

/// The stream of interview `id`: `interview-{id}`.
pub fn stream_id(id: Uuid) -> String {
    InterviewEvent::stream_id(id)
}
