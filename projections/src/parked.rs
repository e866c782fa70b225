//! Operators' tools for parked streams (`projections parked | retry | skip`).
//!
//! A projection parks a stream at an event it cannot apply (see the runtime's `park`
//! module); later events of the stream are held. [`retry`] applies the parked event and
//! the held ones again, in order, once the cause is fixed (an upcaster, a corrected
//! event, a new version of the projection). [`skip`] drops the parked event for good,
//! records that as an audit event in the log and a row in `projection_skips`, then
//! applies the held events. Both run in one transaction that first locks the
//! projection's checkpoint row, so the runner's next batch waits for them and sees the
//! stream released; events of the stream after the checkpoint are the runner's to apply.
//! Any event that fails again parks the stream again at that event.

use chrono::{DateTime, Utc};
use infra::{
    AnyEventStore, EventStore, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent,
    StoreError,
};
use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use crate::runtime::checkpoint::{self, Changes};
use crate::runtime::park::{self, as_i64};
use crate::{Projection, ProjectionError};

/// The stream operators' skips are recorded in, as [`SKIP_EVENT_TYPE`] events.
pub const AUDIT_STREAM: &str = "operations-projections";
/// The type of the audit event [`skip`] appends.
pub const SKIP_EVENT_TYPE: &str = "ProjectionEventSkipped";

/// One parked stream of one projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedStream {
    /// The projection.
    pub projection: String,
    /// The stream.
    pub stream_id: String,
    /// The version (in its stream) of the event it is parked at.
    pub version: u64,
    /// That event's place in the log.
    pub position: Position,
    /// That event's type.
    pub event_type: String,
    /// Why it could not be applied (short, without the event's data).
    pub reason: String,
    /// Later events of the stream held back.
    pub held: u64,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
    /// When a retry last failed, if one did.
    pub retried_at: Option<DateTime<Utc>>,
}

/// Failures of [`retry`] and [`skip`]. Nothing changed when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum ParkError {
    /// No projection has that name.
    #[error("no projection named {0:?}")]
    UnknownProjection(String),
    /// The projection has not parked that stream.
    #[error("{projection} has not parked stream {stream}")]
    NotParked {
        /// The projection.
        projection: String,
        /// The stream.
        stream: String,
    },
    /// A held event cannot be decoded either: skip the parked one, and that one parks
    /// the stream; or fix both first.
    #[error("a held event cannot be read either ({0}); fix it (an upcaster) first")]
    HeldUndecodable(String),
    /// The parked event is no longer in the store (its stream was deleted or
    /// truncated): only a skip can release the stream.
    #[error(
        "the event {stream} is parked at (version {version}) is no longer in the store; skip it"
    )]
    EventMissing {
        /// The stream.
        stream: String,
        /// The parked event's version.
        version: u64,
    },
    /// The read-model database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The event store failed.
    #[error("event store error: {0}")]
    Store(#[from] StoreError),
    /// Applying failed in a way that is not the event's fault (retry later).
    #[error(transparent)]
    Apply(#[from] ProjectionError),
}

/// What became of one parked stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// The stream is released: this many events were applied.
    Released {
        /// Events applied (the parked one, unless skipped, and the held ones).
        applied: u64,
    },
    /// It is parked (again) at this version, for this reason.
    Parked {
        /// The version it is parked at now.
        version: u64,
        /// Why.
        reason: String,
    },
}

/// The outcome of releasing one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// The projection.
    pub projection: String,
    /// The stream.
    pub stream_id: String,
    /// What became of it.
    pub release: Release,
}

/// Every stream parked by a live projection, by projection then age.
pub async fn parked(pool: &PgPool) -> Result<Vec<ParkedStream>, sqlx::Error> {
    type Row = (
        String,
        String,
        i64,
        i64,
        i64,
        String,
        String,
        i64,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT projection, stream_id, version, position_major, position_minor, event_type,
                reason, held, parked_at, retried_at
         FROM projection_parked WHERE NOT rebuild
         ORDER BY projection, parked_at, stream_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(projection, stream_id, v, a, b, event_type, reason, held, at, retried)| {
                ParkedStream {
                    projection,
                    stream_id,
                    version: v.max(0) as u64,
                    position: Position::new(a.max(0) as u64, b.max(0) as u64),
                    event_type,
                    reason,
                    held: held.max(0) as u64,
                    parked_at: at,
                    retried_at: retried,
                }
            },
        )
        .collect())
}

