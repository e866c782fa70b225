//! The projector: one task per projection that keeps its read model up to date.
//!
//! Each task takes its projection's advisory lock (one active instance across processes;
//! the others wait and take over when it dies), reads its checkpoint, subscribes to `$all`
//! after it and applies the feed in batches, one transaction per batch: checkpoint guard,
//! read-model writes, notifications, commit. See [`Settings`] for the knobs.
//!
//! An event it cannot apply (the store could not decode it, or its apply fails for
//! good) parks that event's stream (module `park`): the batch commits without it, later
//! events of that stream are held, and the rest of the log goes on. Transient failures
//! (lost connections, serialization failures) roll the batch back and are retried.

pub(crate) mod checkpoint;
mod lag;
pub(crate) mod lock;
mod metrics;
pub(crate) mod park;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use infra::AnyEventStore;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use metrics::{Metrics, ProjectionMetrics};

use crate::Projection;

/// What a failpoint asks the runtime to do with a batch (tests only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAction {
    /// Carry on.
    Continue,
    /// Die after applying the batch, before committing it (the transaction is lost).
    CrashBeforeCommit,
    /// Die right after committing the batch.
    CrashAfterCommit,
}

/// A test hook called with the projection's name and the number of the batch (1-based,
/// per task) before each commit. "Dying" ends the task at once, dropping its connection,
/// without writing any state: what a killed process leaves behind.
pub type Failpoint = Arc<dyn Fn(&str, u64) -> FailAction + Send + Sync>;

/// Knobs of the projector.
#[derive(Clone)]
pub struct Settings {
    /// Most events per batch (default 500).
    pub batch_size: usize,
    /// How long a batch waits for more events after its first one. Zero (the default):
    /// a batch is what the feed has ready, without waiting.
    pub batch_timeout: Duration,
    /// How often a task waiting for its projection's lock tries again (default 500 ms).
    pub lock_poll: Duration,
    /// While catching up: how often the lag is counted in the store (default 1 s); also
    /// how long an idle task behind the head waits before it looks again.
    pub lag_refresh: Duration,
    /// First wait after a transient error; doubles up to `max_backoff` (default 100 ms).
    pub min_backoff: Duration,
    /// Longest wait between retries (default 10 s).
    pub max_backoff: Duration,
    /// Test hook; `None` in production.
    pub failpoint: Option<Failpoint>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            batch_size: 500,
            batch_timeout: Duration::ZERO,
            lock_poll: Duration::from_millis(500),
            lag_refresh: Duration::from_secs(1),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            failpoint: None,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("batch_size", &self.batch_size)
            .field("batch_timeout", &self.batch_timeout)
            .field("lock_poll", &self.lock_poll)
            .field("lag_refresh", &self.lag_refresh)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("failpoint", &self.failpoint.is_some())
            .finish()
    }
}

/// Runs a set of projections against an event store and the read-model database.
pub struct Projector {
    store: AnyEventStore,
    pool: PgPool,
    projections: Vec<Arc<dyn Projection>>,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
}

impl Projector {
    /// A projector for `projections`; nothing runs until [`Projector::run`]. The
    /// database must have been through [`crate::prepare`].
    pub fn new(
        store: AnyEventStore,
        pool: PgPool,
        projections: Vec<Arc<dyn Projection>>,
        settings: Settings,
    ) -> Self {
        let metrics = Arc::new(Metrics::new(projections.iter().map(|p| p.name())));
        Projector {
            store,
            pool,
            projections,
            settings: Arc::new(settings),
            metrics,
        }
    }

    /// The metrics of this projector's tasks (serve [`Metrics::render_prometheus`]).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Runs every projection until `cancel` fires (or each has failed), then returns.
    /// On cancel each task finishes its current batch, marks itself `stopped` and exits.
    pub async fn run(self, cancel: CancellationToken) {
        let mut tasks = JoinSet::new();
        for projection in self.projections {
            let Some(metrics) = self.metrics.get(projection.name()).cloned() else {
                continue;
            };
            let worker = worker::Worker {
                store: self.store.clone(),
                pool: self.pool.clone(),
                projection,
                settings: self.settings.clone(),
                metrics,
            };
            tasks.spawn(worker.run(cancel.clone()));
        }
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "projection task panicked");
            }
        }
    }
}
