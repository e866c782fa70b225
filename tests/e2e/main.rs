//! End-to-end: the built binary, started as a user starts it, driven over HTTP against a
//! real PostgreSQL (a fresh database per test).

mod bench;
mod eventstoredb;
mod harness;
mod metrics_addr;
mod operations;
mod story;
