//! `schedule` and `availability`: free time is availability (or all of the range, for
//! someone who never declared any) minus bookings; common free time is its intersection
//! over several people.

use async_graphql::SimpleObject;
use chrono::{DateTime as UtcTime, TimeDelta, Utc};
use domain::TimeRange;
use uuid::Uuid;

use super::check_range;
use super::scalars::DateTime;
use crate::error::{QueryError, QueryResult};
use crate::read_model::{ReadModel, ScheduleRows};
use crate::viewer::Viewer;

/// Longest `schedule` range.
const MAX_SCHEDULE_DAYS: i64 = 366;
/// Longest `availability` range (API.md §3.1).
const MAX_AVAILABILITY_DAYS: i64 = 31;
/// Most people in one `availability` question.
const MAX_PEOPLE: usize = 50;
/// Largest `limit` of `availability`.
const MAX_LIMIT: i32 = 500;

/// A half-open interval `[start, end)`.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct TimeSlot {
    /// First instant.
    pub start: DateTime,
    /// First instant after.
    pub end: DateTime,
}

impl From<TimeRange> for TimeSlot {
    fn from(r: TimeRange) -> Self {
        TimeSlot {
            start: r.start().into(),
            end: r.end().into(),
        }
    }
}

/// An interview's hold on a person's time.
#[derive(SimpleObject, Debug, Clone)]
pub struct Booking {
    /// The interview.
    pub interview_id: Uuid,
    /// Its start.
    pub start: DateTime,
    /// Its end.
    pub end: DateTime,
}

/// A person's time within a range.
#[derive(SimpleObject, Debug, Clone)]
pub struct Schedule {
    /// Whose.
    pub person_id: Uuid,
    /// Declared availability, clipped to the range.
    pub availability: Vec<TimeSlot>,
    /// Bookings overlapping the range (whole, not clipped).
    pub bookings: Vec<Booking>,
    /// Availability minus bookings within the range.
    pub free: Vec<TimeSlot>,
}

fn range(from: UtcTime<Utc>, to: UtcTime<Utc>) -> QueryResult<TimeRange> {
    TimeRange::new(from, to).map_err(|_| QueryError::bad_input("from must be before to"))
}

/// The schedule of `person_id` within `[from, to)`.
pub(crate) async fn schedule(
    read_model: &ReadModel,
    viewer: &Viewer,
    person_id: Uuid,
    from: UtcTime<Utc>,
    to: UtcTime<Utc>,
) -> QueryResult<Schedule> {
    check_range(from, to, MAX_SCHEDULE_DAYS)?;
    let within = range(from, to)?;
    let rows = read_model.schedules(viewer, &[person_id], from, to).await?;
    let free = free_of(&rows, person_id, within);
    Ok(Schedule {
        person_id,
        availability: rows
            .windows
            .iter()
            .filter_map(|w| TimeRange::new(w.start_at, w.end_at).ok())
            .filter_map(|w| w.intersection(&within))
            .map(TimeSlot::from)
            .collect(),
        bookings: rows
            .bookings
            .iter()
            .map(|b| Booking {
                interview_id: b.interview_id,
                start: b.start_at.into(),
                end: b.end_at.into(),
            })
            .collect(),
        free: free.into_iter().map(TimeSlot::from).collect(),
    })
}

/// The arguments of `availability`.
pub(crate) struct AvailabilityQuery {
    pub person_ids: Vec<Uuid>,
    pub from: UtcTime<Utc>,
    pub to: UtcTime<Utc>,
    pub duration_minutes: i32,
    pub limit: i32,
}

/// The multiplier the complexity budget charges for `limit`.
pub(crate) fn charged_limit(limit: Option<i32>) -> usize {
    limit.unwrap_or(50).clamp(1, MAX_LIMIT) as usize
}

/// Maximal common free intervals of every listed person, at least the duration long.
pub(crate) async fn availability(
    read_model: &ReadModel,
    viewer: &Viewer,
    q: AvailabilityQuery,
) -> QueryResult<Vec<TimeSlot>> {
    let mut people = q.person_ids;
    people.sort_unstable();
    people.dedup();
    if people.is_empty() || people.len() > MAX_PEOPLE {
        return Err(QueryError::bad_input(format!(
            "personIds must name 1..{MAX_PEOPLE} people"
        )));
    }
    check_range(q.from, q.to, MAX_AVAILABILITY_DAYS)?;
    let max_minutes = MAX_AVAILABILITY_DAYS * 24 * 60;
    if !(1..=max_minutes).contains(&i64::from(q.duration_minutes)) {
        return Err(QueryError::bad_input(format!(
            "durationMinutes must be between 1 and {max_minutes}"
        )));
    }
    if !(1..=MAX_LIMIT).contains(&q.limit) {
        return Err(QueryError::bad_input(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {}",
            q.limit
        )));
    }
    let within = range(q.from, q.to)?;
    let rows = read_model.schedules(viewer, &people, q.from, q.to).await?;
    let mut common: Option<Vec<TimeRange>> = None;
    for person in &people {
        let free = free_of(&rows, *person, within);
        let now = match common {
            None => free,
            Some(before) => intersect(&before, &free),
        };
        let nobody_free = now.is_empty();
        common = Some(now);
        if nobody_free {
            break;
        }
    }
    let common = common.unwrap_or_default();
    let min = TimeDelta::minutes(i64::from(q.duration_minutes));
    Ok(common
        .into_iter()
        .filter(|r| r.duration() >= min)
        .take(usize::try_from(q.limit).unwrap_or(0))
        .map(TimeSlot::from)
        .collect())
}

