//! Read model `analytics`: one fact row per interview plus aggregates kept up to date
//! incrementally (per day, per hour of day, funnel per position, competency sums).
//!
//! Every event moves a fact from one state to the next; the aggregates receive the
//! difference between the fact's contribution after and before, summed over the batch in
//! memory. A reschedule across days thus decrements the old day and increments the new
//! one, and a status change moves a count from one column to another. Every key a fact
//! ever contributed to is written, even with a zero sum, so the set of aggregate rows
//! does not depend on where batch boundaries fall: a replay yields the same tables.

mod facts;
mod write;

use std::collections::HashMap;

use domain::interview::InterviewEvent;
use futures::future::BoxFuture;
use infra::RecordedEvent;
use sqlx::PgConnection;
use tracing::instrument;
use uuid::Uuid;

use crate::support::{AggregateEvents, aggregate_events};
use crate::{Projection, ProjectionError};

use facts::{Deltas, Fact};

/// The `analytics` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Analytics;

impl Projection for Analytics {
    fn name(&self) -> &'static str {
        "analytics"
    }

    fn ddl(&self) -> &'static str {
        include_str!("../sql/analytics.sql")
    }

    /// 2: every table keyed by tenant first.
    fn ddl_version(&self) -> i32 {
        2
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "analytics_interviews",
            "analytics_daily",
            "analytics_hourly",
            "analytics_funnel",
            "analytics_competencies",
        ]
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(conn, events))
    }
}

#[instrument(name = "projection.apply", skip_all, fields(projection = "analytics", events = events.len()))]
async fn apply(conn: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
    for group in aggregate_events::<InterviewEvent>(events)? {
        apply_tenant(conn, group).await?;
    }
    Ok(())
}

/// One tenant's events of the batch: its facts, and its aggregates.
async fn apply_tenant(
    conn: &mut PgConnection,
    group: AggregateEvents<'_>,
) -> Result<(), ProjectionError> {
    let AggregateEvents {
        tenant,
        events: ours,
        ids,
    } = group;
    let mut facts: HashMap<Uuid, Fact> = write::load(conn, tenant, &ids)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let mut deltas = Deltas::default();
    let mut changed = Vec::new();
    for (id, event) in ours {
        if facts::apply_event(&mut facts, &mut deltas, id, event)? {
            changed.push(id);
        }
    }
    changed.sort_unstable();
    changed.dedup();
    let changed: Vec<&Fact> = changed.iter().filter_map(|id| facts.get(id)).collect();
    write::save(conn, tenant, &changed, &deltas).await
}
