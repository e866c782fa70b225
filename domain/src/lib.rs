//! The write model of Interview Ledger: aggregates as pure `decide` / `evolve` functions.
//!
//! Three aggregates, one stream each (see API.md §1):
//! - [`person`] — `person-{id}`: who someone is and which roles they hold;
//! - [`schedule`] — `schedule-{personId}`: availability windows and booked slots;
//! - [`interview`] — `interview-{id}`: the interview lifecycle, transcript, feedback, decision.
//!
//! Nothing here does IO. The clock, new ids and facts looked up in other streams travel
//! inside the commands, so every decision is a function of (state, command).
//!
//! Order of checks in every `decide`: existence (`NotFound` / `AlreadyExists`), then the
//! command's values (`Validation`, all field errors at once), then lifecycle and
//! membership rules (`RuleViolated`), then bookings (`BookingConflict`).

#![warn(missing_docs)]

pub mod aggregate;
pub mod error;
pub mod event;
pub mod interview;
pub mod person;
pub mod role;
pub mod schedule;
pub mod tenant;
pub mod time_range;

mod macros;
mod validate;

#[cfg(test)]
mod event_roundtrip;
#[cfg(test)]
mod testing;

pub use aggregate::{Aggregate, InterviewAggregate, PersonAggregate, ScheduleAggregate};
pub use error::{Conflict, DecodeError, Error, FieldError, Rule};
pub use event::DomainEvent;
pub use role::Role;
pub use tenant::{DEFAULT_TENANT, Tenant};
pub use time_range::{TimeRange, TimeRangeError};
