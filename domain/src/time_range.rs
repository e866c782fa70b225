//! Half-open time intervals.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// A non-empty half-open interval `[start, end)` of UTC instants.
///
/// Serialized as `{"start": ..., "end": ...}`; deserializing an empty or inverted range fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawRange")]
pub struct TimeRange {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Why a [`TimeRange`] could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeRangeError {
    /// `start` is not strictly before `end`.
    #[error("start must be before end")]
    NotBeforeEnd,
}

#[derive(Deserialize)]
struct RawRange {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TryFrom<RawRange> for TimeRange {
    type Error = TimeRangeError;

    fn try_from(raw: RawRange) -> Result<Self, Self::Error> {
        TimeRange::new(raw.start, raw.end)
    }
}

impl TimeRange {
    /// `[start, end)`; refused unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, TimeRangeError> {
        if start < end {
            Ok(TimeRange { start, end })
        } else {
            Err(TimeRangeError::NotBeforeEnd)
        }
    }

    /// The first instant inside the range.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The first instant after the range.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// `end - start`, always positive.
    pub fn duration(&self) -> TimeDelta {
        self.end - self.start
    }

    /// Whether the two ranges share at least one instant (touching ranges do not overlap).
    pub fn overlaps(&self, other: &TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies entirely inside `self`.
    pub fn contains(&self, other: &TimeRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// Whether the instant lies inside the range.
    pub fn contains_instant(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    /// The common part of two ranges, if any.
    pub fn intersection(&self, other: &TimeRange) -> Option<TimeRange> {
        TimeRange::new(self.start.max(other.start), self.end.min(other.end)).ok()
    }

    /// What is left of `self` once `other` is taken out: zero, one or two ranges, in order.
    pub fn subtract(&self, other: &TimeRange) -> Vec<TimeRange> {
        if !self.overlaps(other) {
            return vec![*self];
        }
        [
            TimeRange::new(self.start, other.start),
            TimeRange::new(other.end, self.end),
        ]
        .into_iter()
        .filter_map(Result::ok)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 1, h, 0, 0)
            .single()
            .expect("valid")
    }

    fn r(a: u32, b: u32) -> TimeRange {
        TimeRange::new(at(a), at(b)).expect("valid")
    }

    #[test]
    fn an_empty_or_inverted_range_is_refused() {
        assert_eq!(
            TimeRange::new(at(9), at(9)),
            Err(TimeRangeError::NotBeforeEnd)
        );
        assert_eq!(
            TimeRange::new(at(10), at(9)),
            Err(TimeRangeError::NotBeforeEnd)
        );
    }

    #[test]
    fn touching_ranges_do_not_overlap_because_ranges_are_half_open() {
        assert!(!r(9, 10).overlaps(&r(10, 11)));
        assert!(r(9, 11).overlaps(&r(10, 12)));
        assert!(r(9, 12).contains(&r(10, 11)));
        assert!(!r(9, 12).contains_instant(at(12)));
        assert_eq!(r(9, 12).duration(), TimeDelta::hours(3));
    }

    #[test]
    fn subtracting_splits_a_range_around_the_hole() {
        assert_eq!(r(9, 17).subtract(&r(12, 13)), vec![r(9, 12), r(13, 17)]);
        assert_eq!(r(9, 17).subtract(&r(8, 18)), vec![]);
        assert_eq!(r(9, 10).subtract(&r(10, 11)), vec![r(9, 10)]);
        assert_eq!(r(9, 12).intersection(&r(11, 13)), Some(r(11, 12)));
    }

    #[test]
    fn serde_uses_start_and_end_and_rejects_an_inverted_range() {
        let json = serde_json::to_value(r(9, 10)).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"start": "2027-03-01T09:00:00Z", "end": "2027-03-01T10:00:00Z"})
        );
        let back: TimeRange = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, r(9, 10));
        let bad =
            serde_json::json!({"start": "2027-03-01T10:00:00Z", "end": "2027-03-01T09:00:00Z"});
        assert!(serde_json::from_value::<TimeRange>(bad).is_err());
    }
}
