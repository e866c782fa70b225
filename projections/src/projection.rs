//! What a projection is to the runtime.

use domain::Tenant;
use futures::future::BoxFuture;
use infra::RecordedEvent;
use sqlx::PgConnection;
use uuid::Uuid;

/// Why a projection could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The event is not what the handler can apply (bad data, impossible sequence).
    /// The projection parks the event's stream at it (its later events wait, the rest of
    /// the log goes on); it is never skipped but by an operator (`projections skip`).
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
    /// Whether retrying the same batch can succeed: lost connections, serialization
    /// failures and deadlocks (SQLSTATE class 40), lock timeouts, lack of resources,
    /// shutdowns. Data and constraint errors and poison events fail the same way every
    /// time, so they park the event's stream instead.
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectionError::Poison { .. } => false,
            ProjectionError::Db(sqlx::Error::Database(e)) => {
                let code = e.code();
                let code = code.as_deref().unwrap_or("");
                ["08", "40", "53", "55P03", "57", "58"]
                    .iter()
                    .any(|class| code.starts_with(class))
            }
            ProjectionError::Db(
                sqlx::Error::ColumnDecode { .. }
                | sqlx::Error::ColumnNotFound(_)
                | sqlx::Error::ColumnIndexOutOfBounds { .. }
                | sqlx::Error::Decode(_)
                | sqlx::Error::Encode(_)
                | sqlx::Error::TypeNotFound { .. },
            ) => false,
            ProjectionError::Db(_) => true,
        }
    }
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
    /// DDL of its tables: idempotent (`CREATE … IF NOT EXISTS`), unqualified names,
    /// statements separated by `;` with none inside a statement or an inline comment.
    /// A rebuild runs the `CREATE INDEX` statements only after the tables are filled.
    fn ddl(&self) -> &'static str;
    /// The tables it owns (moved together when a rebuild swaps them in). Every one has a
    /// `tenant` column: row-level security is set up on each of them.
    fn tables(&self) -> &'static [&'static str];
    /// The shape of its tables. When it differs from the one recorded in the projection's
    /// checkpoint row, [`crate::prepare`] drops the tables and moves the checkpoint back
    /// to the start of the log, so the runner rebuilds them from the events. Raise it
    /// whenever [`Projection::ddl`] changes in a way `CREATE … IF NOT EXISTS` cannot bring
    /// an existing database to.
    fn ddl_version(&self) -> i32 {
        1
    }
    /// Applies a batch in order, inside the runtime's transaction. Events it does not care
    /// about are ignored; an event its rows already reflect (stream version not above the
    /// stored one) is skipped, and a gap in a stream's versions is a poison event.
    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;
    /// The interviews (tenant, id) whose read model a batch changes: the runtime sends one
    /// `NOTIFY` on [`crate::INTERVIEW_CHANNEL`] per id when the batch commits. Only the
    /// projection that owns the `interviews` table answers anything.
    fn changed_interviews(&self, events: &[RecordedEvent]) -> Vec<(Tenant, Uuid)> {
        let _ = events;
        Vec::new()
    }
    /// The people whose `people` row a batch may change: the runtime sends one `NOTIFY`
    /// on [`crate::PERSON_CHANNEL`] per id when the batch commits, so that caches of that
    /// row drop it. Only the projection that owns the `people` table answers anything.
    fn changed_people(&self, events: &[RecordedEvent]) -> Vec<(Tenant, Uuid)> {
        let _ = events;
        Vec::new()
    }
    /// The people whose schedule (owner row, availability windows or bookings) a batch
    /// may change: the runtime sends one `NOTIFY` on [`crate::SCHEDULE_CHANNEL`] per id
    /// when the batch commits, so that caches of those schedules drop them. Only the
    /// projection that owns the schedule tables answers anything.
    fn changed_schedules(&self, events: &[RecordedEvent]) -> Vec<(Tenant, Uuid)> {
        let _ = events;
        Vec::new()
    }
}
