//! One projection's task: lock, checkpoint, subscribe, batches, retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use infra::{AnyEventStore, EventStore, Position, RecordedEvent, StoreError, UndecodableEvent};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span};

use super::checkpoint::{self, Advance, Changes};
use super::lag::Lag;
use super::lock::{self, LockKind};
use super::park;
use super::{FailAction, ProjectionMetrics, Settings};
use crate::setup::ProjectionState;
use crate::{Projection, ProjectionError};

pub(crate) struct Worker {
    pub store: AnyEventStore,
    pub pool: PgPool,
    pub projection: Arc<dyn Projection>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<ProjectionMetrics>,
}

/// How a session (lock → subscribe → batches) ended without a transient error.
enum End {
    Cancelled,
    Failed,
    /// A failpoint "killed" the task.
    Died,
    /// The checkpoint was moved by someone else (a rebuild): start over from it.
    Restart,
}

/// Interruptions worth retrying.
#[derive(Debug, thiserror::Error)]
enum Interrupted {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Apply(ProjectionError),
    #[error("the event feed ended")]
    FeedEnded,
}

/// What happened to one batch.
enum Outcome {
    Committed,
    Moved,
    Died,
}

impl Worker {
    pub(crate) async fn run(self, cancel: CancellationToken) {
        let name = self.projection.name();
        let mut backoff = self.settings.min_backoff;
        loop {
            let span = info_span!("projection.session", projection = name);
            match self.session(&cancel, &mut backoff).instrument(span).await {
                Ok(End::Cancelled) => break,
                Ok(End::Failed) | Ok(End::Died) => break,
                Ok(End::Restart) => {
                    tracing::info!(
                        projection = name,
                        "checkpoint moved by a rebuild; restarting"
                    );
                }
                Err(e) => {
                    self.metrics.transient_error();
                    tracing::warn!(projection = name, error = %e, retry_in_ms = backoff.as_millis() as u64,
                        "projection interrupted; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                }
            }
        }
        tracing::info!(projection = name, state = %self.metrics.current_state(), "projection task exited");
    }

    async fn session(
        &self,
        cancel: &CancellationToken,
        backoff: &mut Duration,
    ) -> Result<End, Interrupted> {
        let name = self.projection.name();
        let s = &self.settings;
        // A connection of its own: the session lock lives and dies with it, and it never
        // goes back to the pool still holding the lock.
        let mut conn = PgConnection::connect_with(&infra::postgres::non_appending(
            &self.pool.connect_options(),
        ))
        .await?;
        while !lock::try_lock(&mut conn, LockKind::Runner, name).await? {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(End::Cancelled),
                _ = tokio::time::sleep(s.lock_poll) => {}
            }
        }
        let mut position = checkpoint::load(&mut conn, name).await?;
        let mut lag = Lag::count(&self.store, position).await?;
        let mut state = lag.state();
        checkpoint::set_state(&mut conn, name, state, lag.events).await?;
        self.metrics.state(state);
        self.metrics.lag(lag.events, Duration::ZERO);
        self.metrics.parked(park::count(&mut conn, name).await?);
        tracing::info!(projection = name, position = ?position.map(|p| p.to_string()),
            lag = lag.events, "projection started");

        // By default a batch is whatever the feed has ready (at least one event): no
        // wait at low load, and under load the events that arrived while the last batch
        // was committing, so batches grow with the load by themselves.
        let feed: futures::stream::BoxStream<'static, Vec<_>> = if s.batch_timeout.is_zero() {
            futures::StreamExt::boxed(futures::StreamExt::ready_chunks(
                self.store.subscribe_all(position),
                s.batch_size,
            ))
        } else {
            futures::StreamExt::boxed(
                self.store
                    .subscribe_all(position)
                    .chunks_timeout(s.batch_size, s.batch_timeout),
            )
        };
        tokio::pin!(feed);
        let mut batch_no = 0;
        loop {
            let chunk = tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    checkpoint::set_state(&mut conn, name, ProjectionState::Stopped, lag.events)
                        .await?;
                    self.metrics.state(ProjectionState::Stopped);
                    let _ = conn.close().await;
                    return Ok(End::Cancelled);
                }
                chunk = feed.next() => chunk,
                _ = tokio::time::sleep(s.lag_refresh), if state != ProjectionState::Live => {
                    // Behind, and nothing came for a while: perhaps the last batch was
                    // exactly full and we are caught up.
                    lag = Lag::count(&self.store, position).await?;
                    state = lag.state();
                    checkpoint::set_state(&mut conn, name, state, lag.events).await?;
                    self.metrics.state(state);
                    self.metrics.lag(lag.events, Duration::ZERO);
                    continue;
                }
                _ = tokio::time::sleep(s.lag_refresh), if self.metrics.parked_streams() > 0 => {
                    // Operators release streams from another process: keep the gauge true.
                    self.metrics.parked(park::count(&mut conn, name).await?);
                    continue;
                }
            };
            let Some(chunk) = chunk else {
                return Err(Interrupted::FeedEnded);
            };
            let mut events = Vec::with_capacity(chunk.len());
            let mut undecodable = Vec::new();
            let mut feed_error = None;
            for item in chunk {
                match item {
                    _ if feed_error.is_some() => {}
                    Ok(e) => events.push(e),
                    // One event the store cannot decode: it parks its stream, not the feed.
                    Err(StoreError::Undecodable(u)) => undecodable.push(*u),
                    Err(e) => feed_error = Some(e),
                }
            }
            let last = events
                .last()
                .map(|e| e.position)
                .max(undecodable.last().map(|u: &UndecodableEvent| u.position));
            if let Some(last) = last {
                let count = events.len() + undecodable.len();
                let full = count >= s.batch_size;
                lag.after_batch(&self.store, last, full, count as u64, s.lag_refresh)
                    .await?;
                batch_no += 1;
                let to = Batch {
                    events: &events,
                    undecodable: &undecodable,
                    last,
                    from: position,
                    state: lag.state(),
                    lag: lag.events,
                    number: batch_no,
                };
                match self.commit(&mut conn, &to).await {
                    Ok(Outcome::Committed) => {
                        position = Some(last);
                        state = lag.state();
                        *backoff = s.min_backoff;
                    }
                    Ok(Outcome::Moved) => return Ok(End::Restart),
                    Ok(Outcome::Died) => return Ok(End::Died),
                    Err(e) if e.is_transient() => return Err(Interrupted::Apply(e)),
                    Err(e) => {
                        // Apply failures park their stream inside the batch; what is left
                        // is the runtime's own bookkeeping failing for good.
                        let error = format!("batch after {}: {e}", display(position));
                        checkpoint::fail(&mut conn, name, position, &error).await?;
                        self.metrics.state(ProjectionState::Failed);
                        tracing::error!(projection = name, error = %error,
                            "projection failed; it stays at this batch until restarted");
                        return Ok(End::Failed);
                    }
                }
            }
            if let Some(e) = feed_error {
                return Err(e.into());
            }
        }
    }

    /// Applies one batch in one transaction (see [`Worker::commit_once`]): first without
    /// savepoints, and when an apply fails for good, again isolating the failing event.
    async fn commit(
        &self,
        conn: &mut PgConnection,
        batch: &Batch<'_>,
    ) -> Result<Outcome, ProjectionError> {
        match self.commit_once(conn, batch, false).await {
            Err(e) if !e.is_transient() => {
                tracing::debug!(projection = self.projection.name(), error = %e,
                    "batch failed; applying it again, parking what fails");
                self.commit_once(conn, batch, true).await
            }
            other => other,
        }
    }

    /// Applies one batch in one transaction: checkpoint guard, apply (parking streams
    /// when `careful`), notify, commit.
    async fn commit_once(
        &self,
        conn: &mut PgConnection,
        batch: &Batch<'_>,
        careful: bool,
    ) -> Result<Outcome, ProjectionError> {
        let started = Instant::now();
        let name = self.projection.name();
        let last = batch.last;
        let mut tx = conn.begin_with(crate::support::BEGIN_BATCH).await?;
        let result = async {
            let advance = Advance {
                name,
                from: batch.from,
                to: last,
                state: batch.state,
                lag: batch.lag,
                applied: batch.events.len() as u64,
            };
            let Some(stored_state) = checkpoint::advance(&mut tx, &advance).await? else {
                return Ok(None);
            };
            let mode = park::Mode {
                rebuild: false,
                // Only this task parks live streams while it holds the lock (a rebuild
                // that swaps its own in moves the checkpoint: the task restarts).
                none_parked: self.metrics.parked_streams() == 0,
                careful,
            };
            let applied = park::apply(
                &mut tx,
                self.projection.as_ref(),
                mode,
                batch.events,
                batch.undecodable,
            )
            .await?;
            let parked = if applied.touched_parking() || self.metrics.parked_streams() > 0 {
                Some(park::count(&mut tx, name).await?)
            } else {
                None
            };
            let interviews = self.projection.changed_interviews(batch.events);
            let people = self.projection.changed_people(batch.events);
            let schedules = self.projection.changed_schedules(batch.events);
            let changes = Changes {
                interviews: &interviews,
                people: &people,
                schedules: &schedules,
                swapped: false,
            };
            checkpoint::notify(&mut tx, name, Some(last), &stored_state, changes).await?;
            Ok::<_, ProjectionError>(Some((stored_state, applied, parked)))
        }
        .await;
        let (stored_state, applied, parked) = match result {
            Ok(Some(done)) => done,
            Ok(None) => {
                tx.rollback().await?;
                return Ok(Outcome::Moved);
            }
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        let action = match &self.settings.failpoint {
            Some(hook) => hook(name, batch.number),
            None => FailAction::Continue,
        };
        if action == FailAction::CrashBeforeCommit {
            drop(tx);
            return Ok(Outcome::Died);
        }
        tx.commit().await?;
        let took = started.elapsed();
        self.metrics.batch(batch.events.len(), took);
        self.metrics.state(ProjectionState::parse(&stored_state));
        let behind = match batch.events.last() {
            Some(e) if batch.state != ProjectionState::Live => (chrono::Utc::now()
                - e.metadata.occurred_at)
                .to_std()
                .unwrap_or_default(),
            _ => Duration::ZERO,
        };
        self.metrics.lag(batch.lag, behind);
        if let Some(parked) = parked {
            self.metrics.parked(parked);
        }
        for p in &applied.parked {
            tracing::error!(projection = name, stream = %p.stream_id, version = p.version,
                position = %p.position, event_type = %p.event_type, reason = %p.reason,
                "stream parked: its later events are held until `projections retry` or `skip`");
        }
        tracing::debug!(projection = name, events = batch.events.len(), position = %last,
            duration_ms = took.as_millis() as u64, "batch committed");
        if action == FailAction::CrashAfterCommit {
            return Ok(Outcome::Died);
        }
        Ok(Outcome::Committed)
    }
}

struct Batch<'a> {
    events: &'a [RecordedEvent],
    /// Events the store could not decode: each parks its stream.
    undecodable: &'a [UndecodableEvent],
    /// The position of the last of both.
    last: Position,
    from: Option<Position>,
    state: ProjectionState,
    lag: u64,
    number: u64,
}

fn display(position: Option<Position>) -> String {
    position.map_or_else(|| "the start".to_owned(), |p| p.to_string())
}
