//! Test data made the way the command side makes it: commands decided by the domain,
//! their events appended to the event store with metadata, bookings on every
//! participant's schedule. The projector turns them into read models.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use domain::interview::{self, InterviewCommand, InterviewEvent, InterviewKind, ParticipantFacts};
use domain::person::{self, PersonCommand};
use domain::schedule::{self, ScheduleCommand};
use domain::{DomainEvent, Role, Tenant, TimeRange};
use infra::{AnyEventStore, EventStore, ExpectedVersion, Metadata, NewEvent, Position};
use uuid::Uuid;

/// An RFC 3339 instant.
pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test time")
        .with_timezone(&Utc)
}

/// What to schedule.
pub struct Spec<'a> {
    pub candidate: Uuid,
    pub panel: Vec<Uuid>,
    pub position: &'a str,
    pub kind: InterviewKind,
    pub starts_at: &'a str,
    pub minutes: i64,
}

/// The write side, driven directly, in one tenant's streams at a time (the `default`
/// tenant's unless told otherwise).
pub struct World {
    store: AnyEventStore,
    last: Option<Position>,
    clock: DateTime<Utc>,
    roles: HashMap<Uuid, Vec<Role>>,
    tenant: Tenant,
    /// Ids the next registrations and schedulings take, first to last.
    chosen: VecDeque<Uuid>,
}

impl World {
    pub fn new(store: AnyEventStore) -> Self {
        World {
            store,
            last: None,
            clock: t("2026-01-01T00:00:00Z"),
            roles: HashMap::new(),
            tenant: Tenant::default_tenant(),
            chosen: VecDeque::new(),
        }
    }

    /// Writes into `tenant`'s streams from now on.
    pub fn in_tenant(&mut self, tenant: &str) {
        self.tenant = Tenant::parse(tenant).expect("a tenant slug");
    }

    /// The next people and interviews made get these ids (as a client choosing its ids
    /// would), in order; then fresh ones again.
    pub fn choose_ids(&mut self, ids: &[Uuid]) {
        self.chosen.extend(ids.iter().copied());
    }

    fn next_id(&mut self) -> Uuid {
        self.chosen.pop_front().unwrap_or_else(Uuid::now_v7)
    }

    /// The stream of `E`'s aggregate `id` in the current tenant.
    fn stream<E: DomainEvent>(&self, id: Uuid) -> String {
        self.tenant.stream(E::STREAM_PREFIX, id)
    }

    /// The position of the newest event appended.
    pub fn last_position(&self) -> Option<Position> {
        self.last
    }

    async fn append<E: DomainEvent>(&mut self, stream: String, events: Vec<E>) {
        if events.is_empty() {
            return;
        }
        let correlation = Uuid::new_v4();
        let new = events
            .iter()
            .map(|e| NewEvent {
                event_id: Uuid::new_v4(),
                event_type: e.event_type().to_owned(),
                data: e.to_data(),
                metadata: Metadata {
                    correlation_id: Some(correlation),
                    causation_id: Some(correlation),
                    actor: "tester".into(),
                    occurred_at: self.clock,
                    schema_version: e.schema_version(),
                    ..Metadata::anonymous()
                },
            })
            .collect();
        let done = self
            .store
            .append(&stream, ExpectedVersion::Any, new)
            .await
            .expect("append");
        self.last = self.last.max(Some(done.position));
        self.clock += TimeDelta::minutes(1);
    }

    /// Sets the time the next append records.
    pub fn set_now(&mut self, at: &str) {
        self.clock = t(at);
    }

    /// Registers a person.
    pub async fn person(&mut self, name: &str, roles: &[Role]) -> Uuid {
        let id = self.next_id();
        let events = person::decide(
            &None,
            PersonCommand::Register {
                person_id: id,
                name: name.into(),
                email: Some(format!(
                    "{}@example.com",
                    name.to_lowercase().replace(' ', ".")
                )),
                roles: roles.to_vec(),
                timezone: Some("Europe/Paris".into()),
            },
        )
        .expect("register");
        self.roles.insert(id, roles.to_vec());
        self.append(self.stream::<person::PersonEvent>(id), events)
            .await;
        id
    }

    /// Changes a person's name.
    pub async fn rename(&mut self, id: Uuid, name: &str) {
        let stored = self
            .store
            .read_stream(&self.stream::<person::PersonEvent>(id), 1)
            .await
            .expect("read person");
        let events: Vec<_> = stored
            .into_iter()
            .map(|e| person::PersonEvent::from_data(&e.event_type, e.data).expect("decode"))
            .collect();
        let state = person::replay(&events);
        let events = person::decide(
            &state,
            PersonCommand::ChangeDetails {
                name: Some(name.into()),
                email: None,
                timezone: None,
            },
        )
        .expect("change details");
        self.append(self.stream::<person::PersonEvent>(id), events)
            .await;
    }

