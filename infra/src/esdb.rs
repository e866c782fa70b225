//! The EventStoreDB / KurrentDB adapter of the event store port, through the official
//! `eventstore` 4.0.0 gRPC client.
//!
//! Mapping (see `ARCHITECTURE.md`, "The event store"):
//! - stream names and event types are used as they are; our `version` is the server's
//!   revision + 1, so `ExpectedVersion::Exact(n)` is revision `n - 1` and `Exact(0)` /
//!   `NoStream` is "no stream";
//! - the event id is our `event_id`: the server recognises a re-sent append (same ids
//!   right after the same expected revision) and answers it without writing again;
//! - data is the JSON of `data`, the custom metadata the JSON of
//!   [`Metadata`](crate::store::Metadata);
//! - positions are the server's (commit, prepare) pair;
//! - the server's own records (types or streams starting with `$`) never reach callers.
//!
//! The client's sockets lack `TCP_NODELAY` (≈44 ms per append on loopback); plaintext
//! single-node connections therefore go through a small loopback relay that fixes it
//! (≈1 ms per append; see the `nodelay` module for why and how).
//!
//! Every call is bounded by [`EsdbOptions::timeout`] (a gRPC deadline and a local timer),
//! so a server that is down or paused answers `StoreError::Unavailable` instead of
//! hanging. Appends to several streams are not atomic on this store, so `append_multi`
//! is `Unsupported`.

mod codec;
mod nodelay;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eventstore::{
    AppendToStreamOptions, Client, ClientSettings, ClientSettingsParseError, CurrentRevision,
    ReadAllOptions, ReadStreamOptions, StreamPosition, SubscribeToAllOptions, SubscriptionEvent,
    SubscriptionFilter,
};

use crate::store::{
    AppendResult, EventFeed, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent,
    StoreError, StoreResult, StreamAppend,
};
use crate::upcast::Upcasters;
use nodelay::NodelayRelay;

/// Events per page when reading a stream.
const STREAM_PAGE: usize = 500;
/// Records per page when reading `$all`.
const ALL_PAGE: usize = 500;
/// Records per page when counting `$all`.
const COUNT_PAGE: usize = 1_000;
/// Records per page when looking for the newest event backwards.
const HEAD_PAGE: usize = 64;
/// `count_after` stops counting here (it is for lag reporting, not accounting).
const COUNT_CAP: u64 = 1_000_000;
/// A subscription that keeps failing to come back reports `Unavailable` on its feed
/// every this many attempts (and keeps trying while the feed is polled).
const RESUBSCRIBE_REPORT_EVERY: u32 = 10;
/// The client waits this long (its `discoveryInterval`, default 500 ms) before every
/// (re)connection, even to a single node; we shorten it unless the URL sets it.
const SINGLE_NODE_DISCOVERY_INTERVAL_MS: u32 = 10;

/// Settings of the adapter beyond the connection string.
#[derive(Debug, Clone)]
pub struct EsdbOptions {
    /// Upper bound of every call to the server (of each page of a long read). Default 5 s.
    pub timeout: Duration,
    /// Upper bound of [`EventStore::ping`]. Default 2 s.
    pub ping_timeout: Duration,
    /// Connect plaintext single-node servers through a loopback relay that sets
    /// `TCP_NODELAY` (see the `nodelay` module): about 1 ms per append instead of 44 ms.
    /// Default true.
    pub nodelay_relay: bool,
    /// First wait before re-subscribing after a subscription dropped; doubles on each
    /// further failure, up to `timeout`. Default 100 ms.
    pub resubscribe_delay: Duration,
}

impl Default for EsdbOptions {
    fn default() -> Self {
        EsdbOptions {
            timeout: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(2),
            nodelay_relay: true,
            resubscribe_delay: Duration::from_millis(100),
        }
    }
}

/// The event store on an EventStoreDB / KurrentDB server.
#[derive(Clone)]
pub struct EsdbEventStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EsdbEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsdbEventStore")
            .field("target", &self.inner.target)
            .field("relay", &self.inner.relay.as_ref().map(|r| r.local_addr()))
            .finish()
    }
}

