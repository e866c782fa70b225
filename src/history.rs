//! `history interview <ID> [--tenant T]`: the audit trail, one event a line.

use std::io::Write;

use anyhow::Context;
use domain::{Aggregate, InterviewAggregate, Tenant};
use infra::{AnyEventStore, EventStore};
use uuid::Uuid;

/// Longest data summary on a human line.
const SUMMARY_CHARS: usize = 120;

/// Prints the interview's stream oldest first: version, time, type, actor and a compact
/// data summary; with `json`, one JSON object per line.
pub async fn print_interview(
    store: &AnyEventStore,
    tenant: &Tenant,
    id: Uuid,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let stream = InterviewAggregate::stream_in(tenant, id);
    let events = store
        .read_stream(&stream, 1)
        .await
        .context("failed to read the event store")?;
    if events.is_empty() {
        anyhow::bail!("interview {id} has no history (no stream {stream})");
    }
    for e in events {
        if json {
            let line = serde_json::json!({
                "version": e.version,
                "position": e.position.to_string(),
                "type": e.event_type,
                "occurredAt": e.metadata.occurred_at.to_rfc3339(),
                "actor": e.metadata.actor,
                "actorName": e.metadata.actor_name,
                "actorPerson": e.metadata.actor_person,
                "onBehalfOf": e.metadata.on_behalf_of,
                "correlationId": e.metadata.correlation_id,
                "causationId": e.metadata.causation_id,
                "data": e.data,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:>4}  {}  {:<27} {:<16} {}",
                e.version,
                e.metadata.occurred_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                e.event_type,
                e.metadata.actor,
                summary(&e.data)
            )?;
        }
    }
    Ok(())
}

fn summary(data: &serde_json::Value) -> String {
    let text = data.to_string();
    if text.chars().count() <= SUMMARY_CHARS {
        return text;
    }
    let cut: String = text.chars().take(SUMMARY_CHARS - 1).collect();
    format!("{cut}…")
}
