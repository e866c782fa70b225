//! `subscribe_all`: a feed over a server subscription that re-subscribes after
//! connection failures, from the last record it received.

use std::sync::Arc;

use eventstore::{StreamPosition, SubscribeToAllOptions, SubscriptionEvent, SubscriptionFilter};

use super::client::Inner;
use super::codec;
use crate::store::{EventFeed, Position, RecordedEvent, StoreError, StoreResult};

/// A subscription that keeps failing to come back reports `Unavailable` on its feed
/// every this many attempts (and keeps trying while the feed is polled).
const RESUBSCRIBE_REPORT_EVERY: u32 = 10;

/// A feed of `$all` strictly after `after`, without the server's own records.
pub(super) fn subscribe(inner: Arc<Inner>, after: Option<Position>) -> EventFeed {
    let feed = Feed {
        inner,
        last: after,
        current: None,
        failures: 0,
        done: false,
    };
    Box::pin(futures::stream::unfold(feed, |mut feed| async move {
        let item = feed.next().await?;
        Some((item, feed))
    }))
}

/// The state of one `subscribe_all` feed.
struct Feed {
    inner: Arc<Inner>,
    /// The position of the last record received: a new subscription starts after it.
    last: Option<Position>,
    /// The live subscription, its client's generation, and whether it was confirmed.
    current: Option<(eventstore::Subscription, u64, bool)>,
    /// Consecutive failures to (re)subscribe.
    failures: u32,
    /// Set after a permanent failure was reported: the feed ends.
    done: bool,
}

impl Feed {
    /// The next event, re-subscribing after connection failures.
    async fn next(&mut self) -> Option<StoreResult<RecordedEvent>> {
        if self.done {
            return None;
        }
        let inner = Arc::clone(&self.inner);
        loop {
            let (subscription, generation, confirmed) = match &mut self.current {
                Some((s, g, c)) => (s, *g, c),
                None => {
                    if self.failures > 0 {
                        let exp = self.failures.saturating_sub(1).min(16);
                        let delay = inner
                            .options
                            .resubscribe_delay
                            .saturating_mul(1 << exp)
                            .min(inner.options.timeout);
                        tokio::time::sleep(delay).await;
                    }
                    let (client, generation) = inner.client();
                    let from = match self.last {
                        Some(p) if p != Position::START => {
                            StreamPosition::Position(codec::server_position(p))
                        }
                        _ => StreamPosition::Start,
                    };
                    let options = SubscribeToAllOptions::default()
                        .position(from)
                        .filter(SubscriptionFilter::on_event_type().exclude_system_events());
                    let subscription = client.subscribe_to_all(&options).await;
                    let (s, g, c) = self.current.insert((subscription, generation, false));
                    (s, *g, c)
                }
            };
            // The server confirms a subscription at once; after that, silence only means
            // that nothing is written (a dead connection is noticed by HTTP/2 keep-alive).
            let received = if *confirmed {
                Ok(subscription.next_subscription_event().await)
            } else {
                tokio::time::timeout(
                    inner.options.timeout,
                    subscription.next_subscription_event(),
                )
                .await
            };
            let failure = match received {
                Ok(Ok(SubscriptionEvent::EventAppeared(resolved))) => {
                    *confirmed = true;
                    self.failures = 0;
                    let raw = match codec::record(resolved) {
                        Ok(raw) => raw,
                        Err(e) => return Some(Err(self.end(e))),
                    };
                    let position = codec::position(raw.position);
                    if self.last.is_some_and(|l| position <= l) {
                        continue; // never twice, never backwards
                    }
                    self.last = Some(position);
                    if codec::is_system(&raw.stream_id, &raw.event_type) {
                        continue;
                    }
                    return Some(match codec::decode(raw, &inner.upcasters) {
                        Ok(event) => Ok(event),
                        // About this one event: the feed goes on after it.
                        Err(e @ StoreError::Undecodable(_)) => Err(e),
                        Err(e) => Err(self.end(e)),
                    });
                }
                Ok(Ok(SubscriptionEvent::CaughtUp)) => {
                    *confirmed = true;
                    self.failures = 0;
                    continue;
                }
                Ok(Ok(_)) => {
                    // Confirmation, checkpoints, and the like.
                    *confirmed = true;
                    continue;
                }
                Ok(Err(e)) => {
                    inner.after_error(generation, &e);
                    inner.fail("subscribe $all", e)
                }
                Err(_) => StoreError::Unavailable(format!(
                    "EventStoreDB at {}: subscribe $all: not confirmed within {:?}",
                    inner.target, inner.options.timeout
                )),
            };
            self.current = None;
            if !codec::is_transient(&failure) {
                return Some(Err(self.end(failure)));
            }
            self.failures = self.failures.saturating_add(1);
            tracing::warn!(
                error = %failure,
                after = ?self.last,
                attempt = self.failures,
                "event_store.subscribe_all: subscription dropped, re-subscribing"
            );
            if self.failures.is_multiple_of(RESUBSCRIBE_REPORT_EVERY) {
                return Some(Err(failure));
            }
        }
    }

    fn end(&mut self, e: StoreError) -> StoreError {
        self.done = true;
        self.current = None;
        e
    }
}