    async fn schedule_of(&self, person: Uuid) -> schedule::Schedule {
        let stored = self
            .store
            .read_stream(&self.stream::<schedule::ScheduleEvent>(person), 1)
            .await
            .expect("read schedule");
        let events: Vec<_> = stored
            .into_iter()
            .map(|e| schedule::ScheduleEvent::from_data(&e.event_type, e.data).expect("decode"))
            .collect();
        schedule::replay(&events)
    }

    async fn schedule_cmd(&mut self, person: Uuid, cmd: ScheduleCommand) {
        let state = self.schedule_of(person).await;
        let events = schedule::decide(&state, cmd).expect("schedule command");
        self.append(self.stream::<schedule::ScheduleEvent>(person), events)
            .await;
    }

    /// Adds then removes availability windows.
    pub async fn availability(
        &mut self,
        person: Uuid,
        add: &[(&str, &str)],
        remove: &[(&str, &str)],
    ) {
        let w = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (t(a), t(b))).collect();
        self.schedule_cmd(
            person,
            ScheduleCommand::ChangeAvailability {
                add: w(add),
                remove: w(remove),
            },
        )
        .await;
    }

    async fn interview_of(&self, id: Uuid) -> Option<interview::Interview> {
        let stored = self
            .store
            .read_stream(&self.stream::<InterviewEvent>(id), 1)
            .await
            .expect("read interview");
        let events: Vec<_> = stored
            .into_iter()
            .map(|e| InterviewEvent::from_data(&e.event_type, e.data).expect("decode"))
            .collect();
        interview::replay(&events)
    }

    async fn book_all(&mut self, iv: &interview::Interview) {
        let range = TimeRange::new(iv.starts_at, iv.ends_at).expect("range");
        for person in iv.participants() {
            let cmd = ScheduleCommand::Book {
                person_id: person,
                interview_id: iv.id,
                range,
            };
            self.schedule_cmd(person, cmd).await;
        }
    }

    async fn release_all(&mut self, iv: &interview::Interview) {
        for person in iv.participants() {
            let cmd = ScheduleCommand::Release {
                interview_id: iv.id,
            };
            self.schedule_cmd(person, cmd).await;
        }
    }

    /// Schedules an interview, booking every participant first.
    pub async fn schedule(&mut self, spec: Spec<'_>) -> Uuid {
        let id = self.next_id();
        let facts = |p: &Uuid| ParticipantFacts {
            id: *p,
            roles: self.roles.get(p).cloned(),
        };
        let events = interview::decide(
            &None,
            InterviewCommand::Schedule {
                interview_id: id,
                candidate: facts(&spec.candidate),
                interviewers: spec.panel.iter().map(facts).collect(),
                position: spec.position.into(),
                kind: spec.kind,
                starts_at: t(spec.starts_at),
                duration_minutes: spec.minutes,
                location: Some("Room 1".into()),
            },
        )
        .expect("schedule");
        let planned = interview::replay(&events).expect("scheduled");
        self.book_all(&planned).await;
        self.append(self.stream::<InterviewEvent>(id), events).await;
        id
    }

    /// Runs an interview command; bookings follow reschedules, cancellations, no-shows.
    pub async fn act(&mut self, id: Uuid, cmd: InterviewCommand) {
        let state = self.interview_of(id).await;
        let events = interview::decide(&state, cmd).expect("interview command");
        let after = events
            .iter()
            .fold(state, interview::evolve)
            .expect("exists");
        match events.first() {
            Some(InterviewEvent::InterviewRescheduled { .. }) => self.book_all(&after).await,
            Some(
                InterviewEvent::InterviewCancelled { .. }
                | InterviewEvent::InterviewMarkedNoShow { .. },
            ) => self.release_all(&after).await,
            _ => {}
        }
        self.append(self.stream::<InterviewEvent>(id), events).await;
    }

    /// Starts and completes an interview, `minutes` long.
    pub async fn hold(&mut self, id: Uuid, start: &str, minutes: i64) {
        let at = t(start);
        self.act(id, InterviewCommand::Start { at }).await;
        let end = at + TimeDelta::minutes(minutes);
        self.act(id, InterviewCommand::Complete { at: end }).await;
    }
}
