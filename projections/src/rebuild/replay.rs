//! The bulk phase of a rebuild: one reader, one applier task per projection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use infra::{AnyEventStore, Position};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Items, PAGE_SIZE, RebuildError, Reporter, read_items, shadow_schema};
use crate::Projection;
use crate::progress::Progress;
use crate::runtime::park;

type Page = Arc<Items>;

/// Replays the log from zero into every projection's shadow schema, until a page comes
/// back empty. Returns the events replayed and the position reached.
pub(super) async fn bulk<F: Fn(Progress) + Send + Sync>(
    store: &AnyEventStore,
    pool: &PgPool,
    projections: &[Arc<dyn Projection>],
    reporter: &mut Reporter<'_, F>,
) -> Result<(u64, Option<Position>), RebuildError> {
    let mut senders = Vec::new();
    let mut appliers: Vec<JoinHandle<Result<(), RebuildError>>> = Vec::new();
    let mut applied = Vec::new();
    for p in projections {
        // Two pages in flight per projection: reading overlaps with applying.
        let (tx, rx) = mpsc::channel::<Page>(2);
        let done = Arc::new(AtomicU64::new(0));
        let conn =
            PgConnection::connect_with(&infra::postgres::non_appending(&pool.connect_options()))
                .await?;
        appliers.push(tokio::spawn(apply_pages(p.clone(), conn, rx, done.clone())));
        senders.push(tx);
        applied.push(done);
    }
    let progress = |applied: &[Arc<AtomicU64>]| {
        applied
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    };
    let mut position = None;
    let mut events = 0u64;
    let mut read_error = None;
    let mut reading = std::time::Duration::ZERO;
    'pages: loop {
        let started = std::time::Instant::now();
        let read = read_items(store, position, PAGE_SIZE).await;
        reading += started.elapsed();
        let page = match read {
            Ok(page) => page,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        let Some(last) = page.last() else {
            break;
        };
        events += page.len() as u64;
        position = Some(last);
        let page: Page = Arc::new(page);
        for tx in &senders {
            // A closed channel means its applier failed: stop and report its error.
            if tx.send(page.clone()).await.is_err() {
                break 'pages;
            }
        }
        reporter.report(progress(&applied));
    }
    drop(senders);
    tracing::info!(
        events,
        reading_ms = reading.as_millis() as u64,
        "replay read"
    );
    let mut first_error = read_error.map(RebuildError::from);
    for applier in appliers {
        let result = applier
            .await
            .unwrap_or_else(|e| Err(RebuildError::Task(e.to_string())));
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    reporter.report(events);
    Ok((events, position))
}

async fn apply_pages(
    projection: Arc<dyn Projection>,
    mut conn: PgConnection,
    mut pages: mpsc::Receiver<Page>,
    done: Arc<AtomicU64>,
) -> Result<(), RebuildError> {
    // Custom plans: see [`crate::support::BEGIN_BATCH`] (the shadow tables start empty).
    let begin = format!(
        "BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL search_path TO \"{}\", public; \
         SET LOCAL plan_cache_mode = force_custom_plan",
        shadow_schema(projection.name())
    );
    let mut busy = std::time::Duration::ZERO;
    while let Some(page) = pages.recv().await {
        let started = std::time::Instant::now();
        let mut tx = conn.begin_with(begin.clone()).await?;
        park::apply(
            &mut tx,
            projection.as_ref(),
            park::Mode::REBUILD,
            &page.events,
            &page.undecodable,
        )
        .await?;
        tx.commit().await?;
        busy += started.elapsed();
        done.fetch_add(page.len() as u64, Ordering::Relaxed);
    }
    tracing::info!(
        projection = projection.name(),
        busy_ms = busy.as_millis() as u64,
        events = done.load(Ordering::Relaxed),
        "replay applied"
    );
    let _ = conn.close().await;
    Ok(())
}
