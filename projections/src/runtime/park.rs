//! Parking: a projection that cannot apply an event (it cannot be decoded, or its apply
//! fails for good) parks the event's stream instead of stopping. The event is recorded
//! in `projection_parked` with the reason and the time; later events of that stream are
//! held back (counted on that row, read again from the store when released) so that
//! they are never applied out of order; every other stream goes on. Operators release a
//! stream with `projections retry` or `projections skip` (module [`crate::parked`]).
//!
//! Everything happens inside the caller's transaction (a batch, a rebuild page, a
//! retry), so the parked rows move together with the checkpoint and the read model: a
//! crash loses neither. Failed attempts are undone with a savepoint.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use infra::{Position, RecordedEvent, UndecodableEvent, store::short_reason};
use sqlx::PgConnection;

use crate::support::script;
use crate::{Projection, ProjectionError};

/// A stream parked by one call of [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parked {
    /// The stream.
    pub stream_id: String,
    /// The event it is parked at.
    pub version: u64,
    /// Where that event is in the log.
    pub position: Position,
    /// Its type.
    pub event_type: String,
    /// Why.
    pub reason: String,
}

/// What [`apply`] did besides applying.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Streams it parked.
    pub parked: Vec<Parked>,
    /// Events it held back because their stream is parked.
    pub held: u64,
}

impl Applied {
    /// Whether the parked rows changed.
    pub fn touched_parking(&self) -> bool {
        !self.parked.is_empty() || self.held > 0
    }
}

/// How [`apply`] goes about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mode {
    /// Whose parked rows: a rebuild's own, or the live ones.
    pub rebuild: bool,
    /// The caller knows that no stream is parked: no need to look.
    pub none_parked: bool,
    /// Apply under a savepoint, so that a failed apply can be undone and the failing
    /// event isolated. Without (one round trip less per batch), a failure is returned as
    /// is and leaves the transaction aborted: the caller tries again with it.
    pub careful: bool,
}

impl Mode {
    /// A rebuild's pages.
    pub const REBUILD: Mode = Mode {
        rebuild: true,
        none_parked: false,
        careful: true,
    };
    /// The live tables, isolating failures.
    pub const LIVE: Mode = Mode {
        rebuild: false,
        none_parked: false,
        careful: true,
    };
}

/// Applies `events` in order with `projection` (inside the caller's transaction, whose
/// `search_path` names the target schema), parking instead of failing: each event in
/// `undecodable` parks its stream, an event whose apply fails with a non-transient error
/// parks its stream, and events of parked streams are held (see [`Mode`]). A transient
/// error is returned as is; the caller's transaction must then roll back.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    mode: Mode,
    events: &[RecordedEvent],
    undecodable: &[UndecodableEvent],
) -> Result<Applied, ProjectionError> {
    let name = projection.name();
    let rebuild = mode.rebuild;
    let already: Vec<String> = if mode.none_parked {
        Vec::new()
    } else {
        sqlx::query_scalar(
            "SELECT stream_id FROM projection_parked WHERE projection = $1 AND rebuild = $2",
        )
        .bind(name)
        .bind(rebuild)
        .fetch_all(&mut *conn)
        .await?
    };
    let mut out = Applied::default();
    let mut holding = Holding {
        parked_before: already.into_iter().collect(),
        ..Holding::default()
    };
    for u in undecodable {
        if holding.holds(&u.stream_id, u.position) {
            holding.hold(&u.stream_id, u.version);
            continue;
        }
        holding.park(&u.stream_id, u.position);
        out.parked.push(Parked {
            stream_id: u.stream_id.clone(),
            version: u.version,
            position: u.position,
            event_type: u.event_type.clone(),
            reason: short_reason(&u.reason),
        });
    }
    // Nothing parked: the batch as it is, without copying it.
    let rest = holding.filter(events);
    if !mode.careful {
        projection.apply(&mut *conn, &rest).await?;
    } else {
        apply_isolating(conn, projection, rest, &mut holding, &mut out).await?;
    }
    out.held = holding.held.values().map(|(n, _)| *n).sum();
    if out.touched_parking() {
        write_held(conn, name, rebuild, &holding.held, &out.parked).await?;
    }
    Ok(out)
}

/// Which streams are parked, and what is held for them.
#[derive(Default)]
struct Holding {
    /// Parked before this call: every one of their events is held.
    parked_before: HashSet<String>,
    /// Parked during this call, at this position: their events after it are held.
    parked_at: HashMap<String, Position>,
    /// Per stream: events held and the newest version held.
    held: HashMap<String, (u64, u64)>,
}

impl Holding {
    fn holds(&self, stream: &str, position: Position) -> bool {
        self.parked_before.contains(stream)
            || self.parked_at.get(stream).is_some_and(|at| position > *at)
    }

    fn park(&mut self, stream: &str, position: Position) {
        let at = self.parked_at.entry(stream.to_owned()).or_insert(position);
        *at = (*at).min(position);
    }

    fn hold(&mut self, stream: &str, version: u64) {
        let (n, newest) = self.held.entry(stream.to_owned()).or_insert((0, 0));
        *n += 1;
        *newest = (*newest).max(version);
    }

    /// The events not held (counting the held ones).
    fn filter<'a>(&mut self, events: &'a [RecordedEvent]) -> Cow<'a, [RecordedEvent]> {
        if self.parked_before.is_empty() && self.parked_at.is_empty() {
            return Cow::Borrowed(events);
        }
        let mut kept = Vec::with_capacity(events.len());
        for e in events {
            if self.holds(&e.stream_id, e.position) {
                self.hold(&e.stream_id, e.version);
            } else {
                kept.push(e.clone());
            }
        }
        Cow::Owned(kept)
    }
}

