//! Every event of every aggregate survives `to_data` → JSON text → `from_data`, and the
//! wire shape matches API.md §1.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::interview::{
    CompetencyScore, DecisionOutcome, InterviewEvent, InterviewKind, TranscriptSegment,
};
use crate::person::PersonEvent;
use crate::schedule::ScheduleEvent;
use crate::{DecodeError, DomainEvent, Role};

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

/// Any instant from year 1 to 9999, with nanoseconds, so RFC 3339 can express it.
fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (-62_135_596_800i64..253_402_300_799, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap_or(DateTime::<Utc>::MIN_UTC))
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(any::<String>())
}

fn person_event() -> impl Strategy<Value = PersonEvent> {
    let roles = prop::collection::vec(prop::sample::select(Role::ALL), 0..3);
    prop_oneof![
        (uuid(), any::<String>(), text(), roles, text()).prop_map(
            |(person_id, name, email, roles, timezone)| {
                PersonEvent::PersonRegistered {
                    person_id,
                    name,
                    email,
                    roles,
                    timezone,
                }
            }
        ),
        (text(), text(), text()).prop_map(|(name, email, timezone)| {
            PersonEvent::PersonDetailsChanged {
                name,
                email,
                timezone,
            }
        }),
    ]
}

fn schedule_event() -> impl Strategy<Value = ScheduleEvent> {
    prop_oneof![
        (time(), time()).prop_map(|(start, end)| ScheduleEvent::AvailabilityAdded { start, end }),
        (time(), time()).prop_map(|(start, end)| ScheduleEvent::AvailabilityRemoved { start, end }),
        (uuid(), time(), time()).prop_map(|(interview_id, start, end)| ScheduleEvent::SlotBooked {
            interview_id,
            start,
            end
        }),
        (uuid(), time(), time()).prop_map(|(interview_id, start, end)| {
            ScheduleEvent::SlotReleased {
                interview_id,
                start,
                end,
            }
        }),
    ]
}

fn interview_event() -> impl Strategy<Value = InterviewEvent> {
    let ids = prop::collection::vec(uuid(), 0..4);
    let kind = prop::sample::select(InterviewKind::ALL);
    let outcome = prop::sample::select(DecisionOutcome::ALL);
    let segment = (uuid(), any::<i64>(), any::<i64>(), any::<String>()).prop_map(
        |(speaker_id, start_ms, end_ms, text)| TranscriptSegment {
            speaker_id,
            start_ms,
            end_ms,
            text,
        },
    );
    let competency =
        (any::<String>(), any::<i64>()).prop_map(|(name, score)| CompetencyScore { name, score });
    prop_oneof![
        (
            uuid(),
            uuid(),
            ids,
            any::<String>(),
            kind,
            time(),
            time(),
            text()
        )
            .prop_map(
                |(
                    interview_id,
                    candidate_id,
                    interviewer_ids,
                    position,
                    kind,
                    starts_at,
                    ends_at,
                    location,
                )| {
                    InterviewEvent::InterviewScheduled {
                        interview_id,
                        candidate_id,
                        interviewer_ids,
                        position,
                        kind,
                        starts_at,
                        ends_at,
                        location,
                    }
                }
            ),
        (time(), time(), time(), time(), text()).prop_map(
            |(starts_at, ends_at, previous_starts_at, previous_ends_at, reason)| {
                InterviewEvent::InterviewRescheduled {
                    starts_at,
                    ends_at,
                    previous_starts_at,
                    previous_ends_at,
                    reason,
                }
            }
        ),
        any::<String>().prop_map(|reason| InterviewEvent::InterviewCancelled { reason }),
        time().prop_map(|at| InterviewEvent::InterviewStarted { at }),
        prop::collection::vec(segment, 0..4)
            .prop_map(|segments| InterviewEvent::TranscriptSegmentsRecorded { segments }),
        (time(), any::<i64>()).prop_map(|(at, duration_seconds)| {
            InterviewEvent::InterviewCompleted {
                at,
                duration_seconds,
            }
        }),
        text().prop_map(|reason| InterviewEvent::InterviewMarkedNoShow { reason }),
        (
            uuid(),
            any::<i64>(),
            prop::collection::vec(competency, 0..4),
            text()
        )
            .prop_map(|(interviewer_id, rating, competencies, notes)| {
                InterviewEvent::FeedbackSubmitted {
                    interviewer_id,
                    rating,
                    competencies,
                    notes,
                }
            }),
        (outcome, uuid(), text()).prop_map(|(outcome, decided_by, reason)| {
            InterviewEvent::DecisionMade {
                outcome,
                decided_by,
                reason,
            }
        }),
    ]
}

