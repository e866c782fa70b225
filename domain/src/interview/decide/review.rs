//! Feedback and decision: the commands of a completed interview.

use std::collections::HashSet;

use uuid::Uuid;

use super::limits::*;
use super::require_status;
use crate::interview::{
    CompetencyScore, DecisionOutcome, Interview, InterviewEvent, InterviewStatus,
};
use crate::validate::Violations;
use crate::{Error, Rule};

pub(super) fn feedback(
    iv: &Interview,
    interviewer_id: Uuid,
    rating: i64,
    competencies: Vec<CompetencyScore>,
    notes: Option<String>,
) -> Result<Vec<InterviewEvent>, Error> {
    let mut v = Violations::new();
    v.range("rating", rating, RATING.0, RATING.1);
    v.check(
        competencies.len() <= MAX_COMPETENCIES,
        "competencies",
        format!("at most {MAX_COMPETENCIES} competencies"),
    );
    let mut seen = HashSet::new();
    let competencies: Vec<CompetencyScore> = competencies
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let field = format!("competencies[{i}].name");
            let name = v.text(&field, &c.name, MAX_COMPETENCY_CHARS);
            if !name.is_empty() && !seen.insert(name.clone()) {
                v.add(field, "duplicate competency");
            }
            v.range(
                &format!("competencies[{i}].score"),
                c.score,
                SCORE.0,
                SCORE.1,
            );
            CompetencyScore {
                name,
                score: c.score,
            }
        })
        .collect();
    let notes = v.optional_text("notes", notes, MAX_NOTES_CHARS);
    v.finish()?;
    require_status(iv, InterviewStatus::Completed)?;
    if !iv.is_on_panel(interviewer_id) {
        return Err(Error::rule(
            Rule::NotOnPanel,
            format!("{interviewer_id} is not on this interview's panel"),
        ));
    }
    if iv.feedback_by.contains(&interviewer_id) {
        return Err(Error::rule(
            Rule::FeedbackAlreadySubmitted,
            format!("{interviewer_id} has already submitted feedback"),
        ));
    }
    Ok(vec![InterviewEvent::FeedbackSubmitted {
        interviewer_id,
        rating,
        competencies,
        notes,
    }])
}

pub(super) fn decision(
    iv: &Interview,
    outcome: DecisionOutcome,
    decided_by: Uuid,
    reason: Option<String>,
) -> Result<Vec<InterviewEvent>, Error> {
    let mut v = Violations::new();
    let reason = v.optional_text("reason", reason, MAX_REASON_CHARS);
    v.finish()?;
    require_status(iv, InterviewStatus::Completed)?;
    if let Some(made) = iv.decision {
        return Err(Error::rule(
            Rule::DecisionAlreadyMade,
            format!("a decision ({made}) has already been made"),
        ));
    }
    Ok(vec![InterviewEvent::DecisionMade {
        outcome,
        decided_by,
        reason,
    }])
}
