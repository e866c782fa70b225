//! An interview as rebuilt from its events.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DecisionOutcome, InterviewEvent, InterviewKind, InterviewStatus};
use crate::TimeRange;

/// An interview that has been scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interview {
    /// The interview's id.
    pub id: Uuid,
    /// The candidate.
    pub candidate_id: Uuid,
    /// The panel, in scheduling order.
    pub interviewer_ids: Vec<Uuid>,
    /// Position hired for.
    pub position: String,
    /// Interview kind.
    pub kind: InterviewKind,
    /// Current start.
    pub starts_at: DateTime<Utc>,
    /// Current end (exclusive).
    pub ends_at: DateTime<Utc>,
    /// Room or link.
    pub location: Option<String>,
    /// Lifecycle status.
    pub status: InterviewStatus,
    /// When the session began.
    pub started_at: Option<DateTime<Utc>>,
    /// When the session ended.
    pub completed_at: Option<DateTime<Utc>>,
    /// Actual length of the session in seconds, once completed.
    pub duration_seconds: Option<i64>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// Panel members who have submitted feedback.
    pub feedback_by: BTreeSet<Uuid>,
    /// The hiring decision, once made.
    pub decision: Option<DecisionOutcome>,
    /// Transcript segments recorded so far (capped by
    /// [`super::limits::MAX_TRANSCRIPT_SEGMENTS`]).
    pub transcript_segments: usize,
    /// Number of events in the stream.
    pub version: u64,
}

impl Interview {
    /// The scheduled interval; `None` only if stored events had `ends_at <= starts_at`.
    pub fn time_range(&self) -> Option<TimeRange> {
        TimeRange::new(self.starts_at, self.ends_at).ok()
    }

    /// Scheduled length in whole minutes.
    pub fn duration_minutes(&self) -> i64 {
        (self.ends_at - self.starts_at).num_minutes()
    }

    /// The candidate followed by the panel: every schedule this interview books.
    pub fn participants(&self) -> Vec<Uuid> {
        std::iter::once(self.candidate_id)
            .chain(self.interviewer_ids.iter().copied())
            .collect()
    }

    /// Whether `person` is the candidate or on the panel.
    pub fn is_participant(&self, person: Uuid) -> bool {
        person == self.candidate_id || self.is_on_panel(person)
    }

    /// Whether `person` is on the panel.
    pub fn is_on_panel(&self, person: Uuid) -> bool {
        self.interviewer_ids.contains(&person)
    }
}

/// Applies one event. `None` means "not scheduled yet"; only `InterviewScheduled` creates
/// an interview. Events are facts: they apply whatever the current status.
pub fn evolve(state: Option<Interview>, event: &InterviewEvent) -> Option<Interview> {
    let Some(mut iv) = state else {
        return created(event);
    };
    iv.version += 1;
    match event {
        // Cannot be decided twice; counted in the version only.
        InterviewEvent::InterviewScheduled { .. } => {}
        InterviewEvent::InterviewRescheduled {
            starts_at, ends_at, ..
        } => {
            iv.starts_at = *starts_at;
            iv.ends_at = *ends_at;
        }
        InterviewEvent::InterviewCancelled { reason } => {
            iv.status = InterviewStatus::Cancelled;
            iv.cancellation_reason = Some(reason.clone());
        }
        InterviewEvent::InterviewStarted { at } => {
            iv.status = InterviewStatus::InProgress;
            iv.started_at = Some(*at);
        }
        InterviewEvent::TranscriptSegmentsRecorded { segments } => {
            iv.transcript_segments = iv.transcript_segments.saturating_add(segments.len());
        }
        InterviewEvent::InterviewCompleted {
            at,
            duration_seconds,
        } => {
            iv.status = InterviewStatus::Completed;
            iv.completed_at = Some(*at);
            iv.duration_seconds = Some(*duration_seconds);
        }
        InterviewEvent::InterviewMarkedNoShow { .. } => iv.status = InterviewStatus::NoShow,
        InterviewEvent::FeedbackSubmitted { interviewer_id, .. } => {
            iv.feedback_by.insert(*interviewer_id);
        }
        InterviewEvent::DecisionMade { outcome, .. } => iv.decision = Some(*outcome),
    }
    Some(iv)
}

fn created(event: &InterviewEvent) -> Option<Interview> {
    let InterviewEvent::InterviewScheduled {
        interview_id,
        candidate_id,
        interviewer_ids,
        position,
        kind,
        starts_at,
        ends_at,
        location,
    } = event
    else {
        return None;
    };
    Some(Interview {
        id: *interview_id,
        candidate_id: *candidate_id,
        interviewer_ids: interviewer_ids.clone(),
        position: position.clone(),
        kind: *kind,
        starts_at: *starts_at,
        ends_at: *ends_at,
        location: location.clone(),
        status: InterviewStatus::Scheduled,
        started_at: None,
        completed_at: None,
        duration_seconds: None,
        cancellation_reason: None,
        feedback_by: BTreeSet::new(),
        decision: None,
        transcript_segments: 0,
        version: 1,
    })
}

/// Folds a whole stream, oldest first.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a InterviewEvent>) -> Option<Interview> {
    events.into_iter().fold(None, evolve)
}