/// Round-trips through JSON text and checks the envelope-free, camelCase shape.
fn round_trip<E: DomainEvent + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    event: &E,
) -> Result<(), TestCaseError> {
    prop_assert!(E::EVENT_TYPES.contains(&event.event_type()));
    prop_assert_eq!(event.schema_version(), 1);
    let data = event.to_data();
    let Value::Object(fields) = &data else {
        return Err(TestCaseError::fail(format!(
            "data is not an object: {data}"
        )));
    };
    prop_assert!(
        fields
            .keys()
            .all(|k| !k.contains('_') && k != "type" && k != "data")
    );
    let text = serde_json::to_string(&data).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let parsed: Value =
        serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let in_place = E::from_data_ref(event.event_type(), &parsed)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&in_place, event);
    let back =
        E::from_data(event.event_type(), parsed).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, event);
    Ok(())
}

proptest! {
    #[test]
    fn person_events_survive_a_json_round_trip(event in person_event()) {
        round_trip(&event)?;
    }

    #[test]
    fn schedule_events_survive_a_json_round_trip(event in schedule_event()) {
        round_trip(&event)?;
    }

    #[test]
    fn interview_events_survive_a_json_round_trip(event in interview_event()) {
        round_trip(&event)?;
    }
}

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, h, 0, 0)
        .single()
        .expect("valid")
}

#[test]
fn event_data_uses_the_field_names_of_the_contract() {
    let id = Uuid::from_u128(1);
    let scheduled = InterviewEvent::InterviewScheduled {
        interview_id: id,
        candidate_id: id,
        interviewer_ids: vec![id],
        position: "P".into(),
        kind: InterviewKind::PhoneScreen,
        starts_at: at(9),
        ends_at: at(10),
        location: None,
    };
    let id_s = id.to_string();
    assert_eq!(
        scheduled.to_data(),
        json!({
            "interviewId": id_s, "candidateId": id_s, "interviewerIds": [id_s], "position": "P",
            "kind": "phone_screen", "startsAt": "2027-03-01T09:00:00Z", "endsAt": "2027-03-01T10:00:00Z",
        })
    );
    let registered = PersonEvent::PersonRegistered {
        person_id: id,
        name: "N".into(),
        email: None,
        roles: vec![Role::Candidate],
        timezone: None,
    };
    assert_eq!(
        registered.to_data(),
        json!({
            "personId": id_s, "name": "N", "email": null, "roles": ["candidate"], "timezone": null,
        })
    );
    let decided = InterviewEvent::DecisionMade {
        outcome: DecisionOutcome::Advance,
        decided_by: id,
        reason: None,
    };
    assert_eq!(
        decided.to_data(),
        json!({ "outcome": "advance", "decidedBy": id_s })
    );
    let booked = ScheduleEvent::SlotBooked {
        interview_id: id,
        start: at(9),
        end: at(10),
    };
    assert_eq!(
        booked.to_data(),
        json!({
            "interviewId": id_s, "start": "2027-03-01T09:00:00Z", "end": "2027-03-01T10:00:00Z",
        })
    );
    assert_eq!(booked.event_type(), "SlotBooked");
    assert_eq!(ScheduleEvent::stream_id(id), format!("schedule-{id}"));
}

#[test]
fn decoding_an_unknown_type_or_bad_data_fails_with_a_typed_error() {
    assert_eq!(
        PersonEvent::from_data("SlotBooked", json!({})),
        Err(DecodeError::UnknownType("SlotBooked".into()))
    );
    assert!(matches!(
        InterviewEvent::from_data("InterviewStarted", json!({ "at": "yesterday" })),
        Err(DecodeError::InvalidData { event_type, .. }) if event_type == "InterviewStarted"
    ));
}

#[test]
fn enums_parse_their_wire_names() {
    assert_eq!(
        "no_show".parse(),
        Ok(crate::interview::InterviewStatus::NoShow)
    );
    assert_eq!("system_design".parse(), Ok(InterviewKind::SystemDesign));
    assert!("SYSTEM_DESIGN".parse::<InterviewKind>().is_err());
    assert_eq!(Role::Interviewer.to_string(), "interviewer");
    assert_eq!(
        crate::Rule::SpeakerNotParticipant.as_str(),
        "speaker-not-participant"
    );
}
