//! `history` and `asOf`: read from the event store itself, not from a projection.

use async_graphql::SimpleObject;
use chrono::Utc;
use domain::interview::{self, InterviewEvent};
use domain::{Aggregate, DomainEvent, InterviewAggregate};
use infra::{AnyEventStore, EventStore, RecordedEvent, StoreError};
use uuid::Uuid;

use super::enums::InterviewStatus;
use super::interview::int;
use super::scalars::DateTime;
use crate::error::QueryResult;
use crate::viewer::Viewer;

/// One event of an interview's stream.
#[derive(SimpleObject, Debug, Clone)]
pub struct HistoryEntry {
    /// 1 for the first event of the stream.
    pub version: i32,
    /// Place in the global order, as `X-Min-Position` takes it.
    pub position: String,
    /// Event type, e.g. `InterviewScheduled`.
    #[graphql(name = "type")]
    pub event_type: String,
    /// When the command was decided.
    pub occurred_at: DateTime,
    /// Who issued the command: the verified token's subject (for events written before
    /// tokens, the then self-declared actor).
    pub actor: String,
    /// The actor's display name, when its token carried one.
    pub actor_name: Option<String>,
    /// The person the actor is, when its token mapped to one.
    pub actor_person: Option<Uuid>,
    /// The person a `service` actor acted for.
    pub on_behalf_of: Option<Uuid>,
    /// Groups the events of one request.
    pub correlation_id: Option<Uuid>,
    /// What caused this event.
    pub causation_id: Option<Uuid>,
    /// The event's data.
    pub data: serde_json::Value,
}

impl From<RecordedEvent> for HistoryEntry {
    fn from(e: RecordedEvent) -> Self {
        HistoryEntry {
            version: int(i64::try_from(e.version).unwrap_or(i64::MAX)),
            position: e.position.to_string(),
            event_type: e.event_type,
            occurred_at: e.metadata.occurred_at.into(),
            actor: e.metadata.actor,
            actor_name: e.metadata.actor_name,
            actor_person: e.metadata.actor_person,
            on_behalf_of: e.metadata.on_behalf_of,
            correlation_id: e.metadata.correlation_id,
            causation_id: e.metadata.causation_id,
            data: e.data,
        }
    }
}

/// An interview rebuilt from a prefix of its stream.
#[derive(SimpleObject, Debug, Clone)]
pub struct InterviewSnapshot {
    /// Status then.
    pub status: InterviewStatus,
    /// Start then.
    pub starts_at: DateTime,
    /// End then.
    pub ends_at: DateTime,
    /// The panel then.
    pub interviewer_ids: Vec<Uuid>,
    /// Events applied by then.
    pub version: i32,
    /// Who issued the last of those events (the token's subject).
    pub last_actor: String,
    /// The person that actor is, when its token mapped to one.
    pub last_actor_person: Option<Uuid>,
    /// The person a `service` acted for in that event.
    pub last_on_behalf_of: Option<Uuid>,
}

/// The stream of interview `id` in the viewer's tenant: another tenant's interview of the
/// same id is another stream, never read here.
async fn stream(
    store: &AnyEventStore,
    viewer: &Viewer,
    id: Uuid,
) -> QueryResult<Vec<RecordedEvent>> {
    let name = InterviewAggregate::stream_in(&viewer.tenant, id);
    Ok(store.read_stream(&name, 1).await?)
}

/// The interview's stream, oldest first.
pub(crate) async fn history(
    store: &AnyEventStore,
    viewer: &Viewer,
    id: Uuid,
) -> QueryResult<Vec<HistoryEntry>> {
    Ok(stream(store, viewer, id)
        .await?
        .into_iter()
        .map(HistoryEntry::from)
        .collect())
}

/// The interview as of `at`: its events up to the first one that occurred after `at`,
/// folded with the domain's own `evolve`. `None` when it was not scheduled yet.
pub(crate) async fn as_of(
    store: &AnyEventStore,
    viewer: &Viewer,
    id: Uuid,
    at: chrono::DateTime<Utc>,
) -> QueryResult<Option<InterviewSnapshot>> {
    let mut state = None;
    let mut last = None;
    for event in stream(store, viewer, id).await? {
        // A stream's events are appended in decision order, so the first event after
        // `at` ends the prefix that existed at `at`.
        if event.metadata.occurred_at > at {
            break;
        }
        let decoded = InterviewEvent::from_data(&event.event_type, event.data).map_err(|e| {
            StoreError::Decode(format!("{} v{}: {e}", event.stream_id, event.version))
        })?;
        state = interview::evolve(state, &decoded);
        last = Some(event.metadata);
    }
    let last = last.unwrap_or_else(infra::Metadata::anonymous);
    Ok(state.map(|iv| InterviewSnapshot {
        last_actor: last.actor,
        last_actor_person: last.actor_person,
        last_on_behalf_of: last.on_behalf_of,
        status: iv.status,
        starts_at: iv.starts_at.into(),
        ends_at: iv.ends_at.into(),
        interviewer_ids: iv.interviewer_ids,
        version: int(i64::try_from(iv.version).unwrap_or(i64::MAX)),
    }))
}
