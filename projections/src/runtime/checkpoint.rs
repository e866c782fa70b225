//! The checkpoint row of a projection: position, state, lag, counters, last error.

use infra::Position;
use infra::notify::{ProjectionNotice, ProjectorNotice};
use sqlx::PgConnection;

use super::lock::{LockKind, held_sql, keys};
use crate::setup::ProjectionState;

/// A position as its two columns.
pub(crate) fn columns(position: Option<Position>) -> (Option<i64>, Option<i64>) {
    match position {
        Some(p) => (Some(p.major as i64), Some(p.minor as i64)),
        None => (None, None),
    }
}

/// A position from its two columns (`None` until something was applied).
pub(crate) fn from_columns(major: Option<i64>, minor: Option<i64>) -> Option<Position> {
    match (major, minor) {
        (Some(a), Some(b)) => Some(Position::new(a as u64, b as u64)),
        _ => None,
    }
}

/// Creates the row if missing and returns its position.
pub(crate) async fn load(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<Position>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (name, state) VALUES ($1, 'stopped')
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .execute(&mut *conn)
    .await?;
    let (a, b): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT position_major, position_minor FROM projection_checkpoints WHERE name = $1",
    )
    .bind(name)
    .fetch_one(conn)
    .await?;
    Ok(from_columns(a, b))
}

/// The `state` expression of a runner's updates, `$state` being the runner's state and
/// `$a`, `$b` the keys of the projection's rebuild lock: a rebuild in progress keeps
/// showing as `rebuilding`; once no session holds its lock (it finished, or died), the
/// runner's state takes over again.
fn state_expr(state: &str, a: &str, b: &str) -> String {
    format!(
        "CASE WHEN state = 'rebuilding' THEN
             CASE WHEN {} THEN 'rebuilding' ELSE {state} END
         ELSE {state} END",
        held_sql(a, b)
    )
}

/// Sets state and lag without moving the position. Returns the state now stored.
pub(crate) async fn set_state(
    conn: &mut PgConnection,
    name: &str,
    state: ProjectionState,
    lag: u64,
) -> Result<String, sqlx::Error> {
    let (a, b) = keys(LockKind::Rebuild, name);
    let sql = format!(
        "UPDATE projection_checkpoints SET state = {}, lag_events = $3, updated_at = now()
         WHERE name = $1 RETURNING state",
        state_expr("$2", "$4", "$5")
    );
    sqlx::query_scalar(&sql)
        .bind(name)
        .bind(state.as_str())
        .bind(lag as i64)
        .bind(a)
        .bind(b)
        .fetch_one(conn)
        .await
}

/// What a batch writes into the checkpoint row.
pub(crate) struct Advance<'a> {
    pub name: &'a str,
    pub from: Option<Position>,
    pub to: Position,
    pub state: ProjectionState,
    pub lag: u64,
    pub applied: u64,
}

/// Moves the checkpoint from `from` to `to`, but only if it still is at `from`: it is the
/// first statement of a batch's transaction, so it also locks the row against a rebuild
/// swapping tables in. `None` when the row moved elsewhere (a rebuild swapped in another
/// position): the batch must be rolled back and the runner restart from the row.
pub(crate) async fn advance(
    conn: &mut PgConnection,
    a: &Advance<'_>,
) -> Result<Option<String>, sqlx::Error> {
    let (from_major, from_minor) = columns(a.from);
    let (to_major, to_minor) = columns(Some(a.to));
    let (ka, kb) = keys(LockKind::Rebuild, a.name);
    let sql = format!(
        "UPDATE projection_checkpoints SET
             position_major = $2, position_minor = $3, state = {},
             lag_events = $5, events_applied = events_applied + $6, last_error = NULL,
             updated_at = now()
         WHERE name = $1 AND position_major IS NOT DISTINCT FROM $7
           AND position_minor IS NOT DISTINCT FROM $8
         RETURNING state",
        state_expr("$4", "$9", "$10")
    );
    sqlx::query_scalar(&sql)
        .bind(a.name)
        .bind(to_major)
        .bind(to_minor)
        .bind(a.state.as_str())
        .bind(a.lag as i64)
        .bind(a.applied as i64)
        .bind(from_major)
        .bind(from_minor)
        .bind(ka)
        .bind(kb)
        .fetch_optional(conn)
        .await
}

/// Marks the projection failed with `error`, and tells listeners.
pub(crate) async fn fail(
    conn: &mut PgConnection,
    name: &str,
    position: Option<Position>,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints SET state = 'failed', last_error = $2, updated_at = now()
         WHERE name = $1",
    )
    .bind(name)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    notify(
        conn,
        name,
        position,
        ProjectionState::Failed.as_str(),
        Changes::default(),
    )
    .await
}

/// What a batch (or a swap) tells listeners besides its position.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Changes<'a> {
    /// Interviews whose read model changed ([`crate::INTERVIEW_CHANNEL`]).
    pub interviews: &'a [(domain::Tenant, uuid::Uuid)],
    /// People whose row changed ([`crate::PERSON_CHANNEL`]).
    pub people: &'a [(domain::Tenant, uuid::Uuid)],
    /// People whose schedule changed ([`crate::SCHEDULE_CHANNEL`]).
    pub schedules: &'a [(domain::Tenant, uuid::Uuid)],
    /// A rebuild swapped the projection's tables in: anything of it may have changed.
    pub swapped: bool,
}

/// Sends the batch's notifications (delivered when the surrounding transaction commits),
/// in one statement and in a fixed order: each changed interview, each changed person,
/// each changed schedule, then the position on [`crate::PROJECTION_CHANNEL`]. PostgreSQL
/// delivers one transaction's notifications together and in the order sent, so a
/// listener that has seen the position has seen the changes before it.
pub(crate) async fn notify(
    conn: &mut PgConnection,
    name: &str,
    position: Option<Position>,
    state: &str,
    changes: Changes<'_>,
) -> Result<(), sqlx::Error> {
    let batch = ProjectionNotice {
        name: name.to_owned(),
        position: position.map(|p| p.to_string()),
        state: Some(state.to_owned()),
        swapped: changes.swapped,
    };
    let notices = changes
        .interviews
        .iter()
        .map(|(t, id)| ProjectorNotice::InterviewChanged(t.to_string(), *id))
        .chain(
            changes
                .people
                .iter()
                .map(|(t, id)| ProjectorNotice::PersonChanged(t.to_string(), *id)),
        )
        .chain(
            changes
                .schedules
                .iter()
                .map(|(t, id)| ProjectorNotice::ScheduleChanged(t.to_string(), *id)),
        )
        .chain([ProjectorNotice::Projection(batch)]);
    let (channels, payloads): (Vec<&str>, Vec<String>) =
        notices.map(|n| (n.channel(), n.payload())).unzip();
    // `unnest` yields the rows in array order and nothing reorders them before the
    // aggregate, so `pg_notify` runs in that order.
    sqlx::query("SELECT count(pg_notify(c, p)) FROM unnest($1::text[], $2::text[]) AS n(c, p)")
        .bind(channels)
        .bind(payloads)
        .execute(conn)
        .await?;
    Ok(())
}
