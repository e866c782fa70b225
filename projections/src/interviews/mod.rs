//! Read model `interviews`: interviews with their status, times, decision and counters;
//! `feedback` and `competency_scores`; `transcript_segments` for paging and search.
//!
//! A batch loads the rows of the interviews it touches, folds their events in memory and
//! writes each table with one multi-row statement.

mod fold;
mod write;

use std::collections::HashMap;

use domain::interview::InterviewEvent;
use futures::future::BoxFuture;
use infra::RecordedEvent;
use sqlx::PgConnection;
use tracing::instrument;
use uuid::Uuid;

use crate::support::{AggregateEvents, aggregate_events, aggregate_ids};
use crate::{Projection, ProjectionError};

use fold::{Changes, InterviewRow};

/// The `interviews` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interviews;

impl Projection for Interviews {
    fn name(&self) -> &'static str {
        "interviews"
    }

    fn ddl(&self) -> &'static str {
        include_str!("../sql/interviews.sql")
    }

    /// 2: every table keyed by tenant first.
    fn ddl_version(&self) -> i32 {
        2
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "interviews",
            "feedback",
            "competency_scores",
            "transcript_segments",
        ]
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(conn, events))
    }

    fn changed_interviews(&self, events: &[RecordedEvent]) -> Vec<(domain::Tenant, Uuid)> {
        aggregate_ids::<InterviewEvent>(events)
    }
}

#[instrument(name = "projection.apply", skip_all, fields(projection = "interviews", events = events.len()))]
async fn apply(conn: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
    for group in aggregate_events::<InterviewEvent>(events)? {
        apply_tenant(conn, group).await?;
    }
    Ok(())
}

/// One tenant's events of the batch.
async fn apply_tenant(
    conn: &mut PgConnection,
    group: AggregateEvents<'_>,
) -> Result<(), ProjectionError> {
    let AggregateEvents {
        tenant,
        events: ours,
        ids,
    } = group;
    let mut rows: HashMap<Uuid, InterviewRow> = write::load(conn, tenant, &ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut changes = Changes::default();
    for (id, event) in ours {
        fold::apply_event(&mut rows, &mut changes, id, event)?;
    }
    write::save(conn, tenant, &rows, &changes).await
}
