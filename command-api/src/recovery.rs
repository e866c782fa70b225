//! Recovery of multi-stream changes interrupted by a crash on a store without
//! multi-stream transactions (EventStoreDB): bookings whose interview never appeared are
//! released, and bookings that disagree with the interview's current time are re-booked.

use std::time::Duration;

use domain::DomainEvent;
use domain::interview::{self, InterviewEvent, InterviewStatus};
use domain::schedule::{self, Schedule, ScheduleCommand, ScheduleEvent};
use infra::{AnyEventStore, EventStore, ExpectedVersion, StoreError};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::ApiError;
use crate::handler::{CommandMeta, MAX_ATTEMPTS, load};

/// Records that a command is about to book several schedules for `interview_id`.
pub async fn begin(pool: &PgPool, interview_id: Uuid, people: &[Uuid]) -> Result<Uuid, ApiError> {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO booking_intents (id, interview_id, person_ids) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(interview_id)
        .bind(people)
        .execute(pool)
        .await
        .map_err(|e| ApiError::Unavailable(format!("booking intents: {e}")))?;
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
) -> Result<usize, ApiError> {
    let rows: Vec<(Uuid, Uuid, Vec<Uuid>)> = sqlx::query_as(
        "SELECT id, interview_id, person_ids FROM booking_intents
         WHERE created_at <= now() - make_interval(secs => $1) ORDER BY created_at LIMIT 100",
    )
    .bind(grace.as_secs_f64())
    .fetch_all(pool)
    .await
    .map_err(|e| ApiError::Unavailable(format!("booking intents: {e}")))?;
    let mut settled = 0;
    for (intent, interview_id, people) in rows {
        reconcile(store, interview_id, &people).await?;
        end(pool, intent).await;
        settled += 1;
    }
    Ok(settled)
}

/// Makes each person's booking for the interview match the interview's stream.
async fn reconcile(
    store: &AnyEventStore,
    interview_id: Uuid,
    people: &[Uuid],
) -> Result<(), ApiError> {
    let loaded = load(
        store,
        InterviewEvent::stream_id(interview_id),
        None,
        interview::evolve,
    )
    .await?;
    let meta = CommandMeta {
        actor: "recovery".into(),
        correlation_id: Uuid::now_v7(),
        command_id: Uuid::now_v7(),
        idempotency_key: None,
        if_match: None,
        now: chrono::Utc::now(),
    };
    for person in people {
        let wanted = match &loaded.state {
            Some(iv) if iv.status == InterviewStatus::Scheduled && iv.is_participant(*person) => {
                iv.time_range().map(|range| ScheduleCommand::Book {
                    person_id: *person,
                    interview_id,
                    range,
                })
            }
            _ => None,
        };
        let cmd = wanted.unwrap_or(ScheduleCommand::Release { interview_id });
        settle(store, &meta, *person, cmd).await?;
    }
    Ok(())
}

async fn settle(
    store: &AnyEventStore,
    meta: &CommandMeta,
    person: Uuid,
    cmd: ScheduleCommand,
) -> Result<(), ApiError> {
    let stream = ScheduleEvent::stream_id(person);
    for _ in 0..MAX_ATTEMPTS {
        let sched = load(store, stream.clone(), Schedule::default(), schedule::evolve).await?;
        let events = match schedule::decide(&sched.state, cmd.clone()) {
            Ok(e) => e,
            Err(e) => {
                // A re-booking that now conflicts cannot be forced; the interview keeps
                // its time and the person's schedule shows no booking for it.
                tracing::warn!(%person, error = %e, "recovery could not re-book; releasing instead");
                match schedule::decide(
                    &sched.state,
                    ScheduleCommand::Release {
                        interview_id: match &cmd {
                            ScheduleCommand::Book { interview_id, .. }
                            | ScheduleCommand::Release { interview_id } => *interview_id,
                            ScheduleCommand::ChangeAvailability { .. } => return Ok(()),
                        },
                    },
                ) {
                    Ok(e) => e,
                    Err(_) => return Ok(()),
                }
            }
        };
        if events.is_empty() {
            return Ok(());
        }
        let new = meta.encode(&stream, &events);
        match store
            .append(&stream, ExpectedVersion::Exact(sched.version), new)
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::WrongExpectedVersion { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable(format!(
        "schedule of {person} kept changing during recovery"
    )))
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
