//! Analytics facts and the aggregate deltas their changes produce.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use domain::interview::InterviewEvent;
use infra::RecordedEvent;
use uuid::Uuid;

use crate::ProjectionError;
use crate::support::{Step, decode, next_version, version_i64};

/// One row of `analytics_interviews`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Fact {
    pub id: Uuid,
    pub position: String,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub scheduled_minutes: i32,
    pub interviewer_ids: Vec<Uuid>,
    pub completed_at: Option<DateTime<Utc>>,
    pub actual_duration_seconds: Option<i64>,
    pub decision_outcome: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// Changes to one `analytics_daily` row.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Daily {
    pub scheduled: i32,
    pub completed: i32,
    pub cancelled: i32,
    pub no_show: i32,
    pub duration_sum: i64,
}

/// Changes to one `analytics_hourly` row.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Hourly {
    pub interviews: i32,
    pub completed: i32,
}

/// Changes to one `analytics_funnel` row.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Funnel {
    pub total: i32,
    pub completed: i32,
    pub advanced: i32,
    pub hired: i32,
    pub rejected: i32,
    pub held: i32,
}

/// Summed changes of a batch, keyed like the aggregate tables.
#[derive(Debug, Default)]
pub(super) struct Deltas {
    pub daily: BTreeMap<NaiveDate, Daily>,
    pub hourly: BTreeMap<i32, Hourly>,
    pub funnel: BTreeMap<String, Funnel>,
    /// (position, competency) → (score sum, count).
    pub competencies: BTreeMap<(String, String), (i64, i32)>,
}

impl Deltas {
    /// Adds (`sign` = 1) or takes away (`sign` = -1) what `fact` counts for.
    fn count(&mut self, fact: &Fact, sign: i32) {
        let completed = i32::from(fact.status == "completed") * sign;
        let d = self.daily.entry(fact.starts_at.date_naive()).or_default();
        d.scheduled += sign;
        d.completed += completed;
        d.cancelled += i32::from(fact.status == "cancelled") * sign;
        d.no_show += i32::from(fact.status == "no_show") * sign;
        if fact.status == "completed" {
            d.duration_sum += fact.actual_duration_seconds.unwrap_or(0) * i64::from(sign);
        }
        let h = self.hourly.entry(fact.starts_at.hour() as i32).or_default();
        h.interviews += sign;
        h.completed += completed;
        let f = self.funnel.entry(fact.position.clone()).or_default();
        f.total += sign;
        f.completed += completed;
        let outcome = fact.decision_outcome.as_deref();
        f.advanced += i32::from(outcome == Some("advance")) * sign;
        f.hired += i32::from(outcome == Some("hire")) * sign;
        f.rejected += i32::from(outcome == Some("reject")) * sign;
        f.held += i32::from(outcome == Some("hold")) * sign;
    }
}

/// Applies one event of interview `id`: updates its fact and the deltas. Returns whether
/// the fact changed (false for a redelivered event).
pub(super) fn apply_event(
    facts: &mut HashMap<Uuid, Fact>,
    deltas: &mut Deltas,
    id: Uuid,
    event: &RecordedEvent,
) -> Result<bool, ProjectionError> {
    let current = facts.get(&id).map_or(0, |f| f.version as u64);
    if next_version(event, current)? == Step::Applied {
        return Ok(false);
    }
    let version = version_i64(event)?;
    let decoded = decode::<InterviewEvent>(event)?;
    if let InterviewEvent::InterviewScheduled {
        interviewer_ids,
        position,
        starts_at,
        ends_at,
        ..
    } = decoded
    {
        if facts.contains_key(&id) {
            return Err(ProjectionError::poison(
                event,
                "interview already scheduled",
            ));
        }
        let fact = Fact {
            id,
            position,
            status: "scheduled".to_owned(),
            starts_at,
            scheduled_minutes: minutes(starts_at, ends_at),
            interviewer_ids,
            completed_at: None,
            actual_duration_seconds: None,
            decision_outcome: None,
            decided_at: None,
            version,
        };
        deltas.count(&fact, 1);
        facts.insert(id, fact);
        return Ok(true);
    }
    let Some(fact) = facts.get_mut(&id) else {
        return Err(ProjectionError::poison(event, "interview not scheduled"));
    };
    deltas.count(fact, -1);
    match decoded {
        InterviewEvent::InterviewScheduled { .. }
        | InterviewEvent::TranscriptSegmentsRecorded { .. } => {}
        InterviewEvent::InterviewStarted { .. } => fact.status = "in_progress".to_owned(),
        InterviewEvent::InterviewRescheduled {
            starts_at, ends_at, ..
        } => {
            fact.starts_at = starts_at;
            fact.scheduled_minutes = minutes(starts_at, ends_at);
        }
        InterviewEvent::InterviewCancelled { .. } => fact.status = "cancelled".to_owned(),
        InterviewEvent::InterviewMarkedNoShow { .. } => fact.status = "no_show".to_owned(),
        InterviewEvent::InterviewCompleted {
            at,
            duration_seconds,
        } => {
            fact.status = "completed".to_owned();
            fact.completed_at = Some(at);
            fact.actual_duration_seconds = Some(duration_seconds);
        }
        InterviewEvent::FeedbackSubmitted { competencies, .. } => {
            for c in competencies {
                let e = deltas
                    .competencies
                    .entry((fact.position.clone(), c.name))
                    .or_default();
                e.0 += c.score;
                e.1 += 1;
            }
        }
        InterviewEvent::DecisionMade { outcome, .. } => {
            fact.decision_outcome = Some(outcome.as_str().to_owned());
            fact.decided_at = Some(event.metadata.occurred_at);
        }
    }
    fact.version = version;
    deltas.count(fact, 1);
    Ok(true)
}

fn minutes(start: DateTime<Utc>, end: DateTime<Utc>) -> i32 {
    i32::try_from((end - start).num_minutes()).unwrap_or(i32::MAX)
}
