//! The command handler: load the stream, decide, append with the expected version.
//!
//! Three outcomes stay apart: a domain refusal (4xx from `domain::Error`), a version
//! conflict (retried after reloading, or 412 under `If-Match`), and an infrastructure
//! failure (503/500).

use chrono::{DateTime, Utc};
use domain::DomainEvent;
use infra::{
    AnyEventStore, AppendResult, EventStore, ExpectedVersion, Metadata, NewEvent, Position,
    StoreError, StreamAppend,
};
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::streams::Streams;
use domain::schedule::{self, Schedule, ScheduleCommand};

/// How often a command reloads and decides again after losing a race.
pub const MAX_ATTEMPTS: usize = 12;

/// Namespace of event ids derived from a command id or idempotency key.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1e_d0c5_4b7e_4c4e_9f3a_2d8b_7c11_e0a1);

/// Waits a random time that grows with `attempt`, so writers that lost a race on the
/// same streams do not collide again in lockstep.
pub async fn backoff(attempt: usize) {
    let ceiling_us = 500u128 << attempt.min(6);
    let jitter = Uuid::new_v4().as_u128() % ceiling_us;
    tokio::time::sleep(std::time::Duration::from_micros(jitter as u64)).await;
}

/// What every command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CommandResult {
    /// The aggregate's id.
    pub id: Uuid,
    /// Its version after the command (number of events in its stream).
    pub version: u64,
    /// Position of the last event the command appended (opaque, for `X-Min-Position`).
    pub position: String,
}

/// Who asks, under which key and expectation, and when.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    /// `X-Actor`, else `anonymous`.
    pub actor: String,
    /// `X-Correlation-Id`, else new.
    pub correlation_id: Uuid,
    /// The command's own id: the causation id of its events.
    pub command_id: Uuid,
    /// `Idempotency-Key`, when sent.
    pub idempotency_key: Option<String>,
    /// `If-Match` version, when sent.
    pub if_match: Option<u64>,
    /// The clock, read once per command.
    pub now: DateTime<Utc>,
}

impl CommandMeta {
    /// Metadata for the events of this command.
    pub fn metadata(&self) -> Metadata {
        Metadata {
            correlation_id: Some(self.correlation_id),
            causation_id: Some(self.command_id),
            actor: self.actor.clone(),
            occurred_at: self.now,
            schema_version: 1,
        }
    }

    /// The id of the `index`-th event this command appends to `stream`. Derived from the
    /// idempotency key when there is one, so a retry after a lost answer appends nothing.
    pub fn event_id(&self, stream: &str, index: usize) -> Uuid {
        let seed = match &self.idempotency_key {
            Some(key) => format!("key\n{key}\n{stream}\n{index}"),
            None => format!("cmd\n{}\n{stream}\n{index}", self.command_id),
        };
        Uuid::new_v5(&EVENT_ID_NAMESPACE, seed.as_bytes())
    }

    /// Encodes domain events for `stream`.
    pub fn encode<E: DomainEvent>(&self, stream: &str, events: &[E]) -> Vec<NewEvent> {
        let metadata = self.metadata();
        events
            .iter()
            .enumerate()
            .map(|(i, e)| NewEvent {
                event_id: self.event_id(stream, i),
                event_type: e.event_type().to_owned(),
                data: e.to_data(),
                metadata: Metadata {
                    schema_version: e.schema_version(),
                    ..metadata.clone()
                },
            })
            .collect()
    }
}

/// A stream as loaded: its folded state, version and the position of its last event.
#[derive(Debug, Clone)]
pub struct Loaded<S> {
    /// The stream name.
    pub stream: String,
    /// The folded state.
    pub state: S,
    /// Number of events.
    pub version: u64,
    /// Position of the last event.
    pub position: Option<Position>,
    /// Ids of the latest events, oldest first (for detecting an already-applied retry).
    pub recent: Vec<Recent>,
    /// Whether this came from the process's memory (or an assumption) rather than a read
    /// of the store: a refusal decided on it must be confirmed on a fresh read.
    pub from_memory: bool,
}

/// An event as far as retries care: its id, version and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recent {
    /// The event's id.
    pub event_id: Uuid,
    /// Its version in the stream.
    pub version: u64,
    /// Its position.
    pub position: Position,
}

/// Loads and folds a stream from the store (no cache: see [`crate::streams::Streams`]).
pub async fn load<E: DomainEvent, S>(
    store: &AnyEventStore,
    stream: String,
    init: S,
    evolve: fn(S, &E) -> S,
) -> Result<Loaded<S>, ApiError> {
    let events = store.read_stream(&stream, 1).await?;
    let mut state = init;
    for recorded in &events {
        let event = E::from_data(&recorded.event_type, recorded.data.clone()).map_err(|e| {
            ApiError::Internal(format!(
                "stored event {} v{} undecodable: {e}",
                stream, recorded.version
            ))
        })?;
        state = evolve(state, &event);
    }
    let version = events.last().map_or(0, |e| e.version);
    let position = events.last().map(|e| e.position);
    let recent = events
        .iter()
        .map(|e| Recent {
            event_id: e.event_id,
            version: e.version,
            position: e.position,
        })
        .collect();
    Ok(Loaded {
        stream,
        state,
        version,
        position,
        recent,
        from_memory: false,
    })
}

