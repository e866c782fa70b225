//! What every resolver reads through.

use infra::AnyEventStore;
use sqlx::PgPool;

use crate::loaders::Loaders;
use crate::notify::Notices;
use crate::read_model::ReadModel;
use crate::schema::Limits;

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
    /// A context reading `pool` and `store`. Starts the notification listener on a
    /// connection of `pool` (it stops when the last clone of the context is dropped);
    /// await [`QueryContext::listening`] to know it is in place.
    pub fn new(pool: PgPool, store: AnyEventStore) -> Self {
        QueryContext {
            notices: Notices::start(pool.clone()),
            read_model: ReadModel::new(pool),
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

    /// Fresh DataLoaders, for one request or one WebSocket connection.
    pub fn loaders(&self) -> Loaders {
        Loaders::new(&self.read_model)
    }

    /// Waits until the notification listener has its LISTEN in place.
    pub async fn listening(&self) {
        self.notices.listening().await;
    }
}
