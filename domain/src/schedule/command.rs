//! What can be asked of a schedule.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::TimeRange;

/// A request to change a person's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleCommand {
    /// Add then remove availability windows, given raw as `(start, end)` so that `decide`
    /// can report each bad window (`add[i]`, `remove[i]`). Removing never removes bookings.
    ChangeAvailability {
        /// Windows to add.
        add: Vec<(DateTime<Utc>, DateTime<Utc>)>,
        /// Windows to remove (applied after the additions).
        remove: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    },
    /// Book `range` for an interview; rebooking the same interview moves its slot.
    Book {
        /// Whose schedule this is; only used to name the person in a [`crate::Conflict`].
        person_id: Uuid,
        /// The interview taking the slot.
        interview_id: Uuid,
        /// The interview's interval.
        range: TimeRange,
    },
    /// Free the interview's slot, if it holds one.
    Release {
        /// The interview whose slot is freed.
        interview_id: Uuid,
    },
}
