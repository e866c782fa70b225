//! The shape every aggregate shares, so one command executor can run them all: where its
//! events live, what it is before its first event, how an event changes it, and how a
//! command is decided against it.

use uuid::Uuid;

use crate::{DomainEvent, Error};

/// An aggregate as the command side runs it: pure `decide` and `evolve` over one stream.
pub trait Aggregate: Send + Sync + 'static {
    /// The folded state.
    type State: Clone + Send + Sync + 'static;
    /// Its events.
    type Event: DomainEvent + Send + Sync + 'static;
    /// Its commands.
    type Command: Clone + Send + Sync;

    /// What the aggregate is called in answers: `"person"`, `"schedule"`, `"interview"`.
    const ENTITY: &'static str;

    /// The state of a stream without events.
    fn initial() -> Self::State;

    /// The state after one more event.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The events a command produces on `state`, or why it is refused.
    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Error>;

    /// The stream of aggregate `id` in the `default` tenant: its events' prefix
    /// followed by the id.
    fn stream(id: Uuid) -> String {
        format!("{}{id}", <Self::Event as DomainEvent>::STREAM_PREFIX)
    }

    /// The stream of aggregate `id` in `tenant` (see [`crate::tenant`]).
    fn stream_in(tenant: &crate::Tenant, id: Uuid) -> String {
        tenant.stream(<Self::Event as DomainEvent>::STREAM_PREFIX, id)
    }
}

/// The `person-{id}` stream.
#[derive(Debug, Clone, Copy)]
pub struct PersonAggregate;

impl Aggregate for PersonAggregate {
    type State = Option<crate::person::Person>;
    type Event = crate::person::PersonEvent;
    type Command = crate::person::PersonCommand;
    const ENTITY: &'static str = "person";

    fn initial() -> Self::State {
        None
    }

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        crate::person::evolve(state, event)
    }

    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Error> {
        crate::person::decide(state, command)
    }
}

/// The `schedule-{personId}` stream.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleAggregate;

impl Aggregate for ScheduleAggregate {
    type State = crate::schedule::Schedule;
    type Event = crate::schedule::ScheduleEvent;
    type Command = crate::schedule::ScheduleCommand;
    const ENTITY: &'static str = "schedule";

    fn initial() -> Self::State {
        crate::schedule::Schedule::default()
    }

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        crate::schedule::evolve(state, event)
    }

    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Error> {
        crate::schedule::decide(state, command)
    }
}

/// The `interview-{id}` stream.
#[derive(Debug, Clone, Copy)]
pub struct InterviewAggregate;

impl Aggregate for InterviewAggregate {
    type State = Option<crate::interview::Interview>;
    type Event = crate::interview::InterviewEvent;
    type Command = crate::interview::InterviewCommand;
    const ENTITY: &'static str = "interview";

    fn initial() -> Self::State {
        None
    }

    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        crate::interview::evolve(state, event)
    }

    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Error> {
        crate::interview::decide(state, command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_named_by_the_events_prefix_and_the_id() {
        let id = Uuid::nil();
        assert_eq!(PersonAggregate::stream(id), crate::person::stream_id(id));
        assert_eq!(
            ScheduleAggregate::stream(id),
            crate::schedule::stream_id(id)
        );
        assert_eq!(
            InterviewAggregate::stream(id),
            crate::interview::stream_id(id)
        );
    }
}