impl<S> Loaded<S> {
    /// When this command's events are already in the stream (a retry whose first answer
    /// was lost), the answer of the first attempt.
    pub fn already_applied(&self, meta: &CommandMeta, id: Uuid) -> Option<CommandResult> {
        let first = meta.event_id(&self.stream, 0);
        let start = self.recent.iter().position(|e| e.event_id == first)?;
        let mut last = &self.recent[start];
        for (i, e) in self.recent[start..].iter().enumerate() {
            if e.event_id == meta.event_id(&self.stream, i) {
                last = e;
            } else {
                break;
            }
        }
        Some(CommandResult {
            id,
            version: last.version,
            position: last.position.to_string(),
        })
    }

    /// The answer when the command changed nothing.
    pub fn unchanged(&self, id: Uuid) -> CommandResult {
        CommandResult {
            id,
            version: self.version,
            position: self.position.unwrap_or(Position::START).to_string(),
        }
    }

    /// Checks `If-Match`.
    pub fn check_if_match(&self, meta: &CommandMeta, entity: &'static str) -> Result<(), ApiError> {
        match meta.if_match {
            Some(expected) if expected != self.version => Err(ApiError::VersionConflict {
                entity,
                expected,
                current: self.version,
            }),
            _ => Ok(()),
        }
    }
}

/// Runs a command on one stream: load → decide → append, retrying lost races.
#[allow(clippy::too_many_arguments)]
pub async fn run_single<E: DomainEvent, S: Clone + Send + Sync + 'static>(
    streams: &Streams,
    expect: Expect,
    meta: &CommandMeta,
    entity: &'static str,
    id: Uuid,
    stream: String,
    init: impl Fn() -> S,
    evolve: fn(S, &E) -> S,
    decide: impl Fn(&S) -> Result<Vec<E>, domain::Error>,
) -> Result<CommandResult, ApiError> {
    let mut lost_race = false;
    // Set after a refusal decided on memory: the next decision is on a fresh read.
    let mut confirming = false;
    for attempt in 0..MAX_ATTEMPTS {
        if lost_race {
            backoff(attempt).await;
        }
        lost_race = false;
        if meta.if_match.is_some() {
            // `If-Match` is judged against the store, never against this process's memory.
            streams.forget(&stream);
        }
        let loaded = match expect {
            Expect::NewStream if !confirming => streams.load_new(stream.clone(), init()),
            _ => None,
        };
        let loaded = match loaded {
            Some(l) => l,
            None if confirming => streams.load_fresh(stream.clone(), init(), evolve).await?,
            None => streams.load(stream.clone(), init(), evolve).await?,
        };
        if let Some(done) = loaded.already_applied(meta, id) {
            return Ok(done);
        }
        loaded.check_if_match(meta, entity)?;
        let events = match decide(&loaded.state) {
            Ok(events) => events,
            Err(_) if loaded.from_memory => {
                // Refusals are only answered from what the store says.
                streams.forget(&stream);
                streams.refused_from_memory();
                confirming = true;
                continue;
            }
            Err(e) => return Err(e.with_target_id(id).into()),
        };
        if events.is_empty() {
            return Ok(loaded.unchanged(id));
        }
        let new = meta.encode(&stream, &events);
        let ids: Vec<Uuid> = new.iter().map(|e| e.event_id).collect();
        match streams
            .store()
            .append(&stream, ExpectedVersion::Exact(loaded.version), new)
            .await
        {
            Ok(r) => {
                crate::metrics::appended(1);
                let after = events.iter().fold(loaded.state.clone(), evolve);
                streams.appended(&loaded, after, &ids, &r);
                return Ok(CommandResult {
                    id,
                    version: r.version,
                    position: r.position.to_string(),
                });
            }
            Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                crate::metrics::conflict();
                streams.forget(&stream);
                // A stale memory (or a wrong guess that the stream is new) is not a
                // race: read the store again at once.
                lost_race = !loaded.from_memory;
                confirming |= loaded.from_memory;
                if let Some(expected) = meta.if_match {
                    return Err(ApiError::VersionConflict {
                        entity,
                        expected,
                        current: actual.unwrap_or(loaded.version + 1),
                    });
                }
            }
            Err(e) => {
                streams.forget(&stream);
                return Err(e.into());
            }
        }
    }
    Err(ApiError::Unavailable(format!(
        "{entity} {id} is changing too fast; try again"
    )))
}