/// Applies again the parked event of `stream` (every parked stream of the projection
/// when `None`) and the events held behind it, in order.
pub async fn retry(
    store: &AnyEventStore,
    pool: &PgPool,
    projection: &dyn Projection,
    stream: Option<&str>,
) -> Result<Vec<Released>, ParkError> {
    let streams: Vec<String> = match stream {
        Some(s) => vec![s.to_owned()],
        None => {
            sqlx::query_scalar(
                "SELECT stream_id FROM projection_parked WHERE projection = $1 AND NOT rebuild
             ORDER BY parked_at, stream_id",
            )
            .bind(projection.name())
            .fetch_all(pool)
            .await?
        }
    };
    let mut out = Vec::with_capacity(streams.len());
    for s in streams {
        out.push(release(store, pool, projection, &s, None).await?);
    }
    Ok(out)
}

/// Drops the parked event of `stream` for `projection`: records it as a
/// [`SKIP_EVENT_TYPE`] event by `actor` in [`AUDIT_STREAM`] and a `projection_skips`
/// row, then applies the held events in order.
pub async fn skip(
    store: &AnyEventStore,
    pool: &PgPool,
    projection: &dyn Projection,
    stream: &str,
    reason: &str,
    actor: &str,
) -> Result<Released, ParkError> {
    release(
        store,
        pool,
        projection,
        stream,
        Some(Skip { reason, actor }),
    )
    .await
}

struct Skip<'a> {
    reason: &'a str,
    actor: &'a str,
}

/// The parked row, as [`release`] needs it.
struct Row {
    version: u64,
    last_version: u64,
    position: Position,
    event_type: String,
    reason: String,
    parked_at: DateTime<Utc>,
}

async fn release(
    store: &AnyEventStore,
    pool: &PgPool,
    projection: &dyn Projection,
    stream: &str,
    skip: Option<Skip<'_>>,
) -> Result<Released, ParkError> {
    let name = projection.name();
    // Not an appending connection: this transaction must not hold the feed back.
    let mut conn =
        PgConnection::connect_with(&infra::postgres::non_appending(&pool.connect_options()))
            .await?;
    let mut tx = conn
        .begin_with("BEGIN; SET LOCAL search_path TO rm, public; SET LOCAL lock_timeout = '30s'")
        .await?;
    // The runner's batches start by updating this row: they wait for this transaction.
    let checkpoint: Option<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT state, position_major, position_minor FROM projection_checkpoints
         WHERE name = $1 FOR UPDATE",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((state, major, minor)) = checkpoint else {
        return Err(ParkError::UnknownProjection(name.to_owned()));
    };
    type Stored = (i64, i64, i64, i64, String, String, DateTime<Utc>);
    let row: Option<Stored> = sqlx::query_as(
        "SELECT version, last_version, position_major, position_minor, event_type, reason,
                parked_at
         FROM projection_parked WHERE projection = $1 AND NOT rebuild AND stream_id = $2
         FOR UPDATE",
    )
    .bind(name)
    .bind(stream)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((version, last_version, a, b, event_type, reason, parked_at)) = row else {
        return Err(ParkError::NotParked {
            projection: name.to_owned(),
            stream: stream.to_owned(),
        });
    };
    let row = Row {
        version: version.max(0) as u64,
        last_version: last_version.max(0) as u64,
        position: Position::new(a.max(0) as u64, b.max(0) as u64),
        event_type,
        reason,
        parked_at,
    };
    let from = if skip.is_some() {
        row.version + 1
    } else {
        row.version
    };
    let events = match read_held(store, stream, from, row.last_version).await {
        Ok(events) => events,
        Err(StoreError::Undecodable(u)) if skip.is_none() && u.version == row.version => {
            // Still undecodable: it stays parked, with today's reason.
            let reason = infra::store::short_reason(&u.reason);
            mark_retried(&mut tx, name, stream, &reason).await?;
            tx.commit().await?;
            return Ok(Released {
                projection: name.to_owned(),
                stream_id: stream.to_owned(),
                release: Release::Parked {
                    version: row.version,
                    reason,
                },
            });
        }
        Err(StoreError::Undecodable(u)) => return Err(ParkError::HeldUndecodable(u.to_string())),
        Err(e) => return Err(e.into()),
    };
    if skip.is_none() && events.first().map(|e| e.version) != Some(row.version) {
        return Err(ParkError::EventMissing {
            stream: stream.to_owned(),
            version: row.version,
        });
    }
    sqlx::query(
        "DELETE FROM projection_parked WHERE projection = $1 AND NOT rebuild AND stream_id = $2",
    )
    .bind(name)
    .bind(stream)
    .execute(&mut *tx)
    .await?;
    if let Some(skip) = &skip {
        record_skip(store, &mut tx, name, stream, &row, skip).await?;
    }
    let applied = park::apply(&mut tx, projection, park::Mode::LIVE, &events, &[]).await?;
    let release = match applied.parked.iter().find(|p| p.stream_id == stream) {
        Some(p) => {
            if p.version == row.version {
                // Parked again where it was: keep its age, note the retry.
                sqlx::query(
                    "UPDATE projection_parked SET parked_at = $3, retried_at = now()
                     WHERE projection = $1 AND NOT rebuild AND stream_id = $2",
                )
                .bind(name)
                .bind(stream)
                .bind(row.parked_at)
                .execute(&mut *tx)
                .await?;
            }
            Release::Parked {
                version: p.version,
                reason: p.reason.clone(),
            }
        }
        None => Release::Released {
            applied: events.len() as u64,
        },
    };
    let interviews = projection.changed_interviews(&events);
    let people = projection.changed_people(&events);
    let schedules = projection.changed_schedules(&events);
    let changes = Changes {
        interviews: &interviews,
        people: &people,
        schedules: &schedules,
        swapped: false,
    };
    let position = checkpoint::from_columns(major, minor);
    checkpoint::notify(&mut tx, name, position, &state, changes).await?;
    tx.commit().await?;
    let _ = conn.close().await;
    tracing::info!(projection = name, stream, outcome = ?release,
        skipped = skip.is_some(), "parked stream released");
    Ok(Released {
        projection: name.to_owned(),
        stream_id: stream.to_owned(),
        release,
    })
}

