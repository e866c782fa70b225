use super::*;
use crate::testing::{InterviewAgg, given};
use crate::{Error, Rule};

fn reschedule(h: i64, minutes: Option<i64>) -> InterviewCommand {
    InterviewCommand::Reschedule {
        starts_at: at(h),
        duration_minutes: minutes,
        reason: Some("clash".into()),
    }
}

#[test]
fn scheduling_trims_the_position_and_computes_the_end() {
    given::<InterviewAgg>([])
        .when(schedule_cmd())
        .then(vec![scheduled()]);
}

#[test]
fn scheduling_an_existing_interview_is_refused() {
    given::<InterviewAgg>([scheduled()])
        .when(schedule_cmd())
        .then_error(Error::AlreadyExists {
            entity: "interview",
            id: IV,
        });
}

#[test]
fn scheduling_reports_every_invalid_field_at_once() {
    let cmd = InterviewCommand::Schedule {
        interview_id: IV,
        candidate: facts(CANDIDATE, &[Role::Interviewer]),
        interviewers: vec![
            facts(ALICE, &[Role::Interviewer]),
            facts(ALICE, &[Role::Interviewer]),
            facts(CANDIDATE, &[Role::Interviewer]),
            ParticipantFacts {
                id: STRANGER,
                roles: None,
            },
            facts(BOB, &[Role::Candidate]),
        ],
        position: "".into(),
        kind: InterviewKind::Final,
        starts_at: at(10),
        duration_minutes: 4,
        location: Some("x".repeat(501)),
    };
    given::<InterviewAgg>([]).when(cmd).then_invalid(&[
        "candidateId",
        "interviewerIds[1]",
        "interviewerIds[2]",
        "interviewerIds[3]",
        "interviewerIds[4]",
        "position",
        "durationMinutes",
        "location",
    ]);
}

#[test]
fn scheduling_needs_one_to_ten_interviewers() {
    let with_panel = |panel: Vec<ParticipantFacts>| InterviewCommand::Schedule {
        interview_id: IV,
        candidate: ParticipantFacts {
            id: CANDIDATE,
            roles: None,
        },
        interviewers: panel,
        position: "P".into(),
        kind: InterviewKind::Onsite,
        starts_at: at(10),
        duration_minutes: 481,
        location: None,
    };
    given::<InterviewAgg>([])
        .when(with_panel(vec![]))
        .then_invalid(&["candidateId", "interviewerIds", "durationMinutes"]);
    let eleven = (0..11)
        .map(|i| facts(Uuid::from_u128(100 + i), &[Role::Interviewer]))
        .collect();
    given::<InterviewAgg>([])
        .when(with_panel(eleven))
        .then_invalid(&["candidateId", "interviewerIds", "durationMinutes"]);
}

#[test]
fn rescheduling_keeps_the_duration_when_none_is_given() {
    given::<InterviewAgg>([scheduled()])
        .when(reschedule(14, None))
        .then(vec![InterviewEvent::InterviewRescheduled {
            starts_at: at(14),
            ends_at: at(15),
            previous_starts_at: at(10),
            previous_ends_at: at(11),
            reason: Some("clash".into()),
        }]);
}

#[test]
fn rescheduling_can_change_the_duration() {
    let events = given::<InterviewAgg>([scheduled()])
        .when(reschedule(10, Some(120)))
        .events();
    let iv = replay([scheduled()].iter().chain(&events)).expect("exists");
    assert_eq!((iv.starts_at, iv.ends_at, iv.version), (at(10), at(12), 2));
    assert_eq!(iv.duration_minutes(), 120);
}

#[test]
fn rescheduling_to_the_same_times_emits_nothing() {
    given::<InterviewAgg>([scheduled()])
        .when(reschedule(10, Some(60)))
        .then(vec![]);
}

#[test]
fn rescheduling_validates_the_duration_before_the_status() {
    given::<InterviewAgg>([scheduled(), started()])
        .when(reschedule(12, Some(500)))
        .then_invalid(&["durationMinutes"]);
}

#[test]
fn rescheduling_is_only_allowed_while_scheduled() {
    for history in [
        vec![scheduled(), started()],
        vec![scheduled(), cancelled()],
        vec![scheduled(), no_show()],
    ] {
        given::<InterviewAgg>(history)
            .when(reschedule(12, None))
            .then_rule(Rule::NotScheduled);
    }
}

#[test]
fn any_command_on_a_missing_interview_is_not_found() {
    let commands = [
        reschedule(12, None),
        InterviewCommand::Cancel { reason: "r".into() },
        InterviewCommand::Start { at: at(10) },
        InterviewCommand::RecordTranscript {
            segments: vec![segment(ALICE, 0, 1, "hi")],
        },
        InterviewCommand::Complete { at: at(11) },
        InterviewCommand::MarkNoShow { reason: None },
        InterviewCommand::SubmitFeedback {
            interviewer_id: ALICE,
            rating: 3,
            competencies: vec![],
            notes: None,
        },
        InterviewCommand::MakeDecision {
            outcome: DecisionOutcome::Hire,
            decided_by: ALICE,
            reason: None,
        },
    ];
    for cmd in commands {
        given::<InterviewAgg>([])
            .when(cmd)
            .then_error(Error::not_found("interview"));
    }
}

#[test]
fn cancelling_records_the_trimmed_reason() {
    given::<InterviewAgg>([scheduled()])
        .when(InterviewCommand::Cancel {
            reason: " candidate withdrew ".into(),
        })
        .then(vec![cancelled()]);
}

#[test]
fn cancelling_needs_a_reason_of_at_most_2000_characters() {
    given::<InterviewAgg>([scheduled()])
        .when(InterviewCommand::Cancel {
            reason: "  ".into(),
        })
        .then_invalid(&["reason"]);
    given::<InterviewAgg>([scheduled()])
        .when(InterviewCommand::Cancel {
            reason: "r".repeat(2001),
        })
        .then_invalid(&["reason"]);
}

#[test]
fn cancelling_is_only_allowed_while_scheduled() {
    given::<InterviewAgg>([scheduled(), cancelled()])
        .when(InterviewCommand::Cancel {
            reason: "again".into(),
        })
        .then_rule(Rule::NotScheduled);
}

#[test]
fn marking_a_no_show_drops_a_blank_reason() {
    given::<InterviewAgg>([scheduled()])
        .when(InterviewCommand::MarkNoShow {
            reason: Some(" ".into()),
        })
        .then(vec![no_show()]);
}

#[test]
fn marking_a_no_show_is_only_allowed_while_scheduled() {
    given::<InterviewAgg>([scheduled(), started()])
        .when(InterviewCommand::MarkNoShow { reason: None })
        .then_rule(Rule::NotScheduled);
    given::<InterviewAgg>([scheduled()])
        .when(InterviewCommand::MarkNoShow {
            reason: Some("r".repeat(2001)),
        })
        .then_invalid(&["reason"]);
}

#[test]
fn evolve_builds_the_interview_from_its_events() {
    let iv = replay(&[scheduled(), cancelled()]).expect("exists");
    assert_eq!(iv.status, InterviewStatus::Cancelled);
    assert_eq!(
        iv.cancellation_reason.as_deref(),
        Some("candidate withdrew")
    );
    assert_eq!(iv.participants(), vec![CANDIDATE, ALICE, BOB]);
    assert_eq!(
        iv.time_range().map(|r| r.duration()),
        Some(TimeDelta::hours(1))
    );
    assert_eq!(iv.version, 2);
    assert_eq!(evolve(None, &cancelled()), None);
    assert_eq!(stream_id(IV), format!("interview-{IV}"));
}
