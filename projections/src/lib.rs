//! Projections: the projector runtime (subscribe → batch → transaction → checkpoint),
//! every read model of the query API and its tables, and rebuilds.

pub mod projection;

use sqlx::migrate::Migrator;

/// The runtime's tables (checkpoints). Read-model tables come from each projection's DDL.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The schema that serves queries.
pub const READ_SCHEMA: &str = "rm";

/// NOTIFY channel: after each committed batch, payload `{"name": …, "position": "…", "state": "…"}`.
pub const PROJECTION_CHANNEL: &str = "il_projection";

/// NOTIFY channel: after a committed batch touched interviews, payload = the interview id
/// (one notification per changed interview).
pub const INTERVIEW_CHANNEL: &str = "il_interview_changed";
