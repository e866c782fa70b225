//! Infrastructure: the event store port and its adapters (PostgreSQL, EventStoreDB),
//! event encoding and upcasting, configuration, database pools, telemetry, and the
//! projector's notifications to the query side.

pub mod any;
pub mod auth;
pub mod config;
pub mod db;
pub mod esdb;
pub mod metrics;
pub mod notify;
pub mod postgres;
pub mod rate_limit;
pub mod serve;
pub mod store;
pub mod telemetry;
pub mod upcast;

pub use any::AnyEventStore;
pub use store::{
    AppendResult, EventFeed, EventStore, ExpectedVersion, InvalidPosition, Metadata, NewEvent,
    Position, RecordedEvent, StoreError, StoreResult, StreamAppend, UndecodableEvent,
};
