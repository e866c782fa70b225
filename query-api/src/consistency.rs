//! Read-your-writes: wait until every projection has applied a position (API.md §3.3).

use std::time::Duration;

use infra::Position;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, timeout_at};

use crate::error::QueryError;
use crate::notify::{Notice, Notices, ProjectionNotice};
use crate::read_model::ReadModel;

/// The request header naming the position to wait for.
pub const MIN_POSITION_HEADER: &str = "x-min-position";

/// Parses an `X-Min-Position` value.
pub fn parse_min_position(value: &[u8]) -> Result<Position, QueryError> {
    let text = std::str::from_utf8(value)
        .map_err(|_| QueryError::bad_input("X-Min-Position is not valid UTF-8"))?;
    text.parse()
        .map_err(|e| QueryError::bad_input(format!("X-Min-Position: {e}")))
}

/// How long a waiter that found the checkpoints at its position gives the notification
/// listener to catch up with them before it empties the row cache instead.
const CACHE_GRACE: Duration = Duration::from_millis(250);

/// Waits until at least one projection exists and every one has applied `target`, or
/// `timeout` passes. Checks the checkpoints once, then again only when a notification
/// says a checkpoint may have moved past `target` (or the listener reconnected): no
/// polling. A failed or stopped projection never gets there, so its waiters time out.
///
/// Then, if reads by id go through the row cache, waits until the listener has applied
/// the invalidations up to `target` too ([`RowCache::caught_up`]): the checkpoints can
/// be there a moment before their notifications are. Should the listener not get there
/// within a short grace, the cache is emptied rather than trusted.
///
/// [`RowCache::caught_up`]: crate::read_model::RowCache::caught_up
pub async fn wait_for_position(
    read_model: &ReadModel,
    notices: &Notices,
    target: Position,
    timeout: Duration,
) -> Result<(), QueryError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let timed_out = || QueryError::ConsistencyTimeout {
        position: target,
        waited_ms: started.elapsed().as_millis(),
    };
    // Subscribe before the first check, so a batch committed in between still wakes us.
    let mut rx = notices.subscribe();
    loop {
        match timeout_at(deadline, read_model.all_reached(target)).await {
            Err(_) => return Err(timed_out()),
            Ok(reached) => {
                if reached? {
                    break;
                }
            }
        }
        loop {
            match timeout_at(deadline, rx.recv()).await {
                Err(_) => return Err(timed_out()),
                Ok(Ok(Notice::Projection(n))) if may_have_reached(&n, target) => break,
                Ok(Ok(Notice::Resync) | Err(RecvError::Lagged(_))) => break,
                Ok(Ok(_)) => {}
                Ok(Err(RecvError::Closed)) => {
                    // Cannot happen while `notices` is alive; wait out the budget anyway.
                    tokio::time::sleep_until(deadline).await;
                    return Err(timed_out());
                }
            }
        }
    }
    let Some(cache) = read_model.cache() else {
        return Ok(());
    };
    // The listener updates the cache before it broadcasts, so a notice received after a
    // negative check is a reason to check again.
    let grace = Instant::now() + CACHE_GRACE;
    while !cache.caught_up(target) {
        match timeout_at(grace, rx.recv()).await {
            Ok(Ok(_) | Err(RecvError::Lagged(_))) => {}
            Err(_) | Ok(Err(RecvError::Closed)) => {
                tracing::warn!(position = %target, grace_ms = CACHE_GRACE.as_millis() as u64,
                    "notification listener behind the checkpoints; emptying the row cache");
                cache.clear();
                break;
            }
        }
    }
    Ok(())
}

/// Whether the notified checkpoint is at or past `target` (unknown positions: maybe).
fn may_have_reached(notice: &ProjectionNotice, target: Position) -> bool {
    match notice.position.as_deref().map(str::parse::<Position>) {
        Some(Ok(p)) => p >= target,
        Some(Err(_)) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_header_is_bad_input() {
        let err = parse_min_position(b"tomorrow").expect_err("malformed");
        assert_eq!(err.code(), crate::error::codes::BAD_USER_INPUT);
        assert_eq!(
            parse_min_position(b" 12-3 ").expect("valid"),
            Position::new(12, 3)
        );
    }

    #[test]
    fn only_notices_at_or_past_the_target_trigger_a_recheck() {
        let notice = |p: Option<&str>| ProjectionNotice {
            name: "people".into(),
            position: p.map(str::to_owned),
            state: None,
            swapped: false,
        };
        let target = Position::new(10, 5);
        assert!(may_have_reached(&notice(Some("10-5")), target));
        assert!(may_have_reached(&notice(Some("11-0")), target));
        assert!(!may_have_reached(&notice(Some("10-4")), target));
        assert!(!may_have_reached(&notice(None), target));
    }
}