/// Free time of `person` within `within`: their declared windows (or all of `within`,
/// if they never declared any) minus their bookings; sorted, disjoint, not touching.
fn free_of(rows: &ScheduleRows, person: Uuid, within: TimeRange) -> Vec<TimeRange> {
    let mut free: Vec<TimeRange> = if rows.declared.contains(&person) {
        rows.windows
            .iter()
            .filter(|w| w.person_id == person)
            .filter_map(|w| TimeRange::new(w.start_at, w.end_at).ok())
            .filter_map(|w| w.intersection(&within))
            .collect()
    } else {
        vec![within]
    };
    normalize(&mut free);
    let mut booked: Vec<TimeRange> = rows
        .bookings
        .iter()
        .filter(|b| b.person_id == person)
        .filter_map(|b| TimeRange::new(b.start_at, b.end_at).ok())
        .collect();
    if booked.is_empty() {
        return free;
    }
    normalize(&mut booked);
    subtract_all(&free, &booked)
}

/// `free` minus `booked`, both sorted, disjoint and not touching, in one sweep.
fn subtract_all(free: &[TimeRange], booked: &[TimeRange]) -> Vec<TimeRange> {
    let mut out = Vec::with_capacity(free.len() + booked.len());
    let mut first = 0;
    for f in free {
        // Bookings over before this range are over before the next ones too.
        while booked.get(first).is_some_and(|b| b.end() <= f.start()) {
            first += 1;
        }
        let mut start = f.start();
        for b in booked[first..].iter().take_while(|b| b.start() < f.end()) {
            if let Ok(piece) = TimeRange::new(start, b.start()) {
                out.push(piece);
            }
            start = start.max(b.end());
        }
        if let Ok(piece) = TimeRange::new(start, f.end()) {
            out.push(piece);
        }
    }
    out
}

/// Sorts and merges overlapping or touching ranges.
fn normalize(ranges: &mut Vec<TimeRange>) {
    ranges.sort();
    let mut merged: Vec<TimeRange> = Vec::with_capacity(ranges.len());
    for r in ranges.drain(..) {
        match merged.last_mut() {
            Some(last) if r.start() <= last.end() => {
                if r.end() > last.end() {
                    *last = TimeRange::new(last.start(), r.end()).unwrap_or(*last);
                }
            }
            _ => merged.push(r),
        }
    }
    *ranges = merged;
}

/// The intersection of two sorted, disjoint lists.
fn intersect(a: &[TimeRange], b: &[TimeRange]) -> Vec<TimeRange> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if let Some(r) = a[i].intersection(&b[j]) {
            out.push(r);
        }
        if a[i].end() <= b[j].end() {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn r(a: u32, b: u32) -> TimeRange {
        let at = |h| {
            Utc.with_ymd_and_hms(2027, 3, 1, h, 0, 0)
                .single()
                .expect("valid")
        };
        TimeRange::new(at(a), at(b)).expect("valid")
    }

    #[test]
    fn intersection_keeps_only_common_parts() {
        let a = [r(8, 12), r(13, 18)];
        let b = [r(9, 10), r(11, 14), r(17, 20)];
        assert_eq!(
            intersect(&a, &b),
            vec![r(9, 10), r(11, 12), r(13, 14), r(17, 18)]
        );
    }

    /// What booking by booking subtraction, then merging, gives.
    fn subtract_one_by_one(free: &[TimeRange], booked: &[TimeRange]) -> Vec<TimeRange> {
        let mut left = free.to_vec();
        for b in booked {
            left = left.iter().flat_map(|f| f.subtract(b)).collect();
        }
        normalize(&mut left);
        left
    }

    #[test]
    fn the_sweep_subtracts_like_one_booking_at_a_time() {
        let free = [r(1, 3), r(4, 9), r(10, 12), r(14, 20)];
        let cases: [&[TimeRange]; 7] = [
            &[],
            &[r(0, 1), r(3, 4), r(20, 22)],
            &[r(0, 2), r(5, 6), r(6, 7), r(8, 11)],
            &[r(2, 15)],
            &[r(4, 9), r(11, 12), r(13, 23)],
            &[r(1, 2), r(2, 3), r(9, 10), r(15, 16), r(17, 18)],
            &[r(0, 23)],
        ];
        for booked in cases {
            let mut merged = booked.to_vec();
            normalize(&mut merged);
            assert_eq!(
                subtract_all(&free, &merged),
                subtract_one_by_one(&free, booked),
                "{booked:?}"
            );
        }
    }

    #[test]
    fn normalizing_merges_touching_and_overlapping_ranges() {
        let mut v = vec![r(12, 13), r(8, 10), r(10, 11), r(9, 10)];
        normalize(&mut v);
        assert_eq!(v, vec![r(8, 11), r(12, 13)]);
    }
}
