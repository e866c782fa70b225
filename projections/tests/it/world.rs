//! A tiny command side for tests: decides commands with the domain's `decide` functions
//! and appends the events to the event store, as the command API would.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::interview::{
    self, CompetencyScore, DecisionOutcome, Interview, InterviewCommand, InterviewEvent,
    InterviewKind, ParticipantFacts, TranscriptSegment,
};
use domain::person::{self, Person, PersonCommand, PersonEvent};
use domain::schedule::{self, Schedule, ScheduleCommand, ScheduleEvent};
use domain::{DomainEvent, Error, Role, TimeRange};
use infra::{
    AnyEventStore, EventStore, ExpectedVersion, Metadata, NewEvent, Position, StreamAppend,
};
use uuid::Uuid;

/// 2027-03-01 at `h`:00 UTC plus `days`.
pub fn at(days: i64, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, h, 0, 0)
        .single()
        .expect("valid time")
        + Duration::days(days)
}

pub struct World {
    pub store: AnyEventStore,
    pub people: HashMap<Uuid, Person>,
    pub schedules: HashMap<Uuid, Schedule>,
    pub interviews: HashMap<Uuid, Interview>,
    /// The clock written into `occurredAt`: one minute per command.
    pub now: DateTime<Utc>,
    pub last_position: Position,
}

fn to_new<E: DomainEvent>(events: &[E], now: DateTime<Utc>) -> Vec<NewEvent> {
    events
        .iter()
        .map(|e| NewEvent {
            event_id: Uuid::new_v4(),
            event_type: e.event_type().to_owned(),
            data: e.to_data(),
            metadata: Metadata {
                occurred_at: now,
                ..Metadata::anonymous()
            },
        })
        .collect()
}

fn expected(version: u64) -> ExpectedVersion {
    if version == 0 {
        ExpectedVersion::NoStream
    } else {
        ExpectedVersion::Exact(version)
    }
}

impl World {
    pub fn new(store: AnyEventStore) -> Self {
        World {
            store,
            people: HashMap::new(),
            schedules: HashMap::new(),
            interviews: HashMap::new(),
            now: at(-30, 8),
            last_position: Position::START,
        }
    }

    fn tick(&mut self) -> DateTime<Utc> {
        self.now += Duration::minutes(1);
        self.now
    }

    pub async fn register(&mut self, roles: &[Role]) -> Uuid {
        let id = Uuid::new_v4();
        let events = person::decide(
            &None,
            PersonCommand::Register {
                person_id: id,
                name: format!("Person {}", &id.simple().to_string()[..8]),
                email: Some(format!("p{}@example.com", &id.simple().to_string()[..8])),
                roles: roles.to_vec(),
                timezone: Some("Europe/Paris".into()),
            },
        )
        .expect("register");
        self.append_person(id, events).await;
        id
    }

    pub async fn rename(&mut self, id: Uuid, name: &str) {
        let state = self.people.get(&id).cloned();
        let events = person::decide(
            &state,
            PersonCommand::ChangeDetails {
                name: Some(name.into()),
                email: None,
                timezone: Some("UTC".into()),
            },
        )
        .expect("change details");
        self.append_person(id, events).await;
    }

    async fn append_person(&mut self, id: Uuid, events: Vec<PersonEvent>) {
        let state = self.people.get(&id).cloned();
        let version = state.as_ref().map_or(0, |p| p.version);
        let now = self.tick();
        let r = self
            .store
            .append(
                &person::stream_id(id),
                expected(version),
                to_new(&events, now),
            )
            .await
            .expect("append person");
        self.last_position = r.position;
        let next = events.iter().fold(state, person::evolve);
        self.people.insert(id, next.expect("registered"));
    }

