//! One type for "whichever event store is configured", so callers need no generics.

use std::sync::Arc;

use crate::esdb::EsdbEventStore;
use crate::postgres::PgEventStore;
use crate::store::*;

/// The configured event store: PostgreSQL or EventStoreDB.
#[derive(Clone)]
pub enum AnyEventStore {
    /// The PostgreSQL adapter.
    Postgres(Arc<PgEventStore>),
    /// The EventStoreDB adapter.
    Esdb(Arc<EsdbEventStore>),
}

impl AnyEventStore {
    /// A short name for logs and test output: `postgres` or `eventstoredb`.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyEventStore::Postgres(_) => "postgres",
            AnyEventStore::Esdb(_) => "eventstoredb",
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyEventStore::Postgres($s) => $e,
            AnyEventStore::Esdb($s) => $e,
        }
    };
}

impl EventStore for AnyEventStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> StoreResult<AppendResult> {
        delegate!(self, s => s.append(stream_id, expected, events).await)
    }

    async fn append_multi(&self, appends: Vec<StreamAppend>) -> StoreResult<Vec<AppendResult>> {
        delegate!(self, s => s.append_multi(appends).await)
    }

    fn supports_multi_stream(&self) -> bool {
        delegate!(self, s => s.supports_multi_stream())
    }

    async fn read_stream(&self, stream_id: &str, from: u64) -> StoreResult<Vec<RecordedEvent>> {
        delegate!(self, s => s.read_stream(stream_id, from).await)
    }

    async fn read_all(
        &self,
        after: Option<Position>,
        limit: usize,
    ) -> StoreResult<Vec<RecordedEvent>> {
        delegate!(self, s => s.read_all(after, limit).await)
    }

    fn subscribe_all(&self, after: Option<Position>) -> EventFeed {
        delegate!(self, s => s.subscribe_all(after))
    }

    async fn head_position(&self) -> StoreResult<Option<Position>> {
        delegate!(self, s => s.head_position().await)
    }

    async fn count_after(&self, after: Option<Position>) -> StoreResult<u64> {
        delegate!(self, s => s.count_after(after).await)
    }

    async fn ping(&self) -> StoreResult<()> {
        delegate!(self, s => s.ping().await)
    }
}
