//! `rm.schedule_owners`, `rm.availability_windows`, `rm.bookings`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ReadModel, ReadModelError, sql};

/// One merged availability window.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WindowRow {
    /// Whose.
    pub person_id: Uuid,
    /// Start.
    pub start_at: DateTime<Utc>,
    /// End (exclusive).
    pub end_at: DateTime<Utc>,
}

/// One booked slot.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BookingRow {
    /// Whose schedule.
    pub person_id: Uuid,
    /// The interview holding it.
    pub interview_id: Uuid,
    /// Start.
    pub start_at: DateTime<Utc>,
    /// End (exclusive).
    pub end_at: DateTime<Utc>,
}

/// The schedules of some people around a time range.
#[derive(Debug, Clone, Default)]
pub struct ScheduleRows {
    /// People who ever declared availability (the others are free at any time).
    pub declared: HashSet<Uuid>,
    /// Windows overlapping the range, by person then start.
    pub windows: Vec<WindowRow>,
    /// Bookings overlapping the range, by person then start.
    pub bookings: Vec<BookingRow>,
}

impl ReadModel {
    /// Availability and bookings of `people` that overlap `[from, to)`.
    pub async fn schedules(
        &self,
        people: &[Uuid],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ScheduleRows, ReadModelError> {
        let declared: Vec<Uuid> = sqlx::query_scalar(
            "SELECT person_id FROM rm.schedule_owners \
             WHERE person_id = ANY($1) AND declared_availability",
        )
        .bind(people)
        .fetch_all(self.db())
        .await
        .map_err(sql("schedule_owners"))?;
        let windows = sqlx::query_as(
            "SELECT person_id, start_at, end_at FROM rm.availability_windows \
             WHERE person_id = ANY($1) AND start_at < $3 AND end_at > $2 \
             ORDER BY person_id, start_at",
        )
        .bind(people)
        .bind(from)
        .bind(to)
        .fetch_all(self.db())
        .await
        .map_err(sql("availability_windows"))?;
        let bookings = sqlx::query_as(
            "SELECT person_id, interview_id, start_at, end_at FROM rm.bookings \
             WHERE person_id = ANY($1) AND start_at < $3 AND end_at > $2 \
             ORDER BY person_id, start_at, interview_id",
        )
        .bind(people)
        .bind(from)
        .bind(to)
        .fetch_all(self.db())
        .await
        .map_err(sql("bookings"))?;
        Ok(ScheduleRows {
            declared: declared.into_iter().collect(),
            windows,
            bookings,
        })
    }
}
