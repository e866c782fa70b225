//! Recovery of multi-stream changes interrupted by a crash on a store without
//! multi-stream transactions (EventStoreDB): bookings whose interview never appeared are
//! released, and bookings that disagree with the interview's current time are re-booked.

use std::time::Duration;

use domain::interview::InterviewStatus;
use domain::schedule::ScheduleCommand;
use domain::{Aggregate, InterviewAggregate, ScheduleAggregate, Tenant};
use infra::{AnyEventStore, StoreError};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::command::{Actor, CommandError, CommandMeta};
use crate::pipeline::{self, Expect};
use crate::streams::{self, Streams};

/// Records that a command is about to book several schedules for `interview_id`.
pub async fn begin(
    pool: &PgPool,
    tenant: &Tenant,
    interview_id: Uuid,
    people: &[Uuid],
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO booking_intents (id, tenant, interview_id, person_ids) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(tenant.as_str())
    .bind(interview_id)
        .bind(people)
        .execute(pool)
        .await
        .map_err(|e| StoreError::Unavailable(format!("booking intents: {e}")))?;
    Ok(id)
}

/// The command finished (done or undone): its intent is no longer needed.
pub async fn end(pool: &PgPool, intent: Uuid) {
    if let Err(e) = sqlx::query("DELETE FROM booking_intents WHERE id = $1")
        .bind(intent)
        .execute(pool)
        .await
    {
        tracing::warn!(error = %e, %intent, "could not clear a booking intent; recovery will");
    }
}

/// Reconciles every intent older than `grace`; returns how many were settled.
pub async fn reconcile_once(
    store: &AnyEventStore,
    pool: &PgPool,
    grace: Duration,
) -> Result<usize, CommandError> {
    let rows: Vec<(Uuid, String, Uuid, Vec<Uuid>)> = sqlx::query_as(
        "SELECT id, tenant, interview_id, person_ids FROM booking_intents
         WHERE created_at <= now() - make_interval(secs => $1) ORDER BY created_at LIMIT 100",
    )
    .bind(grace.as_secs_f64())
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::Unavailable(format!("booking intents: {e}")))?;
    // Repairs act on what the store says, never on a memory.
    let streams = Streams::new(store.clone(), 0);
    let mut settled = 0;
    for (intent, tenant, interview_id, people) in rows {
        let Ok(tenant) = Tenant::parse(&tenant) else {
            tracing::error!(%intent, "a booking intent names no valid tenant; left for an operator");
            continue;
        };
        reconcile(&streams, &tenant, interview_id, &people).await?;
        end(pool, intent).await;
        settled += 1;
    }
    Ok(settled)
}

/// Makes each person's booking for the interview match the interview's stream.
async fn reconcile(
    streams: &Streams,
    tenant: &Tenant,
    interview_id: Uuid,
    people: &[Uuid],
) -> Result<(), CommandError> {
    let interview = streams::read::<InterviewAggregate>(
        streams.store(),
        InterviewAggregate::stream_in(tenant, interview_id),
    )
    .await?;
    let meta = CommandMeta::system(Actor::system("recovery", tenant.clone()));
    for person in people {
        let wanted = match &interview.state {
            Some(iv) if iv.status == InterviewStatus::Scheduled && iv.is_participant(*person) => {
                iv.time_range().map(|range| ScheduleCommand::Book {
                    person_id: *person,
                    interview_id,
                    range,
                })
            }
            _ => None,
        };
        let release = ScheduleCommand::Release { interview_id };
        let settle = |cmd| {
            pipeline::execute::<ScheduleAggregate>(streams, &meta, *person, Expect::Fresh, cmd)
        };
        let settled = match wanted {
            Some(book) => match settle(book).await {
                Err(CommandError::Refused(e)) => {
                    // A re-booking that now conflicts cannot be forced; the interview
                    // keeps its time and the person's schedule shows no booking for it.
                    tracing::warn!(%person, error = %e, "recovery could not re-book; releasing instead");
                    settle(release).await
                }
                other => other,
            },
            None => settle(release).await,
        };
        match settled {
            // Nothing to release is as settled as released.
            Ok(_) | Err(CommandError::Refused(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reconciles at start and then every `every`, until cancelled.
pub async fn run(
    store: AnyEventStore,
    pool: PgPool,
    grace: Duration,
    every: Duration,
    cancel: CancellationToken,
) {
    loop {
        match reconcile_once(&store, &pool, grace).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(settled = n, "recovered interrupted bookings"),
            Err(e) => tracing::warn!(error = %e, "booking recovery failed; will retry"),
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    tracing::info!("booking recovery stopped");
}
