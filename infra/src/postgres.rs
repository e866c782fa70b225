//! The PostgreSQL event store.
//!
//! One `events` table. Appends are a single `INSERT … SELECT` whose snapshot reads the
//! stream's current version before the statement's first row takes the transaction id,
//! so a transaction that saw another append's commit always gets a larger id than it:
//! ordering by (transaction_id, position) keeps every stream's versions ascending.
//! Readers only return rows whose transaction id is below the oldest transaction still
//! running that may be appending, so an append that commits late is delivered late,
//! never skipped. Transactions on connections named [`NON_APPENDING_APPLICATION`]
//! (projectors, rebuilds) never write events, so they do not hold the feed back.

// Defined before the modules: `read` spells it into its SQL.
macro_rules! non_appending_name {
    () => {
        "il-projector"
    };
}

mod append;
mod commit;
mod read;
mod subscribe;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Notify;
use tracing::instrument;

use crate::store::*;
use crate::upcast::Upcasters;
use commit::Committer;

/// The channel live subscribers LISTEN on.
pub const NOTIFY_CHANNEL: &str = "il_events";

/// The `application_name` of connections that never append events (the projector's and
/// the rebuild's). Readers of `$all` wait for every running transaction that may append
/// before they deliver events committed after it; a transaction on such a connection is
/// known not to, so it does not hold the feed back while it applies a batch. Nothing
/// that appends may use this name.
pub const NON_APPENDING_APPLICATION: &str = non_appending_name!();

/// `options` named as a connection that never appends events
/// ([`NON_APPENDING_APPLICATION`]).
pub fn non_appending(
    options: &sqlx::postgres::PgConnectOptions,
) -> sqlx::postgres::PgConnectOptions {
    options.clone().application_name(NON_APPENDING_APPLICATION)
}

/// The PostgreSQL adapter of [`EventStore`].
pub struct PgEventStore {
    pool: PgPool,
    upcasters: Arc<Upcasters>,
    wake_notifier: Arc<Notify>,
    committer: Committer,
}

impl PgEventStore {
    /// An event store on `pool` (whose database has had [`crate::db::migrate`] run).
    /// Starts the background task that tells LISTENers about new events.
    pub fn new(pool: PgPool, upcasters: Arc<Upcasters>) -> Self {
        let wake_notifier = Arc::new(Notify::new());
        tokio::spawn(subscribe::notifier_task(
            pool.clone(),
            wake_notifier.clone(),
        ));
        let committer = Committer::start(pool.clone(), wake_notifier.clone());
        PgEventStore {
            pool,
            upcasters,
            wake_notifier,
            committer,
        }
    }

    /// The pool it writes with.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn parse_tx(tx: &str) -> StoreResult<u64> {
    tx.parse()
        .map_err(|_| StoreError::Decode(format!("bad transaction id {tx:?}")))
}

/// Maps a database error: connection trouble and the server's time bounds are
/// `Unavailable`, the rest `Other`.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(ref d)
            if d.code().as_deref().is_some_and(|c| {
                // Connection trouble, the server going away, a statement cancelled
                // (`statement_timeout`) or a session ended for idling in a
                // transaction: the request may be retried.
                c.starts_with("08") || c.starts_with("57P") || c == "57014" || c == "25P03"
            }) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Other(other.to_string()),
    }
}

impl EventStore for PgEventStore {
    #[instrument(name = "event_store.append", skip_all, fields(stream = stream_id, events = events.len()), err(level = "debug"))]
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> StoreResult<AppendResult> {
        self.append_one(stream_id, expected, events).await
    }

    #[instrument(name = "event_store.append_multi", skip_all, fields(streams = appends.len()), err(level = "debug"))]
    async fn append_multi(&self, appends: Vec<StreamAppend>) -> StoreResult<Vec<AppendResult>> {
        self.append_streams(appends).await
    }

    fn supports_multi_stream(&self) -> bool {
        true
    }

    #[instrument(name = "event_store.read_stream", skip_all, fields(stream = stream_id), err(level = "debug"))]
    async fn read_stream(&self, stream_id: &str, from: u64) -> StoreResult<Vec<RecordedEvent>> {
        self.read_stream_from(stream_id, from).await
    }

    async fn read_all(
        &self,
        after: Option<Position>,
        limit: usize,
    ) -> StoreResult<Vec<RecordedEvent>> {
        self.read_page(after.unwrap_or(Position::START), limit)
            .await
    }

    fn subscribe_all(&self, after: Option<Position>) -> EventFeed {
        self.feed_after(after)
    }

    async fn head_position(&self) -> StoreResult<Option<Position>> {
        self.head().await
    }

    async fn count_after(&self, after: Option<Position>) -> StoreResult<u64> {
        self.count(after).await
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
