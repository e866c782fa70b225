//! `projection_checkpoints`: where each projection stands; `projection_parked`: the
//! streams each has parked.

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

/// A stream a projection has parked at an event it cannot apply.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParkedRow {
    /// The stream.
    pub stream_id: String,
    /// Version (in its stream) of the event it is parked at.
    pub version: i64,
    /// That event's position, major part.
    pub position_major: i64,
    /// Minor part.
    pub position_minor: i64,
    /// That event's type.
    pub event_type: String,
    /// Why it could not be applied.
    pub reason: String,
    /// Later events of the stream held back.
    pub held: i64,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

impl ParkedRow {
    /// The parked event's position.
    pub fn position(&self) -> Position {
        Position::new(
            u64::try_from(self.position_major).unwrap_or(0),
            u64::try_from(self.position_minor).unwrap_or(0),
        )
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

    /// The streams projection `name` has parked, oldest first (at most `limit`).
    pub async fn parked(&self, name: &str, limit: i64) -> Result<Vec<ParkedRow>, ReadModelError> {
        sqlx::query_as(
            "SELECT stream_id, version, position_major, position_minor, event_type, reason, \
                    held, parked_at \
             FROM projection_parked WHERE projection = $1 AND NOT rebuild \
             ORDER BY parked_at, stream_id LIMIT $2",
        )
        .bind(name)
        .bind(limit)
        .fetch_all(self.db())
        .await
        .map_err(sql("parked"))
    }

    /// How many streams projection `name` has parked.
    pub async fn parked_count(&self, name: &str) -> Result<i64, ReadModelError> {
        sqlx::query_scalar(
            "SELECT count(*) FROM projection_parked WHERE projection = $1 AND NOT rebuild",
        )
        .bind(name)
        .fetch_one(self.db())
        .await
        .map_err(sql("parked_count"))
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
