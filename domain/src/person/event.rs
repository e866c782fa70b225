//! What has happened to a person.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{DecodeError, DomainEvent, Role, event};

/// The events of a `person-{id}` stream (API.md §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum PersonEvent {
    /// The person was created. `email` and `timezone` are written as `null` when absent.
    PersonRegistered {
        /// The person's id.
        person_id: Uuid,
        /// Trimmed display name.
        name: String,
        /// Trimmed email.
        #[serde(default)]
        email: Option<String>,
        /// Distinct roles, sorted.
        roles: Vec<Role>,
        /// Timezone name.
        #[serde(default)]
        timezone: Option<String>,
    },
    /// Some details changed; only the changed fields are present.
    PersonDetailsChanged {
        /// New name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// New email.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        /// New timezone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
    },
}

impl DomainEvent for PersonEvent {
    const STREAM_PREFIX: &'static str = "person-";
    const EVENT_TYPES: &'static [&'static str] = &["PersonRegistered", "PersonDetailsChanged"];

    fn event_type(&self) -> &'static str {
        match self {
            PersonEvent::PersonRegistered { .. } => "PersonRegistered",
            PersonEvent::PersonDetailsChanged { .. } => "PersonDetailsChanged",
        }
    }

    fn to_data(&self) -> Value {
        event::encode(self)
    }

    fn from_data(event_type: &str, data: Value) -> Result<Self, DecodeError> {
        event::decode(Self::EVENT_TYPES, event_type, &data)
    }
}
