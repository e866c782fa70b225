//! placeholder — TEMPORARY STUB by the lead so the crate compiles; helper-2 replaces this file entirely.
use crate::store::*;
use crate::upcast::Upcasters;
use std::sync::Arc;
/// stub
pub struct EsdbEventStore;
impl EsdbEventStore {
    /// stub
    pub async fn connect(_url: &str, _u: Arc<Upcasters>) -> Result<Self, StoreError> {
        Err(StoreError::Unsupported("stub"))
    }
}
impl EventStore for EsdbEventStore {
    async fn append(
        &self,
        _s: &str,
        _e: ExpectedVersion,
        _ev: Vec<NewEvent>,
    ) -> StoreResult<AppendResult> {
        Err(StoreError::Unsupported("stub"))
    }
    async fn append_multi(&self, _a: Vec<StreamAppend>) -> StoreResult<Vec<AppendResult>> {
        Err(StoreError::Unsupported("stub"))
    }
    fn supports_multi_stream(&self) -> bool {
        false
    }
    async fn read_stream(&self, _s: &str, _f: u64) -> StoreResult<Vec<RecordedEvent>> {
        Err(StoreError::Unsupported("stub"))
    }
    async fn read_all(&self, _a: Option<Position>, _l: usize) -> StoreResult<Vec<RecordedEvent>> {
        Err(StoreError::Unsupported("stub"))
    }
    fn subscribe_all(&self, _a: Option<Position>) -> EventFeed {
        Box::pin(futures::stream::empty())
    }
    async fn head_position(&self) -> StoreResult<Option<Position>> {
        Err(StoreError::Unsupported("stub"))
    }
    async fn count_after(&self, _a: Option<Position>) -> StoreResult<u64> {
        Err(StoreError::Unsupported("stub"))
    }
    async fn ping(&self) -> StoreResult<()> {
        Err(StoreError::Unsupported("stub"))
    }
}
