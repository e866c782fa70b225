//! What every aggregate's event enum offers to the event store.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

use crate::error::DecodeError;

/// An event enum of one aggregate, as the event store sees it: a stable type string, a
/// schema version and a JSON body holding the event's fields (camelCase, API.md §1).
pub trait DomainEvent {
    /// Prefix of the aggregate's stream names: `"person-"`, `"schedule-"`, `"interview-"`.
    const STREAM_PREFIX: &'static str;

    /// Every type string this enum can produce and decode.
    const EVENT_TYPES: &'static [&'static str];

    /// The stable type string, e.g. `"PersonRegistered"`; independent of the Rust name.
    fn event_type(&self) -> &'static str;

    /// Version of this event's data shape; 1 for every event today.
    fn schema_version(&self) -> u32 {
        1
    }

    /// The event's fields only (no type tag), camelCase; `None` options are left out.
    fn to_data(&self) -> Value;

    /// Rebuilds an event from its type string and data.
    fn from_data(event_type: &str, data: Value) -> Result<Self, DecodeError>
    where
        Self: Sized;

    /// The stream holding the events of aggregate `id`, e.g. `person-{id}`.
    fn stream_id(id: Uuid) -> String
    where
        Self: Sized,
    {
        format!("{}{id}", Self::STREAM_PREFIX)
    }
}

/// Serializes an adjacently tagged (`type` / `data`) event enum and keeps the `data` part.
pub(crate) fn encode<E: Serialize>(event: &E) -> Value {
    // Our events hold only strings, numbers, uuids, times and vectors of them, so
    // serializing to a `Value` cannot fail.
    let tagged = serde_json::to_value(event).expect("domain events always serialize");
    match tagged {
        Value::Object(mut map) => map.remove("data").unwrap_or(Value::Null),
        other => other,
    }
}

/// Rebuilds an adjacently tagged event enum from a type string and its data.
pub(crate) fn decode<E: DeserializeOwned>(
    known: &[&str],
    event_type: &str,
    data: Value,
) -> Result<E, DecodeError> {
    if !known.contains(&event_type) {
        return Err(DecodeError::UnknownType(event_type.to_owned()));
    }
    let tagged = serde_json::json!({ "type": event_type, "data": data });
    serde_json::from_value(tagged).map_err(|e| DecodeError::InvalidData {
        event_type: event_type.to_owned(),
        message: e.to_string(),
    })
}
