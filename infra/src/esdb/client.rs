//! The connection: the client (replaced when it dies), bounded calls, and the raw pages
//! of `$all` and of a stream that the event store operations are built on.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eventstore::{Client, ClientSettings, ReadAllOptions, ReadStreamOptions, StreamPosition};

use super::nodelay::NodelayRelay;
use super::url::{has_param, parse_settings, redact, replace_host, with_param};
use super::{EsdbOptions, codec};
use crate::store::{Position, StoreError, StoreResult};
use crate::upcast::Upcasters;

/// Events per page when reading a stream.
pub(super) const STREAM_PAGE: usize = 500;
/// Records per page when reading `$all`.
pub(super) const ALL_PAGE: usize = 500;
/// The client waits this long (its `discoveryInterval`, default 500 ms) before every
/// (re)connection, even to a single node; we shorten it unless the URL sets it.
const SINGLE_NODE_DISCOVERY_INTERVAL_MS: u32 = 10;

/// The event store on an EventStoreDB / KurrentDB server.
#[derive(Clone)]
pub struct EsdbEventStore {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for EsdbEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsdbEventStore")
            .field("target", &self.inner.target)
            .field("relay", &self.inner.relay.as_ref().map(|r| r.local_addr()))
            .finish()
    }
}

/// What every clone of a store, and every feed of it, shares.
pub(super) struct Inner {
    /// What the client connects to (the relay's address when there is one).
    settings: ClientSettings,
    slot: Mutex<ClientSlot>,
    pub(super) upcasters: Arc<Upcasters>,
    pub(super) options: EsdbOptions,
    /// The server's host:port list, for messages (never the credentials).
    pub(super) target: String,
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
    pub(super) fn client(&self) -> (Client, u64) {
        let slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        (slot.client.clone(), slot.generation)
    }

    /// Replaces the client when `e` says it is dead (once per generation).
    pub(super) fn after_error(&self, generation: u64, e: &eventstore::Error) {
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
    pub(super) async fn call<T, F, Fut>(
        &self,
        limit: Duration,
        f: F,
    ) -> Result<T, eventstore::Error>
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
    pub(super) fn fail(&self, op: &str, e: eventstore::Error) -> StoreError {
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
    pub(super) async fn read_all_page(
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
    pub(super) async fn read_stream_page(
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
    pub(super) async fn stream_head(
        &self,
        stream_id: &str,
    ) -> StoreResult<(u64, Option<Position>)> {
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
    pub(super) async fn position_at(
        &self,
        stream_id: &str,
        revision: u64,
    ) -> StoreResult<Position> {
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

fn new_client(settings: &ClientSettings) -> StoreResult<Client> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        StoreError::Other("the EventStoreDB client must be created inside a Tokio runtime".into())
    })?;
    Client::with_runtime_handle(runtime, settings.clone())
        .map_err(|e| StoreError::Other(format!("cannot create the EventStoreDB client: {e}")))
}
