//! The command pipeline: load → decide → (confirm a refusal) → append with the expected
//! version, and the one bounded retry loop around it.
//!
//! Every command goes through [`retrying`]; single-stream commands through [`execute`],
//! commands that also book participants through [`crate::booking`]. Decisions are made
//! on this process's memory of a stream when it has one ([`crate::streams`]), but only
//! what the store says is ever answered: a refusal decided on memory is decided again on
//! a fresh read before it is returned, and an append made on a stale memory is refused by
//! the store's expected-version check and tried again.

use std::future::Future;

use domain::Aggregate;
use infra::{EventStore, ExpectedVersion, StoreError};
use uuid::Uuid;

use crate::command::{CommandError, CommandMeta, CommandResult, Conflict};
use crate::streams::{Loaded, Streams};

/// Attempts a command makes before answering that its streams change too fast.
pub const MAX_ATTEMPTS: usize = 12;

/// How a command expects to find the stream it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The command creates the stream (a registration): unless this process knows the
    /// stream, it is taken to be empty without reading it. Should it exist after all, the
    /// append is refused and the command reads it and decides again.
    NewStream,
    /// The stream is read unless this process knows it.
    Existing,
    /// The stream is always read from the store (repairs made in the background, which
    /// must not act on a memory).
    Fresh,
}

/// What one attempt came to, when it did not fail.
pub enum Attempt<T> {
    /// The command is answered.
    Done(T),
    /// A decision made on memory must be made again on fresh reads, at once.
    Confirm,
    /// A race was lost on fresh reads: try again after a short random wait.
    Race,
}

/// Runs `attempt` until it is done, fails, or [`MAX_ATTEMPTS`] are spent. Its argument
/// says whether the attempt must read every stream from the store; once an attempt asked
/// for that, every later one does.
pub async fn retrying<T, F, Fut>(
    what: impl FnOnce() -> String,
    mut attempt: F,
) -> Result<T, CommandError>
where
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = Result<Attempt<T>, CommandError>>,
{
    let mut fresh = false;
    let mut wait = false;
    for n in 0..MAX_ATTEMPTS {
        if wait {
            backoff(n).await;
        }
        match attempt(fresh).await? {
            Attempt::Done(t) => return Ok(t),
            Attempt::Confirm => {
                fresh = true;
                wait = false;
            }
            Attempt::Race => wait = true,
        }
    }
    Err(CommandError::Conflict(Conflict::Contended { what: what() }))
}

/// Waits a random time that grows with `attempt`, so writers that lost a race on the
/// same streams do not collide again in lockstep.
async fn backoff(attempt: usize) {
    let ceiling_us = 500u128 << attempt.min(6);
    let jitter = Uuid::new_v4().as_u128() % ceiling_us;
    tokio::time::sleep(std::time::Duration::from_micros(jitter as u64)).await;
}

/// Loads the stream a command writes: as `expect` says, or from the store when `fresh`
/// or under `If-Match` (judged against the store, never against this process's memory).
pub async fn load_target<A: Aggregate>(
    streams: &Streams,
    meta: &CommandMeta,
    stream: &str,
    expect: Expect,
    fresh: bool,
) -> Result<Loaded<A::State>, StoreError> {
    if meta.if_match.is_some() {
        streams.forget(stream);
    }
    if expect == Expect::NewStream
        && !fresh
        && let Some(assumed) = streams.load_new::<A>(stream.to_owned())
    {
        return Ok(assumed);
    }
    if fresh || expect == Expect::Fresh {
        streams.load_fresh::<A>(stream.to_owned()).await
    } else {
        streams.load::<A>(stream.to_owned()).await
    }
}

/// The checks made before deciding: an answer when this command's events are already in
/// the stream (a retry), and `If-Match`.
pub fn precheck<S>(
    loaded: &Loaded<S>,
    meta: &CommandMeta,
    entity: &'static str,
    id: Uuid,
) -> Result<Option<CommandResult>, CommandError> {
    if let Some(done) = loaded.already_applied(meta, id) {
        return Ok(Some(done));
    }
    match meta.if_match {
        Some(expected) if expected != loaded.version => {
            Err(CommandError::Conflict(Conflict::IfMatch {
                entity,
                expected,
                current: loaded.version,
            }))
        }
        _ => Ok(None),
    }
}

