//! One shared LISTEN connection for the whole process, fanned out through a broadcast
//! channel: subscriptions and read-your-writes waits wake on the projector's NOTIFYs
//! instead of polling.
//!
//! The listener task also keeps the [`RowCache`] fresh: it applies each notification to
//! the cache itself, in delivery order, before broadcasting it (so nothing is lost to a
//! slow receiver), and keeps the cache off whenever its LISTEN is not in place.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use domain::Tenant;
use infra::Position;
use infra::notify::ProjectorNotice;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use crate::read_model::RowCache;

/// The projector's channels and batch payload, as `projections` sends them.
pub use infra::notify::{
    INTERVIEW_CHANNEL, PERSON_CHANNEL, PROJECTION_CHANNEL, ProjectionNotice, SCHEDULE_CHANNEL,
};

const CAPACITY: usize = 1024;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A projection committed a batch.
    Projection(ProjectionNotice),
    /// An interview's read model changed: its tenant and id.
    InterviewChanged(Tenant, Uuid),
    /// A person's read model changed: their tenant and id.
    PersonChanged(Tenant, Uuid),
    /// A person's schedule (availability or bookings) changed: their tenant and id.
    ScheduleChanged(Tenant, Uuid),
    /// The listener (re)connected: anything may have changed while it was away.
    Resync,
}

impl Notice {
    /// The projector's notice, typed; `None` when its tenant is not a slug.
    fn from_projector(notice: ProjectorNotice) -> Option<Self> {
        let tenant = |t: String| Tenant::parse(&t).ok();
        Some(match notice {
            ProjectorNotice::Projection(n) => Notice::Projection(n),
            ProjectorNotice::InterviewChanged(t, id) => Notice::InterviewChanged(tenant(t)?, id),
            ProjectorNotice::PersonChanged(t, id) => Notice::PersonChanged(tenant(t)?, id),
            ProjectorNotice::ScheduleChanged(t, id) => Notice::ScheduleChanged(tenant(t)?, id),
        })
    }
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
        Notices::start_with_cache(pool, None)
    }

    /// Starts the listener task on a connection of `pool`, keeping `cache` fresh: on
    /// (and emptied) while the LISTEN is in place, off otherwise.
    pub fn start_with_cache(pool: PgPool, cache: Option<Arc<RowCache>>) -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        let (listening_tx, listening) = watch::channel(false);
        let cancel = CancellationToken::new();
        let out = Out {
            tx: tx.clone(),
            cache,
        };
        tokio::spawn(listen(pool, out, listening_tx, cancel.clone()));
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

/// Where notifications go: the cache first, then the broadcast.
struct Out {
    tx: broadcast::Sender<Notice>,
    cache: Option<Arc<RowCache>>,
}

impl Out {
    fn switch_off(&self) {
        if let Some(cache) = &self.cache {
            cache.switch_off();
        }
    }
}

async fn listen(pool: PgPool, out: Out, listening: watch::Sender<bool>, cancel: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    'connect: loop {
        let connected = tokio::select! {
            _ = cancel.cancelled() => break 'connect,
            c = connect(&pool, out.cache.as_deref()) => c,
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
        let _ = out.tx.send(Notice::Resync);
        tracing::debug!("notification listener up");
        loop {
            let received = tokio::select! {
                _ = cancel.cancelled() => break 'connect,
                r = listener.try_recv() => r,
            };
            match received {
                Ok(Some(n)) => dispatch(&out, n.channel(), n.payload()),
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
        // Notifications may be missed from now until the next LISTEN.
        out.switch_off();
        listening.send_replace(false);
    }
    out.switch_off();
    listening.send_replace(false);
    tracing::info!("notification listener stopped");
}

/// LISTENs, then (with a cache) reads where the projections are and turns the cache on,
/// empty: whatever changed before is out of it, whatever changes after is notified.
async fn connect(pool: &PgPool, cache: Option<&RowCache>) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([
            PROJECTION_CHANNEL,
            INTERVIEW_CHANNEL,
            PERSON_CHANNEL,
            SCHEDULE_CHANNEL,
        ])
        .await?;
    if let Some(cache) = cache {
        let rows: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT name, position_major, position_minor FROM projection_checkpoints",
        )
        .fetch_all(pool)
        .await?;
        let positions: HashMap<String, Position> = rows
            .into_iter()
            .filter_map(|(name, major, minor)| {
                let major = u64::try_from(major?).ok()?;
                let minor = u64::try_from(minor?).ok()?;
                Some((name, Position::new(major, minor)))
            })
            .collect();
        cache.switch_on(positions);
    }
    Ok(listener)
}

