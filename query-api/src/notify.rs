//! One shared LISTEN connection for the whole process, fanned out through a broadcast
//! channel: subscriptions and read-your-writes waits wake on the projector's NOTIFYs
//! instead of polling.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

/// NOTIFY channel of the projector after each committed batch (`projections::PROJECTION_CHANNEL`).
pub const PROJECTION_CHANNEL: &str = "il_projection";
/// NOTIFY channel naming each changed interview (`projections::INTERVIEW_CHANNEL`).
pub const INTERVIEW_CHANNEL: &str = "il_interview_changed";

const CAPACITY: usize = 1024;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A projection committed a batch.
    Projection(ProjectionNotice),
    /// An interview's read model changed.
    InterviewChanged(Uuid),
    /// The listener (re)connected: anything may have changed while it was away.
    Resync,
}

/// Payload of [`PROJECTION_CHANNEL`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProjectionNotice {
    /// The projection.
    pub name: String,
    /// Its checkpoint, printed (`None` before the first batch).
    #[serde(default)]
    pub position: Option<String>,
    /// Its state, lower_snake.
    #[serde(default)]
    pub state: Option<String>,
}

/// Handle on the shared listener; the task stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Notices {
    tx: broadcast::Sender<Notice>,
    listening: watch::Receiver<bool>,
    _stop: Arc<DropGuard>,
}

impl Notices {
    /// Starts the listener task on a connection of `pool`.
    pub fn start(pool: PgPool) -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        let (listening_tx, listening) = watch::channel(false);
        let cancel = CancellationToken::new();
        tokio::spawn(listen(pool, tx.clone(), listening_tx, cancel.clone()));
        Notices {
            tx,
            listening,
            _stop: Arc::new(cancel.drop_guard()),
        }
    }

    /// A receiver of every notice from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.tx.subscribe()
    }

    /// How many receivers (open subscriptions and waits) there are now.
    pub fn receiver_count(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Whether the LISTEN is currently in place.
    pub fn is_listening(&self) -> bool {
        *self.listening.borrow()
    }

    /// Waits until the LISTEN is in place.
    pub async fn listening(&self) {
        let mut rx = self.listening.clone();
        // The sender lives as long as the task, which lives as long as `self`.
        let _ = rx.wait_for(|up| *up).await;
    }
}

async fn listen(
    pool: PgPool,
    tx: broadcast::Sender<Notice>,
    listening: watch::Sender<bool>,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    'connect: loop {
        let connected = tokio::select! {
            _ = cancel.cancelled() => break 'connect,
            c = connect(&pool) => c,
        };
        let mut listener = match connected {
            Ok(l) => l,
            Err(error) => {
                tracing::warn!(%error, retry_ms = backoff.as_millis() as u64,
                    "notification listener cannot connect");
                tokio::select! {
                    _ = cancel.cancelled() => break 'connect,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        listening.send_replace(true);
        let _ = tx.send(Notice::Resync);
        tracing::debug!("notification listener up");
        loop {
            let received = tokio::select! {
                _ = cancel.cancelled() => break 'connect,
                r = listener.try_recv() => r,
            };
            match received {
                Ok(Some(n)) => dispatch(&tx, n.channel(), n.payload()),
                Ok(None) => {
                    tracing::warn!("notification listener lost its connection; reconnecting");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "notification listener failed; reconnecting");
                    break;
                }
            }
        }
        listening.send_replace(false);
    }
    listening.send_replace(false);
    tracing::info!("notification listener stopped");
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([PROJECTION_CHANNEL, INTERVIEW_CHANNEL])
        .await?;
    Ok(listener)
}

/// Turns a notification into a [`Notice`]; malformed payloads are logged and dropped.
fn dispatch(tx: &broadcast::Sender<Notice>, channel: &str, payload: &str) {
    let notice = match channel {
        INTERVIEW_CHANNEL => payload.trim().parse().ok().map(Notice::InterviewChanged),
        PROJECTION_CHANNEL => serde_json::from_str(payload).ok().map(Notice::Projection),
        _ => None,
    };
    match notice {
        // No receiver is fine: nobody is waiting right now.
        Some(n) => {
            let _ = tx.send(n);
        }
        None => tracing::warn!(
            channel,
            payload_len = payload.len(),
            "ignored a malformed notification"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_become_notices_and_garbage_is_dropped() {
        let (tx, mut rx) = broadcast::channel(8);
        let id = Uuid::new_v4();
        dispatch(&tx, INTERVIEW_CHANNEL, &id.to_string());
        dispatch(&tx, INTERVIEW_CHANNEL, "not a uuid");
        dispatch(
            &tx,
            PROJECTION_CHANNEL,
            r#"{"name":"people","position":"5-1","state":"live"}"#,
        );
        dispatch(&tx, PROJECTION_CHANNEL, "{");
        assert_eq!(rx.try_recv().ok(), Some(Notice::InterviewChanged(id)));
        assert_eq!(
            rx.try_recv().ok(),
            Some(Notice::Projection(ProjectionNotice {
                name: "people".into(),
                position: Some("5-1".into()),
                state: Some("live".into()),
            }))
        );
        assert!(rx.try_recv().is_err());
    }
}
