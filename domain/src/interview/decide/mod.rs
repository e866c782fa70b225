//! Decides interview commands: existence, then values, then lifecycle and membership.

mod review;
mod scheduling;
mod session;

use super::{Interview, InterviewCommand, InterviewEvent, InterviewStatus};
use crate::{Error, Rule};

/// The bounds `decide` enforces, for documentation and client-side hints.
pub mod limits {
    /// Most interviewers on a panel.
    pub const MAX_INTERVIEWERS: usize = 10;
    /// Shortest interview, in minutes.
    pub const MIN_DURATION_MINUTES: i64 = 5;
    /// Longest interview, in minutes.
    pub const MAX_DURATION_MINUTES: i64 = 480;
    /// Longest position name, in characters.
    pub const MAX_POSITION_CHARS: usize = 200;
    /// Longest location, in characters.
    pub const MAX_LOCATION_CHARS: usize = 500;
    /// Longest reason (cancel, reschedule, no-show, decision), in characters.
    pub const MAX_REASON_CHARS: usize = 2000;
    /// Most transcript segments per call.
    pub const MAX_SEGMENTS: usize = 1000;
    /// Most transcript segments one interview holds, over all its calls: the stream,
    /// the transcript read model and every fold of the interview stay bounded (at
    /// most 10,000 × [`MAX_SEGMENT_CHARS`] of text). A call that would pass it is
    /// refused whole (422 `rule-violated`, rule `transcript-segment-limit`).
    pub const MAX_TRANSCRIPT_SEGMENTS: usize = 10_000;
    /// Longest transcript segment text, in characters.
    pub const MAX_SEGMENT_CHARS: usize = 10_000;
    /// Rating bounds of a feedback.
    pub const RATING: (i64, i64) = (1, 4);
    /// Score bounds of a competency.
    pub const SCORE: (i64, i64) = (1, 5);
    /// Most competencies per feedback.
    pub const MAX_COMPETENCIES: usize = 50;
    /// Longest competency name, in characters.
    pub const MAX_COMPETENCY_CHARS: usize = 100;
    /// Longest feedback notes, in characters.
    pub const MAX_NOTES_CHARS: usize = 10_000;
}

const ENTITY: &str = "interview";

/// Decides an interview command against the current state (`None` = not scheduled yet).
///
/// Checks run in this order, and the first failing step answers: the interview exists
/// (or, for `Schedule`, does not); the command's values (every bad field reported at
/// once); the lifecycle status; membership and once-only rules.
pub fn decide(
    state: &Option<Interview>,
    cmd: InterviewCommand,
) -> Result<Vec<InterviewEvent>, Error> {
    let existing = || state.as_ref().ok_or_else(|| Error::not_found(ENTITY));
    match cmd {
        InterviewCommand::Schedule {
            interview_id,
            candidate,
            interviewers,
            position,
            kind,
            starts_at,
            duration_minutes,
            location,
        } => scheduling::schedule(
            state.as_ref(),
            scheduling::NewInterview {
                interview_id,
                candidate,
                interviewers,
                position,
                kind,
                starts_at,
                duration_minutes,
                location,
            },
        ),
        InterviewCommand::Reschedule {
            starts_at,
            duration_minutes,
            reason,
        } => scheduling::reschedule(existing()?, starts_at, duration_minutes, reason),
        InterviewCommand::Cancel { reason } => scheduling::cancel(existing()?, &reason),
        InterviewCommand::MarkNoShow { reason } => scheduling::mark_no_show(existing()?, reason),
        InterviewCommand::Start { at } => session::start(existing()?, at),
        InterviewCommand::RecordTranscript { segments } => session::record(existing()?, segments),
        InterviewCommand::Complete { at } => session::complete(existing()?, at),
        InterviewCommand::SubmitFeedback {
            interviewer_id,
            rating,
            competencies,
            notes,
        } => review::feedback(existing()?, interviewer_id, rating, competencies, notes),
        InterviewCommand::MakeDecision {
            outcome,
            decided_by,
            reason,
        } => review::decision(existing()?, outcome, decided_by, reason),
    }
}

/// Refuses unless the interview is in `expected` status.
fn require_status(iv: &Interview, expected: InterviewStatus) -> Result<(), Error> {
    if iv.status == expected {
        return Ok(());
    }
    let rule = match expected {
        InterviewStatus::Scheduled => Rule::NotScheduled,
        InterviewStatus::InProgress => Rule::NotInProgress,
        InterviewStatus::Completed | InterviewStatus::Cancelled | InterviewStatus::NoShow => {
            Rule::NotCompleted
        }
    };
    Err(Error::rule(
        rule,
        format!("the interview is {}, not {}", iv.status, expected),
    ))
}
