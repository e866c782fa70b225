//! What has happened to a schedule.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{DecodeError, DomainEvent, TimeRange, event};

/// The events of a `schedule-{personId}` stream (API.md §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum ScheduleEvent {
    /// The window `[start, end)` became available.
    AvailabilityAdded {
        /// Window start.
        start: DateTime<Utc>,
        /// Window end (exclusive).
        end: DateTime<Utc>,
    },
    /// The window `[start, end)` is no longer available (bookings inside it stay).
    AvailabilityRemoved {
        /// Window start.
        start: DateTime<Utc>,
        /// Window end (exclusive).
        end: DateTime<Utc>,
    },
    /// The interview took the slot `[start, end)`.
    SlotBooked {
        /// The interview.
        interview_id: Uuid,
        /// Slot start.
        start: DateTime<Utc>,
        /// Slot end (exclusive).
        end: DateTime<Utc>,
    },
    /// The interview gave its slot back.
    SlotReleased {
        /// The interview.
        interview_id: Uuid,
        /// Start of the released slot.
        start: DateTime<Utc>,
        /// End of the released slot.
        end: DateTime<Utc>,
    },
}

impl ScheduleEvent {
    /// The event's interval; `None` only for stored data with `start >= end`.
    pub fn range(&self) -> Option<TimeRange> {
        let (start, end) = match self {
            ScheduleEvent::AvailabilityAdded { start, end }
            | ScheduleEvent::AvailabilityRemoved { start, end }
            | ScheduleEvent::SlotBooked { start, end, .. }
            | ScheduleEvent::SlotReleased { start, end, .. } => (*start, *end),
        };
        TimeRange::new(start, end).ok()
    }
}

impl DomainEvent for ScheduleEvent {
    const STREAM_PREFIX: &'static str = "schedule-";
    const EVENT_TYPES: &'static [&'static str] = &[
        "AvailabilityAdded",
        "AvailabilityRemoved",
        "SlotBooked",
        "SlotReleased",
    ];

    fn event_type(&self) -> &'static str {
        match self {
            ScheduleEvent::AvailabilityAdded { .. } => "AvailabilityAdded",
            ScheduleEvent::AvailabilityRemoved { .. } => "AvailabilityRemoved",
            ScheduleEvent::SlotBooked { .. } => "SlotBooked",
            ScheduleEvent::SlotReleased { .. } => "SlotReleased",
        }
    }

    fn to_data(&self) -> Value {
        event::encode(self)
    }

    fn from_data(event_type: &str, data: Value) -> Result<Self, DecodeError> {
        event::decode(Self::EVENT_TYPES, event_type, &data)
    }
}
