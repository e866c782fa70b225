//! Rebuilds: replay `$all` from zero into shadow tables while the live ones keep
//! serving, then swap them in with one transaction.
//!
//! 1. Take each projection's rebuild lock (one rebuild at a time), mark it `rebuilding`,
//!    create its tables (without secondary indexes) afresh in schema `rm_rebuild_<name>`.
//! 2. Replay the log in big pages (module `replay`): one reader, and per projection a task on
//!    its own connection with one transaction per page. These commit asynchronously
//!    (`synchronous_commit = off`): a rebuild that dies starts over from zero, so their
//!    durability buys nothing.
//! 3. Build the secondary indexes on the filled tables.
//! 4. One transaction (module `swap`) locks the checkpoint rows (a live runner's next batch
//!    waits on its row), applies the tail up to the head, moves the live tables to a trash
//!    schema and the shadow tables into `rm`, points the checkpoints at the replayed
//!    position and drops the old tables. A runner whose batch waited finds its checkpoint
//!    moved, rolls back and resumes from the new one.

mod replay;
mod swap;

use std::sync::Arc;
use std::time::{Duration, Instant};

use infra::{AnyEventStore, EventStore, Position, RecordedEvent, StoreError, UndecodableEvent};
use sqlx::{Connection, PgConnection, PgPool};

use crate::progress::Progress;
use crate::runtime::checkpoint;
use crate::runtime::lock::{self, LockKind};
use crate::setup::{Ddl, create_tables};
use crate::support::script;
use crate::{Projection, ProjectionError};

/// Events per page (and per transaction) while replaying.
pub const PAGE_SIZE: usize = 20_000;

/// Why a rebuild stopped. The live tables are untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Another rebuild of this projection is running.
    #[error("a rebuild of {0} is already running")]
    AlreadyRunning(String),
    /// An event could not be applied (the message names it).
    #[error(transparent)]
    Apply(#[from] ProjectionError),
    /// The read-model database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The event store failed.
    #[error("event store error: {0}")]
    Store(#[from] StoreError),
    /// A replay task ended abnormally.
    #[error("replay task failed: {0}")]
    Task(String),
}

/// What a finished rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// The projections swapped in.
    pub projections: Vec<String>,
    /// Events replayed.
    pub events: u64,
    /// The checkpoint they now have.
    pub position: Option<Position>,
    /// How long it took.
    pub elapsed: Duration,
}

/// A page of the log as a rebuild applies it: the events, and those the store could
/// not decode (each parks its stream, as in the live runner).
#[derive(Debug, Default)]
pub(crate) struct Items {
    pub events: Vec<RecordedEvent>,
    pub undecodable: Vec<UndecodableEvent>,
}

impl Items {
    fn len(&self) -> usize {
        self.events.len() + self.undecodable.len()
    }

    fn last(&self) -> Option<Position> {
        let a = self.events.last().map(|e| e.position);
        let b = self.undecodable.last().map(|u| u.position);
        a.max(b)
    }
}

/// Reads a page of `$all` after `position`: the events up to the first one that cannot
/// be decoded, or that one alone. Empty at the head.
pub(crate) async fn read_items(
    store: &AnyEventStore,
    position: Option<Position>,
    limit: usize,
) -> Result<Items, StoreError> {
    match store.read_all(position, limit).await {
        Ok(events) => Ok(Items {
            events,
            undecodable: Vec::new(),
        }),
        Err(StoreError::Undecodable(u)) => Ok(Items {
            events: Vec::new(),
            undecodable: vec![*u],
        }),
        Err(e) => Err(e),
    }
}

/// The shadow schema of a projection.
pub fn shadow_schema(name: &str) -> String {
    format!("rm_rebuild_{name}")
}

/// Reports progress to the caller's callback; `total` grows if events keep coming.
struct Reporter<'a, F> {
    callback: &'a F,
    started: Instant,
    total: u64,
}

impl<F: Fn(Progress)> Reporter<'_, F> {
    fn report(&mut self, events: u64) {
        self.total = self.total.max(events);
        (self.callback)(Progress {
            events,
            total: self.total,
            elapsed: self.started.elapsed(),
        });
    }
}

