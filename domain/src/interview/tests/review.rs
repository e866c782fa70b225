use super::*;
use crate::Rule;
use crate::testing::{InterviewAgg, given};

fn done() -> Vec<InterviewEvent> {
    vec![scheduled(), started(), completed()]
}

fn feedback(interviewer_id: Uuid, rating: i64, competencies: Vec<(&str, i64)>) -> InterviewCommand {
    InterviewCommand::SubmitFeedback {
        interviewer_id,
        rating,
        competencies: competencies
            .into_iter()
            .map(|(name, score)| CompetencyScore {
                name: name.into(),
                score,
            })
            .collect(),
        notes: Some("solid".into()),
    }
}

fn decide_cmd(outcome: DecisionOutcome) -> InterviewCommand {
    InterviewCommand::MakeDecision {
        outcome,
        decided_by: STRANGER,
        reason: None,
    }
}

#[test]
fn a_panel_member_can_submit_feedback_once_completed() {
    given::<InterviewAgg>(done())
        .when(feedback(ALICE, 4, vec![(" coding ", 5), ("design", 1)]))
        .then(vec![InterviewEvent::FeedbackSubmitted {
            interviewer_id: ALICE,
            rating: 4,
            competencies: vec![
                CompetencyScore {
                    name: "coding".into(),
                    score: 5,
                },
                CompetencyScore {
                    name: "design".into(),
                    score: 1,
                },
            ],
            notes: Some("solid".into()),
        }]);
}

#[test]
fn feedback_reports_every_bad_value() {
    given::<InterviewAgg>(done())
        .when(feedback(
            ALICE,
            5,
            vec![("coding", 0), ("", 3), ("coding", 6), (&"c".repeat(101), 2)],
        ))
        .then_invalid(&[
            "rating",
            "competencies[0].score",
            "competencies[1].name",
            "competencies[2].name",
            "competencies[2].score",
            "competencies[3].name",
        ]);
}

#[test]
fn feedback_is_only_allowed_once_completed() {
    given::<InterviewAgg>([scheduled(), started()])
        .when(feedback(ALICE, 3, vec![]))
        .then_rule(Rule::NotCompleted);
}

#[test]
fn feedback_from_outside_the_panel_is_refused() {
    given::<InterviewAgg>(done())
        .when(feedback(CANDIDATE, 3, vec![]))
        .then_rule(Rule::NotOnPanel);
}

#[test]
fn feedback_is_accepted_once_per_interviewer() {
    let mut history = done();
    history.push(feedback_by(ALICE));
    given::<InterviewAgg>(history.clone())
        .when(feedback(ALICE, 3, vec![]))
        .then_rule(Rule::FeedbackAlreadySubmitted);
    assert_eq!(
        given::<InterviewAgg>(history)
            .when(feedback(BOB, 1, vec![]))
            .events()
            .len(),
        1
    );
}

#[test]
fn a_decision_is_made_once_completed() {
    given::<InterviewAgg>(done())
        .when(InterviewCommand::MakeDecision {
            outcome: DecisionOutcome::Advance,
            decided_by: STRANGER,
            reason: Some("strong".into()),
        })
        .then(vec![InterviewEvent::DecisionMade {
            outcome: DecisionOutcome::Advance,
            decided_by: STRANGER,
            reason: Some("strong".into()),
        }]);
}

#[test]
fn a_decision_before_completion_is_refused() {
    given::<InterviewAgg>([scheduled()])
        .when(decide_cmd(DecisionOutcome::Hire))
        .then_rule(Rule::NotCompleted);
}

#[test]
fn only_one_decision_is_made_per_interview() {
    let mut history = done();
    history.push(InterviewEvent::DecisionMade {
        outcome: DecisionOutcome::Hold,
        decided_by: ALICE,
        reason: None,
    });
    given::<InterviewAgg>(history)
        .when(decide_cmd(DecisionOutcome::Hire))
        .then_rule(Rule::DecisionAlreadyMade);
}

#[test]
fn a_decision_reason_is_at_most_2000_characters() {
    given::<InterviewAgg>(done())
        .when(InterviewCommand::MakeDecision {
            outcome: DecisionOutcome::Reject,
            decided_by: STRANGER,
            reason: Some("r".repeat(2001)),
        })
        .then_invalid(&["reason"]);
}

#[test]
fn evolve_tracks_feedback_and_decision() {
    let mut history = done();
    history.push(feedback_by(BOB));
    history.push(InterviewEvent::DecisionMade {
        outcome: DecisionOutcome::Hire,
        decided_by: ALICE,
        reason: None,
    });
    let iv = replay(&history).expect("exists");
    assert!(iv.feedback_by.contains(&BOB));
    assert_eq!(iv.decision, Some(DecisionOutcome::Hire));
    assert_eq!(iv.version, 5);
}