/// What a command expects of the stream it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The command creates the stream (a registration): unless this process knows the
    /// stream, it is taken to be empty without reading it. Should it exist after all, the
    /// append is refused and the command reads it and decides again.
    NewStream,
    /// The stream is read unless this process knows it.
    Existing,
}

/// One step of a multi-stream change, with how to undo it on a store without
/// multi-stream transactions.
pub struct Step {
    /// What to append.
    pub append: StreamAppend,
    /// Decided against the schedule afresh when a later step fails.
    pub undo: Option<ScheduleCommand>,
}

/// Appends several streams: atomically where the store can, else in order (the
/// interview, last step, after every schedule), undoing the steps already done when one
/// fails. Without atomicity an intent row covers the gap between the steps, so a crash
/// there is reconciled by [`crate::recovery`]. Returns the result of every step.
pub async fn commit_steps(
    store: &AnyEventStore,
    pool: &sqlx::PgPool,
    meta: &CommandMeta,
    interview_id: Uuid,
    steps: Vec<Step>,
) -> Result<Vec<AppendResult>, ApiError> {
    if store.supports_multi_stream() {
        let n = steps.iter().filter(|s| !s.append.events.is_empty()).count();
        let result = store
            .append_multi(steps.into_iter().map(|s| s.append).collect())
            .await;
        match &result {
            Ok(_) => crate::metrics::appended(n),
            Err(StoreError::WrongExpectedVersion { .. }) => crate::metrics::conflict(),
            Err(_) => {}
        }
        return result.map_err(conflict_or);
    }
    let people: Vec<Uuid> = steps
        .iter()
        .filter_map(|s| {
            s.append
                .stream_id
                .strip_prefix(domain::schedule::ScheduleEvent::STREAM_PREFIX)
        })
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect();
    let intent = if people.is_empty() {
        None
    } else {
        Some(crate::recovery::begin(pool, interview_id, &people).await?)
    };
    let mut done: Vec<(AppendResult, &Step)> = Vec::new();
    let mut failure = None;
    for (i, step) in steps.iter().enumerate() {
        if i + 1 == steps.len() && !done.is_empty() && failpoint("after-bookings") {
            tracing::error!(
                "failpoint after-bookings: aborting between the bookings and the interview"
            );
            std::process::abort();
        }
        let a = &step.append;
        match store
            .append(&a.stream_id, a.expected, a.events.clone())
            .await
        {
            Ok(r) => {
                crate::metrics::appended(1);
                done.push((r, step));
            }
            Err(e) => {
                if e.is_conflict() {
                    crate::metrics::conflict();
                }
                for (_, step) in done.iter().rev() {
                    if let Some(cmd) = &step.undo {
                        undo(store, meta, &step.append.stream_id, cmd.clone()).await;
                    }
                }
                failure = Some(e);
                break;
            }
        }
    }
    if let Some(intent) = intent {
        crate::recovery::end(pool, intent).await;
    }
    match failure {
        Some(e) => Err(conflict_or(e)),
        None => Ok(done.into_iter().map(|(r, _)| r).collect()),
    }
}

/// A store failure as the API sees it; conflicts stay distinguishable for retries.
fn conflict_or(e: StoreError) -> ApiError {
    match e {
        StoreError::WrongExpectedVersion { stream, actual, .. } => {
            ApiError::StreamConflict { stream, actual }
        }
        other => other.into(),
    }
}

/// True when the named failpoint is set in `INTERVIEW_LEDGER_FAILPOINT` (crash tests).
fn failpoint(name: &str) -> bool {
    std::env::var("INTERVIEW_LEDGER_FAILPOINT").is_ok_and(|v| v == name)
}

/// Reverts one schedule step by deciding the undo command on the schedule as it is now.
async fn undo(store: &AnyEventStore, meta: &CommandMeta, stream: &str, cmd: ScheduleCommand) {
    for _ in 0..MAX_ATTEMPTS {
        let loaded = match load(
            store,
            stream.to_owned(),
            Schedule::default(),
            schedule::evolve,
        )
        .await
        {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(stream, error = %e, "could not undo a partial booking; recovery will release it");
                return;
            }
        };
        let events = match schedule::decide(&loaded.state, cmd.clone()) {
            Ok(events) if events.is_empty() => return,
            Ok(events) => events,
            Err(e) => {
                tracing::error!(stream, error = %e, "undoing a partial booking was refused");
                return;
            }
        };
        let undo_meta = CommandMeta {
            command_id: Uuid::new_v4(),
            idempotency_key: None,
            ..meta.clone()
        };
        let new = undo_meta.encode(stream, &events);
        match store
            .append(stream, ExpectedVersion::Exact(loaded.version), new)
            .await
        {
            Ok(_) => return,
            Err(StoreError::WrongExpectedVersion { .. }) => continue,
            Err(e) => {
                tracing::error!(stream, error = %e, "could not undo a partial booking; recovery will release it");
                return;
            }
        }
    }
}
