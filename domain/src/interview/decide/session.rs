//! Start, transcript, complete: the commands of the session itself.

use chrono::{DateTime, Utc};

use super::limits::{MAX_SEGMENT_CHARS, MAX_SEGMENTS, MAX_TRANSCRIPT_SEGMENTS};
use super::require_status;
use crate::interview::{Interview, InterviewEvent, InterviewStatus, TranscriptSegment};
use crate::validate::Violations;
use crate::{Error, Rule};

pub(super) fn start(iv: &Interview, at: DateTime<Utc>) -> Result<Vec<InterviewEvent>, Error> {
    require_status(iv, InterviewStatus::Scheduled)?;
    Ok(vec![InterviewEvent::InterviewStarted { at }])
}

pub(super) fn record(
    iv: &Interview,
    segments: Vec<TranscriptSegment>,
) -> Result<Vec<InterviewEvent>, Error> {
    let mut v = Violations::new();
    if segments.is_empty() {
        v.add("segments", "at least one segment is required");
    } else if segments.len() > MAX_SEGMENTS {
        v.add(
            "segments",
            format!("at most {MAX_SEGMENTS} segments per call"),
        );
    }
    for (i, s) in segments.iter().enumerate() {
        v.check(
            s.start_ms >= 0,
            format!("segments[{i}].startMs"),
            "must not be negative",
        );
        v.check(
            s.end_ms > s.start_ms,
            format!("segments[{i}].endMs"),
            "must be after startMs",
        );
        if s.text.trim().is_empty() {
            v.add(format!("segments[{i}].text"), "must not be empty");
        } else if s.text.chars().count() > MAX_SEGMENT_CHARS {
            v.add(
                format!("segments[{i}].text"),
                format!("must be at most {MAX_SEGMENT_CHARS} characters"),
            );
        }
    }
    v.finish()?;
    require_status(iv, InterviewStatus::InProgress)?;
    if let Some((i, s)) = segments
        .iter()
        .enumerate()
        .find(|(_, s)| !iv.is_participant(s.speaker_id))
    {
        return Err(Error::rule(
            Rule::SpeakerNotParticipant,
            format!(
                "segments[{i}]: speaker {} is not a participant of this interview",
                s.speaker_id
            ),
        ));
    }
    let held = iv.transcript_segments;
    if held.saturating_add(segments.len()) > MAX_TRANSCRIPT_SEGMENTS {
        return Err(Error::rule(
            Rule::TranscriptSegmentLimit,
            format!(
                "an interview holds at most {MAX_TRANSCRIPT_SEGMENTS} transcript segments: \
                 this one has {held}, and {} more do not fit",
                segments.len()
            ),
        ));
    }
    Ok(vec![InterviewEvent::TranscriptSegmentsRecorded {
        segments,
    }])
}

pub(super) fn complete(iv: &Interview, at: DateTime<Utc>) -> Result<Vec<InterviewEvent>, Error> {
    require_status(iv, InterviewStatus::InProgress)?;
    // A clock that went backwards must not yield a negative duration.
    let duration_seconds = iv
        .started_at
        .map_or(0, |started| (at - started).num_seconds().max(0));
    Ok(vec![InterviewEvent::InterviewCompleted {
        at,
        duration_seconds,
    }])
}
