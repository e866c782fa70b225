//! Startup (`prepare`: runtime tables and every read model's tables) and the status view.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use infra::Position;
use sqlx::{PgConnection, PgPool};

use crate::rls;
use crate::runtime::checkpoint::from_columns;
use crate::support::script;
use crate::{MIGRATOR, Projection, READ_SCHEMA};

/// Where a projection is, as stored in `projection_checkpoints.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProjectionState {
    /// Behind the head of the log.
    CatchingUp,
    /// Caught up; applying new events as they come.
    Live,
    /// A rebuild is replaying the log into shadow tables.
    Rebuilding,
    /// Stopped: its own bookkeeping failed for good; see `last_error`. (An event it
    /// cannot apply parks that event's stream instead: see [`crate::parked`].)
    Failed,
    /// No runner is active.
    Stopped,
}

impl ProjectionState {
    /// Every state.
    pub const ALL: &'static [ProjectionState] = &[
        ProjectionState::CatchingUp,
        ProjectionState::Live,
        ProjectionState::Rebuilding,
        ProjectionState::Failed,
        ProjectionState::Stopped,
    ];

    /// The stored (lowercase) name, e.g. `catching_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectionState::CatchingUp => "catching_up",
            ProjectionState::Live => "live",
            ProjectionState::Rebuilding => "rebuilding",
            ProjectionState::Failed => "failed",
            ProjectionState::Stopped => "stopped",
        }
    }

    /// The stored name parsed; unknown names read as `Stopped`.
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .iter()
            .copied()
            .find(|st| st.as_str() == s)
            .unwrap_or(ProjectionState::Stopped)
    }

    pub(crate) fn from_index(i: u8) -> Self {
        Self::ALL
            .get(usize::from(i))
            .copied()
            .unwrap_or(ProjectionState::Stopped)
    }
}

impl std::fmt::Display for ProjectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `projections status`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionStatusRow {
    /// The projection's name.
    pub name: String,
    /// Its state.
    pub state: ProjectionState,
    /// The checkpoint printed (`"a-b"`), `None` before the first event.
    pub position: Option<String>,
    /// The checkpoint itself, for comparisons (read-your-writes).
    pub checkpoint: Option<Position>,
    /// Events in the store after the checkpoint, as last measured.
    pub lag_events: i64,
    /// Events applied since the projection was created (or rebuilt).
    pub events_applied: i64,
    /// Why it failed, when it did.
    pub last_error: Option<String>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
    /// Streams it has parked (see [`crate::parked`]).
    pub parked_streams: i64,
}

/// Failures of [`prepare`].
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A statement failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration applied earlier differs from the one built into this program.
    #[error("projection migration {version} was applied with different contents")]
    ChangedMigration {
        /// Its version.
        version: i64,
    },
}

/// Every projection's checkpoint row, by name.
pub async fn status(pool: &PgPool) -> Result<Vec<ProjectionStatusRow>, sqlx::Error> {
    type Row = (
        String,
        String,
        Option<i64>,
        Option<i64>,
        i64,
        i64,
        Option<String>,
        DateTime<Utc>,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT name, state, position_major, position_minor, lag_events, events_applied,
                last_error, updated_at,
                (SELECT count(*) FROM projection_parked p
                 WHERE p.projection = c.name AND NOT p.rebuild) AS parked
         FROM projection_checkpoints c ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, state, a, b, lag, applied, last_error, updated_at, parked)| {
                let checkpoint = from_columns(a, b);
                ProjectionStatusRow {
                    name,
                    state: ProjectionState::parse(&state),
                    position: checkpoint.map(|p| p.to_string()),
                    checkpoint,
                    lag_events: lag,
                    events_applied: applied,
                    last_error,
                    updated_at,
                    parked_streams: parked,
                }
            },
        )
        .collect())
}

/// Creates the runtime's tables ([`MIGRATOR`]), the schema [`READ_SCHEMA`], the tables of
/// every projection of [`crate::all`] in it, and a checkpoint row per projection (so that
/// `status` and read-your-writes waits know them before their first batch). Idempotent;
/// concurrent callers wait for each other.
pub async fn prepare(pool: &PgPool) -> Result<(), SetupError> {
    prepare_with(pool, &crate::all()).await
}