/// What to do with a domain refusal: answer it when it was decided on what the store
/// says, else forget the remembered streams and decide again on fresh reads.
pub fn refused<T>(
    streams: &Streams,
    error: domain::Error,
    remembered: &[&str],
) -> Result<Attempt<T>, CommandError> {
    if remembered.is_empty() {
        return Err(CommandError::Refused(error));
    }
    for s in remembered {
        streams.forget(s);
    }
    streams.refused_from_memory();
    Ok(Attempt::Confirm)
}

/// What to do after the store refused an append for its expected version: under
/// `If-Match` on the command's own stream, answer 412; else try again — at once when a
/// memory was stale (or a stream wrongly taken to be new), after a wait when it was a
/// real race.
pub fn conflicted<T>(
    meta: &CommandMeta,
    entity: &'static str,
    own_stream: bool,
    loaded_version: u64,
    actual: Option<u64>,
    decided_on_memory: bool,
) -> Result<Attempt<T>, CommandError> {
    crate::metrics::conflict();
    if let (Some(expected), true) = (meta.if_match, own_stream) {
        return Err(CommandError::Conflict(Conflict::IfMatch {
            entity,
            expected,
            current: actual.unwrap_or(loaded_version + 1),
        }));
    }
    Ok(if decided_on_memory {
        Attempt::Confirm
    } else {
        Attempt::Race
    })
}

/// Runs a command on the one stream of aggregate `id`.
pub async fn execute<A: Aggregate>(
    streams: &Streams,
    meta: &CommandMeta,
    id: Uuid,
    expect: Expect,
    command: A::Command,
) -> Result<CommandResult, CommandError> {
    let stream = A::stream_in(&meta.actor.tenant, id);
    retrying(
        || format!("{} {id} is", A::ENTITY),
        |fresh| {
            let (stream, command) = (&stream, command.clone());
            async move {
                let loaded = load_target::<A>(streams, meta, stream, expect, fresh).await?;
                if let Some(done) = precheck(&loaded, meta, A::ENTITY, id)? {
                    return Ok(Attempt::Done(done));
                }
                let events = match A::decide(&loaded.state, command) {
                    Ok(events) => events,
                    Err(e) => {
                        let remembered = if loaded.from_memory {
                            vec![stream.as_str()]
                        } else {
                            vec![]
                        };
                        return refused(streams, e.with_target_id(id), &remembered);
                    }
                };
                if events.is_empty() {
                    // A no-op decided on memory may be stale (another process changed
                    // the stream): like a refusal, it is answered only on a fresh read.
                    if loaded.from_memory {
                        streams.forget(stream);
                        return Ok(Attempt::Confirm);
                    }
                    return Ok(Attempt::Done(loaded.unchanged(id)));
                }
                let new = meta.encode(stream, &events);
                let ids: Vec<Uuid> = new.iter().map(|e| e.event_id).collect();
                let appended = streams
                    .store()
                    .append(stream, ExpectedVersion::Exact(loaded.version), new)
                    .await;
                match appended {
                    Ok(r) => {
                        crate::metrics::appended(1);
                        let after = events.iter().fold(loaded.state.clone(), A::evolve);
                        streams.appended(&loaded, after, &ids, &r);
                        Ok(Attempt::Done(CommandResult {
                            id,
                            version: r.version,
                            position: r.position.to_string(),
                        }))
                    }
                    Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                        streams.forget(stream);
                        conflicted(
                            meta,
                            A::ENTITY,
                            true,
                            loaded.version,
                            actual,
                            loaded.from_memory,
                        )
                    }
                    Err(e) => {
                        streams.forget(stream);
                        Err(e.into())
                    }
                }
            }
        },
    )
    .await
}
