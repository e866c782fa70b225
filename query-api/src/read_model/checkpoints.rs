//! `projection_checkpoints`: where each projection stands.

use chrono::{DateTime, Utc};
use infra::Position;

use super::{ReadModel, ReadModelError, sql};

/// One projection's checkpoint row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckpointRow {
    /// Projection name.
    pub name: String,
    /// State, lower_snake.
    pub state: String,
    /// Major part of the last applied position; NULL before the first batch.
    pub position_major: Option<i64>,
    /// Minor part.
    pub position_minor: Option<i64>,
    /// Events between the checkpoint and the head.
    pub lag_events: i64,
    /// Why it stopped, when failed.
    pub last_error: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl CheckpointRow {
    /// The checkpoint as a position, `None` before the first batch.
    pub fn position(&self) -> Option<Position> {
        let major = u64::try_from(self.position_major?).ok()?;
        let minor = u64::try_from(self.position_minor?).ok()?;
        Some(Position::new(major, minor))
    }
}

const COLUMNS: &str = "name, state, position_major, position_minor, lag_events, last_error, \
     updated_at";

impl ReadModel {
    /// Every projection's checkpoint, by name.
    pub async fn checkpoints(&self) -> Result<Vec<CheckpointRow>, ReadModelError> {
        let sql_text = format!("SELECT {COLUMNS} FROM projection_checkpoints ORDER BY name");
        sqlx::query_as(&sql_text)
            .fetch_all(self.db())
            .await
            .map_err(sql("checkpoints"))
    }

    /// One projection's checkpoint.
    pub async fn checkpoint(&self, name: &str) -> Result<Option<CheckpointRow>, ReadModelError> {
        let sql_text = format!("SELECT {COLUMNS} FROM projection_checkpoints WHERE name = $1");
        sqlx::query_as(&sql_text)
            .bind(name)
            .fetch_optional(self.db())
            .await
            .map_err(sql("checkpoint"))
    }

    /// Whether at least one projection exists and every one has applied `target`.
    pub async fn all_reached(&self, target: Position) -> Result<bool, ReadModelError> {
        // A position beyond i64 cannot be stored in a checkpoint, so it is never reached.
        let (Ok(major), Ok(minor)) = (i64::try_from(target.major), i64::try_from(target.minor))
        else {
            return Ok(false);
        };
        let (total, reached): (i64, i64) = sqlx::query_as(
            "SELECT count(*), \
                    count(*) FILTER (WHERE (position_major, position_minor) >= ($1, $2)) \
             FROM projection_checkpoints",
        )
        .bind(major)
        .bind(minor)
        .fetch_one(self.db())
        .await
        .map_err(sql("all_reached"))?;
        Ok(total > 0 && total == reached)
    }
}
