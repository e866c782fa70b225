//! Upcasting: stored events keep the shape they were written with; readers see the
//! current one. A registry maps (event type, schema version) to a function that lifts the
//! data one version up; reading applies them until no step is left.

use std::collections::HashMap;

use serde_json::Value;

use crate::store::RecordedEvent;

/// Lifts an event's data from one schema version to the next.
pub type UpcastFn = fn(Value) -> Result<Value, String>;

/// The registry of upcasters, keyed by (event type, the version it upcasts from).
#[derive(Debug, Clone, Default)]
pub struct Upcasters {
    steps: HashMap<(String, u32), UpcastFn>,
}

impl Upcasters {
    /// The upcasters of this codebase's events. Every event is at schema version 1 today,
    /// so the registry is empty; a new event shape registers its step here.
    pub fn standard() -> Self {
        Upcasters::default()
    }

    /// Registers the step that lifts `event_type` from `from_version` to `from_version + 1`.
    pub fn register(&mut self, event_type: &str, from_version: u32, step: UpcastFn) -> &mut Self {
        self.steps
            .insert((event_type.to_owned(), from_version), step);
        self
    }

    /// Brings an event's data to the newest registered version, updating
    /// `metadata.schema_version` as it goes.
    pub fn upcast(&self, event: &mut RecordedEvent) -> Result<(), String> {
        if self.steps.is_empty() {
            return Ok(());
        }
        while let Some(step) = self
            .steps
            .get(&(event.event_type.clone(), event.metadata.schema_version))
        {
            let data = std::mem::take(&mut event.data);
            event.data = step(data).map_err(|e| {
                format!(
                    "upcasting {} v{} of {}: {e}",
                    event.event_type, event.metadata.schema_version, event.stream_id
                )
            })?;
            event.metadata.schema_version += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Metadata, Position};
    use serde_json::json;
    use uuid::Uuid;

    fn v1_to_v2(mut data: Value) -> Result<Value, String> {
        let obj = data.as_object_mut().ok_or("not an object")?;
        let role = obj.remove("role").ok_or("missing role")?;
        obj.insert("roles".into(), Value::Array(vec![role]));
        Ok(data)
    }

    #[test]
    fn an_old_event_is_read_in_the_new_shape() {
        let mut ups = Upcasters::standard();
        ups.register("PersonRegistered", 1, v1_to_v2);
        let mut metadata = Metadata::anonymous();
        metadata.schema_version = 1;
        let mut event = RecordedEvent {
            event_id: Uuid::nil(),
            stream_id: "person-x".into(),
            version: 1,
            position: Position::new(1, 1),
            event_type: "PersonRegistered".into(),
            data: json!({"name": "Ada", "role": "candidate"}),
            metadata,
        };
        ups.upcast(&mut event).expect("upcasts");
        assert_eq!(event.data, json!({"name": "Ada", "roles": ["candidate"]}));
        assert_eq!(event.metadata.schema_version, 2);
    }

    #[test]
    fn a_failing_step_reports_the_event() {
        let mut ups = Upcasters::standard();
        ups.register("PersonRegistered", 1, v1_to_v2);
        let mut metadata = Metadata::anonymous();
        metadata.schema_version = 1;
        let mut event = RecordedEvent {
            event_id: Uuid::nil(),
            stream_id: "person-x".into(),
            version: 1,
            position: Position::new(1, 1),
            event_type: "PersonRegistered".into(),
            data: json!({"name": "Ada"}),
            metadata,
        };
        let err = ups.upcast(&mut event).expect_err("fails");
        assert!(err.contains("person-x"), "{err}");
    }
}
