//! Invariants of the schedule over arbitrary command sequences.
//!
//! For every sequence of `ChangeAvailability`, `Book` and `Release` commands, each decided
//! against the state folded from the events accepted so far:
//! 1. no two bookings overlap, at any point;
//! 2. every `SlotBooked` emitted while the person had declared availability lies inside a
//!    single window of the availability as it stood when the booking was decided (a later
//!    removal, or a booking made before the first declaration, may leave a booking outside);
//! 3. the availability stays sorted, disjoint and with touching windows merged;
//! 4. the bookings are exactly those of a reference model (last accepted book, minus releases);
//! 5. a refused booking names a real obstacle, and the version counts every event.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::{Error, TimeRange};

fn at(h: i64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2027, 3, 1, 0, 0, 0)
        .single()
        .expect("valid");
    base + TimeDelta::hours(h)
}

const PERSON: Uuid = Uuid::from_u128(1);

#[derive(Debug, Clone)]
enum Op {
    Add(i64, i64),
    Remove(i64, i64),
    Book(u128, i64, i64),
    Release(u128),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..48, -2i64..16).prop_map(|(s, len)| Op::Add(s, s + len)),
        (0i64..48, -2i64..10).prop_map(|(s, len)| Op::Remove(s, s + len)),
        (0u128..4, 0i64..48, 1i64..6).prop_map(|(iv, s, len)| Op::Book(iv, s, s + len)),
        (0u128..4).prop_map(Op::Release),
    ]
}

fn command(op: &Op) -> ScheduleCommand {
    match *op {
        Op::Add(s, e) => ScheduleCommand::ChangeAvailability {
            add: vec![(at(s), at(e))],
            remove: vec![],
        },
        Op::Remove(s, e) => ScheduleCommand::ChangeAvailability {
            add: vec![],
            remove: vec![(at(s), at(e))],
        },
        Op::Book(iv, s, e) => ScheduleCommand::Book {
            person_id: PERSON,
            interview_id: Uuid::from_u128(iv),
            range: TimeRange::new(at(s), at(e)).expect("len >= 1"),
        },
        Op::Release(iv) => ScheduleCommand::Release {
            interview_id: Uuid::from_u128(iv),
        },
    }
}

proptest! {
    #[test]
    fn schedule_invariants_hold_for_any_command_sequence(ops in prop::collection::vec(op(), 1..40)) {
        let mut state = Schedule::default();
        let mut model: BTreeMap<Uuid, TimeRange> = BTreeMap::new();
        let mut event_count = 0u64;

        for op in &ops {
            let before = state.clone();
            let result = decide(&before, command(op));

            match (&result, op) {
                (Ok(events), _) => {
                    for event in events {
                        if let ScheduleEvent::SlotBooked { .. } = event {
                            let range = event.range().expect("booked range is valid");
                            if before.declared_availability() {
                                prop_assert!(
                                    before.availability().iter().any(|w| w.contains(&range)),
                                    "booking {range:?} outside every window of {:?}", before.availability()
                                );
                            }
                        }
                    }
                    if let Op::Book(iv, s, e) = *op {
                        model.insert(Uuid::from_u128(iv), TimeRange::new(at(s), at(e)).expect("valid"));
                    }
                    if let Op::Release(iv) = *op {
                        model.remove(&Uuid::from_u128(iv));
                    }
                }
                (Err(Error::BookingConflict(conflicts)), Op::Book(iv, s, e)) => {
                    let range = TimeRange::new(at(*s), at(*e)).expect("valid");
                    prop_assert!(!conflicts.is_empty());
                    for c in conflicts {
                        match c.interview_id {
                            Some(other) => {
                                prop_assert_ne!(other, Uuid::from_u128(*iv));
                                prop_assert!(before.booking(other).is_some_and(|b| b.overlaps(&range)));
                            }
                            None => prop_assert!(!before.availability_covers(&range)),
                        }
                    }
                }
                (Err(Error::Validation(_)), Op::Add(s, e) | Op::Remove(s, e)) => {
                    prop_assert!(s >= e, "a valid short window was refused");
                }
                (Err(other), _) => prop_assert!(false, "unexpected refusal {other:?} of {op:?}"),
            }

            let events = result.unwrap_or_default();
            event_count += events.len() as u64;
            state = events.iter().fold(state, evolve);

            let bookings: Vec<TimeRange> = state.bookings().values().copied().collect();
            for (i, a) in bookings.iter().enumerate() {
                for b in &bookings[i + 1..] {
                    prop_assert!(!a.overlaps(b), "bookings {a:?} and {b:?} overlap");
                }
            }
            for pair in state.availability().windows(2) {
                prop_assert!(pair[0].end() < pair[1].start(), "availability not normalized: {pair:?}");
            }
            prop_assert_eq!(state.bookings(), &model);
            prop_assert_eq!(state.version(), event_count);

            let horizon = TimeRange::new(at(-10), at(80)).expect("valid");
            for free in state.free_within(horizon) {
                prop_assert!(bookings.iter().all(|b| !b.overlaps(&free)));
                prop_assert!(state.availability_covers(&free));
            }
        }
    }
}
