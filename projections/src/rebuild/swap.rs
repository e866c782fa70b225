//! The last step of a rebuild: tail and swap in one transaction.

use std::sync::Arc;

use infra::{AnyEventStore, Position};
use sqlx::{Connection, PgConnection};

use super::{Items, PAGE_SIZE, RebuildError, Reporter, read_items, shadow_schema};
use crate::progress::Progress;
use crate::runtime::checkpoint::{self, Changes, columns};
use crate::runtime::lock::{LockKind, held_sql, keys};
use crate::runtime::park;
use crate::support::script;
use crate::{Projection, READ_SCHEMA};

/// Locks the checkpoint rows, applies the events after `position` to the shadows, swaps
/// every projection's tables in and moves its checkpoint. Returns the final count and
/// position.
pub(super) async fn swap_in<F: Fn(Progress) + Send + Sync>(
    store: &AnyEventStore,
    conn: &mut PgConnection,
    projections: &[Arc<dyn Projection>],
    mut events: u64,
    mut position: Option<Position>,
    reporter: &mut Reporter<'_, F>,
) -> Result<(u64, Option<Position>), RebuildError> {
    let mut tx = conn
        .begin_with("BEGIN; SET LOCAL lock_timeout = '30s'")
        .await?;
    let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    sqlx::query(
        "SELECT name FROM projection_checkpoints WHERE name = ANY($1) ORDER BY name FOR UPDATE",
    )
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    loop {
        let page = read_items(store, position, PAGE_SIZE).await?;
        let Some(last) = page.last() else {
            break;
        };
        apply_to_shadows(&mut tx, projections, &page).await?;
        events += page.len() as u64;
        position = Some(last);
        reporter.report(events);
    }
    for p in projections {
        swap(&mut tx, p.as_ref(), position, events).await?;
    }
    tx.commit().await?;
    reporter.report(events);
    Ok((events, position))
}

async fn apply_to_shadows(
    tx: &mut PgConnection,
    projections: &[Arc<dyn Projection>],
    page: &Items,
) -> Result<(), RebuildError> {
    for p in projections {
        let schema = shadow_schema(p.name());
        script(
            &mut *tx,
            &format!("SET LOCAL search_path TO \"{schema}\", public"),
        )
        .await?;
        park::apply(
            tx,
            p.as_ref(),
            park::Mode::REBUILD,
            &page.events,
            &page.undecodable,
        )
        .await?;
    }
    Ok(())
}

/// Moves the live tables out and the shadow tables in, and points the checkpoint at
/// `position`: the runner shows `live` if one holds the projection's lock, else `stopped`.
async fn swap(
    tx: &mut PgConnection,
    p: &dyn Projection,
    position: Option<Position>,
    events: u64,
) -> Result<(), RebuildError> {
    let name = p.name();
    let shadow = shadow_schema(name);
    let trash = format!("rm_trash_{name}");
    let mut sql = format!(
        "DROP SCHEMA IF EXISTS \"{trash}\" CASCADE; CREATE SCHEMA \"{trash}\";
         CREATE SCHEMA IF NOT EXISTS \"{READ_SCHEMA}\";"
    );
    for table in p.tables() {
        sql.push_str(&format!(
            "ALTER TABLE IF EXISTS \"{READ_SCHEMA}\".\"{table}\" SET SCHEMA \"{trash}\";
             ALTER TABLE \"{shadow}\".\"{table}\" SET SCHEMA \"{READ_SCHEMA}\";"
        ));
    }
    sql.push_str(&format!(
        "DROP SCHEMA \"{trash}\" CASCADE; DROP SCHEMA \"{shadow}\" CASCADE;"
    ));
    script(&mut *tx, &sql).await?;
    // The streams the rebuild parked replace the live ones: they match the tables.
    sqlx::query("DELETE FROM projection_parked WHERE projection = $1 AND NOT rebuild")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE projection_parked SET rebuild = false WHERE projection = $1 AND rebuild")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let (major, minor) = columns(position);
    let (a, b) = keys(LockKind::Runner, name);
    let state: String = sqlx::query_scalar(&format!(
        "UPDATE projection_checkpoints SET position_major = $2, position_minor = $3,
             state = CASE WHEN {} THEN 'live' ELSE 'stopped' END,
             lag_events = 0, events_applied = $4, last_error = NULL, updated_at = now()
         WHERE name = $1 RETURNING state",
        held_sql("$5", "$6")
    ))
    .bind(name)
    .bind(major)
    .bind(minor)
    .bind(events as i64)
    .bind(a)
    .bind(b)
    .fetch_one(&mut *tx)
    .await?;
    // Caches of this projection's rows must drop them all: say the tables were swapped.
    let changes = Changes {
        swapped: true,
        ..Changes::default()
    };
    checkpoint::notify(tx, name, position, &state, changes).await?;
    Ok(())
}
