//! Decides schedule commands.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{Schedule, ScheduleCommand, ScheduleEvent};
use crate::validate::Violations;
use crate::{Conflict, Error, Rule, TimeRange};

/// Longest availability window one call may add or remove.
pub const MAX_WINDOW_DAYS: i64 = 14;
/// Most windows (added plus removed) in one call.
pub const MAX_WINDOWS_PER_CALL: usize = 500;
/// Most availability windows one person holds (disjoint, after touching ones are
/// merged): every booking check and every fold of the schedule stays bounded. A change
/// that would leave more, and more than before, is refused whole (422 `rule-violated`,
/// rule `availability-window-limit`); one that leaves fewer is always accepted.
pub const MAX_AVAILABILITY_WINDOWS: usize = 1000;

/// Decides a schedule command. A schedule always exists, so nothing is ever "not found".
pub fn decide(state: &Schedule, cmd: ScheduleCommand) -> Result<Vec<ScheduleEvent>, Error> {
    match cmd {
        ScheduleCommand::ChangeAvailability { add, remove } => {
            change_availability(state, &add, &remove)
        }
        ScheduleCommand::Book {
            person_id,
            interview_id,
            range,
        } => book(state, person_id, interview_id, range),
        ScheduleCommand::Release { interview_id } => Ok(state
            .booking(interview_id)
            .map(|r| released(interview_id, r))
            .into_iter()
            .collect()),
    }
}

type Window = (DateTime<Utc>, DateTime<Utc>);

fn change_availability(
    state: &Schedule,
    add: &[Window],
    remove: &[Window],
) -> Result<Vec<ScheduleEvent>, Error> {
    let mut v = Violations::new();
    let count = add.len() + remove.len();
    v.check(
        count > 0,
        "",
        "at least one window to add or remove is required",
    );
    v.check(
        count <= MAX_WINDOWS_PER_CALL,
        "",
        format!("at most {MAX_WINDOWS_PER_CALL} windows per call"),
    );
    for (i, (start, end)) in add.iter().enumerate() {
        check_window(&mut v, &format!("add[{i}]"), *start, *end);
    }
    for (i, (start, end)) in remove.iter().enumerate() {
        check_window(&mut v, &format!("remove[{i}]"), *start, *end);
    }
    v.finish()?;
    let added = add
        .iter()
        .map(|&(start, end)| ScheduleEvent::AvailabilityAdded { start, end });
    let removed = remove
        .iter()
        .map(|&(start, end)| ScheduleEvent::AvailabilityRemoved { start, end });
    let events: Vec<ScheduleEvent> = added.chain(removed).collect();
    let before = state.availability().len();
    let after = events
        .iter()
        .fold(state.clone(), super::evolve)
        .availability()
        .len();
    if after > MAX_AVAILABILITY_WINDOWS && after > before {
        return Err(Error::rule(
            Rule::AvailabilityWindowLimit,
            format!(
                "a person holds at most {MAX_AVAILABILITY_WINDOWS} availability windows: \
                 this change would leave {after}"
            ),
        ));
    }
    Ok(events)
}

fn check_window(v: &mut Violations, field: &str, start: DateTime<Utc>, end: DateTime<Utc>) {
    if start >= end {
        v.add(field, "start must be before end");
    } else if end - start > TimeDelta::days(MAX_WINDOW_DAYS) {
        v.add(
            field,
            format!("must be at most {MAX_WINDOW_DAYS} days long"),
        );
    }
}

fn book(
    state: &Schedule,
    person_id: Uuid,
    interview_id: Uuid,
    range: TimeRange,
) -> Result<Vec<ScheduleEvent>, Error> {
    let held = state.booking(interview_id);
    if held == Some(range) {
        return Ok(vec![]);
    }
    let mut conflicts: Vec<Conflict> = state
        .bookings()
        .iter()
        .filter(|(other, booked)| **other != interview_id && booked.overlaps(&range))
        .map(|(other, booked)| Conflict {
            person_id,
            start: booked.start(),
            end: booked.end(),
            interview_id: Some(*other),
        })
        .collect();
    if !state.availability_covers(&range) {
        conflicts.push(Conflict {
            person_id,
            start: range.start(),
            end: range.end(),
            interview_id: None,
        });
    }
    if !conflicts.is_empty() {
        return Err(Error::BookingConflict(conflicts));
    }
    let mut events: Vec<ScheduleEvent> = held
        .map(|old| released(interview_id, old))
        .into_iter()
        .collect();
    events.push(ScheduleEvent::SlotBooked {
        interview_id,
        start: range.start(),
        end: range.end(),
    });
    Ok(events)
}

fn released(interview_id: Uuid, range: TimeRange) -> ScheduleEvent {
    ScheduleEvent::SlotReleased {
        interview_id,
        start: range.start(),
        end: range.end(),
    }
}
