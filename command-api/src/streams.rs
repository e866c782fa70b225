//! Folded streams: read from the store, and kept between commands.
//!
//! Loading a stream means reading every event and folding it; for a person's schedule
//! that grows with each booking. This process keeps the folded state, version and the ids
//! of the latest events of the streams it wrote or read, and decides the next command on
//! them without reading the store.
//!
//! The memory is never trusted for correctness, only for speed: every append carries the
//! expected version the decision was made on, so a state that another process (another
//! command API, the booking recovery) moved on is refused by the store as a version
//! conflict; the entry is then dropped and the command reloads and decides again. Facts
//! read from a stream without appending to it (a participant's roles) are checked at
//! commit time on stores with multi-stream appends, and read afresh elsewhere.
//! Entries are only made from what the store answered: a stream read as empty is not
//! remembered (another process may create it at any time).

use domain::{Aggregate, DomainEvent};
use infra::{AnyEventStore, AppendResult, EventStore, Position, StoreError};
use std::any::Any;
use std::sync::Arc;
use uuid::Uuid;

use crate::command::{CommandMeta, CommandResult};

/// Streams kept at most by default.
pub const DEFAULT_CAPACITY: usize = 50_000;

/// Event ids remembered per stream besides those of the last command (to answer a
/// retried command as the first time).
const RECENT: usize = 64;

/// A stream as loaded: its folded state, version and the position of its last event.
#[derive(Debug, Clone)]
pub struct Loaded<S> {
    /// The stream name.
    pub stream: String,
    /// The folded state.
    pub state: S,
    /// Number of events.
    pub version: u64,
    /// Position of the last event.
    pub position: Option<Position>,
    /// Ids of the latest events, oldest first (for detecting an already-applied retry).
    pub recent: Vec<Recent>,
    /// Whether this came from the process's memory (or an assumption) rather than a read
    /// of the store: a refusal decided on it must be confirmed on a fresh read.
    pub from_memory: bool,
}

/// An event as far as retries care: its id, version and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recent {
    /// The event's id.
    pub event_id: Uuid,
    /// Its version in the stream.
    pub version: u64,
    /// Its position.
    pub position: Position,
}

impl<S> Loaded<S> {
    /// When this command's events are already in the stream (a retry whose first answer
    /// was lost), the answer of the first attempt.
    pub fn already_applied(&self, meta: &CommandMeta, id: Uuid) -> Option<CommandResult> {
        let first = meta.event_id(&self.stream, 0);
        let start = self.recent.iter().position(|e| e.event_id == first)?;
        let mut last = &self.recent[start];
        for (i, e) in self.recent[start..].iter().enumerate() {
            if e.event_id == meta.event_id(&self.stream, i) {
                last = e;
            } else {
                break;
            }
        }
        Some(CommandResult {
            id,
            version: last.version,
            position: last.position.to_string(),
        })
    }

    /// The answer when the command changed nothing.
    pub fn unchanged(&self, id: Uuid) -> CommandResult {
        CommandResult {
            id,
            version: self.version,
            position: self.position.unwrap_or(Position::START).to_string(),
        }
    }
}

/// Reads and folds a stream from the store, remembering nothing.
pub async fn read<A: Aggregate>(
    store: &AnyEventStore,
    stream: String,
) -> Result<Loaded<A::State>, StoreError> {
    let events = store.read_stream(&stream, 1).await?;
    let mut state = A::initial();
    for recorded in &events {
        let event =
            A::Event::from_data(&recorded.event_type, recorded.data.clone()).map_err(|e| {
                StoreError::Decode(format!(
                    "stored event {} v{} undecodable: {e}",
                    stream, recorded.version
                ))
            })?;
        state = A::evolve(state, &event);
    }
    let recent = events
        .iter()
        .map(|e| Recent {
            event_id: e.event_id,
            version: e.version,
            position: e.position,
        })
        .collect();
    Ok(Loaded {
        stream,
        state,
        version: events.last().map_or(0, |e| e.version),
        position: events.last().map(|e| e.position),
        recent,
        from_memory: false,
    })
}

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
    /// Entries of several aggregates' state types, told apart by their stream names.
    memory: moka::sync::Cache<String, Arc<dyn Any + Send + Sync>>,
    enabled: bool,
    /// `command_api_stream_loads_total` by source, and refusals read again.
    hits: metrics::Counter,
    misses: metrics::Counter,
    assumed: metrics::Counter,
    refusals_rechecked: metrics::Counter,
}

impl Streams {
    /// A memory of at most `capacity` streams over `store` (0: remember nothing).
    pub fn new(store: AnyEventStore, capacity: usize) -> Self {
        Streams {
            store,
            memory: moka::sync::Cache::new(capacity as u64),
            enabled: capacity > 0,
            hits: crate::metrics::stream_loads("memory"),
            misses: crate::metrics::stream_loads("store"),
            assumed: crate::metrics::stream_loads("assumed_new"),
            refusals_rechecked: crate::metrics::refusals_rechecked(),
        }
    }

    /// The event store.
    pub fn store(&self) -> &AnyEventStore {
        &self.store
    }

    /// The stream folded: from memory when this process knows it, else from the store.
    pub async fn load<A: Aggregate>(&self, stream: String) -> Result<Loaded<A::State>, StoreError> {
        if let Some(Some(loaded)) = self.remembered::<A::State>(&stream) {
            return Ok(loaded);
        }
        self.misses.increment(1);
        self.load_fresh::<A>(stream).await
    }

    /// The stream folded from a read of the store, whatever this process remembers (and
    /// remembered from now on).
    pub async fn load_fresh<A: Aggregate>(
        &self,
        stream: String,
    ) -> Result<Loaded<A::State>, StoreError> {
        let loaded = read::<A>(&self.store, stream).await?;
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
    pub fn load_new<A: Aggregate>(&self, stream: String) -> Option<Loaded<A::State>> {
        match self.remembered(&stream) {
            Some(known) => known,
            None => {
                self.assumed.increment(1);
                Some(Loaded {
                    stream,
                    state: A::initial(),
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
        let entry = self.memory.get(stream)?;
        let Ok(entry) = entry.downcast::<Entry<S>>() else {
            return Some(None);
        };
        self.hits.increment(1);
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
        self.refusals_rechecked.increment(1);
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
        self.memory.invalidate(stream);
    }

    fn put<S: Send + Sync + 'static>(&self, stream: &str, entry: Entry<S>) {
        if self.enabled {
            self.memory.insert(stream.to_owned(), Arc::new(entry));
        }
    }

    /// Streams remembered now.
    pub fn len(&self) -> usize {
        // The count is kept up to date by pending maintenance; run it for an exact figure.
        self.memory.run_pending_tasks();
        self.memory.entry_count() as usize
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
