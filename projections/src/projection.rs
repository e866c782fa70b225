//! What a projection is to the runtime.

use futures::future::BoxFuture;
use infra::RecordedEvent;
use sqlx::PgConnection;

/// Why a projection could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The event is not what the handler can apply (bad data, impossible sequence).
    /// The projection stops at it (FAILED); it is never skipped.
    #[error("cannot apply {event_type} v{version} of {stream} at {position}: {message}")]
    Poison {
        /// Stream of the event.
        stream: String,
        /// Its version.
        version: u64,
        /// Its type.
        event_type: String,
        /// Its global position, printed.
        position: String,
        /// What is wrong.
        message: String,
    },
    /// The database failed; transient ones are retried with backoff.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl ProjectionError {
    /// A poison error naming the event.
    pub fn poison(event: &RecordedEvent, message: impl Into<String>) -> Self {
        ProjectionError::Poison {
            stream: event.stream_id.clone(),
            version: event.version,
            event_type: event.event_type.clone(),
            position: event.position.to_string(),
            message: message.into(),
        }
    }
}

/// A read model built from the event log.
///
/// The runtime opens a transaction, sets `search_path` to the target schema (`rm`, or a
/// shadow schema during a rebuild), calls [`Projection::apply`] with a batch, writes the
/// checkpoint and commits. Handlers use unqualified table names and upserts keyed by
/// ids, so a replay from zero yields the same tables as the live run.
pub trait Projection: Send + Sync + 'static {
    /// Stable name, e.g. `interviews`.
    fn name(&self) -> &'static str;
    /// DDL of its tables (idempotent `CREATE … IF NOT EXISTS`, unqualified names).
    fn ddl(&self) -> &'static str;
    /// The tables it owns (moved together when a rebuild swaps them in).
    fn tables(&self) -> &'static [&'static str];
    /// Applies a batch in order. Events it does not care about are ignored.
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;
}