/// [`prepare`] for a chosen set of projections.
pub async fn prepare_with(
    pool: &PgPool,
    projections: &[Arc<dyn Projection>],
) -> Result<(), SetupError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(1229737984, 1)")
        .execute(&mut *tx)
        .await?;
    migrate(&mut tx).await?;
    script(&mut tx, &rls::role_sql(READ_SCHEMA)).await?;
    for p in projections {
        reset_if_reshaped(&mut tx, p.as_ref()).await?;
        create_tables(&mut tx, p.as_ref(), READ_SCHEMA, Ddl::All).await?;
        sqlx::query(
            "INSERT INTO projection_checkpoints (name, state, ddl_version)
             VALUES ($1, 'stopped', $2)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(p.name())
        .bind(p.ddl_version())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// When the tables of `projection` in [`READ_SCHEMA`] have an older shape than its DDL
/// ([`Projection::ddl_version`] differs from the checkpoint row's), drops them and moves
/// the checkpoint back to the start: the runner then replays the whole log into the new
/// tables (read models are derived data; the log is the truth). Until it has caught up
/// the query API answers from a partial read model, as after a first start.
async fn reset_if_reshaped(
    conn: &mut PgConnection,
    projection: &dyn Projection,
) -> Result<(), sqlx::Error> {
    let stored: Option<i32> =
        sqlx::query_scalar("SELECT ddl_version FROM projection_checkpoints WHERE name = $1")
            .bind(projection.name())
            .fetch_optional(&mut *conn)
            .await?;
    let wanted = projection.ddl_version();
    let Some(stored) = stored.filter(|v| *v != wanted) else {
        return Ok(());
    };
    let mut sql = String::new();
    for table in projection.tables() {
        sql.push_str(&format!(
            "DROP TABLE IF EXISTS \"{READ_SCHEMA}\".\"{table}\" CASCADE;\n"
        ));
    }
    script(&mut *conn, &sql).await?;
    // Replayed from the start, it meets whatever it parked again.
    sqlx::query("DELETE FROM projection_parked WHERE projection = $1")
        .bind(projection.name())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE projection_checkpoints SET position_major = NULL, position_minor = NULL,
             state = 'stopped', lag_events = 0, events_applied = 0, last_error = NULL,
             ddl_version = $2, updated_at = now()
         WHERE name = $1",
    )
    .bind(projection.name())
    .bind(wanted)
    .execute(&mut *conn)
    .await?;
    tracing::warn!(
        projection = projection.name(),
        from = stored,
        to = wanted,
        "read model tables have an old shape: dropped, to be rebuilt from the log"
    );
    Ok(())
}

/// Which statements of a projection's DDL to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ddl {
    /// Everything.
    All,
    /// All but `CREATE INDEX`: a rebuild fills the tables first and indexes them after,
    /// which is much cheaper than keeping (GIN) indexes up to date row by row.
    Tables,
    /// Only the `CREATE INDEX` statements.
    Indexes,
}

/// The statements of a DDL script (comment lines dropped), with whether each creates an
/// index. DDL files keep `;` out of statements' text and out of inline comments.
pub(crate) fn statements(ddl: &str) -> Vec<(bool, String)> {
    let code: String = ddl
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let upper = s.to_ascii_uppercase();
            let index =
                upper.starts_with("CREATE INDEX") || upper.starts_with("CREATE UNIQUE INDEX");
            (index, s.to_owned())
        })
        .collect()
}

/// Runs (part of) `projection`'s DDL in `schema`, inside the caller's transaction.
pub(crate) async fn create_tables(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    schema: &str,
    part: Ddl,
) -> Result<(), sqlx::Error> {
    let mut sql = format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET LOCAL search_path TO \"{schema}\", public;\n"
    );
    for (index, statement) in statements(projection.ddl()) {
        let wanted = match part {
            Ddl::All => true,
            Ddl::Tables => !index,
            Ddl::Indexes => index,
        };
        if wanted {
            sql.push_str(&statement);
            sql.push_str(";\n");
        }
    }
    if part != Ddl::Indexes {
        for table in projection.tables() {
            sql.push_str(&rls::table_sql(table));
        }
    }
    sql.push_str("SET LOCAL search_path TO DEFAULT");
    script(conn, &sql).await
}

/// Applies [`MIGRATOR`]'s migrations not applied yet. Versions are recorded in
/// `projection_migrations`, not in sqlx's `_sqlx_migrations`: the event store's migrator
/// keeps its versions there, and two migrators sharing one table each see the other's
/// versions as unknown.
async fn migrate(conn: &mut PgConnection) -> Result<(), SetupError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS projection_migrations (
             version bigint PRIMARY KEY,
             description text NOT NULL,
             checksum bytea NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&mut *conn)
    .await?;
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM projection_migrations")
            .fetch_all(&mut *conn)
            .await?;
    for m in MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
    {
        if let Some((_, checksum)) = applied.iter().find(|(v, _)| *v == m.version) {
            if checksum.as_slice() != &*m.checksum {
                return Err(SetupError::ChangedMigration { version: m.version });
            }
            continue;
        }
        script(&mut *conn, &m.sql).await?;
        sqlx::query(
            "INSERT INTO projection_migrations (version, description, checksum) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(&*m.description)
        .bind(&*m.checksum)
        .execute(&mut *conn)
        .await?;
        tracing::info!(version = m.version, "applied projection migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ddl_splits_into_tables_then_indexes() {
        for p in crate::all() {
            for line in p.ddl().lines() {
                // Whole-line comments are dropped before splitting; inline ones are not.
                if line.trim_start().starts_with("--") {
                    continue;
                }
                if let Some((_, comment)) = line.split_once("--") {
                    assert!(
                        !comment.contains(';'),
                        "{}: ';' in a comment: {line}",
                        p.name()
                    );
                }
            }
            let statements = statements(p.ddl());
            assert!(statements.iter().any(|(index, _)| !index), "{}", p.name());
            for (index, s) in &statements {
                if *index {
                    assert!(s.contains("IF NOT EXISTS"), "{}: {s}", p.name());
                }
            }
        }
        let interviews = statements(crate::interviews::Interviews.ddl());
        assert_eq!(interviews.iter().filter(|(i, _)| *i).count(), 5);
    }
}
