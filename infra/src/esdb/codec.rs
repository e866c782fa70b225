//! Mapping between the port's types and the `eventstore` client's: event data and
//! metadata, versions and revisions, positions, errors.

use chrono::{DateTime, Utc};
use eventstore::{EventData, ExpectedRevision, ResolvedEvent};
use serde_json::Value;
use uuid::Uuid;

use crate::store::{
    ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent, StoreError, StoreResult,
    UndecodableEvent, short_reason,
};
use crate::upcast::Upcasters;

/// The actor recorded for events whose metadata does not name one (written by other tools).
pub(super) const UNKNOWN_ACTOR: &str = "unknown";

/// Our expected version as the server's expected revision (`version` = revision + 1).
pub(super) fn expected_revision(expected: ExpectedVersion) -> ExpectedRevision {
    match expected {
        ExpectedVersion::Any => ExpectedRevision::Any,
        ExpectedVersion::NoStream | ExpectedVersion::Exact(0) => ExpectedRevision::NoStream,
        ExpectedVersion::Exact(n) => ExpectedRevision::Exact(n - 1),
    }
}

/// Our position of a server position.
pub(super) fn position(p: eventstore::Position) -> Position {
    Position::new(p.commit, p.prepare)
}

/// The server position of ours (commit, prepare).
pub(super) fn server_position(p: Position) -> eventstore::Position {
    eventstore::Position {
        commit: p.major,
        prepare: p.minor,
    }
}

/// True for the server's own records: `$`-prefixed event types (`$metadata`, `$>` links,
/// `$statsCollected`, …) or streams (`$$x`, `$projections-…`, `$settings`, …).
pub(super) fn is_system(stream_id: &str, event_type: &str) -> bool {
    stream_id.starts_with('$') || event_type.starts_with('$')
}

/// An event to append: type and id as given, data and metadata as JSON.
pub(super) fn event_data(event: &NewEvent) -> StoreResult<EventData> {
    let data = EventData::json(&event.event_type, &event.data)
        .map_err(|e| StoreError::Other(format!("encoding {}: {e}", event.event_type)))?
        .id(event.event_id);
    data.metadata_as_json(&event.metadata)
        .map_err(|e| StoreError::Other(format!("encoding metadata of {}: {e}", event.event_type)))
}

/// The record a read or subscription delivered: with links not resolved, the event itself.
pub(super) fn record(resolved: ResolvedEvent) -> StoreResult<eventstore::RecordedEvent> {
    resolved
        .event
        .or(resolved.link)
        .ok_or_else(|| StoreError::Decode("the server sent a read result without an event".into()))
}

/// Decodes a stored record (which must not be a system event) and upcasts it. Data that
/// is not JSON, or that an upcaster refuses, is [`StoreError::Undecodable`] naming the
/// event (metadata never fails: see [`metadata`]).
pub(super) fn decode(
    raw: eventstore::RecordedEvent,
    upcasters: &Upcasters,
) -> StoreResult<RecordedEvent> {
    let undecodable = |raw: &eventstore::RecordedEvent, reason: String| {
        UndecodableEvent {
            stream_id: raw.stream_id.clone(),
            version: raw.revision.saturating_add(1),
            position: position(raw.position),
            event_type: raw.event_type.clone(),
            reason,
        }
        .into_error()
    };
    let data = if raw.data.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&raw.data) {
            Ok(data) => data,
            Err(e) => {
                let reason = format!("data is not JSON: {}", short_reason(&e.to_string()));
                return Err(undecodable(&raw, reason));
            }
        }
    };
    let created = created_at(&raw);
    let metadata = metadata(&raw.custom_metadata, created);
    let mut event = RecordedEvent {
        event_id: raw.id,
        stream_id: raw.stream_id,
        version: raw.revision.saturating_add(1),
        position: position(raw.position),
        event_type: raw.event_type,
        data,
        metadata,
    };
    if let Err(e) = upcasters.upcast(&mut event) {
        return Err(UndecodableEvent {
            stream_id: event.stream_id,
            version: event.version,
            position: event.position,
            event_type: event.event_type,
            reason: short_reason(&e),
        }
        .into_error());
    }
    Ok(event)
}

/// When the server stored the event: its `created` system metadata (100 ns ticks since
/// the Unix epoch) at full precision; the client's own (whole-second) value otherwise.
fn created_at(raw: &eventstore::RecordedEvent) -> DateTime<Utc> {
    raw.metadata
        .get("created")
        .and_then(|ticks| ticks.parse::<i64>().ok())
        .and_then(|ticks| {
            let secs = ticks.div_euclid(10_000_000);
            let nanos = u32::try_from(ticks.rem_euclid(10_000_000) * 100).ok()?;
            DateTime::from_timestamp(secs, nanos)
        })
        .unwrap_or(raw.created)
}

