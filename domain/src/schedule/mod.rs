//! The `schedule-{personId}` stream: a person's availability windows and booked slots.
//!
//! Every person has a schedule, even before its first event ([`Schedule::default`]).
//! A person who never declared availability is free at any time; once any window was
//! added, a booking must fit inside one (merged) window.

mod command;
mod decide;
mod event;
mod state;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use command::ScheduleCommand;
pub use decide::{MAX_AVAILABILITY_WINDOWS, MAX_WINDOW_DAYS, MAX_WINDOWS_PER_CALL, decide};
pub use event::ScheduleEvent;
pub use state::{Schedule, evolve, replay};

use uuid::Uuid;

use crate::DomainEvent;

/// The schedule stream of person `person_id`: `schedule-{personId}`.
pub fn stream_id(person_id: Uuid) -> String {
    ScheduleEvent::stream_id(person_id)
}
