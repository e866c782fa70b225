//! The event store port on the connection: appends, reads of a stream and of `$all`,
//! the head, counts and pings.

use std::sync::Arc;

use eventstore::{AppendToStreamOptions, CurrentRevision};

use super::client::{ALL_PAGE, STREAM_PAGE};
use super::{EsdbEventStore, codec, feed};
use crate::store::{
    AppendResult, EventFeed, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent,
    StoreError, StoreResult, StreamAppend, check_only,
};

/// Records per page when counting `$all`.
const COUNT_PAGE: usize = 1_000;
/// Records per page when looking for the newest event backwards.
const HEAD_PAGE: usize = 64;
/// `count_after` stops counting here (it is for lag reporting, not accounting).
const COUNT_CAP: u64 = 1_000_000;

impl EventStore for EsdbEventStore {
    #[tracing::instrument(
        name = "event_store.append",
        skip_all,
        fields(stream = %stream_id, expected = %expected, events = events.len())
    )]
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> StoreResult<AppendResult> {
        let inner = &*self.inner;
        if events.is_empty() {
            // Nothing to write: only the expectation is checked. (The server would accept an
            // empty append, but reports a missing stream and revision 0 alike.)
            let (version, position) = inner.stream_head(stream_id).await?;
            return check_only(stream_id, expected, version, position);
        }

        let data = events
            .iter()
            .map(codec::event_data)
            .collect::<StoreResult<Vec<_>>>()?;
        let limit = inner.options.timeout;
        let options = AppendToStreamOptions::default()
            .expected_revision(codec::expected_revision(expected))
            .deadline(limit);
        let (options, data) = (&options, &data);
        let written = inner
            .call(limit, |client| async move {
                client
                    .append_to_stream(stream_id, options, data.clone())
                    .await
            })
            .await;
        match written {
            Ok(w) => {
                let mut position = codec::position(w.position);
                if position == Position::START {
                    // The server answered without a position (older servers do so for an
                    // idempotent retry): it is the position of the stream's last event.
                    position = inner
                        .position_at(stream_id, w.next_expected_version)
                        .await?;
                }
                Ok(AppendResult {
                    version: w.next_expected_version.saturating_add(1),
                    position,
                })
            }
            Err(eventstore::Error::WrongExpectedVersion { current, .. }) => {
                Err(StoreError::WrongExpectedVersion {
                    stream: stream_id.to_owned(),
                    expected,
                    actual: Some(match current {
                        CurrentRevision::Current(revision) => revision.saturating_add(1),
                        CurrentRevision::NoStream => 0,
                    }),
                })
            }
            Err(e) => Err(inner.fail("append", e)),
        }
    }

    async fn append_multi(&self, _appends: Vec<StreamAppend>) -> StoreResult<Vec<AppendResult>> {
        Err(StoreError::Unsupported("multi-stream append"))
    }

    fn supports_multi_stream(&self) -> bool {
        false
    }

    #[tracing::instrument(name = "event_store.read_stream", skip(self))]
    async fn read_stream(&self, stream_id: &str, from: u64) -> StoreResult<Vec<RecordedEvent>> {
        let inner = &*self.inner;
        let mut events = Vec::new();
        let mut next = from.saturating_sub(1);
        loop {
            let Some(page) = inner
                .read_stream_page(stream_id, Some(next), STREAM_PAGE)
                .await?
            else {
                break;
            };
            let full = page.len() >= STREAM_PAGE;
            for raw in page {
                next = raw.revision.saturating_add(1);
                events.push(codec::decode(raw, &inner.upcasters)?);
            }
            if !full {
                break;
            }
        }
        Ok(events)
    }

    #[tracing::instrument(name = "event_store.read_all", skip(self))]
    async fn read_all(
        &self,
        after: Option<Position>,
        limit: usize,
    ) -> StoreResult<Vec<RecordedEvent>> {
        let inner = &*self.inner;
        let mut events = Vec::with_capacity(limit.min(ALL_PAGE));
        let mut cursor = after;
        let mut count = limit.saturating_add(1).min(ALL_PAGE); // +1: the record at `after`
        while events.len() < limit {
            let page = inner
                .read_all_page(cursor, false, count, inner.options.timeout)
                .await?;
            let full = page.len() >= count;
            let mut advanced = false;
            for raw in page {
                let position = codec::position(raw.position);
                if cursor.is_some_and(|c| position <= c) {
                    continue;
                }
                cursor = Some(position);
                advanced = true;
                if codec::is_system(&raw.stream_id, &raw.event_type) {
                    continue;
                }
                match codec::decode(raw, &inner.upcasters) {
                    Ok(event) => events.push(event),
                    // The page ends before it; first in the page, it is the answer.
                    Err(e @ StoreError::Undecodable(_)) if events.is_empty() => return Err(e),
                    Err(StoreError::Undecodable(_)) => return Ok(events),
                    Err(e) => return Err(e),
                }
                if events.len() == limit {
                    break;
                }
            }
            if !full || !advanced {
                break;
            }
            count = ALL_PAGE; // system records were in the way: read on in whole pages
        }
        Ok(events)
    }

    fn subscribe_all(&self, after: Option<Position>) -> EventFeed {
        tracing::debug!(?after, "event_store.subscribe_all");
        feed::subscribe(Arc::clone(&self.inner), after)
    }

    #[tracing::instrument(name = "event_store.head_position", skip(self))]
    async fn head_position(&self) -> StoreResult<Option<Position>> {
        let inner = &*self.inner;
        let mut cursor = None;
        loop {
            let page = inner
                .read_all_page(cursor, true, HEAD_PAGE, inner.options.timeout)
                .await?;
            let full = page.len() >= HEAD_PAGE;
            let mut advanced = false;
            for raw in page {
                let position = codec::position(raw.position);
                if cursor.is_some_and(|c| position >= c) {
                    continue;
                }
                cursor = Some(position);
                advanced = true;
                if !codec::is_system(&raw.stream_id, &raw.event_type) {
                    return Ok(Some(position));
                }
            }
            if !full || !advanced {
                return Ok(None);
            }
        }
    }

    #[tracing::instrument(name = "event_store.count_after", skip(self))]
    async fn count_after(&self, after: Option<Position>) -> StoreResult<u64> {
        let inner = &*self.inner;
        let mut count = 0u64;
        let mut cursor = after;
        loop {
            let page = inner
                .read_all_page(cursor, false, COUNT_PAGE, inner.options.timeout)
                .await?;
            let full = page.len() >= COUNT_PAGE;
            let mut advanced = false;
            for raw in &page {
                let position = codec::position(raw.position);
                if cursor.is_some_and(|c| position <= c) {
                    continue;
                }
                cursor = Some(position);
                advanced = true;
                if !codec::is_system(&raw.stream_id, &raw.event_type) {
                    count += 1;
                }
            }
            if !full || !advanced || count >= COUNT_CAP {
                return Ok(count.min(COUNT_CAP));
            }
        }
    }

    #[tracing::instrument(name = "event_store.ping", skip(self))]
    async fn ping(&self) -> StoreResult<()> {
        let inner = &*self.inner;
        inner
            .read_all_page(None, true, 1, inner.options.ping_timeout)
            .await
            .map(drop)
    }
}
