//! Given-events / when-command / then-events-or-error harness for the aggregates.

use std::fmt::Debug;

use crate::{Error, Rule, interview, person, schedule};

/// One aggregate's pure functions, so one harness serves all three.
pub(crate) trait Aggregate {
    type State: Default + Debug;
    type Command;
    type Event: Debug + PartialEq;

    fn decide(state: &Self::State, cmd: Self::Command) -> Result<Vec<Self::Event>, Error>;
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;
}

/// The person aggregate.
pub(crate) struct PersonAgg;
/// The schedule aggregate.
pub(crate) struct ScheduleAgg;
/// The interview aggregate.
pub(crate) struct InterviewAgg;

impl Aggregate for PersonAgg {
    type State = Option<person::Person>;
    type Command = person::PersonCommand;
    type Event = person::PersonEvent;

    fn decide(state: &Self::State, cmd: Self::Command) -> Result<Vec<Self::Event>, Error> {
        person::decide(state, cmd)
    }
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        person::evolve(state, event)
    }
}

impl Aggregate for ScheduleAgg {
    type State = schedule::Schedule;
    type Command = schedule::ScheduleCommand;
    type Event = schedule::ScheduleEvent;

    fn decide(state: &Self::State, cmd: Self::Command) -> Result<Vec<Self::Event>, Error> {
        schedule::decide(state, cmd)
    }
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        schedule::evolve(state, event)
    }
}

impl Aggregate for InterviewAgg {
    type State = Option<interview::Interview>;
    type Command = interview::InterviewCommand;
    type Event = interview::InterviewEvent;

    fn decide(state: &Self::State, cmd: Self::Command) -> Result<Vec<Self::Event>, Error> {
        interview::decide(state, cmd)
    }
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        interview::evolve(state, event)
    }
}

/// The history the command is decided against.
pub(crate) struct Given<A: Aggregate> {
    state: A::State,
}

/// Starts a scenario from past events, oldest first.
pub(crate) fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let state = events
        .into_iter()
        .fold(A::State::default(), |s, e| A::evolve(s, &e));
    Given { state }
}

impl<A: Aggregate> Given<A> {
    /// Decides `cmd` against the history.
    pub(crate) fn when(self, cmd: A::Command) -> Then<A> {
        let result = A::decide(&self.state, cmd);
        Then { result }
    }
}

/// The outcome of a scenario, to assert on.
pub(crate) struct Then<A: Aggregate> {
    result: Result<Vec<A::Event>, Error>,
}

impl<A: Aggregate> Then<A> {
    /// The command was accepted and emitted exactly `expected`.
    #[track_caller]
    pub(crate) fn then(self, expected: Vec<A::Event>) {
        match self.result {
            Ok(events) => assert_eq!(events, expected, "unexpected events"),
            Err(e) => panic!("expected events {expected:?}, got error {e:?}"),
        }
    }

    /// The command was accepted; returns the events for further checks.
    #[track_caller]
    pub(crate) fn events(self) -> Vec<A::Event> {
        match self.result {
            Ok(events) => events,
            Err(e) => panic!("expected events, got error {e:?}"),
        }
    }

    /// The command was refused with exactly `expected`.
    #[track_caller]
    pub(crate) fn then_error(self, expected: Error) {
        match self.result {
            Ok(events) => panic!("expected error {expected:?}, got events {events:?}"),
            Err(e) => assert_eq!(e, expected, "unexpected error"),
        }
    }

    /// The command was refused as invalid, with errors on exactly these fields, in order.
    #[track_caller]
    pub(crate) fn then_invalid(self, fields: &[&str]) {
        match self.result {
            Err(Error::Validation(errors)) => {
                let got: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(got, fields, "unexpected invalid fields: {errors:?}");
            }
            other => panic!("expected validation errors on {fields:?}, got {other:?}"),
        }
    }

    /// The command was refused because it breaks `rule`.
    #[track_caller]
    pub(crate) fn then_rule(self, rule: Rule) {
        match self.result {
            Err(Error::RuleViolated { rule: got, .. }) => assert_eq!(got, rule),
            other => panic!("expected rule {rule:?} to be violated, got {other:?}"),
        }
    }
}
