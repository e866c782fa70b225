//! Cross-stream booking, the heart of scheduling: an interview change that also books or
//! releases its participants' schedules, decided on every stream and committed together
//! (atomically on PostgreSQL; in a fixed order with undo and an intent on EventStoreDB,
//! see [`commit`] and [`recovery`]), the interview last.
//!
//! Facts read from streams that are not written (a participant's roles) are checked at
//! commit time on stores with multi-stream appends, and read from the store each time
//! elsewhere. A schedule this process does not know is taken to be empty (a new
//! participant's usually is): the append checks it, and a refusal is confirmed on a
//! fresh read, like every refusal decided on memory ([`crate::pipeline`]).

pub mod commit;
pub mod recovery;

use domain::interview::{Interview, InterviewCommand, ParticipantFacts};
use domain::schedule::ScheduleCommand;
use domain::{Aggregate, Conflict, InterviewAggregate, PersonAggregate, ScheduleAggregate, Tenant};
use futures::future::try_join_all;
use infra::{EventStore, ExpectedVersion, StoreError, StreamAppend};
use sqlx::PgPool;
use uuid::Uuid;

use crate::command::{CommandError, CommandMeta, CommandResult};
use crate::pipeline::{self, Attempt, Expect};
use crate::streams::{self, Loaded, Streams};
use commit::{Step, commit_steps};

/// Which schedules an interview change books or releases, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// A new interview: book every participant (undo: release).
    Book,
    /// A new time: book every participant at it (undo: book the old time again).
    Rebook,
    /// The interview ends while scheduled: release every booking (undo: book again).
    Release,
}

/// Runs interview changes that book or release participants.
pub struct Booking<'a> {
    /// Streams, with this process's memory.
    pub streams: &'a Streams,
    /// Where intents are kept on stores without multi-stream appends.
    pub intents: &'a PgPool,
    /// The command's metadata.
    pub meta: &'a CommandMeta,
}