struct Inner {
    /// What the client connects to (the relay's address when there is one).
    settings: ClientSettings,
    slot: Mutex<ClientSlot>,
    upcasters: Arc<Upcasters>,
    options: EsdbOptions,
    /// The server's host:port list, for messages (never the credentials).
    target: String,
    relay: Option<NodelayRelay>,
}

/// The current client and how many times it was replaced.
struct ClientSlot {
    client: Client,
    generation: u64,
}

impl EsdbEventStore {
    /// Connects to the server named by an `esdb://` / `esdb+discover://` connection string
    /// (e.g. `esdb://admin:changeit@127.0.0.1:2113?tls=false`) with default options, and
    /// checks that it answers.
    pub async fn connect(url: &str, upcasters: Arc<Upcasters>) -> Result<Self, StoreError> {
        Self::connect_with(url, upcasters, EsdbOptions::default()).await
    }

    /// Like [`EsdbEventStore::connect`], with explicit options.
    ///
    /// A malformed connection string is `StoreError::Other`; a server that does not answer
    /// within `options.timeout` is `StoreError::Unavailable`. The user must be allowed to
    /// read `$all` (the default ACL allows only `$admins`; `--insecure` servers allow all).
    pub async fn connect_with(
        url: &str,
        upcasters: Arc<Upcasters>,
        options: EsdbOptions,
    ) -> Result<Self, StoreError> {
        let parsed = parse_settings(url)?;
        let target = parsed
            .hosts()
            .iter()
            .map(|h| format!("{}:{}", h.host, h.port))
            .collect::<Vec<_>>()
            .join(",");
        let single_node = !parsed.is_dns_discovery_enabled() && parsed.hosts().len() == 1;

        let mut conn = url.trim().to_owned();
        if single_node && !has_param(&conn, "discoveryInterval") {
            conn = with_param(
                &conn,
                "discoveryInterval",
                SINGLE_NODE_DISCOVERY_INTERVAL_MS,
            );
        }

        // The relay only fits a plaintext single node: with TLS the client would verify the
        // server's certificate against 127.0.0.1, and in cluster mode it connects to the
        // addresses gossip names, not to the one we would rewrite.
        let mut relay = None;
        if options.nodelay_relay && single_node && !parsed.is_secure_mode_enabled() {
            if let Some(endpoint) = parsed.hosts().first() {
                let host = endpoint
                    .host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                let port = u16::try_from(endpoint.port)
                    .map_err(|_| StoreError::Other(format!("invalid port in {}", redact(url))))?;
                match NodelayRelay::start(host, port).await {
                    Ok(r) => {
                        conn =
                            replace_host(&conn, &r.local_addr().to_string()).ok_or_else(|| {
                                StoreError::Other(format!("cannot rewrite {}", redact(url)))
                            })?;
                        relay = Some(r);
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        "cannot start the TCP_NODELAY relay; connecting directly (≈40 ms per call)"
                    ),
                }
            }
        } else if !parsed.is_secure_mode_enabled() || !single_node {
            tracing::debug!(%target, "EventStoreDB: no TCP_NODELAY relay for this connection");
        } else {
            tracing::info!(
                %target,
                "EventStoreDB over TLS: no TCP_NODELAY relay; \
                 appends may wait for delayed ACKs (≈40 ms)"
            );
        }

        let settings = parse_settings(&conn)?;
        let client = new_client(&settings)?;
        let store = EsdbEventStore {
            inner: Arc::new(Inner {
                settings,
                slot: Mutex::new(ClientSlot {
                    client,
                    generation: 0,
                }),
                upcasters,
                target,
                relay,
                options,
            }),
        };
        let timeout = store.inner.options.timeout;
        store.inner.read_all_page(None, true, 1, timeout).await?;
        tracing::info!(
            target = %store.inner.target,
            relay = store.inner.relay.is_some(),
            "connected to EventStoreDB"
        );
        Ok(store)
    }
}

impl Inner {
    /// The current client, and its generation for [`Inner::after_error`].
    fn client(&self) -> (Client, u64) {
        let slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        (slot.client.clone(), slot.generation)
    }

