//! Integration tests of the query API against a real PostgreSQL: a fresh database per
//! test, data written as domain events and projected by the real projector.

mod access;
mod analytics;
mod authn;
mod bounds;
mod cache;
mod contract;
mod harness;
mod history;
mod interviews;
mod limits;
mod live;
mod ownership;
mod people;
mod rate_limit;
mod responses;
mod scenario;
mod schedule;
mod schedule_cache;
mod server;
mod tenants;
mod transcripts;
mod world;
