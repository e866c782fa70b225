//! What every resolver reads through.

use std::sync::Arc;

use infra::AnyEventStore;
use sqlx::PgPool;

use crate::loaders::Loaders;
use crate::notify::Notices;
use crate::read_model::{CacheCapacity, ReadModel, RowCache};
use crate::schema::Limits;
use crate::viewer::Viewer;

/// The query side's handles: read model, event store (for `history` / `asOf`) and the
/// shared notification listener. Cheap to clone.
#[derive(Clone)]
pub struct QueryContext {
    read_model: ReadModel,
    store: AnyEventStore,
    notices: Notices,
    limits: Limits,
}

impl QueryContext {
    /// A context reading `pool` and `store`, with a row cache of the default capacity.
    /// Starts the notification listener on a connection of `pool` (it stops when the
    /// last clone of the context is dropped); await [`QueryContext::listening`] to know
    /// it is in place (the cache serves nothing before).
    pub fn new(pool: PgPool, store: AnyEventStore) -> Self {
        QueryContext::with_cache(pool, store, CacheCapacity::default())
    }

    /// Like [`QueryContext::new`], with a row cache of `capacity` ([`CacheCapacity::OFF`]:
    /// none, every read goes to the database).
    pub fn with_cache(pool: PgPool, store: AnyEventStore, capacity: CacheCapacity) -> Self {
        let cache = (capacity != CacheCapacity::OFF).then(|| Arc::new(RowCache::new(capacity)));
        let read_model = match &cache {
            Some(cache) => ReadModel::with_cache(pool.clone(), cache.clone()),
            None => ReadModel::new(pool.clone()),
        };
        QueryContext {
            notices: Notices::start_with_cache(pool, cache),
            read_model,
            store,
            limits: Limits::default(),
        }
    }

    /// The same context with other depth and complexity limits.
    pub fn with_limits(self, limits: Limits) -> Self {
        QueryContext { limits, ..self }
    }

    /// The read model.
    pub fn read_model(&self) -> &ReadModel {
        &self.read_model
    }

    /// The event store.
    pub fn store(&self) -> &AnyEventStore {
        &self.store
    }

    /// The notification listener.
    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// The depth and complexity limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Fresh DataLoaders, for one request or one WebSocket connection of `viewer`.
    pub fn loaders(&self, viewer: &Viewer) -> Loaders {
        Loaders::new(&self.read_model, viewer)
    }

    /// Waits until the notification listener has its LISTEN in place.
    pub async fn listening(&self) {
        self.notices.listening().await;
    }
}