    /// Replaces the client when `e` says it is dead (once per generation).
    fn after_error(&self, generation: u64, e: &eventstore::Error) {
        if !codec::client_is_dead(e) {
            return;
        }
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.generation != generation {
            return;
        }
        match new_client(&self.settings) {
            Ok(client) => {
                slot.client = client;
                slot.generation += 1;
                tracing::info!(target = %self.target, error = %e, "EventStoreDB client replaced");
            }
            Err(err) => tracing::warn!(error = %err, "cannot replace the EventStoreDB client"),
        }
    }

    /// Runs a call of the client within `limit`; a late answer is `DeadlineExceeded`.
    ///
    /// A call that fails at once on the connection (a pooled HTTP/2 connection that died
    /// since its last use fails the next request with "SendRequest"; a client whose
    /// connection task ended answers `ConnectionClosed`) is tried once more on a fresh
    /// connection. That is safe for appends too: the retry carries the same event ids and
    /// expectation, which the server recognises if the first attempt did get through.
    /// Timeouts are never retried, so a call still ends within `2 × limit` at worst.
    async fn call<T, F, Fut>(&self, limit: Duration, f: F) -> Result<T, eventstore::Error>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, eventstore::Error>>,
    {
        let mut retried = false;
        loop {
            let (client, generation) = self.client();
            match tokio::time::timeout(limit, f(client)).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => {
                    self.after_error(generation, &e);
                    if retried || !codec::worth_one_retry(&e) {
                        return Err(e);
                    }
                    tracing::debug!(error = %e, "EventStoreDB call failed; retrying once");
                    retried = true;
                }
                Err(_) => return Err(eventstore::Error::DeadlineExceeded),
            }
        }
    }

    /// A client error as ours, naming the operation (and the server when unreachable).
    fn fail(&self, op: &str, e: eventstore::Error) -> StoreError {
        match codec::error(e) {
            StoreError::Unavailable(m) => {
                StoreError::Unavailable(format!("EventStoreDB at {}: {op}: {m}", self.target))
            }
            StoreError::Other(m) => StoreError::Other(format!("EventStoreDB {op}: {m}")),
            other => other,
        }
    }

    /// Up to `count` raw records of `$all` from `from` (forwards: including the record at
    /// `from`; backwards: before it; `None`: the start, or the end when backwards).
    async fn read_all_page(
        &self,
        from: Option<Position>,
        backwards: bool,
        count: usize,
        limit: Duration,
    ) -> StoreResult<Vec<eventstore::RecordedEvent>> {
        let position = match from {
            Some(p) if p != Position::START || backwards => {
                StreamPosition::Position(codec::server_position(p))
            }
            _ if backwards => StreamPosition::End,
            _ => StreamPosition::Start,
        };
        let options = ReadAllOptions::default().position(position);
        let options = if backwards {
            options.backwards()
        } else {
            options.forwards()
        };
        let options = &options.max_count(count).deadline(limit);
        let page = self
            .call(limit, |client| async move {
                let mut read = client.read_all(options).await?;
                let mut page = Vec::with_capacity(count.min(ALL_PAGE));
                while let Some(resolved) = read.next().await? {
                    page.push(resolved);
                }
                Ok(page)
            })
            .await
            .map_err(|e| self.fail("read $all", e))?;
        page.into_iter().map(codec::record).collect()
    }

    /// Up to `count` raw events of a stream from revision `from` forwards, or from the end
    /// backwards when `from` is `None`; a missing stream is `None`.
    async fn read_stream_page(
        &self,
        stream_id: &str,
        from: Option<u64>,
        count: usize,
    ) -> StoreResult<Option<Vec<eventstore::RecordedEvent>>> {
        let limit = self.options.timeout;
        let options = match from {
            Some(revision) => ReadStreamOptions::default()
                .position(StreamPosition::Position(revision))
                .forwards(),
            None => ReadStreamOptions::default().position(StreamPosition::End),
        }
        .max_count(count)
        .deadline(limit);
        let options = &options;
        let page = self
            .call(limit, |client| async move {
                let mut read = client.read_stream(stream_id, options).await?;
                let mut page = Vec::with_capacity(count.min(STREAM_PAGE));
                while let Some(resolved) = read.next().await? {
                    page.push(resolved);
                }
                Ok(page)
            })
            .await;
        match page {
            Ok(page) => page
                .into_iter()
                .map(codec::record)
                .collect::<StoreResult<Vec<_>>>()
                .map(Some),
            Err(eventstore::Error::ResourceNotFound) => Ok(None),
            Err(e) => Err(self.fail("read stream", e)),
        }
    }

    /// The stream's version and the position of its last event.
    async fn stream_head(&self, stream_id: &str) -> StoreResult<(u64, Option<Position>)> {
        let last = self.read_stream_page(stream_id, None, 1).await?;
        Ok(match last.as_deref() {
            Some([event, ..]) => (
                event.revision.saturating_add(1),
                Some(codec::position(event.position)),
            ),
            _ => (0, None),
        })
    }

    /// The position of the event at `revision` of a stream.
    async fn position_at(&self, stream_id: &str, revision: u64) -> StoreResult<Position> {
        let page = self
            .read_stream_page(stream_id, Some(revision), 1)
            .await?
            .unwrap_or_default();
        match page.first() {
            Some(event) if event.revision == revision => Ok(codec::position(event.position)),
            _ => Err(StoreError::Other(format!(
                "EventStoreDB: {stream_id}@{revision} was reported written but cannot be read"
            ))),
        }
    }
}