/// Our metadata from the event's custom metadata. Events written through this adapter
/// carry it whole; events written by other tools may carry none or another shape, so
/// missing or unreadable fields fall back to defaults (actor "unknown", occurred at the
/// server's `created` time, schema version 1) instead of failing the read.
fn metadata(custom: &[u8], created: DateTime<Utc>) -> Metadata {
    let defaults = Metadata {
        correlation_id: None,
        causation_id: None,
        actor: UNKNOWN_ACTOR.into(),
        actor_name: None,
        actor_person: None,
        on_behalf_of: None,
        tenant: None,
        occurred_at: created,
        schema_version: 1,
    };
    if custom.is_empty() {
        return defaults;
    }
    if let Ok(m) = serde_json::from_slice::<Metadata>(custom) {
        return m;
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(custom) else {
        tracing::debug!("event metadata is not a JSON object; using defaults");
        return defaults;
    };
    let uuid = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| map.get(*k)?.as_str()?.parse::<Uuid>().ok())
    };
    Metadata {
        correlation_id: uuid(&["correlationId", "$correlationId"]),
        causation_id: uuid(&["causationId", "$causationId"]),
        actor: map
            .get("actor")
            .and_then(Value::as_str)
            .map_or(defaults.actor, str::to_owned),
        actor_name: None,
        actor_person: None,
        on_behalf_of: None,
        tenant: None,
        occurred_at: map
            .get("occurredAt")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map_or(created, |t| t.with_timezone(&Utc)),
        schema_version: map
            .get("schemaVersion")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(1),
    }
}

/// How a failed call of the client is reported. A version conflict is mapped by the
/// caller, which knows the stream and the expectation.
pub(super) fn error(e: eventstore::Error) -> StoreError {
    use eventstore::Error as E;
    match e {
        E::ServerError(m) => StoreError::Unavailable(m),
        E::ConnectionClosed => StoreError::Unavailable("connection closed".into()),
        E::GrpcConnectionError(e) => StoreError::Unavailable(e.to_string()),
        E::DeadlineExceeded => StoreError::Unavailable("deadline exceeded".into()),
        E::NotLeaderException(leader) => StoreError::Unavailable(format!(
            "the node is not the leader (leader: {}:{})",
            leader.host, leader.port
        )),
        E::Grpc { code, message } if transient_grpc_code(code as i32) => {
            StoreError::Unavailable(format!("{code:?}: {message}"))
        }
        E::AccessDenied => StoreError::Other(
            "access denied: the connection string needs the credentials of a user allowed \
             to read $all and write the streams (e.g. esdb://admin:changeit@host:2113)"
                .into(),
        ),
        E::InternalParsingError(m) => StoreError::Decode(m),
        E::ResourceDeleted => StoreError::Other("the stream was deleted".into()),
        E::ResourceNotFound => StoreError::Other("not found".into()),
        other => StoreError::Other(other.to_string()),
    }
}

/// True when the client can no longer be used and must be replaced: the 4.0.0 client's
/// connection task ends for good when a (re)connection attempt fails, after which every
/// call answers `ConnectionClosed`.
pub(super) fn client_is_dead(e: &eventstore::Error) -> bool {
    matches!(
        e,
        eventstore::Error::ConnectionClosed | eventstore::Error::GrpcConnectionError(_)
    )
}

/// True for failures that happen on the connection before the server could answer
/// (connection refused or reset, a dead pooled connection, a dead client), or that the
/// client has already acted on (a follower naming the leader, which the client then
/// connects to), as opposed to timeouts and to answers of the server.
pub(super) fn worth_one_retry(e: &eventstore::Error) -> bool {
    matches!(
        e,
        eventstore::Error::ServerError(_)
            | eventstore::Error::ConnectionClosed
            | eventstore::Error::GrpcConnectionError(_)
            | eventstore::Error::NotLeaderException(_)
    )
}

/// True for failures after which a subscription is worth re-establishing.
pub(super) fn is_transient(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(_))
}

/// gRPC status codes (numbered as in the gRPC spec; `tonic` is not a dependency of this
/// crate) that mean "try again later" rather than "this request is wrong": CANCELLED,
/// UNKNOWN, DEADLINE_EXCEEDED, ABORTED, INTERNAL, UNAVAILABLE.
fn transient_grpc_code(code: i32) -> bool {
    matches!(code, 1 | 2 | 4 | 10 | 13 | 14)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_map_to_revisions() {
        assert_eq!(
            expected_revision(ExpectedVersion::Any),
            ExpectedRevision::Any
        );
        assert_eq!(
            expected_revision(ExpectedVersion::NoStream),
            ExpectedRevision::NoStream
        );
        assert_eq!(
            expected_revision(ExpectedVersion::Exact(0)),
            ExpectedRevision::NoStream
        );
        assert_eq!(
            expected_revision(ExpectedVersion::Exact(3)),
            ExpectedRevision::Exact(2)
        );
    }

    #[test]
    fn foreign_metadata_falls_back_to_defaults() {
        let created = Utc::now();
        let m = metadata(b"", created);
        assert_eq!(m.actor, UNKNOWN_ACTOR);
        assert_eq!(m.occurred_at, created);
        assert_eq!(m.schema_version, 1);

        let id = Uuid::new_v4();
        let raw = json!({"$correlationId": id.to_string(), "schemaVersion": 2}).to_string();
        let m = metadata(raw.as_bytes(), created);
        assert_eq!(m.correlation_id, Some(id));
        assert_eq!(m.schema_version, 2);
        assert_eq!(m.actor, UNKNOWN_ACTOR);

        assert_eq!(metadata(b"\x00garbage", created).actor, UNKNOWN_ACTOR);
    }

    #[test]
    fn our_metadata_round_trips() {
        let mut m = Metadata::anonymous();
        m.correlation_id = Some(Uuid::new_v4());
        m.schema_version = 3;
        let bytes = serde_json::to_vec(&m).expect("serialize");
        assert_eq!(metadata(&bytes, Utc::now()), m);
    }

    #[test]
    fn system_events_are_recognised() {
        assert!(is_system("$$person-1", "$metadata"));
        assert!(is_system("person-1", "$>"));
        assert!(is_system("$stats-127.0.0.1:2113", "StatsCollected"));
        assert!(!is_system("person-1", "PersonRegistered"));
    }
}
