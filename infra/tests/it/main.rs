//! The event store contract suite, run against PostgreSQL always and against
//! EventStoreDB whenever `EVENTSTORE_URL` names one (in CI it must), and the guarantees
//! specific to each adapter.

mod auth;
mod bounds;
mod contract;
mod esdb;
mod esdb_outages;
mod harness;
mod http_bounds;
mod postgres_only;
mod upcasting;
