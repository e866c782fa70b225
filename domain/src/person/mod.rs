//! The `person-{id}` stream: registration and contact details.

mod command;
mod decide;
mod event;
mod state;

#[cfg(test)]
mod tests;

pub use command::PersonCommand;
pub use decide::decide;
pub use event::PersonEvent;
pub use state::{Person, evolve, replay};

use uuid::Uuid;

use crate::DomainEvent;

/// The stream of person `id`: `person-{id}`.
pub fn stream_id(id: Uuid) -> String {
    PersonEvent::stream_id(id)
}
