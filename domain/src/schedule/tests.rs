use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::testing::{ScheduleAgg, given};
use crate::{Conflict, Error, TimeRange};

fn at(h: i64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2027, 3, 1, 0, 0, 0)
        .single()
        .expect("valid");
    base + TimeDelta::hours(h)
}

fn r(a: i64, b: i64) -> TimeRange {
    TimeRange::new(at(a), at(b)).expect("valid")
}

const PERSON: Uuid = Uuid::from_u128(7);
const IV1: Uuid = Uuid::from_u128(101);
const IV2: Uuid = Uuid::from_u128(102);

fn added(a: i64, b: i64) -> ScheduleEvent {
    ScheduleEvent::AvailabilityAdded {
        start: at(a),
        end: at(b),
    }
}
fn removed(a: i64, b: i64) -> ScheduleEvent {
    ScheduleEvent::AvailabilityRemoved {
        start: at(a),
        end: at(b),
    }
}
fn booked(iv: Uuid, a: i64, b: i64) -> ScheduleEvent {
    ScheduleEvent::SlotBooked {
        interview_id: iv,
        start: at(a),
        end: at(b),
    }
}
fn released(iv: Uuid, a: i64, b: i64) -> ScheduleEvent {
    ScheduleEvent::SlotReleased {
        interview_id: iv,
        start: at(a),
        end: at(b),
    }
}
fn book(iv: Uuid, a: i64, b: i64) -> ScheduleCommand {
    ScheduleCommand::Book {
        person_id: PERSON,
        interview_id: iv,
        range: r(a, b),
    }
}
fn change(add: &[(i64, i64)], remove: &[(i64, i64)]) -> ScheduleCommand {
    ScheduleCommand::ChangeAvailability {
        add: add.iter().map(|&(a, b)| (at(a), at(b))).collect(),
        remove: remove.iter().map(|&(a, b)| (at(a), at(b))).collect(),
    }
}

#[test]
fn changing_availability_emits_additions_then_removals() {
    given::<ScheduleAgg>([])
        .when(change(&[(9, 17), (33, 41)], &[(12, 13)]))
        .then(vec![added(9, 17), added(33, 41), removed(12, 13)]);
}

#[test]
fn changing_availability_reports_each_bad_window() {
    given::<ScheduleAgg>([])
        .when(change(&[(9, 17), (10, 10), (0, 14 * 24 + 1)], &[(5, 4)]))
        .then_invalid(&["add[1]", "add[2]", "remove[0]"]);
}

#[test]
fn a_window_of_exactly_fourteen_days_is_accepted() {
    assert_eq!(
        given::<ScheduleAgg>([])
            .when(change(&[(0, 14 * 24)], &[]))
            .events()
            .len(),
        1
    );
}

#[test]
fn changing_availability_needs_one_to_five_hundred_windows() {
    given::<ScheduleAgg>([])
        .when(change(&[], &[]))
        .then_invalid(&[""]);
    let many: Vec<(i64, i64)> = (0..501).map(|i| (2 * i, 2 * i + 1)).collect();
    given::<ScheduleAgg>([])
        .when(change(&many, &[]))
        .then_invalid(&[""]);
}

#[test]
fn evolve_merges_touching_windows_and_splits_on_removal() {
    let s = replay(&[added(9, 12), added(12, 17), added(20, 22), removed(13, 14)]);
    assert_eq!(s.availability(), &[r(9, 13), r(14, 17), r(20, 22)]);
    assert!(s.declared_availability());
    assert_eq!(s.version(), 4);
}

#[test]
fn a_person_who_never_declared_availability_can_be_booked_anytime() {
    given::<ScheduleAgg>([])
        .when(book(IV1, 3, 4))
        .then(vec![booked(IV1, 3, 4)]);
}

#[test]
fn a_booking_inside_one_merged_window_is_accepted() {
    given::<ScheduleAgg>([added(9, 12), added(12, 17)])
        .when(book(IV1, 11, 13))
        .then(vec![booked(IV1, 11, 13)]);
}

#[test]
fn a_booking_outside_every_window_conflicts_with_no_interview() {
    given::<ScheduleAgg>([added(9, 12), added(13, 17)])
        .when(book(IV1, 11, 14))
        .then_error(Error::BookingConflict(vec![Conflict {
            person_id: PERSON,
            start: at(11),
            end: at(14),
            interview_id: None,
        }]));
}

#[test]
fn a_person_whose_windows_were_all_removed_cannot_be_booked() {
    given::<ScheduleAgg>([added(9, 12), removed(9, 12)])
        .when(book(IV1, 9, 10))
        .then_error(Error::BookingConflict(vec![Conflict {
            person_id: PERSON,
            start: at(9),
            end: at(10),
            interview_id: None,
        }]));
}