/// Parses a connection string; the message never repeats the credentials.
fn parse_settings(url: &str) -> StoreResult<ClientSettings> {
    url.trim()
        .parse::<ClientSettings>()
        .map_err(|e: ClientSettingsParseError| {
            let why = match e.error() {
                Some(url_error) => url_error.to_string(),
                None => e.message().to_owned(),
            };
            StoreError::Other(format!(
                "invalid EventStoreDB connection string {:?}: {why} (expected e.g. \
                 esdb://admin:changeit@127.0.0.1:2113?tls=false)",
                redact(url)
            ))
        })
}

fn new_client(settings: &ClientSettings) -> StoreResult<Client> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        StoreError::Other("the EventStoreDB client must be created inside a Tokio runtime".into())
    })?;
    Client::with_runtime_handle(runtime, settings.clone())
        .map_err(|e| StoreError::Other(format!("cannot create the EventStoreDB client: {e}")))
}

/// Where the host part (after any `user:password@`) of a URL starts and ends.
fn host_range(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    Some((host_start, end))
}

/// The URL with its userinfo replaced by `***`.
fn redact(url: &str) -> String {
    let url = url.trim();
    match host_range(url) {
        Some((host_start, _)) if url[..host_start].ends_with('@') => {
            let scheme_end = url.find("://").map_or(0, |i| i + 3);
            format!("{}***@{}", &url[..scheme_end], &url[host_start..])
        }
        _ => url.to_owned(),
    }
}

/// The URL with its `host:port` replaced.
fn replace_host(url: &str, host_port: &str) -> Option<String> {
    let (start, end) = host_range(url)?;
    Some(format!("{}{host_port}{}", &url[..start], &url[end..]))
}

/// True when the URL's query sets `name` (case-insensitively, as the client reads it).
fn has_param(url: &str, name: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query.split('&').any(|pair| {
            pair.split('=')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(name))
        })
    })
}

/// The URL with `name=value` added to its query.
fn with_param(url: &str, name: &str, value: impl std::fmt::Display) -> String {
    match url.split_once('?') {
        None => format!("{url}?{name}={value}"),
        Some((_, "")) => format!("{url}{name}={value}"),
        Some(_) if url.ends_with('&') => format!("{url}{name}={value}"),
        Some(_) => format!("{url}&{name}={value}"),
    }
}

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
            if !expected.matches(version) {
                return Err(StoreError::WrongExpectedVersion {
                    stream: stream_id.to_owned(),
                    expected,
                    actual: Some(version),
                });
            }
            return Ok(AppendResult {
                version,
                position: position.unwrap_or(Position::START),
            });
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
                events.push(codec::decode(raw, &inner.upcasters)?);
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
        let feed = Feed {
            inner: Arc::clone(&self.inner),
            last: after,
            current: None,
            failures: 0,
            done: false,
        };
        Box::pin(futures::stream::unfold(feed, |mut feed| async move {
            let item = feed.next().await?;
            Some((item, feed))
        }))
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

