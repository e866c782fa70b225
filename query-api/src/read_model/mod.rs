//! Typed reads of the read-model tables (schema `rm`, owned by the `projections` crate)
//! and of the projector's checkpoints.
//!
//! Every statement goes through [`ReadModel`], which counts them: the count is how tests
//! prove that DataLoaders keep a page of interviews at a fixed number of round trips.
//! The SQL is dynamic in places (filters, keyset cursors), so it uses runtime-checked
//! `query_as`; the integration tests run every statement against the real DDL.

mod analytics;
mod cache;
mod checkpoints;
mod interviews;
mod people;
mod responses;
mod schedules;
mod transcripts;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{PgPool, Postgres, Transaction};

use crate::viewer::Viewer;

/// The role every read of tenant data runs as (created by `projections::prepare`, which
/// sets up row-level security for it on every read-model table).
pub const READER_ROLE: &str = "interview_ledger_reader";

/// The setting row-level security reads the tenant from.
pub const TENANT_SETTING: &str = "app.tenant";

pub use analytics::{CompetencyStatRow, DailyRow, FunnelRow, HourRow, LoadRow};
pub use cache::{CacheCapacity, Lookup, RowCache, STRIPES, TableStats, Ticket};
pub use checkpoints::{CheckpointRow, ParkedRow};
pub use interviews::{
    CompetencyRow, FeedbackRow, InterviewCursor, InterviewFilter, InterviewRow, SortOrder,
};
pub use people::{PersonCursor, PersonRow};
pub use responses::{Answer, Dep, Reads, ResponseCache, ResponseStats};
pub use schedules::{BookingRow, PersonSchedule, ScheduleRows, WindowRow};
pub use transcripts::{HitCursor, HitRow, SegmentRow};

/// A read-model query failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// The database failed or a row did not decode.
    #[error("read model query {query} failed: {source}")]
    Sql {
        /// Which typed read failed (stable, for logs).
        query: &'static str,
        /// The cause.
        source: sqlx::Error,
    },
    /// A stored value is not one this API knows (e.g. an unknown status string).
    #[error("read model holds an unexpected value in {column}: {value:?}")]
    Unexpected {
        /// The column.
        column: &'static str,
        /// The value found.
        value: String,
    },
}

/// The read-model database, with a counter of statements sent, and optionally a
/// [`RowCache`] in front of the reads by id (`interviews_by_ids`, `people_by_ids`) and
/// of the schedules (`schedules`).
#[derive(Clone, Debug)]
pub struct ReadModel {
    pool: PgPool,
    statements: Arc<AtomicU64>,
    cache: Option<Arc<RowCache>>,
}

impl ReadModel {
    /// Reads through `pool`, caching nothing.
    pub fn new(pool: PgPool) -> Self {
        ReadModel {
            pool,
            statements: Arc::new(AtomicU64::new(0)),
            cache: None,
        }
    }

    /// Reads through `pool`, by id through `cache` (which the notification listener
    /// keeps fresh, see [`crate::notify::Notices::start_with_cache`]).
    pub fn with_cache(pool: PgPool, cache: Arc<RowCache>) -> Self {
        ReadModel {
            cache: Some(cache),
            ..ReadModel::new(pool)
        }
    }

    /// The row cache, if reads by id go through one.
    pub fn cache(&self) -> Option<&Arc<RowCache>> {
        self.cache.as_ref()
    }

    /// The pool (also used by the notification listener).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many statements this read model (and its clones) has sent so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Counts one statement and hands out the pool to run it on (for what is no
    /// tenant's: checkpoints, the ping).
    fn db(&self) -> &PgPool {
        self.statements.fetch_add(1, Ordering::Relaxed);
        &self.pool
    }

    /// Counts one statement and opens the transaction to run it in, reading as
    /// `viewer`'s tenant: role [`READER_ROLE`], [`TENANT_SETTING`] set, both `LOCAL` to the
    /// transaction, sent with its `BEGIN` in one round trip. Row-level security then
    /// hides every other tenant's rows even from a statement that forgot to filter.
    ///
    /// Drop it instead of committing (it only read): sqlx queues the `ROLLBACK` and sends
    /// it with the round trip that returns the connection to the pool, which waits for
    /// it, so no role or tenant outlives the transaction on a pooled connection.
    async fn reader(
        &self,
        viewer: &Viewer,
        query: &'static str,
    ) -> Result<Transaction<'static, Postgres>, ReadModelError> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        // A tenant is a slug (a-z, 0-9, '-'): nothing in it needs quoting.
        let begin = format!(
            "BEGIN READ ONLY; SET LOCAL ROLE {READER_ROLE}; SET LOCAL {TENANT_SETTING} = '{}'",
            viewer.tenant.as_str()
        );
        self.pool.begin_with(begin).await.map_err(sql(query))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), ReadModelError> {
        sqlx::query("SELECT 1")
            .execute(self.db())
            .await
            .map(|_| ())
            .map_err(sql("ping"))
    }
}

/// The rows of a cache lookup's ids: those it found, and the missing ones read by `read`,
/// which go into the cache through `fill` (refused there if they may have changed since
/// the lookup took its ticket).
async fn read_through<V>(
    mut lookup: Lookup<V>,
    read: impl AsyncFnOnce(&[uuid::Uuid]) -> Result<Vec<V>, ReadModelError>,
    fill: impl FnOnce(Ticket, &[V]),
) -> Result<Vec<V>, ReadModelError> {
    if lookup.missing.is_empty() {
        return Ok(lookup.found);
    }
    let rows = read(&lookup.missing).await?;
    fill(lookup.ticket, &rows);
    lookup.found.extend(rows);
    Ok(lookup.found)
}

/// Wraps a sqlx error with the name of the read that failed.
fn sql(query: &'static str) -> impl FnOnce(sqlx::Error) -> ReadModelError {
    move |source| ReadModelError::Sql { query, source }
}

/// Escapes `%`, `_` and `\` so user text matches literally inside `ILIKE`.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::like_escape;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
    }
}