#[test]
fn an_overlapping_booking_of_another_interview_conflicts_with_that_booking() {
    given::<ScheduleAgg>([booked(IV2, 10, 12)])
        .when(book(IV1, 11, 13))
        .then_error(Error::BookingConflict(vec![Conflict {
            person_id: PERSON,
            start: at(10),
            end: at(12),
            interview_id: Some(IV2),
        }]));
}

#[test]
fn back_to_back_bookings_do_not_conflict() {
    given::<ScheduleAgg>([booked(IV2, 10, 12)])
        .when(book(IV1, 12, 13))
        .then(vec![booked(IV1, 12, 13)]);
}

#[test]
fn booking_the_same_slot_again_is_idempotent() {
    given::<ScheduleAgg>([booked(IV1, 10, 12)])
        .when(book(IV1, 10, 12))
        .then(vec![]);
}

#[test]
fn rebooking_moves_the_slot_and_may_overlap_its_own_old_slot() {
    given::<ScheduleAgg>([booked(IV1, 10, 12)])
        .when(book(IV1, 11, 13))
        .then(vec![released(IV1, 10, 12), booked(IV1, 11, 13)]);
}

#[test]
fn a_refused_rebooking_keeps_the_old_slot() {
    let history = [booked(IV1, 10, 12), booked(IV2, 14, 15)];
    given::<ScheduleAgg>(history.clone())
        .when(book(IV1, 14, 16))
        .then_error(Error::BookingConflict(vec![Conflict {
            person_id: PERSON,
            start: at(14),
            end: at(15),
            interview_id: Some(IV2),
        }]));
    assert_eq!(replay(&history).booking(IV1), Some(r(10, 12)));
}

#[test]
fn removing_availability_never_removes_a_booking() {
    let s = replay(&[added(9, 17), booked(IV1, 10, 11), removed(9, 17)]);
    assert_eq!(s.booking(IV1), Some(r(10, 11)));
}

#[test]
fn releasing_a_booked_slot_emits_slot_released() {
    given::<ScheduleAgg>([booked(IV1, 10, 12)])
        .when(ScheduleCommand::Release { interview_id: IV1 })
        .then(vec![released(IV1, 10, 12)]);
}

#[test]
fn releasing_an_unbooked_interview_emits_nothing() {
    given::<ScheduleAgg>([booked(IV1, 10, 12), released(IV1, 10, 12)])
        .when(ScheduleCommand::Release { interview_id: IV1 })
        .then(vec![]);
}

#[test]
fn free_time_is_availability_minus_bookings() {
    let s = replay(&[added(9, 17), booked(IV1, 10, 11), booked(IV2, 16, 18)]);
    assert_eq!(s.free_within(r(0, 24)), vec![r(9, 10), r(11, 16)]);
    assert_eq!(s.free_within(r(12, 13)), vec![r(12, 13)]);
}

#[test]
fn free_time_without_declared_availability_is_the_range_minus_bookings() {
    let s = replay(&[booked(IV1, 10, 11)]);
    assert_eq!(s.free_within(r(8, 12)), vec![r(8, 10), r(11, 12)]);
    assert_eq!(stream_id(PERSON), format!("schedule-{PERSON}"));
}

/// `n` disjoint one-hour windows, two hours apart.
fn windows(n: i64) -> Vec<ScheduleEvent> {
    (0..n).map(|i| added(2 * i, 2 * i + 1)).collect()
}

#[test]
fn a_person_holds_up_to_a_thousand_windows_and_no_more() {
    let cap = i64::try_from(MAX_AVAILABILITY_WINDOWS).expect("small");
    // The thousandth fits.
    given::<ScheduleAgg>(windows(cap - 1))
        .when(change(&[(2 * cap, 2 * cap + 1)], &[]))
        .then(vec![added(2 * cap, 2 * cap + 1)]);
    // A thousand and first does not.
    given::<ScheduleAgg>(windows(cap))
        .when(change(&[(2 * cap, 2 * cap + 1)], &[]))
        .then_rule(crate::Rule::AvailabilityWindowLimit);
    // Nor a removal that splits a window in two.
    given::<ScheduleAgg>([added(-100, -90)].into_iter().chain(windows(cap - 1)))
        .when(change(&[], &[(-96, -95)]))
        .then_rule(crate::Rule::AvailabilityWindowLimit);
}

#[test]
fn a_full_schedule_still_takes_changes_that_do_not_add_windows() {
    let cap = i64::try_from(MAX_AVAILABILITY_WINDOWS).expect("small");
    // Widening a window, joining two, and removing one whole.
    given::<ScheduleAgg>(windows(cap))
        .when(change(&[(0, 2)], &[]))
        .then(vec![added(0, 2)]);
    given::<ScheduleAgg>(windows(cap))
        .when(change(&[(2 * cap + 10, 2 * cap + 11)], &[(0, 1), (2, 3)]))
        .then(vec![
            added(2 * cap + 10, 2 * cap + 11),
            removed(0, 1),
            removed(2, 3),
        ]);
}