impl Booking<'_> {
    /// Schedules interview `id`: reads what the candidate and interviewers are, builds
    /// the command from those facts with `command`, and books everyone.
    pub async fn schedule(
        &self,
        id: Uuid,
        candidate: Uuid,
        interviewers: &[Uuid],
        command: impl Fn(ParticipantFacts, Vec<ParticipantFacts>) -> InterviewCommand,
    ) -> Result<CommandResult, CommandError> {
        let mut participants = vec![candidate];
        participants.extend_from_slice(interviewers);
        let build = |mut facts: Vec<ParticipantFacts>| {
            let interviewers = facts.split_off(1.min(facts.len()));
            // One fact per participant, the candidate first.
            let candidate = facts.pop().unwrap_or(ParticipantFacts {
                id: candidate,
                roles: None,
            });
            command(candidate, interviewers)
        };
        self.run(id, Expect::NewStream, &participants, build, Plan::Book)
            .await
    }

    /// Changes existing interview `id` with `command`, booking or releasing as `plan` says.
    pub async fn change(
        &self,
        id: Uuid,
        command: InterviewCommand,
        plan: Plan,
    ) -> Result<CommandResult, CommandError> {
        self.run(id, Expect::Existing, &[], |_| command.clone(), plan)
            .await
    }

    async fn run(
        &self,
        id: Uuid,
        expect: Expect,
        participants: &[Uuid],
        command: impl Fn(Vec<ParticipantFacts>) -> InterviewCommand,
        plan: Plan,
    ) -> Result<CommandResult, CommandError> {
        let command = &command;
        pipeline::retrying(
            || format!("interview {id} or its participants' schedules are"),
            |fresh| async move {
                let (facts, checks, mut remembered) =
                    participant_facts(self.streams, &self.meta.actor.tenant, participants, fresh)
                        .await?;
                self.attempt(
                    id,
                    expect,
                    fresh,
                    command(facts),
                    &checks,
                    &mut remembered,
                    plan,
                )
                .await
            },
        )
        .await
    }

    /// One attempt: decide on the interview and every schedule it touches, then commit.
    /// `checks` are streams read but not written that must still be at the versions
    /// read; `remembered` the streams read so far that came from memory.
    #[expect(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        id: Uuid,
        expect: Expect,
        fresh: bool,
        command: InterviewCommand,
        checks: &[StreamAppend],
        remembered: &mut Vec<String>,
        plan: Plan,
    ) -> Result<Attempt<CommandResult>, CommandError> {
        let (streams, meta) = (self.streams, self.meta);
        let own = InterviewAggregate::stream_in(&meta.actor.tenant, id);
        let loaded =
            pipeline::load_target::<InterviewAggregate>(streams, meta, &own, expect, fresh).await?;
        if let Some(done) = pipeline::precheck(&loaded, meta, "interview", id)? {
            return Ok(Attempt::Done(done));
        }
        if loaded.from_memory {
            remembered.push(own.clone());
        }
        let events = match InterviewAggregate::decide(&loaded.state, command) {
            Ok(events) => events,
            Err(e) => return pipeline::refused(streams, e.with_target_id(id), &names(remembered)),
        };
        if events.is_empty() {
            // A no-op decided on memory may be stale: answered only on a fresh read.
            if loaded.from_memory {
                streams.forget(&own);
                return Ok(Attempt::Confirm);
            }
            return Ok(Attempt::Done(loaded.unchanged(id)));
        }
        let after = events
            .iter()
            .fold(loaded.state.clone(), InterviewAggregate::evolve);
        let Some(after_iv) = after.clone() else {
            // Every interview event leaves an interview; this is a bug, not a refusal.
            return Err(StoreError::Other("an interview change left no interview".into()).into());
        };
        let before = loaded.state.clone().unwrap_or_else(|| after_iv.clone());
        let changes = plan_changes(id, plan, &before, &after_iv);

        let schedules = try_join_all(
            changes
                .iter()
                .map(|(person, ..)| load_schedule(streams, &meta.actor.tenant, *person, fresh)),
        )
        .await?;
        remembered.extend(
            schedules
                .iter()
                .filter(|s| s.from_memory)
                .map(|s| s.stream.clone()),
        );
        let mut steps = Vec::with_capacity(changes.len() + checks.len() + 1);
        // What to remember once committed: each schedule as loaded and after.
        let mut booked = Vec::with_capacity(changes.len());
        let mut conflicts: Vec<Conflict> = Vec::new();
        let mut refusal: Option<domain::Error> = None;
        for ((person, cmd, undo), sched) in changes.into_iter().zip(schedules) {
            match ScheduleAggregate::decide(&sched.state, cmd) {
                Ok(evts) if evts.is_empty() => {}
                Ok(evts) => {
                    let encoded = meta.encode(&sched.stream, &evts);
                    let ids: Vec<Uuid> = encoded.iter().map(|e| e.event_id).collect();
                    steps.push(Step {
                        append: StreamAppend {
                            stream_id: sched.stream.clone(),
                            expected: ExpectedVersion::Exact(sched.version),
                            events: encoded,
                        },
                        undo: undo.map(|u| (person, u)),
                    });
                    let sched_after = evts
                        .iter()
                        .fold(sched.state.clone(), ScheduleAggregate::evolve);
                    booked.push((steps.len() - 1, sched, sched_after, ids));
                }
                Err(domain::Error::BookingConflict(c)) => conflicts.extend(c),
                Err(e) => {
                    refusal.get_or_insert(e);
                }
            }
        }
        if refusal.is_none() && !conflicts.is_empty() {
            refusal = Some(domain::Error::BookingConflict(conflicts));
        }
        if let Some(refusal) = refusal {
            return pipeline::refused(streams, refusal, &names(remembered));
        }
        steps.extend(checks.iter().map(|c| Step {
            append: c.clone(),
            undo: None,
        }));
        let encoded = meta.encode(&own, &events);
        let interview_ids: Vec<Uuid> = encoded.iter().map(|e| e.event_id).collect();
        steps.push(Step {
            append: StreamAppend {
                stream_id: own.clone(),
                expected: ExpectedVersion::Exact(loaded.version),
                events: encoded,
            },
            undo: None,
        });
        let touched: Vec<String> = steps.iter().map(|s| s.append.stream_id.clone()).collect();
        match commit_steps(streams, self.intents, meta, id, steps).await {
            Ok(results) => {
                for (i, sched, sched_after, ids) in booked {
                    if let Some(r) = results.get(i) {
                        streams.appended(&sched, sched_after, &ids, r);
                    }
                }
                let position = results.iter().map(|r| r.position).max().unwrap_or_default();
                let last = results.last();
                if let Some(r) = last {
                    streams.appended(&loaded, after, &interview_ids, r);
                }
                Ok(Attempt::Done(CommandResult {
                    id,
                    version: last.map_or(loaded.version, |r| r.version),
                    position: position.to_string(),
                }))
            }
            Err(e) => {
                // A conflict, or an outcome that may be unknown or partly undone: nothing
                // this process remembers of these streams can be trusted.
                for s in &touched {
                    streams.forget(s);
                }
                match e {
                    StoreError::WrongExpectedVersion { stream, actual, .. } => {
                        pipeline::conflicted(
                            meta,
                            "interview",
                            stream == own,
                            loaded.version,
                            actual,
                            !remembered.is_empty(),
                        )
                    }
                    other => Err(other.into()),
                }
            }
        }
    }
}

