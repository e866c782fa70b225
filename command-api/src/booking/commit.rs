//! Committing the steps of a booking: atomically where the store can, else one stream
//! after the other with undo (EventStoreDB), an intent row covering the gap.

use domain::schedule::ScheduleCommand;
use domain::{DomainEvent, ScheduleAggregate};
use infra::{AppendResult, EventStore, StoreError, StreamAppend};
use sqlx::PgPool;
use uuid::Uuid;

use super::recovery;
use crate::command::CommandMeta;
use crate::pipeline::{self, Expect};
use crate::streams::Streams;

/// One step of a multi-stream change, with how to undo it on a store without
/// multi-stream transactions.
pub struct Step {
    /// What to append.
    pub append: StreamAppend,
    /// The person whose schedule this is, and the command that reverts the step, decided
    /// against the schedule afresh when a later step fails.
    pub undo: Option<(Uuid, ScheduleCommand)>,
}

/// Appends several streams: atomically where the store can, else in order (the
/// interview, last step, after every schedule), undoing the steps already done when one
/// fails. Without atomicity an intent row covers the gap between the steps, so a crash
/// there is reconciled by [`recovery`]. Returns the result of every step.
pub async fn commit_steps(
    streams: &Streams,
    intents: &PgPool,
    meta: &CommandMeta,
    interview_id: Uuid,
    steps: Vec<Step>,
) -> Result<Vec<AppendResult>, StoreError> {
    let store = streams.store();
    if store.supports_multi_stream() {
        let n = steps.iter().filter(|s| !s.append.events.is_empty()).count();
        let results = store
            .append_multi(steps.into_iter().map(|s| s.append).collect())
            .await?;
        crate::metrics::appended(n);
        return Ok(results);
    }
    let people: Vec<Uuid> = steps
        .iter()
        .filter_map(|s| {
            domain::tenant::parse_stream(
                domain::schedule::ScheduleEvent::STREAM_PREFIX,
                &s.append.stream_id,
            )?
            .ok()
        })
        .map(|(_, person)| person)
        .collect();
    let intent = if people.is_empty() {
        None
    } else {
        Some(recovery::begin(intents, &meta.actor.tenant, interview_id, &people).await?)
    };
    let mut done: Vec<(AppendResult, &Step)> = Vec::new();
    let mut failure = None;
    for (i, step) in steps.iter().enumerate() {
        if i + 1 == steps.len() && !done.is_empty() && failpoint("after-bookings") {
            tracing::error!(
                "failpoint after-bookings: aborting between the bookings and the interview"
            );
            std::process::abort();
        }
        let a = &step.append;
        match store
            .append(&a.stream_id, a.expected, a.events.clone())
            .await
        {
            Ok(r) => {
                crate::metrics::appended(1);
                done.push((r, step));
            }
            Err(e) => {
                for (_, step) in done.iter().rev() {
                    if let Some((person, cmd)) = &step.undo {
                        undo(streams, meta, *person, cmd.clone()).await;
                    }
                }
                failure = Some(e);
                break;
            }
        }
    }
    if let Some(intent) = intent {
        recovery::end(intents, intent).await;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(done.into_iter().map(|(r, _)| r).collect()),
    }
}

/// True when the named failpoint is set in `INTERVIEW_LEDGER_FAILPOINT` (crash tests).
fn failpoint(name: &str) -> bool {
    std::env::var("INTERVIEW_LEDGER_FAILPOINT").is_ok_and(|v| v == name)
}

/// Reverts one schedule step by deciding the undo command on the schedule as it is now.
async fn undo(streams: &Streams, meta: &CommandMeta, person: Uuid, cmd: ScheduleCommand) {
    let undo_meta = meta.follow_up();
    let result =
        pipeline::execute::<ScheduleAggregate>(streams, &undo_meta, person, Expect::Fresh, cmd)
            .await;
    if let Err(e) = result {
        tracing::error!(%person, error = %e, "could not undo a partial booking; recovery will release it");
    }
}
