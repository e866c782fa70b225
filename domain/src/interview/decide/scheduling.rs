//! Schedule, reschedule, cancel, no-show: the commands of a scheduled interview.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::limits::*;
use super::{ENTITY, require_status};
use crate::interview::{
    Interview, InterviewEvent, InterviewKind, InterviewStatus, ParticipantFacts,
};
use crate::validate::Violations;
use crate::{Error, Role};

/// The fields of [`crate::interview::InterviewCommand::Schedule`].
pub(super) struct NewInterview {
    pub(super) interview_id: Uuid,
    pub(super) candidate: ParticipantFacts,
    pub(super) interviewers: Vec<ParticipantFacts>,
    pub(super) position: String,
    pub(super) kind: InterviewKind,
    pub(super) starts_at: DateTime<Utc>,
    pub(super) duration_minutes: i64,
    pub(super) location: Option<String>,
}

pub(super) fn schedule(
    state: Option<&Interview>,
    cmd: NewInterview,
) -> Result<Vec<InterviewEvent>, Error> {
    let NewInterview {
        interview_id,
        candidate,
        interviewers,
        position,
        kind,
        starts_at,
        duration_minutes,
        location,
    } = cmd;
    if state.is_some() {
        return Err(Error::AlreadyExists {
            entity: ENTITY,
            id: interview_id,
        });
    }
    let mut v = Violations::new();
    check_role(&mut v, "candidateId", &candidate, Role::Candidate);
    check_panel(&mut v, candidate.id, &interviewers);
    let position = v.text("position", &position, MAX_POSITION_CHARS);
    let ends_at = end_of(&mut v, starts_at, duration_minutes);
    let location = v.optional_text("location", location, MAX_LOCATION_CHARS);
    v.finish()?;
    // `end_of` reported an error whenever it returned `None`, so this never refuses.
    let ends_at = ends_at.ok_or_else(|| Error::invalid("durationMinutes", "is invalid"))?;
    Ok(vec![InterviewEvent::InterviewScheduled {
        interview_id,
        candidate_id: candidate.id,
        interviewer_ids: interviewers.iter().map(|p| p.id).collect(),
        position,
        kind,
        starts_at,
        ends_at,
        location,
    }])
}

fn check_role(v: &mut Violations, field: &str, person: &ParticipantFacts, role: Role) {
    match &person.roles {
        None => v.add(field, "person not found"),
        Some(roles) if !roles.contains(&role) => {
            v.add(field, format!("person does not have the {role} role"));
        }
        Some(_) => {}
    }
}

fn check_panel(v: &mut Violations, candidate: Uuid, interviewers: &[ParticipantFacts]) {
    if interviewers.is_empty() {
        v.add("interviewerIds", "at least one interviewer is required");
    } else if interviewers.len() > MAX_INTERVIEWERS {
        v.add(
            "interviewerIds",
            format!("at most {MAX_INTERVIEWERS} interviewers"),
        );
    }
    let mut seen = HashSet::new();
    for (i, person) in interviewers.iter().enumerate() {
        let field = format!("interviewerIds[{i}]");
        if !seen.insert(person.id) {
            v.add(field, "duplicate interviewer");
        } else if person.id == candidate {
            v.add(field, "the candidate cannot be on the panel");
        } else {
            check_role(v, &field, person, Role::Interviewer);
        }
    }
}

/// Checks the duration and returns `starts_at + duration` when both are usable.
fn end_of(v: &mut Violations, starts_at: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
    if !(MIN_DURATION_MINUTES..=MAX_DURATION_MINUTES).contains(&minutes) {
        v.range(
            "durationMinutes",
            minutes,
            MIN_DURATION_MINUTES,
            MAX_DURATION_MINUTES,
        );
        return None;
    }
    let end = starts_at.checked_add_signed(TimeDelta::minutes(minutes));
    if end.is_none() {
        v.add("startsAt", "is out of range");
    }
    end
}

pub(super) fn reschedule(
    iv: &Interview,
    starts_at: DateTime<Utc>,
    duration_minutes: Option<i64>,
    reason: Option<String>,
) -> Result<Vec<InterviewEvent>, Error> {
    let mut v = Violations::new();
    let ends_at = match duration_minutes {
        Some(m) => end_of(&mut v, starts_at, m),
        // Keep the exact current length, even if it is not whole minutes.
        None => starts_at
            .checked_add_signed(iv.ends_at - iv.starts_at)
            .or_else(|| {
                v.add("startsAt", "is out of range");
                None
            }),
    };
    let reason = v.optional_text("reason", reason, MAX_REASON_CHARS);
    v.finish()?;
    let ends_at = ends_at.ok_or_else(|| Error::invalid("durationMinutes", "is invalid"))?;
    require_status(iv, InterviewStatus::Scheduled)?;
    if starts_at == iv.starts_at && ends_at == iv.ends_at {
        return Ok(vec![]);
    }
    Ok(vec![InterviewEvent::InterviewRescheduled {
        starts_at,
        ends_at,
        previous_starts_at: iv.starts_at,
        previous_ends_at: iv.ends_at,
        reason,
    }])
}

pub(super) fn cancel(iv: &Interview, reason: &str) -> Result<Vec<InterviewEvent>, Error> {
    let mut v = Violations::new();
    let reason = v.text("reason", reason, MAX_REASON_CHARS);
    v.finish()?;
    require_status(iv, InterviewStatus::Scheduled)?;
    Ok(vec![InterviewEvent::InterviewCancelled { reason }])
}

pub(super) fn mark_no_show(
    iv: &Interview,
    reason: Option<String>,
) -> Result<Vec<InterviewEvent>, Error> {
    let mut v = Violations::new();
    let reason = v.optional_text("reason", reason, MAX_REASON_CHARS);
    v.finish()?;
    require_status(iv, InterviewStatus::Scheduled)?;
    Ok(vec![InterviewEvent::InterviewMarkedNoShow { reason }])
}
