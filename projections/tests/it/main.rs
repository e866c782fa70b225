//! Integration tests of the projections against a real PostgreSQL (a fresh database per
//! test; `TEST_DATABASE_URL` names the server). Events come from the domain's `decide`
//! functions, appended to the PostgreSQL event store.

mod analytics;
mod bench;
mod failures;
mod harness;
mod interviews;
mod parking;
mod people;
mod replay;
mod runtime;
mod schedules;
mod tenants;
mod world;
