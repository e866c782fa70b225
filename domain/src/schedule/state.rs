//! A schedule as rebuilt from its events.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::ScheduleEvent;
use crate::TimeRange;

/// A person's availability and bookings.
///
/// Fields are private because `availability` is kept normalized: sorted, disjoint and
/// with touching windows merged, so "fits in one window" is a single containment test.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    availability: Vec<TimeRange>,
    declared_availability: bool,
    bookings: BTreeMap<Uuid, TimeRange>,
    version: u64,
}

impl Schedule {
    /// Available windows: sorted, disjoint, touching windows merged.
    pub fn availability(&self) -> &[TimeRange] {
        &self.availability
    }

    /// Whether a window was ever added. Until then the person is free at any time.
    pub fn declared_availability(&self) -> bool {
        self.declared_availability
    }

    /// Booked slots by interview id.
    pub fn bookings(&self) -> &BTreeMap<Uuid, TimeRange> {
        &self.bookings
    }

    /// The slot held by `interview_id`, if any.
    pub fn booking(&self, interview_id: Uuid) -> Option<TimeRange> {
        self.bookings.get(&interview_id).copied()
    }

    /// Number of events in the stream.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether availability allows `range`: never declared, or one window contains it.
    pub fn availability_covers(&self, range: &TimeRange) -> bool {
        !self.declared_availability || self.availability.iter().any(|w| w.contains(range))
    }

    /// The free parts of `range`, sorted: availability (or all of `range` when never
    /// declared) minus every booking.
    pub fn free_within(&self, range: TimeRange) -> Vec<TimeRange> {
        let mut free: Vec<TimeRange> = if self.declared_availability {
            self.availability
                .iter()
                .filter_map(|w| w.intersection(&range))
                .collect()
        } else {
            vec![range]
        };
        for booked in self.bookings.values() {
            free = free.iter().flat_map(|f| f.subtract(booked)).collect();
        }
        free
    }

    fn add_window(&mut self, window: TimeRange) {
        self.availability.push(window);
        self.availability.sort();
        let mut merged: Vec<TimeRange> = Vec::with_capacity(self.availability.len());
        for w in self.availability.drain(..) {
            match merged.last_mut() {
                Some(last) if w.start() <= last.end() => {
                    if w.end() > last.end() {
                        // Both ends come from valid ranges and last.start <= w.start < w.end.
                        *last = TimeRange::new(last.start(), w.end()).unwrap_or(*last);
                    }
                }
                _ => merged.push(w),
            }
        }
        self.availability = merged;
    }

    fn remove_window(&mut self, window: &TimeRange) {
        self.availability = self
            .availability
            .iter()
            .flat_map(|w| w.subtract(window))
            .collect();
    }
}

/// Applies one event. Stored events with an empty interval change nothing but the version.
pub fn evolve(mut state: Schedule, event: &ScheduleEvent) -> Schedule {
    state.version += 1;
    let Some(range) = event.range() else {
        return state;
    };
    match event {
        ScheduleEvent::AvailabilityAdded { .. } => {
            state.declared_availability = true;
            state.add_window(range);
        }
        ScheduleEvent::AvailabilityRemoved { .. } => state.remove_window(&range),
        ScheduleEvent::SlotBooked { interview_id, .. } => {
            state.bookings.insert(*interview_id, range);
        }
        ScheduleEvent::SlotReleased { interview_id, .. } => {
            state.bookings.remove(interview_id);
        }
    }
    state
}

/// Folds a whole stream, oldest first.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a ScheduleEvent>) -> Schedule {
    events.into_iter().fold(Schedule::default(), evolve)
}
