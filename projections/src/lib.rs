//! Projections: the projector runtime (subscribe → batch → transaction → checkpoint),
//! every read model of the query API and its tables, and rebuilds.
//!
//! - [`people`], [`interviews`], [`schedules`], [`analytics`]: the read models, each a
//!   [`Projection`] whose tables live in schema [`READ_SCHEMA`];
//! - [`runtime`]: the [`Projector`] that keeps them up to date, one task per projection;
//! - [`rebuild()`]: replays the whole log into shadow tables and swaps them in;
//! - [`prepare`] and [`status`]: startup and the `projections status` view;
//! - [`parked`]: streams parked at an event a projection cannot apply, and the
//!   operators' `retry` and `skip`.

pub mod analytics;
pub mod interviews;
pub mod parked;
pub mod people;
pub mod progress;
pub mod projection;
pub mod rebuild;
pub mod rls;
pub mod runtime;
pub mod schedules;
pub mod setup;

mod support;

use std::sync::Arc;

use sqlx::migrate::Migrator;

pub use progress::{Progress, progress_reporter};
pub use projection::{Projection, ProjectionError};
pub use rebuild::{RebuildError, RebuildReport, rebuild};
pub use runtime::{Metrics, Projector, Settings};
pub use setup::{ProjectionState, ProjectionStatusRow, SetupError, prepare, status};

/// The runtime's tables (checkpoints). Read-model tables come from each projection's DDL.
///
/// Run it through [`prepare`], which records applied versions in its own table
/// (`projection_migrations`) so that it never clashes with the event store's migrator
/// when both live in one database.
pub static MIGRATOR: Migrator = Migrator {
    // Several crates migrate one database; each ignores the others' entries.
    ignore_missing: true,
    ..sqlx::migrate!("./migrations")
};

/// The schema that serves queries.
pub const READ_SCHEMA: &str = "rm";

/// The NOTIFY channels the runtime announces batches and changes on (defined in
/// [`infra::notify`], which the query API listens with).
pub use infra::notify::{INTERVIEW_CHANNEL, PERSON_CHANNEL, PROJECTION_CHANNEL, SCHEDULE_CHANNEL};

/// Every read model of the system, in a stable order.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(people::People),
        Arc::new(interviews::Interviews),
        Arc::new(schedules::Schedules),
        Arc::new(analytics::Analytics),
    ]
}

/// The projections named in `names` (all of them for an empty list), or the first
/// unknown name.
pub fn by_names(names: &[String]) -> Result<Vec<Arc<dyn Projection>>, String> {
    let every = all();
    if names.is_empty() {
        return Ok(every);
    }
    names
        .iter()
        .map(|n| {
            every
                .iter()
                .find(|p| p.name() == n.as_str())
                .cloned()
                .ok_or_else(|| n.clone())
        })
        .collect()
}