fn names(streams: &[String]) -> Vec<&str> {
    streams.iter().map(String::as_str).collect()
}

/// A participant's schedule: as remembered, or taken to be empty when this process does
/// not know it; from the store when `fresh`.
async fn load_schedule(
    streams: &Streams,
    tenant: &Tenant,
    person: Uuid,
    fresh: bool,
) -> Result<Loaded<domain::schedule::Schedule>, StoreError> {
    let stream = ScheduleAggregate::stream_in(tenant, person);
    if fresh {
        return streams.load_fresh::<ScheduleAggregate>(stream).await;
    }
    match streams.load_new::<ScheduleAggregate>(stream.clone()) {
        Some(known) => Ok(known),
        None => streams.load::<ScheduleAggregate>(stream).await,
    }
}

/// What each participant's person stream says about them (roles, or missing), and, on
/// a store with atomic multi-stream appends, the checks that make the booking commit only
/// if those streams are still at the versions read (so remembered facts are never
/// trusted blindly), and which facts came from memory. Elsewhere the facts are read from
/// the store each time.
async fn participant_facts(
    streams: &Streams,
    tenant: &Tenant,
    ids: &[Uuid],
    fresh: bool,
) -> Result<(Vec<ParticipantFacts>, Vec<StreamAppend>, Vec<String>), StoreError> {
    let checked = streams.store().supports_multi_stream();
    let people = try_join_all(ids.iter().map(|id| async move {
        let stream = PersonAggregate::stream_in(tenant, *id);
        if checked && !fresh {
            streams.load::<PersonAggregate>(stream).await
        } else if checked {
            streams.load_fresh::<PersonAggregate>(stream).await
        } else {
            streams::read::<PersonAggregate>(streams.store(), stream).await
        }
    }))
    .await?;
    let facts = ids
        .iter()
        .zip(&people)
        .map(|(id, p)| ParticipantFacts {
            id: *id,
            roles: p.state.as_ref().map(|p| p.roles.clone()),
        })
        .collect();
    let mut checks: Vec<StreamAppend> = Vec::new();
    if checked {
        for p in &people {
            if checks.iter().all(|c| c.stream_id != p.stream) {
                checks.push(StreamAppend {
                    stream_id: p.stream.clone(),
                    expected: ExpectedVersion::Exact(p.version),
                    events: Vec::new(),
                });
            }
        }
    }
    let remembered = people
        .iter()
        .filter(|p| p.from_memory)
        .map(|p| p.stream.clone())
        .collect();
    Ok((facts, checks, remembered))
}

/// Each participant's schedule command and its undo, ordered by person (so concurrent
/// bookings take the streams in one order).
fn plan_changes(
    id: Uuid,
    plan: Plan,
    before: &Interview,
    after: &Interview,
) -> Vec<(Uuid, ScheduleCommand, Option<ScheduleCommand>)> {
    let book_at = |person_id, range| ScheduleCommand::Book {
        person_id,
        interview_id: id,
        range,
    };
    let mut changes: Vec<_> = match plan {
        Plan::Release => before
            .participants()
            .into_iter()
            .map(|p| {
                let undo = before.time_range().map(|old| book_at(p, old));
                (p, ScheduleCommand::Release { interview_id: id }, undo)
            })
            .collect(),
        Plan::Book | Plan::Rebook => {
            let Some(range) = after.time_range() else {
                return Vec::new();
            };
            after
                .participants()
                .into_iter()
                .map(|p| {
                    let undo = match plan {
                        Plan::Book => Some(ScheduleCommand::Release { interview_id: id }),
                        _ => before.time_range().map(|old| book_at(p, old)),
                    };
                    (p, book_at(p, range), undo)
                })
                .collect()
        }
    };
    changes.sort_by_key(|(p, ..)| *p);
    changes
}
