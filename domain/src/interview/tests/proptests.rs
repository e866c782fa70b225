//! Random command sequences on one interview, checked against a small reference model.
//!
//! Every command is decided against the state folded from the events accepted so far.
//! Folding never panics, and after each step the real aggregate agrees with the model on:
//! whether the command was accepted and which kind of error refused it, how many events
//! it emitted, and the resulting status, version, panel, feedback count and decision.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::Error;

const MODEL_CANDIDATE: u128 = 100;

#[derive(Debug, Clone)]
enum Op {
    Schedule { panel: u128 },
    Reschedule { hour: i64 },
    Cancel,
    Start,
    Record { speaker: u128 },
    Complete { hour: i64 },
    NoShow,
    Feedback { who: u128, rating: i64 },
    Decide,
}

/// Weighted towards the commands that move the lifecycle forward, so that most sequences
/// reach `completed` and exercise feedback and decision.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (1u128..=3).prop_map(|panel| Op::Schedule { panel }),
        1 => (8i64..14).prop_map(|hour| Op::Reschedule { hour }),
        1 => Just(Op::Cancel),
        3 => Just(Op::Start),
        2 => (0u128..5).prop_map(|speaker| Op::Record { speaker }),
        3 => (8i64..14).prop_map(|hour| Op::Complete { hour }),
        1 => Just(Op::NoShow),
        5 => ((0u128..5), (0i64..6)).prop_map(|(who, rating)| Op::Feedback { who, rating }),
        2 => Just(Op::Decide),
    ]
}

/// Index 0 is the candidate, 1..=4 are interviewers (on the panel when <= panel size).
fn person(i: u128) -> Uuid {
    Uuid::from_u128(if i == 0 { MODEL_CANDIDATE } else { i })
}

fn command(op: &Op) -> InterviewCommand {
    match *op {
        Op::Schedule { panel } => InterviewCommand::Schedule {
            interview_id: IV,
            candidate: facts(person(0), &[Role::Candidate]),
            interviewers: (1..=panel)
                .map(|i| facts(person(i), &[Role::Interviewer]))
                .collect(),
            position: "Engineer".into(),
            kind: InterviewKind::SystemDesign,
            starts_at: at(10),
            duration_minutes: 60,
            location: None,
        },
        Op::Reschedule { hour } => InterviewCommand::Reschedule {
            starts_at: at(hour),
            duration_minutes: None,
            reason: None,
        },
        Op::Cancel => InterviewCommand::Cancel {
            reason: "no longer needed".into(),
        },
        Op::Start => InterviewCommand::Start { at: at(10) },
        Op::Record { speaker } => InterviewCommand::RecordTranscript {
            segments: vec![segment(person(speaker), 0, 10, "hi")],
        },
        Op::Complete { hour } => InterviewCommand::Complete { at: at(hour) },
        Op::NoShow => InterviewCommand::MarkNoShow { reason: None },
        Op::Feedback { who, rating } => InterviewCommand::SubmitFeedback {
            interviewer_id: person(who),
            rating,
            competencies: vec![],
            notes: None,
        },
        Op::Decide => InterviewCommand::MakeDecision {
            outcome: DecisionOutcome::Hold,
            decided_by: person(1),
            reason: None,
        },
    }
}

#[derive(Debug, Default)]
struct Model {
    status: Option<InterviewStatus>,
    start_hour: i64,
    panel: Vec<Uuid>,
    feedback: BTreeSet<Uuid>,
    decided: bool,
    version: u64,
}

/// Outcome the model expects: `Ok(number of events)` or the kind of refusal.
type Expected = Result<u64, &'static str>;

impl Model {
    fn step(&mut self, op: &Op) -> Expected {
        use InterviewStatus::*;
        let Some(status) = self.status else {
            if let Op::Schedule { panel } = *op {
                self.status = Some(Scheduled);
                self.start_hour = 10;
                self.panel = (1..=panel).map(person).collect();
                return self.emitted(1);
            }
            return Err("not-found");
        };
        let need = |wanted| {
            if status == wanted {
                Ok(())
            } else {
                Err("rule")
            }
        };
        match *op {
            Op::Schedule { .. } => Err("already-exists"),
            Op::Reschedule { hour } => {
                need(Scheduled)?;
                let changed = hour != self.start_hour;
                self.start_hour = hour;
                self.emitted(u64::from(changed))
            }
            Op::Cancel | Op::NoShow => {
                need(Scheduled)?;
                self.status = Some(if matches!(op, Op::Cancel) {
                    Cancelled
                } else {
                    NoShow
                });
                self.emitted(1)
            }
            Op::Start => {
                need(Scheduled)?;
                self.status = Some(InProgress);
                self.emitted(1)
            }
            Op::Record { speaker } => {
                need(InProgress)?;
                let who = person(speaker);
                if who != person(0) && !self.panel.contains(&who) {
                    return Err("rule");
                }
                self.emitted(1)
            }
            Op::Complete { .. } => {
                need(InProgress)?;
                self.status = Some(Completed);
                self.emitted(1)
            }
            Op::Feedback { who, rating } => {
                if !(1..=4).contains(&rating) {
                    return Err("validation");
                }
                need(Completed)?;
                let who = person(who);
                if !self.panel.contains(&who) || !self.feedback.insert(who) {
                    return Err("rule");
                }
                self.emitted(1)
            }
            Op::Decide => {
                need(Completed)?;
                if std::mem::replace(&mut self.decided, true) {
                    return Err("rule");
                }
                self.emitted(1)
            }
        }
    }

    fn emitted(&mut self, n: u64) -> Expected {
        self.version += n;
        Ok(n)
    }
}

fn kind(result: &Result<Vec<InterviewEvent>, Error>) -> Expected {
    match result {
        Ok(events) => Ok(events.len() as u64),
        Err(Error::NotFound { .. }) => Err("not-found"),
        Err(Error::AlreadyExists { .. }) => Err("already-exists"),
        Err(Error::Validation(_)) => Err("validation"),
        Err(Error::RuleViolated { .. }) => Err("rule"),
        Err(Error::BookingConflict(_)) => Err("booking-conflict"),
    }
}

proptest! {
    #[test]
    fn random_command_sequences_agree_with_the_reference_model(ops in prop::collection::vec(op(), 1..30)) {
        let mut state: Option<Interview> = None;
        let mut model = Model::default();
        for op in &ops {
            let result = decide(&state, command(op));
            prop_assert_eq!(kind(&result), model.step(op), "op {:?}", op);
            state = result.unwrap_or_default().iter().fold(state, evolve);

            let iv = state.as_ref();
            prop_assert_eq!(iv.map(|i| i.status), model.status);
            prop_assert_eq!(iv.map_or(0, |i| i.version), model.version);
            prop_assert_eq!(iv.map(|i| i.interviewer_ids.clone()).unwrap_or_default(), model.panel.clone());
            prop_assert_eq!(iv.map_or(0, |i| i.feedback_by.len()), model.feedback.len());
            prop_assert_eq!(iv.is_some_and(|i| i.decision.is_some()), model.decided);
            if let Some(iv) = iv {
                prop_assert!(iv.duration_seconds.is_none_or(|d| d >= 0));
                prop_assert_eq!(iv.duration_minutes(), 60);
            }
        }
    }
}
