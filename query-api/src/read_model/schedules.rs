//! `rm.schedule_owners`, `rm.availability_windows`, `rm.bookings`.
//!
//! One path: a person's whole schedule (whether they declared availability, every
//! window, every booking) is read in one statement and cut to the query's range in
//! memory. With the row cache on, it sits in front of that read: whole schedules are
//! kept by person id until the projector says they changed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{ReadModel, ReadModelError, read_through, sql};
use crate::viewer::Viewer;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleRows {
    /// People who ever declared availability (the others are free at any time).
    pub declared: HashSet<Uuid>,
    /// Windows overlapping the range, by person then start.
    pub windows: Vec<WindowRow>,
    /// Bookings overlapping the range, by person then start (then interview).
    pub bookings: Vec<BookingRow>,
}

/// One interval of a cached schedule: `[start, end)`, and the interview for a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    interview: Uuid,
}

/// Spans sorted by `(start, interview)`, with the longest one's length, so that those
/// overlapping a range are found by binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Spans {
    spans: Vec<Span>,
    /// The largest `end - start`, at least zero.
    longest: TimeDelta,
}

impl Spans {
    fn new(mut spans: Vec<Span>) -> Self {
        spans.sort_unstable_by_key(|s| (s.start, s.interview));
        let longest = spans
            .iter()
            .map(|s| s.end - s.start)
            .fold(TimeDelta::zero(), TimeDelta::max);
        Spans { spans, longest }
    }

    /// The spans with `start < to AND end > from` (the SQL's filter), in order. A span
    /// starting at or before `from - longest` ends at or before `from`, so the search
    /// starts after those.
    fn overlapping(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = &Span> + '_ {
        let first = match from.checked_sub_signed(self.longest) {
            Some(earliest) => self.spans.partition_point(|s| s.start <= earliest),
            None => 0,
        };
        self.spans[first..]
            .iter()
            .take_while(move |s| s.start < to)
            .filter(move |s| s.end > from)
    }
}

/// A person's whole schedule, as the row cache holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonSchedule {
    /// Whose.
    pub person_id: Uuid,
    /// Ever declared availability.
    pub declared: bool,
    windows: Spans,
    bookings: Spans,
}

impl ScheduleRows {
    /// What the range query would answer for `[from, to)`, from whole schedules sorted by
    /// person id (each person once).
    fn within(held: &[Arc<PersonSchedule>], from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let mut rows = ScheduleRows::default();
        for s in held {
            let person_id = s.person_id;
            if s.declared {
                rows.declared.insert(person_id);
            }
            rows.windows
                .extend(s.windows.overlapping(from, to).map(|w| WindowRow {
                    person_id,
                    start_at: w.start,
                    end_at: w.end,
                }));
            rows.bookings
                .extend(s.bookings.overlapping(from, to).map(|b| BookingRow {
                    person_id,
                    interview_id: b.interview,
                    start_at: b.start,
                    end_at: b.end,
                }));
        }
        rows
    }
}

/// One row of the schedule statements: what it is, whose, and its interval.
type Part = (
    i16,
    Uuid,
    Option<Uuid>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

const DECLARED: i16 = 0;
const WINDOW: i16 = 1;
const BOOKING: i16 = 2;

/// Owners who declared availability, windows and bookings of `$1` in one statement.
const WHOLE_SQL: &str = "\
    SELECT 0::int2, person_id, NULL::uuid, NULL::timestamptz, NULL::timestamptz \
    FROM rm.schedule_owners WHERE tenant = $2 AND person_id = ANY($1) AND declared_availability \
    UNION ALL \
    SELECT 1::int2, person_id, NULL::uuid, start_at, end_at \
    FROM rm.availability_windows WHERE tenant = $2 AND person_id = ANY($1) \
    UNION ALL \
    SELECT 2::int2, person_id, interview_id, start_at, end_at \
    FROM rm.bookings WHERE tenant = $2 AND person_id = ANY($1)";

/// One row of a schedule statement, checked.
enum Item {
    /// The person declared availability.
    Declared,
    /// One of their windows.
    Window(Span),
    /// One of their bookings.
    Booking(Span),
}

/// Checks one statement's rows and hands each to `each`, with whose it is.
fn sort_out(parts: Vec<Part>, mut each: impl FnMut(Uuid, Item)) -> Result<(), ReadModelError> {
    let null = |column: &'static str| ReadModelError::Unexpected {
        column,
        value: "NULL".into(),
    };
    for (kind, person, interview, start, end) in parts {
        let span = |interview: Uuid| match (start, end) {
            (Some(start), Some(end)) => Ok(Span {
                start,
                end,
                interview,
            }),
            _ => Err(null("start_at")),
        };
        let item = match kind {
            DECLARED => Item::Declared,
            WINDOW => Item::Window(span(Uuid::nil())?),
            BOOKING => Item::Booking(span(interview.ok_or_else(|| null("interview_id"))?)?),
            other => {
                return Err(ReadModelError::Unexpected {
                    column: "kind",
                    value: other.to_string(),
                });
            }
        };
        each(person, item);
    }
    Ok(())
}