/// Turns a notification into a [`Notice`], applies it to the cache, then broadcasts it;
/// malformed payloads are logged and dropped (a malformed id empties that table of the
/// cache, since it cannot say which row changed).
fn dispatch(out: &Out, channel: &str, payload: &str) {
    let notice = ProjectorNotice::parse(channel, payload).and_then(Notice::from_projector);
    if let Some(cache) = &out.cache {
        match &notice {
            Some(Notice::InterviewChanged(tenant, id)) => cache.invalidate_interview(tenant, *id),
            Some(Notice::PersonChanged(tenant, id)) => cache.invalidate_person(tenant, *id),
            Some(Notice::ScheduleChanged(tenant, id)) => cache.invalidate_schedule(tenant, *id),
            Some(Notice::Projection(n)) => {
                if n.swapped {
                    cache.invalidate_projection(&n.name);
                }
                match n.position.as_deref().map(str::parse::<Position>) {
                    Some(Ok(position)) => cache.heard(&n.name, position),
                    Some(Err(_)) => cache.invalidate_projection(&n.name),
                    None => {}
                }
            }
            Some(Notice::Resync) => {}
            None if channel == INTERVIEW_CHANNEL => cache.invalidate_projection("interviews"),
            None if channel == PERSON_CHANNEL => cache.invalidate_projection("people"),
            None if channel == SCHEDULE_CHANNEL => cache.invalidate_projection("schedules"),
            None => {}
        }
    }
    match notice {
        // No receiver is fine: nobody is waiting right now.
        Some(n) => {
            let _ = out.tx.send(n);
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
    use crate::read_model::CacheCapacity;

    fn out(cache: Option<Arc<RowCache>>) -> (Out, broadcast::Receiver<Notice>) {
        let (tx, rx) = broadcast::channel(8);
        (Out { tx, cache }, rx)
    }

    #[test]
    fn payloads_become_notices_and_garbage_is_dropped() {
        let (out, mut rx) = out(None);
        let id = Uuid::new_v4();
        dispatch(&out, INTERVIEW_CHANNEL, &id.to_string());
        dispatch(&out, INTERVIEW_CHANNEL, "not a uuid");
        dispatch(&out, PERSON_CHANNEL, &id.to_string());
        dispatch(&out, SCHEDULE_CHANNEL, &format!(" {id}\n"));
        dispatch(&out, SCHEDULE_CHANNEL, "");
        dispatch(
            &out,
            PROJECTION_CHANNEL,
            r#"{"name":"people","position":"5-1","state":"live"}"#,
        );
        dispatch(
            &out,
            PROJECTION_CHANNEL,
            r#"{"name":"people","position":"6-0","state":"live","swapped":true}"#,
        );
        dispatch(&out, PROJECTION_CHANNEL, "{");
        let home = Tenant::default_tenant;
        assert_eq!(
            rx.try_recv().ok(),
            Some(Notice::InterviewChanged(home(), id))
        );
        assert_eq!(rx.try_recv().ok(), Some(Notice::PersonChanged(home(), id)));
        assert_eq!(
            rx.try_recv().ok(),
            Some(Notice::ScheduleChanged(home(), id))
        );
        assert_eq!(
            rx.try_recv().ok(),
            Some(Notice::Projection(ProjectionNotice {
                name: "people".into(),
                position: Some("5-1".into()),
                state: Some("live".into()),
                swapped: false,
            }))
        );
        assert!(
            matches!(rx.try_recv(), Ok(Notice::Projection(n)) if n.swapped),
            "the swap mark is read"
        );
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn projection_notices_tell_the_cache_how_far_it_is() {
        let cache = Arc::new(RowCache::new(CacheCapacity::default()));
        cache.switch_on(HashMap::from([
            ("people".to_owned(), Position::new(3, 0)),
            ("interviews".to_owned(), Position::new(4, 0)),
            ("schedules".to_owned(), Position::new(5, 0)),
        ]));
        let (out, _rx) = out(Some(cache.clone()));
        assert!(cache.caught_up(Position::new(3, 0)));
        assert!(!cache.caught_up(Position::new(4, 0)), "people is at 3");
        dispatch(
            &out,
            PROJECTION_CHANNEL,
            r#"{"name":"people","position":"9-0","state":"live"}"#,
        );
        assert!(cache.caught_up(Position::new(4, 0)));
        assert!(!cache.caught_up(Position::new(5, 0)), "interviews is at 4");
        cache.switch_off();
        assert!(
            cache.caught_up(Position::new(50, 0)),
            "off: nothing to be stale"
        );
    }
}