/// Applies `events`; when that fails for good, finds the event that fails, parks its
/// stream, and applies the rest (holding that stream's later events).
async fn apply_isolating(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    mut rest: Cow<'_, [RecordedEvent]>,
    holding: &mut Holding,
    out: &mut Applied,
) -> Result<(), ProjectionError> {
    while !rest.is_empty() {
        let error = match attempt(conn, projection, &rest).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => e,
        };
        let found = match culprit(&error, &rest) {
            // What comes before it must go through on its own; if it does not, the
            // first failing event is earlier after all: look one by one.
            Some(i) => match attempt(conn, projection, &rest[..i]).await {
                Ok(()) => Some((i, error)),
                Err(e) if e.is_transient() => return Err(e),
                Err(_) => one_by_one(conn, projection, &rest).await?,
            },
            None => one_by_one(conn, projection, &rest).await?,
        };
        // Every event went through on its own: whatever failed together is gone.
        let Some((i, error)) = found else {
            return Ok(());
        };
        let culprit = &rest[i];
        let reason = match &error {
            ProjectionError::Poison { message, .. } => short_reason(message),
            other => short_reason(&other.to_string()),
        };
        holding.park(&culprit.stream_id, culprit.position);
        // An undecodable event of this stream, later in the log, parked it first: it is
        // held behind this one instead.
        if let Some(j) = out
            .parked
            .iter()
            .position(|p| p.stream_id == culprit.stream_id && p.position > culprit.position)
        {
            let later = out.parked.remove(j);
            holding.hold(&later.stream_id, later.version);
        }
        out.parked.push(Parked {
            stream_id: culprit.stream_id.clone(),
            version: culprit.version,
            position: culprit.position,
            event_type: culprit.event_type.clone(),
            reason,
        });
        let after = &rest[i + 1..];
        rest = Cow::Owned(holding.filter(after).into_owned());
    }
    Ok(())
}

/// The index of the event a poison error names.
fn culprit(error: &ProjectionError, events: &[RecordedEvent]) -> Option<usize> {
    match error {
        ProjectionError::Poison { position, .. } => events
            .iter()
            .position(|e| e.position.to_string() == *position),
        ProjectionError::Db(_) => None,
    }
}

/// Applies the events one at a time until one fails for good: its index and error
/// (those before it stay applied), or `None` when none does.
async fn one_by_one(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    events: &[RecordedEvent],
) -> Result<Option<(usize, ProjectionError)>, ProjectionError> {
    for (i, event) in events.iter().enumerate() {
        match attempt(conn, projection, std::slice::from_ref(event)).await {
            Ok(()) => {}
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => return Ok(Some((i, e))),
        }
    }
    Ok(None)
}

/// Applies `events` under a savepoint, undone when the apply fails for good.
async fn attempt(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    if events.is_empty() {
        return Ok(());
    }
    script(&mut *conn, "SAVEPOINT projection_apply").await?;
    match projection.apply(&mut *conn, events).await {
        Ok(()) => {
            script(&mut *conn, "RELEASE SAVEPOINT projection_apply").await?;
            Ok(())
        }
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            script(
                &mut *conn,
                "ROLLBACK TO SAVEPOINT projection_apply; RELEASE SAVEPOINT projection_apply",
            )
            .await?;
            Err(e)
        }
    }
}

/// Records the streams parked now and the events held for parked streams.
async fn write_held(
    conn: &mut PgConnection,
    name: &str,
    rebuild: bool,
    held: &HashMap<String, (u64, u64)>,
    parked: &[Parked],
) -> Result<(), sqlx::Error> {
    for p in parked {
        let (n, newest) = held.get(&p.stream_id).copied().unwrap_or((0, 0));
        sqlx::query(
            "INSERT INTO projection_parked (projection, rebuild, stream_id, version,
                 position_major, position_minor, event_type, reason, held, last_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, greatest($4, $10))
             ON CONFLICT (projection, rebuild, stream_id) DO UPDATE SET
                 held = projection_parked.held + excluded.held,
                 last_version = greatest(projection_parked.last_version, excluded.last_version)",
        )
        .bind(name)
        .bind(rebuild)
        .bind(&p.stream_id)
        .bind(as_i64(p.version))
        .bind(as_i64(p.position.major))
        .bind(as_i64(p.position.minor))
        .bind(&p.event_type)
        .bind(&p.reason)
        .bind(as_i64(n))
        .bind(as_i64(newest))
        .execute(&mut *conn)
        .await?;
    }
    for (stream, (n, newest)) in held {
        if parked.iter().any(|p| &p.stream_id == stream) {
            continue;
        }
        sqlx::query(
            "UPDATE projection_parked SET held = held + $4,
                 last_version = greatest(last_version, $5)
             WHERE projection = $1 AND rebuild = $2 AND stream_id = $3",
        )
        .bind(name)
        .bind(rebuild)
        .bind(stream)
        .bind(as_i64(*n))
        .bind(as_i64(*newest))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(crate) fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The number of streams `name` has parked (live ones).
pub(crate) async fn count(conn: &mut PgConnection, name: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM projection_parked WHERE projection = $1 AND NOT rebuild",
    )
    .bind(name)
    .fetch_one(conn)
    .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_parked_now_holds_only_its_later_events() {
        let mut h = Holding::default();
        h.park("s", Position::new(5, 0));
        assert!(!h.holds("s", Position::new(4, 9)));
        assert!(h.holds("s", Position::new(5, 1)));
        assert!(!h.holds("t", Position::new(9, 0)));
        h.parked_before.insert("t".into());
        assert!(h.holds("t", Position::new(0, 1)));
    }
}
