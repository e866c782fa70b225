//! `ProjectionStatus`: where each projection stands, from `projection_checkpoints`.

use async_graphql::SimpleObject;

use super::enums::{ProjectionState, Stored};
use super::interview::int;
use super::scalars::DateTime;
use crate::error::QueryError;
use crate::notify::ProjectionNotice;
use crate::read_model::CheckpointRow;

/// One projection's progress.
#[derive(SimpleObject, Debug, Clone)]
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
