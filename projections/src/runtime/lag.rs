//! How far a runner is behind the head of the log, measured cheaply.

use std::time::{Duration, Instant};

use infra::{AnyEventStore, EventStore, Position, StoreError};

use crate::setup::ProjectionState;

/// How far behind the head the task is.
pub(crate) struct Lag {
    /// Events after the checkpoint, as last counted or estimated.
    pub events: u64,
    counted: Instant,
}

impl Lag {
    /// Counts the events after `position` (an index range scan as long as the lag).
    pub async fn count(
        store: &AnyEventStore,
        position: Option<Position>,
    ) -> Result<Lag, StoreError> {
        Ok(Lag {
            events: store.count_after(position).await?,
            counted: Instant::now(),
        })
    }

    pub fn state(&self) -> ProjectionState {
        if self.events == 0 {
            ProjectionState::Live
        } else {
            ProjectionState::CatchingUp
        }
    }

    /// The lag once a batch ending at `last` is applied. A short batch usually means the
    /// feed is drained, which one look at the head confirms cheaply; otherwise the events
    /// are counted at most every `refresh` and estimated in between.
    pub async fn after_batch(
        &mut self,
        store: &AnyEventStore,
        last: Position,
        full: bool,
        applied: u64,
        refresh: Duration,
    ) -> Result<(), StoreError> {
        if !full && store.head_position().await?.is_none_or(|head| head <= last) {
            self.events = 0;
        } else if self.events == 0 || self.counted.elapsed() >= refresh {
            *self = Lag::count(store, Some(last)).await?;
        } else {
            self.events = self.events.saturating_sub(applied).max(1);
        }
        Ok(())
    }
}