impl ReadModel {
    /// Availability and bookings of `people` that overlap `[from, to)`, cut from their
    /// whole schedules: those the row cache holds, and the others read in one statement
    /// (which then go into the cache, when it serves schedules).
    pub async fn schedules(
        &self,
        viewer: &Viewer,
        people: &[Uuid],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ScheduleRows, ReadModelError> {
        let mut ids = people.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut held = match self.cache() {
            Some(cache) if cache.caches_schedules() => {
                let tenant = &viewer.tenant;
                read_through(
                    cache.lookup_schedules(tenant, &ids),
                    async |missing| self.whole_schedules(viewer, missing).await,
                    |ticket, rows| cache.fill_schedules(ticket, tenant, rows),
                )
                .await?
            }
            _ => self.whole_schedules(viewer, &ids).await?,
        };
        held.sort_unstable_by_key(|s| s.person_id);
        Ok(ScheduleRows::within(&held, from, to))
    }

    /// The whole schedule of each of `ids` (each once; empty for someone unknown), read
    /// in one statement.
    pub async fn whole_schedules(
        &self,
        viewer: &Viewer,
        ids: &[Uuid],
    ) -> Result<Vec<Arc<PersonSchedule>>, ReadModelError> {
        let mut tx = self.reader(viewer, "whole_schedules").await?;
        let parts: Vec<Part> = sqlx::query_as(WHOLE_SQL)
            .bind(ids)
            .bind(viewer.tenant.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(sql("whole_schedules"))?;
        let mut by_person: HashMap<Uuid, (bool, Vec<Span>, Vec<Span>)> = ids
            .iter()
            .map(|id| (*id, (false, Vec::new(), Vec::new())))
            .collect();
        sort_out(parts, |person, item| {
            let Some(entry) = by_person.get_mut(&person) else {
                return;
            };
            match item {
                Item::Declared => entry.0 = true,
                Item::Window(span) => entry.1.push(span),
                Item::Booking(span) => entry.2.push(span),
            }
        })?;
        Ok(by_person
            .into_iter()
            .map(|(person_id, (declared, windows, bookings))| {
                Arc::new(PersonSchedule {
                    person_id,
                    declared,
                    windows: Spans::new(windows),
                    bookings: Spans::new(bookings),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0)
            .single()
            .map(|d| d + TimeDelta::hours(h))
            .expect("valid")
    }

    fn span(a: i64, b: i64, n: u128) -> Span {
        Span {
            start: at(a),
            end: at(b),
            interview: Uuid::from_u128(n),
        }
    }

    /// The filter the SQL applies, over every span.
    fn naive(spans: &[Span], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        let mut out: Vec<Span> = spans
            .iter()
            .filter(|s| s.start < to && s.end > from)
            .copied()
            .collect();
        out.sort_unstable_by_key(|s| (s.start, s.interview));
        out
    }

    #[test]
    fn the_search_finds_what_the_filter_finds_at_every_edge() {
        // Overlapping, long, touching, empty and inverted spans.
        let all = vec![
            span(0, 100, 1),
            span(10, 12, 2),
            span(12, 14, 3),
            span(12, 13, 4),
            span(20, 20, 5),
            span(30, 25, 6),
            span(40, 48, 7),
            span(47, 49, 8),
        ];
        let spans = Spans::new(all.clone());
        for a in -2..110 {
            for len in [1, 2, 5, 24, 200] {
                let (from, to) = (at(a), at(a + len));
                let found: Vec<Span> = spans.overlapping(from, to).copied().collect();
                assert_eq!(found, naive(&all, from, to), "[{a}, {})", a + len);
            }
        }
        let empty = Spans::new(vec![]);
        assert_eq!(empty.overlapping(at(0), at(1)).count(), 0);
        let far = DateTime::<Utc>::MIN_UTC;
        assert_eq!(spans.overlapping(far, at(1)).count(), 1);
    }
}
