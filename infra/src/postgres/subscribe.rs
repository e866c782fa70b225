//! `subscribe_all` over LISTEN/NOTIFY, and the task that sends the NOTIFYs after appends
//! committed.

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

use super::{NOTIFY_CHANNEL, PgEventStore, db_err};
use crate::store::*;

/// Events read by one subscription query at most.
const PAGE: usize = 1000;

/// Coalesces "something was appended" signals into NOTIFYs sent after the appends
/// committed. NOTIFY inside the append's own transaction would take PostgreSQL's global
/// notify lock at every commit and serialise all writers.
pub(super) async fn notifier_task(pool: PgPool, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&pool)
            .await
        {
            if matches!(e, sqlx::Error::PoolClosed) {
                tracing::debug!("event notifier stopped: pool closed");
                return;
            }
            tracing::warn!(error = %e, "event notification failed; subscribers catch up on the next one");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl PgEventStore {
    pub(super) fn feed_after(&self, after: Option<Position>) -> EventFeed {
        let store = PgEventStore {
            pool: self.pool.clone(),
            upcasters: self.upcasters.clone(),
            wake_notifier: self.wake_notifier.clone(),
            committer: self.committer.clone(),
        };
        let stream = async_stream::stream! {
            let mut position = after.unwrap_or(Position::START);
            let mut listener = match PgListener::connect_with(&store.pool).await {
                Ok(l) => l,
                Err(e) => { yield Err(db_err(e)); return; }
            };
            if let Err(e) = listener.listen(NOTIFY_CHANNEL).await {
                yield Err(db_err(e));
                return;
            }
            let mut backoff = Duration::from_millis(2);
            loop {
                let (page, withheld) = match store.read_page_and_withheld(position, PAGE).await {
                    Ok(p) => p,
                    Err(e) => { yield Err(e); return; }
                };
                let full = page.len() == PAGE;
                for item in page {
                    position = match &item {
                        Ok(event) => event.position,
                        Err(StoreError::Undecodable(u)) => u.position,
                        // read_page_and_withheld hands back no other error in a page.
                        Err(_) => position,
                    };
                    yield item;
                }
                if full {
                    continue;
                }
                // Caught up with what can be delivered now.
                let wait = if withheld {
                    // A transaction still running holds back events committed after it;
                    // it may end without notifying anyone, so look again shortly, or at
                    // once when another append is announced.
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_millis(10));
                    wait
                } else {
                    // Everything committed is read; the next append notifies. A lost
                    // notification costs at most this timeout.
                    backoff = Duration::from_millis(2);
                    Duration::from_secs(5)
                };
                match tokio::time::timeout(wait, listener.try_recv()).await {
                    Ok(Ok(_)) | Err(_) => {}
                    Ok(Err(e)) => { yield Err(db_err(e)); return; }
                }
                // The announcements that came while the consumer was busy: one read
                // answers them all.
                while let Some(Ok(Some(_))) = listener.try_recv().now_or_never() {}
            }
        };
        stream.boxed()
    }
}
