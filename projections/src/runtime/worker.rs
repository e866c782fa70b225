//! One projection's task: lock, checkpoint, subscribe, batches, retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use infra::{AnyEventStore, EventStore, Position, RecordedEvent, StoreError};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info_span};

use super::checkpoint::{self, Advance, Changes};
use super::lag::Lag;
use super::lock::{self, LockKind};
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
            };
            let Some(chunk) = chunk else {
                return Err(Interrupted::FeedEnded);
            };
            let mut events = Vec::with_capacity(chunk.len());
            let mut feed_error = None;
            for item in chunk {
                match item {
                    Ok(e) if feed_error.is_none() => events.push(e),
                    Ok(_) => {}
                    Err(e) => {
                        feed_error.get_or_insert(e);
                    }
                }
            }
            if let Some(last) = events.last().map(|e| e.position) {
                let full = events.len() >= s.batch_size;
                lag.after_batch(&self.store, last, full, events.len() as u64, s.lag_refresh)
                    .await?;
                batch_no += 1;
                let to = Batch {
                    events: &events,
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
                        return self
                            .isolate(&mut conn, &events, position, &mut batch_no, &e)
                            .await;
                    }
                }
            }
            if let Some(e) = feed_error {
                return Err(e.into());
            }
        }
    }

    /// Applies one batch in one transaction: checkpoint guard, apply, notify, commit.
    async fn commit(
        &self,
        conn: &mut PgConnection,
        batch: &Batch<'_>,
    ) -> Result<Outcome, ProjectionError> {
        let started = Instant::now();
        let name = self.projection.name();
        let Some(last) = batch.events.last() else {
            return Ok(Outcome::Committed);
        };
        let mut tx = conn
            .begin_with("BEGIN; SET LOCAL search_path TO rm, public")
            .await?;
        let result = async {
            let advance = Advance {
                name,
                from: batch.from,
                to: last.position,
                state: batch.state,
                lag: batch.lag,
                applied: batch.events.len() as u64,
            };
            let Some(stored_state) = checkpoint::advance(&mut tx, &advance).await? else {
                return Ok(None);
            };
            self.projection.apply(&mut tx, batch.events).await?;
            let interviews = self.projection.changed_interviews(batch.events);
            let people = self.projection.changed_people(batch.events);
            let schedules = self.projection.changed_schedules(batch.events);
            let changes = Changes {
                interviews: &interviews,
                people: &people,
                schedules: &schedules,
                swapped: false,
            };
            checkpoint::notify(&mut tx, name, Some(last.position), &stored_state, changes).await?;
            Ok::<_, ProjectionError>(Some(stored_state))
        }
        .await;
        let stored_state = match result {
            Ok(Some(state)) => state,
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
        let behind = if batch.state == ProjectionState::Live {
            Duration::ZERO
        } else {
            (chrono::Utc::now() - last.metadata.occurred_at)
                .to_std()
                .unwrap_or_default()
        };
        self.metrics.lag(batch.lag, behind);
        tracing::debug!(projection = name, events = batch.events.len(), position = %last.position,
            duration_ms = took.as_millis() as u64, "batch committed");
        if action == FailAction::CrashAfterCommit {
            return Ok(Outcome::Died);
        }
        Ok(Outcome::Committed)
    }

    /// A batch failed for good: commits everything before the culprit, then marks the
    /// projection failed naming it. Never skips it. A poison error names its event; for
    /// any other error the events are tried one by one to find it.
    async fn isolate(
        &self,
        conn: &mut PgConnection,
        mut events: &[RecordedEvent],
        mut at: Option<Position>,
        batch_no: &mut u64,
        error: &ProjectionError,
    ) -> Result<End, Interrupted> {
        let name = self.projection.name();
        let culprit = match error {
            ProjectionError::Poison { position, .. } => events
                .iter()
                .position(|e| e.position.to_string() == *position),
            ProjectionError::Db(_) => None,
        };
        if let Some(i) = culprit.filter(|i| *i > 0) {
            *batch_no += 1;
            let prefix = Batch {
                events: &events[..i],
                from: at,
                state: ProjectionState::CatchingUp,
                lag: 0,
                number: *batch_no,
            };
            match self.commit(conn, &prefix).await {
                Ok(Outcome::Committed) => {
                    at = Some(events[i - 1].position);
                    events = &events[i..];
                }
                Ok(Outcome::Moved) => return Ok(End::Restart),
                Ok(Outcome::Died) => return Ok(End::Died),
                Err(e) if e.is_transient() => return Err(Interrupted::Apply(e)),
                // Then the culprit is earlier after all: look one by one.
                Err(_) => {}
            }
        }
        for event in events {
            *batch_no += 1;
            let one = Batch {
                events: std::slice::from_ref(event),
                from: at,
                state: ProjectionState::CatchingUp,
                lag: 0,
                number: *batch_no,
            };
            match self.commit(conn, &one).await {
                Ok(Outcome::Committed) => at = Some(event.position),
                Ok(Outcome::Moved) => return Ok(End::Restart),
                Ok(Outcome::Died) => return Ok(End::Died),
                Err(e) if e.is_transient() => return Err(Interrupted::Apply(e)),
                Err(e) => {
                    let error = match e {
                        ProjectionError::Poison { .. } => e,
                        other => ProjectionError::poison(event, other.to_string()),
                    }
                    .to_string();
                    checkpoint::fail(conn, name, at, &error).await?;
                    self.metrics.state(ProjectionState::Failed);
                    tracing::error!(projection = name, error = %error,
                        "projection failed; it stays at this event until restarted");
                    return Ok(End::Failed);
                }
            }
        }
        // Every event went through on its own: whatever failed is gone. Resubscribe.
        Ok(End::Restart)
    }
}

struct Batch<'a> {
    events: &'a [RecordedEvent],
    from: Option<Position>,
    state: ProjectionState,
    lag: u64,
    number: u64,
}
