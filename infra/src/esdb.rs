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

mod client;
mod codec;
mod event_store;
mod feed;
mod nodelay;
#[cfg(test)]
mod tests;
mod url;

use std::time::Duration;

pub use client::EsdbEventStore;

/// Settings of the adapter beyond the connection string.
#[derive(Debug, Clone)]
pub struct EsdbOptions {
    /// Upper bound of every call to the server (of each page of a long read). Default 5 s.
    pub timeout: Duration,
    /// Upper bound of [`EventStore::ping`](crate::EventStore::ping). Default 2 s.
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