    pub async fn availability(
        &mut self,
        id: Uuid,
        add: &[(DateTime<Utc>, DateTime<Utc>)],
        remove: &[(DateTime<Utc>, DateTime<Utc>)],
    ) {
        let state = self.schedules.get(&id).cloned().unwrap_or_default();
        let events = schedule::decide(
            &state,
            ScheduleCommand::ChangeAvailability {
                add: add.to_vec(),
                remove: remove.to_vec(),
            },
        )
        .expect("change availability");
        let now = self.tick();
        let r = self
            .store
            .append(
                &schedule::stream_id(id),
                expected(state.version()),
                to_new(&events, now),
            )
            .await
            .expect("append availability");
        self.last_position = r.position;
        self.schedules
            .insert(id, events.iter().fold(state, schedule::evolve));
    }

    fn facts(&self, id: Uuid) -> ParticipantFacts {
        ParticipantFacts {
            id,
            roles: self.people.get(&id).map(|p| p.roles.clone()),
        }
    }

    /// Books (or releases, for `None`) the interview's slot on each participant's
    /// schedule; refused as a whole when any participant refuses.
    fn bookings(
        &self,
        interview_id: Uuid,
        participants: &[Uuid],
        range: Option<TimeRange>,
    ) -> Result<Vec<(Uuid, Vec<ScheduleEvent>)>, Error> {
        participants
            .iter()
            .map(|p| {
                let state = self.schedules.get(p).cloned().unwrap_or_default();
                let cmd = match range {
                    Some(range) => ScheduleCommand::Book {
                        person_id: *p,
                        interview_id,
                        range,
                    },
                    None => ScheduleCommand::Release { interview_id },
                };
                schedule::decide(&state, cmd).map(|events| (*p, events))
            })
            .collect()
    }

    /// Appends the schedules' and the interview's events in one atomic append.
    async fn commit(
        &mut self,
        interview_id: Uuid,
        schedules: Vec<(Uuid, Vec<ScheduleEvent>)>,
        events: Vec<InterviewEvent>,
    ) {
        let now = self.tick();
        let mut appends = Vec::new();
        for (p, evs) in &schedules {
            if evs.is_empty() {
                continue;
            }
            let version = self.schedules.get(p).map_or(0, |s| s.version());
            appends.push(StreamAppend {
                stream_id: schedule::stream_id(*p),
                expected: expected(version),
                events: to_new(evs, now),
            });
        }
        let state = self.interviews.get(&interview_id).cloned();
        appends.push(StreamAppend {
            stream_id: interview::stream_id(interview_id),
            expected: expected(state.as_ref().map_or(0, |i| i.version)),
            events: to_new(&events, now),
        });
        let results = self.store.append_multi(appends).await.expect("append");
        self.last_position = results.iter().map(|r| r.position).max().unwrap_or_default();
        for (p, evs) in schedules {
            let s = self.schedules.remove(&p).unwrap_or_default();
            self.schedules
                .insert(p, evs.iter().fold(s, schedule::evolve));
        }
        let next = events.iter().fold(state, interview::evolve);
        self.interviews
            .insert(interview_id, next.expect("interview exists"));
    }

    pub async fn schedule(
        &mut self,
        candidate: Uuid,
        panel: &[Uuid],
        position: &str,
        kind: InterviewKind,
        starts_at: DateTime<Utc>,
        minutes: i64,
    ) -> Result<Uuid, Error> {
        let id = Uuid::new_v4();
        let events = interview::decide(
            &None,
            InterviewCommand::Schedule {
                interview_id: id,
                candidate: self.facts(candidate),
                interviewers: panel.iter().map(|p| self.facts(*p)).collect(),
                position: position.into(),
                kind,
                starts_at,
                duration_minutes: minutes,
                location: Some("Room 1".into()),
            },
        )?;
        let range =
            TimeRange::new(starts_at, starts_at + Duration::minutes(minutes)).expect("valid range");
        let participants: Vec<Uuid> = std::iter::once(candidate)
            .chain(panel.iter().copied())
            .collect();
        let schedules = self.bookings(id, &participants, Some(range))?;
        self.commit(id, schedules, events).await;
        Ok(id)
    }

