//! The query API: a GraphQL read side over the read models (API.md §3).
//!
//! ```text
//! QueryApi::build(Settings::new(addr, pool, store, verifier)).await? // binds; port 0 works
//!     .run_until_stopped(shutdown_signal()).await?            // graceful on SIGINT/SIGTERM
//! ```
//!
//! - [`schema()`] builds the async-graphql schema on a [`QueryContext`]; [`router()`]
//!   serves it: `POST|GET /graphql`, GraphiQL at `GET /`, subscriptions at `/graphql/ws`
//!   (graphql-transport-ws), `/health/live`, `/health/ready`, `/metrics` (unless the
//!   process serves it on an address of its own: [`Settings::metrics_route`]).
//! - Reads go through [`read_model`] (typed SQL over schema `rm`), batched per request by
//!   [`loaders`]; `history` and `asOf` read the event store.
//! - Every route but `/health/*`, `/metrics` and GraphiQL's page needs a bearer token
//!   (401 otherwise; WebSockets may send it in `connection_init`); the verified
//!   [`Caller`] reads what [`schema::access`] allows its roles (docs/API.md §5).
//! - Every read is made for the caller's [`Viewer`] (its tenant) and sees only its
//!   tenant's rows: each statement filters by tenant and runs as role
//!   `interview_ledger_reader` under row-level security with `app.tenant` set for its
//!   transaction; every cache is keyed by tenant.
//! - `X-Min-Position` waits for the projections ([`consistency`]); subscriptions and
//!   those waits wake on the projector's NOTIFYs through one shared listener ([`notify`]).
//!
//! Settings (the binary maps its environment onto [`Settings`]):
//!
//! | setting | default |
//! |---|---|
//! | `addr` (`QUERY_API_ADDR`) | `127.0.0.1:8081` |
//! | `min_position_timeout` | 5 s |
//! | `query_timeout` | 10 s |
//! | `max_body_bytes` | 1 MiB |
//! | `limits` | depth 12, complexity 5,000 |
//! | `rate_limit` | 200 requests or subscription starts a second per caller, bursts of 400 |
//! | `cache` | 100,000 interviews, 100,000 people and 20,000 schedules kept in memory |
//!
//! Reads by id (`interview(id)`, `person(id)`, the people of an interview) and the
//! schedules behind `schedule` and `availability` are served from an in-process cache
//! of read-model rows that the projector's notifications keep
//! fresh ([`read_model::RowCache`]); it is off, and every read goes to the database,
//! while the notification listener is not listening.

#![warn(missing_docs)]

mod app;
pub mod consistency;
mod context;
pub mod error;
mod http;
pub mod loaders;
mod metrics;
pub mod notify;
pub mod read_model;
pub mod schema;
pub mod viewer;

pub use app::{QueryApi, QueryApiError, Settings, shutdown_signal};
pub use context::QueryContext;
pub use http::auth::authenticate;
pub use http::{AppState, HttpLimits, router};
pub use schema::{Caller, Limits, QuerySchema, schema, sdl};
pub use viewer::Viewer;