/// The state of one `subscribe_all` feed.
struct Feed {
    inner: Arc<Inner>,
    /// The position of the last record received: a new subscription starts after it.
    last: Option<Position>,
    /// The live subscription, its client's generation, and whether it was confirmed.
    current: Option<(eventstore::Subscription, u64, bool)>,
    /// Consecutive failures to (re)subscribe.
    failures: u32,
    /// Set after a permanent failure was reported: the feed ends.
    done: bool,
}

impl Feed {
    /// The next event, re-subscribing after connection failures.
    async fn next(&mut self) -> Option<StoreResult<RecordedEvent>> {
        if self.done {
            return None;
        }
        let inner = Arc::clone(&self.inner);
        loop {
            let (subscription, generation, confirmed) = match &mut self.current {
                Some((s, g, c)) => (s, *g, c),
                None => {
                    if self.failures > 0 {
                        let exp = self.failures.saturating_sub(1).min(16);
                        let delay = inner
                            .options
                            .resubscribe_delay
                            .saturating_mul(1 << exp)
                            .min(inner.options.timeout);
                        tokio::time::sleep(delay).await;
                    }
                    let (client, generation) = inner.client();
                    let from = match self.last {
                        Some(p) if p != Position::START => {
                            StreamPosition::Position(codec::server_position(p))
                        }
                        _ => StreamPosition::Start,
                    };
                    let options = SubscribeToAllOptions::default()
                        .position(from)
                        .filter(SubscriptionFilter::on_event_type().exclude_system_events());
                    let subscription = client.subscribe_to_all(&options).await;
                    let (s, g, c) = self.current.insert((subscription, generation, false));
                    (s, *g, c)
                }
            };
            // The server confirms a subscription at once; after that, silence only means
            // that nothing is written (a dead connection is noticed by HTTP/2 keep-alive).
            let received = if *confirmed {
                Ok(subscription.next_subscription_event().await)
            } else {
                tokio::time::timeout(
                    inner.options.timeout,
                    subscription.next_subscription_event(),
                )
                .await
            };
            let failure = match received {
                Ok(Ok(SubscriptionEvent::EventAppeared(resolved))) => {
                    *confirmed = true;
                    self.failures = 0;
                    let raw = match codec::record(resolved) {
                        Ok(raw) => raw,
                        Err(e) => return Some(Err(self.end(e))),
                    };
                    let position = codec::position(raw.position);
                    if self.last.is_some_and(|l| position <= l) {
                        continue; // never twice, never backwards
                    }
                    self.last = Some(position);
                    if codec::is_system(&raw.stream_id, &raw.event_type) {
                        continue;
                    }
                    return Some(codec::decode(raw, &inner.upcasters).map_err(|e| self.end(e)));
                }
                Ok(Ok(SubscriptionEvent::CaughtUp)) => {
                    *confirmed = true;
                    self.failures = 0;
                    continue;
                }
                Ok(Ok(_)) => {
                    // Confirmation, checkpoints, and the like.
                    *confirmed = true;
                    continue;
                }
                Ok(Err(e)) => {
                    inner.after_error(generation, &e);
                    inner.fail("subscribe $all", e)
                }
                Err(_) => StoreError::Unavailable(format!(
                    "EventStoreDB at {}: subscribe $all: not confirmed within {:?}",
                    inner.target, inner.options.timeout
                )),
            };
            self.current = None;
            if !codec::is_transient(&failure) {
                return Some(Err(self.end(failure)));
            }
            self.failures = self.failures.saturating_add(1);
            tracing::warn!(
                error = %failure,
                after = ?self.last,
                attempt = self.failures,
                "event_store.subscribe_all: subscription dropped, re-subscribing"
            );
            if self.failures.is_multiple_of(RESUBSCRIBE_REPORT_EVERY) {
                return Some(Err(failure));
            }
        }
    }

    fn end(&mut self, e: StoreError) -> StoreError {
        self.done = true;
        self.current = None;
        e
    }
}