    fn interview(&self, id: Uuid) -> Option<Interview> {
        self.interviews.get(&id).cloned()
    }

    pub async fn reschedule(
        &mut self,
        id: Uuid,
        starts_at: DateTime<Utc>,
        minutes: i64,
    ) -> Result<(), Error> {
        let state = self.interview(id);
        let events = interview::decide(
            &state,
            InterviewCommand::Reschedule {
                starts_at,
                duration_minutes: Some(minutes),
                reason: Some("moved".into()),
            },
        )?;
        let iv = state.expect("decided, so it exists");
        let range =
            TimeRange::new(starts_at, starts_at + Duration::minutes(minutes)).expect("valid range");
        let schedules = self.bookings(id, &iv.participants(), Some(range))?;
        self.commit(id, schedules, events).await;
        Ok(())
    }

    /// A command that releases the bookings when it succeeds (cancel, no-show).
    async fn ending(&mut self, id: Uuid, cmd: InterviewCommand) -> Result<(), Error> {
        let state = self.interview(id);
        let events = interview::decide(&state, cmd)?;
        let iv = state.expect("decided, so it exists");
        let schedules = self.bookings(id, &iv.participants(), None)?;
        self.commit(id, schedules, events).await;
        Ok(())
    }

    pub async fn cancel(&mut self, id: Uuid) -> Result<(), Error> {
        let reason = "candidate withdrew".to_owned();
        self.ending(id, InterviewCommand::Cancel { reason }).await
    }

    pub async fn no_show(&mut self, id: Uuid) -> Result<(), Error> {
        let reason = Some("did not join".to_owned());
        self.ending(id, InterviewCommand::MarkNoShow { reason })
            .await
    }

    /// Any other interview command.
    pub async fn run(&mut self, id: Uuid, cmd: InterviewCommand) -> Result<(), Error> {
        let events = interview::decide(&self.interview(id), cmd)?;
        self.commit(id, vec![], events).await;
        Ok(())
    }

    pub async fn start(&mut self, id: Uuid, at: DateTime<Utc>) -> Result<(), Error> {
        self.run(id, InterviewCommand::Start { at }).await
    }

    pub async fn complete(&mut self, id: Uuid, at: DateTime<Utc>) -> Result<(), Error> {
        self.run(id, InterviewCommand::Complete { at }).await
    }

    pub async fn transcript(
        &mut self,
        id: Uuid,
        speaker: Uuid,
        texts: &[&str],
    ) -> Result<(), Error> {
        let segments = texts
            .iter()
            .enumerate()
            .map(|(i, t)| TranscriptSegment {
                speaker_id: speaker,
                start_ms: i as i64 * 1000,
                end_ms: i as i64 * 1000 + 900,
                text: (*t).to_owned(),
            })
            .collect();
        self.run(id, InterviewCommand::RecordTranscript { segments })
            .await
    }

    pub async fn feedback(
        &mut self,
        id: Uuid,
        interviewer: Uuid,
        rating: i64,
        scores: &[(&str, i64)],
    ) -> Result<(), Error> {
        let competencies = scores
            .iter()
            .map(|(n, s)| CompetencyScore {
                name: (*n).to_owned(),
                score: *s,
            })
            .collect();
        self.run(
            id,
            InterviewCommand::SubmitFeedback {
                interviewer_id: interviewer,
                rating,
                competencies,
                notes: Some("solid".into()),
            },
        )
        .await
    }

    pub async fn decide(
        &mut self,
        id: Uuid,
        outcome: DecisionOutcome,
        by: Uuid,
    ) -> Result<(), Error> {
        self.run(
            id,
            InterviewCommand::MakeDecision {
                outcome,
                decided_by: by,
                reason: None,
            },
        )
        .await
    }
}
