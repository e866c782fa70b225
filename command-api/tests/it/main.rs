//! The command API through its router, against a real PostgreSQL (a fresh database per test).

mod authz;
mod cache;
mod concurrency;
mod caps;
mod eventstoredb;
mod harness;
mod idempotency;
mod interviews;
mod people;
mod protocol;
