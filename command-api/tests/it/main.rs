//! The command API through its router, against a real PostgreSQL (a fresh database per test).

mod authz;
mod bounds;
mod cache;
mod caps;
mod concurrency;
mod eventstoredb;
mod harness;
mod idempotency;
mod interviews;
mod people;
mod protocol;
mod rate_limit;
