//! `ProjectionStatus`: where each projection stands, from `projection_checkpoints`.

use async_graphql::{ComplexObject, Context, SimpleObject};

use super::enums::{ProjectionState, Stored};
use super::interview::int;
use super::scalars::DateTime;
use crate::error::{QueryError, QueryResult};
use crate::notify::ProjectionNotice;
use crate::read_model::{CheckpointRow, ParkedRow};

/// Parked streams listed at most by `ProjectionStatus.parked`.
const PARKED_LIST_MAX: i64 = 100;

/// One projection's progress.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct ProjectionStatus {
    /// Projection name.
    pub name: String,
    /// What it is doing.
    pub state: ProjectionState,
    /// The last position it applied; null before its first batch.
    pub position: Option<String>,
    /// Events between its checkpoint and the head of the log.
    pub lag_events: i32,
    /// Why it stopped, when failed.
    pub last_error: Option<String>,
    /// Last change of its checkpoint.
    pub updated_at: Option<DateTime>,
}

/// A stream the projection has parked at an event it cannot apply (undecodable, or its
/// apply fails for good). Its later events are held until an operator retries or skips
/// it (`interview-ledger projections retry | skip`); every other stream goes on.
#[derive(SimpleObject, Debug, Clone)]
pub struct ParkedStream {
    /// The stream.
    pub stream: String,
    /// Version (in the stream) of the event it is parked at.
    pub version: i32,
    /// That event's position in the log.
    pub position: String,
    /// That event's type.
    pub event_type: String,
    /// Why it could not be applied (short, without the event's data).
    pub reason: String,
    /// Later events of the stream held back.
    pub held: i32,
    /// When it was parked.
    pub since: DateTime,
}

impl From<ParkedRow> for ParkedStream {
    fn from(row: ParkedRow) -> Self {
        ParkedStream {
            position: row.position().to_string(),
            version: int(row.version),
            held: int(row.held),
            since: row.parked_at.into(),
            stream: row.stream_id,
            event_type: row.event_type,
            reason: row.reason,
        }
    }
}

#[ComplexObject]
impl ProjectionStatus {
    /// How many streams it has parked.
    async fn parked_count(&self, ctx: &Context<'_>) -> QueryResult<i32> {
        let n = super::query_ctx(ctx)
            .read_model()
            .parked_count(&self.name)
            .await?;
        Ok(int(n))
    }

    /// The streams it has parked, oldest first (at most 100; `parkedCount` has them all).
    async fn parked(&self, ctx: &Context<'_>) -> QueryResult<Vec<ParkedStream>> {
        let rows = super::query_ctx(ctx)
            .read_model()
            .parked(&self.name, PARKED_LIST_MAX)
            .await?;
        Ok(rows.into_iter().map(ParkedStream::from).collect())
    }
}

impl TryFrom<CheckpointRow> for ProjectionStatus {
    type Error = QueryError;

    fn try_from(row: CheckpointRow) -> Result<Self, Self::Error> {
        Ok(ProjectionStatus {
            state: ProjectionState::from_stored(&row.state)?,
            position: row.position().map(|p| p.to_string()),
            lag_events: int(row.lag_events),
            last_error: row.last_error,
            updated_at: Some(row.updated_at.into()),
            name: row.name,
        })
    }
}

impl ProjectionStatus {
    /// What a notification alone says, when the checkpoint row cannot be read.
    pub(crate) fn from_notice(notice: ProjectionNotice) -> Result<Self, QueryError> {
        let state = notice.state.as_deref().unwrap_or("live");
        Ok(ProjectionStatus {
            state: ProjectionState::from_stored(state)?,
            position: notice.position,
            lag_events: 0,
            last_error: None,
            updated_at: None,
            name: notice.name,
        })
    }
}
