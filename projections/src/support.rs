//! Small helpers shared by the read models.

use domain::tenant::{Tenant, parse_stream};
use domain::{DecodeError, DomainEvent};
use infra::RecordedEvent;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::ProjectionError;

/// How a live batch's transaction begins: in schema `rm`, with every statement planned
/// for its own parameters and the tables as large as they are now. A plan cached while
/// the tables were empty and never analyzed would keep treating `tenant = $1` as
/// selective and look rows up by id through a secondary index whose leading column is
/// `tenant` (a scan of the whole tenant per id) until autovacuum next analyzes the table;
/// planned each time, the primary key `(tenant, id)` wins as soon as the table has rows.
/// Planning these few statements per batch costs far less than one such scan.
pub(crate) const BEGIN_BATCH: &str =
    "BEGIN; SET LOCAL search_path TO rm, public; SET LOCAL plan_cache_mode = force_custom_plan";

/// Decodes a stored event into its domain enum (the domain's decoder, reading the data
/// in place); bad data makes it a poison event.
pub(crate) fn decode<E: DomainEvent + DeserializeOwned>(
    event: &RecordedEvent,
) -> Result<E, ProjectionError> {
    E::from_data_ref(&event.event_type, &event.data).map_err(|e| match e {
        DecodeError::UnknownType(_) => ProjectionError::poison(event, "unknown event type"),
        DecodeError::InvalidData { message, .. } => {
            ProjectionError::poison(event, format!("invalid data: {message}"))
        }
    })
}

/// The tenant and aggregate id in a stream name `{prefix}[{tenant}.]{uuid}`
/// ([`domain::tenant::parse_stream`]), if the stream has the prefix of `E`'s aggregate
/// ([`DomainEvent::STREAM_PREFIX`]). The stream name is the authority for the tenant:
/// events written before tenants existed have none in their metadata and are the
/// `default` tenant's. A stream with the prefix but no valid `[tenant.]uuid` is poison.
pub(crate) fn aggregate_id<E: DomainEvent>(
    event: &RecordedEvent,
) -> Result<Option<(&str, Uuid)>, ProjectionError> {
    match parse_stream(E::STREAM_PREFIX, &event.stream_id) {
        None => Ok(None),
        Some(Ok(found)) => Ok(Some(found)),
        Some(Err(_)) => Err(ProjectionError::poison(
            event,
            "stream name is not {prefix}[{tenant}.]{uuid}",
        )),
    }
}

/// The events of a batch that belong to `E`'s aggregates of one tenant.
pub(crate) struct AggregateEvents<'a> {
    /// The tenant (slug) of every event here.
    pub tenant: &'a str,
    /// Each event, in batch order, with its aggregate's id.
    pub events: Vec<(Uuid, &'a RecordedEvent)>,
    /// The distinct aggregate ids, sorted.
    pub ids: Vec<Uuid>,
}

/// The events of `E`'s aggregates in `events`, one group per tenant (in the order each
/// tenant first appears; within a group, batch order). Tenants share nothing, so
/// applying group after group gives the rows a batch-order apply would. A stream with
/// `E`'s prefix but no valid name is poison.
pub(crate) fn aggregate_events<E: DomainEvent>(
    events: &[RecordedEvent],
) -> Result<Vec<AggregateEvents<'_>>, ProjectionError> {
    let mut groups: Vec<AggregateEvents<'_>> = Vec::new();
    for event in events {
        let Some((tenant, id)) = aggregate_id::<E>(event)? else {
            continue;
        };
        let group = match groups.iter().position(|g| g.tenant == tenant) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(AggregateEvents {
                    tenant,
                    events: Vec::new(),
                    ids: Vec::new(),
                });
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        group.events.push((id, event));
        group.ids.push(id);
    }
    for group in &mut groups {
        group.ids.sort_unstable();
        group.ids.dedup();
    }
    Ok(groups)
}

/// The distinct `(tenant, id)` of `E`'s aggregates that have events in `events` (for the
/// runtime's change notices; a malformed stream name is the apply's poison to report).
pub(crate) fn aggregate_ids<E: DomainEvent>(events: &[RecordedEvent]) -> Vec<(Tenant, Uuid)> {
    let mut ids: Vec<(Tenant, Uuid)> = events
        .iter()
        .filter_map(|e| aggregate_id::<E>(e).ok().flatten())
        .filter_map(|(tenant, id)| Tenant::parse(tenant).ok().map(|t| (t, id)))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// What to do with an event given the version its row is at (0: no row yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The row already reflects it: a redelivery, nothing to do.
    Applied,
    /// The next event of the stream.
    Next,
}

/// Checks that `event` is the one after `current`. A gap means an event was lost or
/// delivered out of order, which the read model cannot repair: poison.
pub(crate) fn next_version(event: &RecordedEvent, current: u64) -> Result<Step, ProjectionError> {
    if event.version <= current {
        Ok(Step::Applied)
    } else if event.version == current + 1 {
        Ok(Step::Next)
    } else {
        Err(ProjectionError::poison(
            event,
            format!(
                "version gap: the read model is at version {current}, expected {}",
                current + 1
            ),
        ))
    }
}

/// A stream version as a column value.
pub(crate) fn version_i64(event: &RecordedEvent) -> Result<i64, ProjectionError> {
    i64::try_from(event.version).map_err(|_| ProjectionError::poison(event, "version too large"))
}

/// A PostgreSQL array literal (`{"a","b"}`) for one row's array column, so that rows with
/// array columns can still travel as one `text[]` parameter to `UNNEST` (PostgreSQL has no
/// arrays of arrays of different lengths). Cast it back with `::uuid[]` / `::text[]`.
pub(crate) fn array_literal<T: ToString>(items: &[T]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.to_string().chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// Runs statements without parameters through the simple query protocol (so `sql` may
/// hold several, like a DDL file).
pub(crate) async fn script(conn: &mut sqlx::PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    conn.execute(sql).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::interview::InterviewEvent;
    use infra::{Metadata, Position};
    use serde_json::{Value, json};

    fn recorded(event_type: &str, data: Value) -> RecordedEvent {
        RecordedEvent {
            event_id: Uuid::nil(),
            stream_id: InterviewEvent::stream_id(Uuid::nil()),
            version: 1,
            position: Position::new(1, 1),
            event_type: event_type.into(),
            data,
            metadata: Metadata::anonymous(),
        }
    }

    #[test]
    fn bad_data_and_unknown_types_are_poison() {
        let bad = recorded("InterviewScheduled", json!({"interviewId": "x"}));
        let err = decode::<InterviewEvent>(&bad).expect_err("poison");
        assert!(err.to_string().contains("InterviewScheduled v1"), "{err}");
        let unknown = recorded("InterviewTeleported", json!({}));
        assert!(decode::<InterviewEvent>(&unknown).is_err());
        let missing = recorded("InterviewCancelled", json!({}));
        assert!(decode::<InterviewEvent>(&missing).is_err());
    }

    #[test]
    fn array_literals_quote_and_escape() {
        assert_eq!(array_literal::<String>(&[]), "{}");
        assert_eq!(
            array_literal(&["a", "b\"c", "d\\e"]),
            r#"{"a","b\"c","d\\e"}"#
        );
    }
}