/// The events of `stream` from version `from` through `last` (the held ones).
async fn read_held(
    store: &AnyEventStore,
    stream: &str,
    from: u64,
    last: u64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    if from > last {
        return Ok(Vec::new());
    }
    let mut events = store.read_stream(stream, from).await?;
    events.retain(|e| e.version <= last);
    Ok(events)
}

async fn mark_retried(
    conn: &mut PgConnection,
    name: &str,
    stream: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_parked SET reason = $3, retried_at = now()
         WHERE projection = $1 AND NOT rebuild AND stream_id = $2",
    )
    .bind(name)
    .bind(stream)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends the audit event of a skip, then records it in `projection_skips` (in the
/// caller's transaction: if that does not commit, the log says more than happened,
/// never less).
async fn record_skip(
    store: &AnyEventStore,
    conn: &mut PgConnection,
    name: &str,
    stream: &str,
    row: &Row,
    skip: &Skip<'_>,
) -> Result<(), ParkError> {
    let event_id = Uuid::new_v4();
    let mut metadata = Metadata::anonymous();
    metadata.actor = skip.actor.to_owned();
    let data = json!({
        "projection": name,
        "streamId": stream,
        "version": row.version,
        "position": row.position.to_string(),
        "eventType": row.event_type,
        "error": row.reason,
        "reason": skip.reason,
    });
    store
        .append(
            AUDIT_STREAM,
            ExpectedVersion::Any,
            vec![NewEvent {
                event_id,
                event_type: SKIP_EVENT_TYPE.to_owned(),
                data,
                metadata,
            }],
        )
        .await?;
    sqlx::query(
        "INSERT INTO projection_skips (projection, stream_id, version, position_major,
             position_minor, event_type, error, reason, actor, audit_event_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(name)
    .bind(stream)
    .bind(as_i64(row.version))
    .bind(as_i64(row.position.major))
    .bind(as_i64(row.position.minor))
    .bind(&row.event_type)
    .bind(&row.reason)
    .bind(skip.reason)
    .bind(skip.actor)
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    tracing::warn!(projection = name, stream, version = row.version, actor = skip.actor,
        audit_event = %event_id, "parked event skipped by an operator");
    Ok(())
}
