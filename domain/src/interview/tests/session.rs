use super::*;
use crate::Rule;
use crate::testing::{InterviewAgg, given};

fn record(segments: Vec<TranscriptSegment>) -> InterviewCommand {
    InterviewCommand::RecordTranscript { segments }
}

#[test]
fn starting_a_scheduled_interview_records_the_time() {
    given::<InterviewAgg>([scheduled()])
        .when(InterviewCommand::Start { at: at(10) })
        .then(vec![started()]);
}

#[test]
fn starting_is_only_allowed_while_scheduled() {
    given::<InterviewAgg>([scheduled(), started()])
        .when(InterviewCommand::Start { at: at(10) })
        .then_rule(Rule::NotScheduled);
}

#[test]
fn recording_segments_of_participants_is_accepted() {
    let segments = vec![
        segment(ALICE, 0, 1500, "Hello"),
        segment(CANDIDATE, 1500, 4000, "Hi!"),
    ];
    given::<InterviewAgg>([scheduled(), started()])
        .when(record(segments.clone()))
        .then(vec![InterviewEvent::TranscriptSegmentsRecorded {
            segments,
        }]);
}

#[test]
fn recording_reports_every_bad_segment_field() {
    let segments = vec![
        segment(ALICE, -1, 10, "ok"),
        segment(ALICE, 10, 10, " "),
        segment(BOB, 0, 5, &"x".repeat(10_001)),
    ];
    given::<InterviewAgg>([scheduled(), started()])
        .when(record(segments))
        .then_invalid(&[
            "segments[0].startMs",
            "segments[1].endMs",
            "segments[1].text",
            "segments[2].text",
        ]);
}

#[test]
fn recording_needs_one_to_a_thousand_segments() {
    given::<InterviewAgg>([scheduled(), started()])
        .when(record(vec![]))
        .then_invalid(&["segments"]);
    let many = (0..1001).map(|i| segment(ALICE, i, i + 1, "w")).collect();
    given::<InterviewAgg>([scheduled(), started()])
        .when(record(many))
        .then_invalid(&["segments"]);
}

#[test]
fn recording_is_only_allowed_in_progress() {
    for history in [vec![scheduled()], vec![scheduled(), started(), completed()]] {
        given::<InterviewAgg>(history)
            .when(record(vec![segment(ALICE, 0, 1, "hi")]))
            .then_rule(Rule::NotInProgress);
    }
}

#[test]
fn a_speaker_outside_the_interview_is_refused() {
    given::<InterviewAgg>([scheduled(), started()])
        .when(record(vec![
            segment(ALICE, 0, 1, "hi"),
            segment(STRANGER, 1, 2, "who?"),
        ]))
        .then_rule(Rule::SpeakerNotParticipant);
}

#[test]
fn completing_records_the_actual_duration() {
    given::<InterviewAgg>([scheduled(), started()])
        .when(InterviewCommand::Complete { at: at(11) })
        .then(vec![completed()]);
}

#[test]
fn a_completion_before_the_start_has_zero_duration() {
    given::<InterviewAgg>([scheduled(), started()])
        .when(InterviewCommand::Complete { at: at(9) })
        .then(vec![InterviewEvent::InterviewCompleted {
            at: at(9),
            duration_seconds: 0,
        }]);
}

#[test]
fn completing_is_only_allowed_in_progress() {
    given::<InterviewAgg>([scheduled()])
        .when(InterviewCommand::Complete { at: at(11) })
        .then_rule(Rule::NotInProgress);
}

#[test]
fn evolve_tracks_the_session() {
    let iv = replay(&[scheduled(), started(), completed()]).expect("exists");
    assert_eq!(iv.status, InterviewStatus::Completed);
    assert_eq!(
        (iv.started_at, iv.completed_at),
        (Some(at(10)), Some(at(11)))
    );
    assert_eq!(iv.duration_seconds, Some(3600));
}

fn recorded(n: usize) -> InterviewEvent {
    let n = i64::try_from(n).expect("small");
    InterviewEvent::TranscriptSegmentsRecorded {
        segments: (0..n).map(|i| segment(ALICE, i, i + 1, "w")).collect(),
    }
}

#[test]
fn an_interview_holds_up_to_ten_thousand_segments_and_no_more() {
    use crate::interview::limits::{MAX_SEGMENTS, MAX_TRANSCRIPT_SEGMENTS};
    let full_calls = MAX_TRANSCRIPT_SEGMENTS / MAX_SEGMENTS;
    // One short of the cap: the last segment fits.
    let mut history = vec![scheduled(), started()];
    history.extend((0..full_calls - 1).map(|_| recorded(MAX_SEGMENTS)));
    history.push(recorded(MAX_SEGMENTS - 1));
    given::<InterviewAgg>(history.clone())
        .when(record(vec![segment(ALICE, 0, 1, "w")]))
        .then(vec![recorded(1)]);
    // A call that would pass it is refused whole, even if part of it would fit.
    given::<InterviewAgg>(history)
        .when(record(vec![
            segment(ALICE, 0, 1, "fits"),
            segment(ALICE, 1, 2, "does not"),
        ]))
        .then_rule(Rule::TranscriptSegmentLimit);
    // At the cap, nothing more.
    let mut full = vec![scheduled(), started()];
    full.extend((0..full_calls).map(|_| recorded(MAX_SEGMENTS)));
    assert_eq!(
        crate::interview::replay(&full).map(|iv| iv.transcript_segments),
        Some(MAX_TRANSCRIPT_SEGMENTS)
    );
    given::<InterviewAgg>(full)
        .when(record(vec![segment(ALICE, 0, 1, "one more")]))
        .then_rule(Rule::TranscriptSegmentLimit);
}
