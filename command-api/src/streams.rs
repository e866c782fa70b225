//! Folded streams kept between commands.
//!
//! Loading a stream means reading every event and folding it; for a person's schedule
//! that grows with each booking. This process keeps the folded state, version and the ids
//! of the latest events of the streams it wrote or read, and decides the next command on
//! them without reading the store.
//!
//! The cache is never trusted for correctness, only for speed: every append carries the
//! expected version the decision was made on, so a state that another process (another
//! command API, the booking recovery) moved on is refused by the store as a version
//! conflict; the entry is then dropped and the command reloads and decides again. Facts
//! read from a stream without appending to it (a participant's roles) are checked at
//! commit time on stores with multi-stream appends, and read afresh elsewhere.
//! Entries are only made from what the store answered: a stream read as empty is not
//! remembered (another process may create it at any time).

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use domain::DomainEvent;
use infra::{AnyEventStore, AppendResult, Position};
use uuid::Uuid;

use crate::error::ApiError;
use crate::handler::{Loaded, Recent};

/// Streams kept at most by default.
pub const DEFAULT_CAPACITY: usize = 50_000;

/// Event ids remembered per stream besides those of the last command (to answer a
/// retried command as the first time).
const RECENT: usize = 64;

/// One stream as last seen by this process.
struct Entry<S> {
    state: S,
    version: u64,
    position: Option<Position>,
    recent: Vec<Recent>,
}

/// The event store with this process's folded streams.
pub struct Streams {
    store: AnyEventStore,
    entries: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    assumed: AtomicU64,
    refusals_rechecked: AtomicU64,
}

impl Streams {
    /// A cache of at most `capacity` streams over `store` (0: no caching at all).
    pub fn new(store: AnyEventStore, capacity: usize) -> Self {
        Streams {
            store,
            entries: Mutex::new(HashMap::new()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            assumed: AtomicU64::new(0),
            refusals_rechecked: AtomicU64::new(0),
        }
    }

    /// The event store.
    pub fn store(&self) -> &AnyEventStore {
        &self.store
    }

    /// Loads so far: served from memory, read from the store, streams taken to be new,
    /// and refusals decided on memory that were read again before answering.
    pub fn counters(&self) -> [u64; 4] {
        [
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.assumed.load(Ordering::Relaxed),
            self.refusals_rechecked.load(Ordering::Relaxed),
        ]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn Any + Send + Sync>>> {
        // A panic while holding the lock cannot leave the map half-changed (every change
        // is one insert or remove), so a poisoned lock is still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The stream folded: from memory when this process knows it, else from the store.
    pub async fn load<E: DomainEvent, S: Clone + Send + Sync + 'static>(
        &self,
        stream: String,
        init: S,
        evolve: fn(S, &E) -> S,
    ) -> Result<Loaded<S>, ApiError> {
        if let Some(Some(loaded)) = self.remembered(&stream) {
            return Ok(loaded);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.load_fresh(stream, init, evolve).await
    }

    /// The stream folded from a read of the store, whatever this process remembers (and
    /// remembered from now on).
    pub async fn load_fresh<E: DomainEvent, S: Clone + Send + Sync + 'static>(
        &self,
        stream: String,
        init: S,
        evolve: fn(S, &E) -> S,
    ) -> Result<Loaded<S>, ApiError> {
        let loaded = crate::handler::load(&self.store, stream, init, evolve).await?;
        if loaded.version > 0 {
            let keep = loaded.recent.len().saturating_sub(RECENT);
            self.put(
                &loaded.stream,
                Entry {
                    state: loaded.state.clone(),
                    version: loaded.version,
                    position: loaded.position,
                    recent: loaded.recent[keep..].to_vec(),
                },
            );
        }
        Ok(loaded)
    }

    /// The stream as this process knows it, or, when it does not, taken to be empty (for
    /// commands that create it). `None` only when the memory holds another type.
    pub fn load_new<S: Clone + Send + Sync + 'static>(
        &self,
        stream: String,
        init: S,
    ) -> Option<Loaded<S>> {
        match self.remembered(&stream) {
            Some(known) => known,
            None => {
                self.assumed.fetch_add(1, Ordering::Relaxed);
                Some(Loaded {
                    stream,
                    state: init,
                    version: 0,
                    position: None,
                    recent: Vec::new(),
                    from_memory: true,
                })
            }
        }
    }

    /// What this process remembers of `stream`: `None` when nothing, `Some(None)` when
    /// the memory holds another type.
    fn remembered<S: Clone + Send + Sync + 'static>(
        &self,
        stream: &str,
    ) -> Option<Option<Loaded<S>>> {
        let entry = self.lock().get(stream).cloned()?;
        let Ok(entry) = entry.downcast::<Entry<S>>() else {
            return Some(None);
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(Some(Loaded {
            stream: stream.to_owned(),
            state: entry.state.clone(),
            version: entry.version,
            position: entry.position,
            recent: entry.recent.clone(),
            from_memory: true,
        }))
    }

    /// Counts a refusal decided on memory, confirmed by reading again.
    pub fn refused_from_memory(&self) {
        self.refusals_rechecked.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers a stream after this process appended `events` to it as `loaded` was:
    /// `after` is the state with them applied, `result` what the store answered.
    pub fn appended<S: Clone + Send + Sync + 'static>(
        &self,
        loaded: &Loaded<S>,
        after: S,
        event_ids: &[Uuid],
        result: &AppendResult,
    ) {
        let mut recent = loaded.recent.clone();
        if recent.len() > RECENT {
            recent.drain(..recent.len() - RECENT);
        }
        let first = result.version + 1 - (event_ids.len() as u64).min(result.version);
        recent.extend(event_ids.iter().enumerate().map(|(i, id)| Recent {
            event_id: *id,
            version: first + i as u64,
            position: result.position,
        }));
        self.put(
            &loaded.stream,
            Entry {
                state: after,
                version: result.version,
                position: Some(result.position),
                recent,
            },
        );
    }

    /// Drops what this process knows of `stream` (after a conflict or an unknown outcome).
    pub fn forget(&self, stream: &str) {
        self.lock().remove(stream);
    }

    fn put<S: Send + Sync + 'static>(&self, stream: &str, entry: Entry<S>) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(stream) {
            // Drop about a tenth, whichever the map yields first: cheap, and a dropped
            // stream costs one read when it is used again.
            let drop_n = (self.capacity / 10).max(1);
            let victims: Vec<String> = entries.keys().take(drop_n).cloned().collect();
            for v in victims {
                entries.remove(&v);
            }
        }
        entries.insert(stream.to_owned(), Arc::new(entry));
    }

    /// Streams remembered now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
