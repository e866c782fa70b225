//! What every aggregate's event enum offers to the event store.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::de::value::MapDeserializer;
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

    /// Like [`DomainEvent::from_data`], reading a stored event's data in place (no copy),
    /// for readers that keep the event, such as the projections.
    fn from_data_ref(event_type: &str, data: &Value) -> Result<Self, DecodeError>
    where
        Self: Sized + DeserializeOwned,
    {
        decode(Self::EVENT_TYPES, event_type, data)
    }

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
///
/// The data is read in place, with the tag presented first: no `{"type", "data"}`
/// object is built, and serde need not buffer the data before it knows the variant.
/// Replays decode every event, so this matters.
pub(crate) fn decode<E: DeserializeOwned>(
    known: &[&str],
    event_type: &str,
    data: &Value,
) -> Result<E, DecodeError> {
    if !known.contains(&event_type) {
        return Err(DecodeError::UnknownType(event_type.to_owned()));
    }
    let tag = Value::String(event_type.to_owned());
    let fields = [("type", &tag), ("data", data)];
    let map = MapDeserializer::<_, serde_json::Error>::new(fields.into_iter());
    E::deserialize(map).map_err(|e| DecodeError::InvalidData {
        event_type: event_type.to_owned(),
        message: e.to_string(),
    })
}