/// Rebuilds `projections` from the whole log (see the module docs), calling `progress`
/// as pages are applied. The database must have been through [`crate::prepare`].
#[tracing::instrument(name = "projection.rebuild", skip_all,
    fields(projections = ?projections.iter().map(|p| p.name()).collect::<Vec<_>>()))]
pub async fn rebuild(
    store: &AnyEventStore,
    pool: &PgPool,
    projections: &[Arc<dyn Projection>],
    progress: impl Fn(Progress) + Send + Sync,
) -> Result<RebuildReport, RebuildError> {
    let started = Instant::now();
    // Session locks live on this connection; it closes (releasing them) when dropped.
    let mut conn =
        PgConnection::connect_with(&infra::postgres::non_appending(&pool.connect_options()))
            .await?;
    for p in projections {
        if !lock::try_lock(&mut conn, LockKind::Rebuild, p.name()).await? {
            return Err(RebuildError::AlreadyRunning(p.name().to_owned()));
        }
    }
    let mut previous = Vec::new();
    for p in projections {
        checkpoint::load(&mut conn, p.name()).await?;
        let state: String =
            sqlx::query_scalar("SELECT state FROM projection_checkpoints WHERE name = $1")
                .bind(p.name())
                .fetch_one(&mut conn)
                .await?;
        previous.push(state);
        let shadow = shadow_schema(p.name());
        let mut tx = conn.begin().await?;
        script(
            &mut tx,
            &format!("DROP SCHEMA IF EXISTS \"{shadow}\" CASCADE"),
        )
        .await?;
        create_tables(&mut tx, p.as_ref(), &shadow, Ddl::Tables).await?;
        sqlx::query("DELETE FROM projection_parked WHERE projection = $1 AND rebuild")
            .bind(p.name())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE projection_checkpoints SET state = 'rebuilding', updated_at = now()
             WHERE name = $1",
        )
        .bind(p.name())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    let mut reporter = Reporter {
        callback: &progress,
        started,
        total: 0,
    };
    let result = run(store, pool, &mut conn, projections, &mut reporter).await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "rebuild failed; the live tables stay as they were");
        for (p, state) in projections.iter().zip(&previous) {
            let shadow = shadow_schema(p.name());
            let _ = script(
                &mut conn,
                &format!("DROP SCHEMA IF EXISTS \"{shadow}\" CASCADE"),
            )
            .await;
            let _ = sqlx::query("DELETE FROM projection_parked WHERE projection = $1 AND rebuild")
                .bind(p.name())
                .execute(&mut conn)
                .await;
            let _ = sqlx::query(
                "UPDATE projection_checkpoints SET state = $2, updated_at = now()
                 WHERE name = $1 AND state = 'rebuilding'",
            )
            .bind(p.name())
            .bind(state)
            .execute(&mut conn)
            .await;
        }
    }
    let _ = conn.close().await;
    result
}

async fn run<F: Fn(Progress) + Send + Sync>(
    store: &AnyEventStore,
    pool: &PgPool,
    conn: &mut PgConnection,
    projections: &[Arc<dyn Projection>],
    reporter: &mut Reporter<'_, F>,
) -> Result<RebuildReport, RebuildError> {
    reporter.total = store.count_after(None).await?;
    reporter.report(0);
    let (events, position) = replay::bulk(store, pool, projections, reporter).await?;
    let indexing = Instant::now();
    for p in projections {
        let mut tx = conn.begin().await?;
        create_tables(&mut tx, p.as_ref(), &shadow_schema(p.name()), Ddl::Indexes).await?;
        tx.commit().await?;
    }
    tracing::info!(
        events,
        duration_ms = indexing.elapsed().as_millis() as u64,
        "replayed; indexes built"
    );
    let (events, position) =
        swap::swap_in(store, conn, projections, events, position, reporter).await?;
    let elapsed = reporter.started.elapsed();
    tracing::info!(events, position = ?position.map(|p| p.to_string()),
        elapsed_ms = elapsed.as_millis() as u64, "rebuild swapped in");
    Ok(RebuildReport {
        projections: projections.iter().map(|p| p.name().to_owned()).collect(),
        events,
        position,
        elapsed,
    })
}
