//! Folding interview events into rows, in memory.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::interview::InterviewEvent;
use infra::RecordedEvent;
use uuid::Uuid;

use crate::ProjectionError;
use crate::support::{Step, decode, next_version, version_i64};

/// One row of `interviews`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct InterviewRow {
    pub id: Uuid,
    pub candidate_id: Uuid,
    pub interviewer_ids: Vec<Uuid>,
    pub position: String,
    pub kind: String,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub location: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub actual_duration_seconds: Option<i64>,
    pub cancellation_reason: Option<String>,
    pub no_show_reason: Option<String>,
    pub decision_outcome: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub transcript_segments: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One row of `feedback`.
#[derive(Debug, Clone)]
pub(super) struct FeedbackRow {
    pub interview_id: Uuid,
    pub interviewer_id: Uuid,
    pub rating: i32,
    pub notes: Option<String>,
    pub submitted_at: DateTime<Utc>,
}

/// One row of `competency_scores`.
#[derive(Debug, Clone)]
pub(super) struct ScoreRow {
    pub interview_id: Uuid,
    pub interviewer_id: Uuid,
    pub ordinal: i32,
    pub name: String,
    pub score: i32,
}

/// One row of `transcript_segments`.
#[derive(Debug, Clone)]
pub(super) struct SegmentRow {
    pub interview_id: Uuid,
    pub seq: i32,
    pub speaker_id: Uuid,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

/// What a batch writes besides the interview rows.
#[derive(Debug, Default)]
pub(super) struct Changes {
    /// Interviews whose row changed, in first-touched order.
    pub changed: Vec<Uuid>,
    pub feedback: Vec<FeedbackRow>,
    pub scores: Vec<ScoreRow>,
    pub segments: Vec<SegmentRow>,
}

fn minutes(start: DateTime<Utc>, end: DateTime<Utc>) -> i32 {
    i32::try_from((end - start).num_minutes()).unwrap_or(i32::MAX)
}

fn small(event: &RecordedEvent, value: i64, what: &str) -> Result<i32, ProjectionError> {
    i32::try_from(value).map_err(|_| ProjectionError::poison(event, format!("{what} out of range")))
}

/// Applies one event of interview `id` to `rows`, recording the other tables' rows.
pub(super) fn apply_event(
    rows: &mut HashMap<Uuid, InterviewRow>,
    changes: &mut Changes,
    id: Uuid,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let current = rows.get(&id).map_or(0, |r| r.version as u64);
    if next_version(event, current)? == Step::Applied {
        return Ok(());
    }
    let at = event.metadata.occurred_at;
    let version = version_i64(event)?;
    let decoded = decode::<InterviewEvent>(event)?;
    if let InterviewEvent::InterviewScheduled {
        interview_id: _,
        candidate_id,
        interviewer_ids,
        position,
        kind,
        starts_at,
        ends_at,
        location,
    } = decoded
    {
        if rows.contains_key(&id) {
            return Err(ProjectionError::poison(
                event,
                "interview already scheduled",
            ));
        }
        rows.insert(
            id,
            InterviewRow {
                id,
                candidate_id,
                interviewer_ids,
                position,
                kind: kind.as_str().to_owned(),
                status: "scheduled".to_owned(),
                starts_at,
                ends_at,
                duration_minutes: minutes(starts_at, ends_at),
                location,
                started_at: None,
                completed_at: None,
                actual_duration_seconds: None,
                cancellation_reason: None,
                no_show_reason: None,
                decision_outcome: None,
                decided_by: None,
                decision_reason: None,
                decided_at: None,
                transcript_segments: 0,
                version,
                created_at: at,
                updated_at: at,
            },
        );
        changes.changed.push(id);
        return Ok(());
    }
    let Some(row) = rows.get_mut(&id) else {
        return Err(ProjectionError::poison(event, "interview not scheduled"));
    };
    match decoded {
        InterviewEvent::InterviewScheduled { .. } => {}
        InterviewEvent::InterviewRescheduled {
            starts_at, ends_at, ..
        } => {
            row.starts_at = starts_at;
            row.ends_at = ends_at;
            row.duration_minutes = minutes(starts_at, ends_at);
        }
        InterviewEvent::InterviewCancelled { reason } => {
            row.status = "cancelled".to_owned();
            row.cancellation_reason = Some(reason);
        }
        InterviewEvent::InterviewStarted { at } => {
            row.status = "in_progress".to_owned();
            row.started_at = Some(at);
        }
        InterviewEvent::TranscriptSegmentsRecorded { segments } => {
            for s in segments {
                row.transcript_segments += 1;
                changes.segments.push(SegmentRow {
                    interview_id: id,
                    seq: row.transcript_segments,
                    speaker_id: s.speaker_id,
                    start_ms: s.start_ms,
                    end_ms: s.end_ms,
                    text: s.text,
                });
            }
        }
        InterviewEvent::InterviewCompleted {
            at,
            duration_seconds,
        } => {
            row.status = "completed".to_owned();
            row.completed_at = Some(at);
            row.actual_duration_seconds = Some(duration_seconds);
        }
        InterviewEvent::InterviewMarkedNoShow { reason } => {
            row.status = "no_show".to_owned();
            row.no_show_reason = reason;
        }
        InterviewEvent::FeedbackSubmitted {
            interviewer_id,
            rating,
            competencies,
            notes,
        } => {
            changes.feedback.push(FeedbackRow {
                interview_id: id,
                interviewer_id,
                rating: small(event, rating, "rating")?,
                notes,
                submitted_at: at,
            });
            for (i, c) in competencies.into_iter().enumerate() {
                changes.scores.push(ScoreRow {
                    interview_id: id,
                    interviewer_id,
                    ordinal: small(event, i as i64 + 1, "competency ordinal")?,
                    name: c.name,
                    score: small(event, c.score, "score")?,
                });
            }
        }
        InterviewEvent::DecisionMade {
            outcome,
            decided_by,
            reason,
        } => {
            row.decision_outcome = Some(outcome.as_str().to_owned());
            row.decided_by = Some(decided_by);
            row.decision_reason = reason;
            row.decided_at = Some(at);
        }
    }
    row.version = version;
    row.updated_at = at;
    changes.changed.push(id);
    Ok(())
}
