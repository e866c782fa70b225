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

/// Waits until at least one projection exists and every one has applied `target`, or
/// `timeout` passes. Checks the checkpoints once, then again only when a notification
/// says a checkpoint may have moved past `target` (or the listener reconnected): no
/// polling. A failed or stopped projection never gets there, so its waiters time out.
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
                    return Ok(());
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
        };
        let target = Position::new(10, 5);
        assert!(may_have_reached(&notice(Some("10-5")), target));
        assert!(may_have_reached(&notice(Some("11-0")), target));
        assert!(!may_have_reached(&notice(Some("10-4")), target));
        assert!(!may_have_reached(&notice(None), target));
    }
}
