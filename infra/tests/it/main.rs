//! The event store contract suite, run against PostgreSQL always and against
//! EventStoreDB whenever `EVENTSTORE_URL` names one.

mod contract;
mod harness;
mod postgres_only;
mod upcasting;
