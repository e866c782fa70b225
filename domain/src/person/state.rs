//! A person as rebuilt from their events.

use uuid::Uuid;

use super::PersonEvent;
use crate::Role;

/// A registered person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The person's id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Contact email.
    pub email: Option<String>,
    /// Distinct roles, sorted.
    pub roles: Vec<Role>,
    /// Timezone name.
    pub timezone: Option<String>,
    /// Number of events in the stream.
    pub version: u64,
}

impl Person {
    /// Whether the person holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Applies one event. `None` means "not registered yet"; events other than
/// `PersonRegistered` cannot create a person, so they leave `None` as it is.
pub fn evolve(state: Option<Person>, event: &PersonEvent) -> Option<Person> {
    match (state, event) {
        (
            None,
            PersonEvent::PersonRegistered {
                person_id,
                name,
                email,
                roles,
                timezone,
            },
        ) => Some(Person {
            id: *person_id,
            name: name.clone(),
            email: email.clone(),
            roles: roles.clone(),
            timezone: timezone.clone(),
            version: 1,
        }),
        (None, PersonEvent::PersonDetailsChanged { .. }) => None,
        (Some(mut person), event) => {
            if let PersonEvent::PersonDetailsChanged {
                name,
                email,
                timezone,
            } = event
            {
                if let Some(name) = name {
                    person.name.clone_from(name);
                }
                if email.is_some() {
                    person.email.clone_from(email);
                }
                if timezone.is_some() {
                    person.timezone.clone_from(timezone);
                }
            }
            // A second `PersonRegistered` cannot be decided; if one is ever stored it still
            // counts towards the version so that version = number of events.
            person.version += 1;
            Some(person)
        }
    }
}

/// Folds a whole stream, oldest first.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a PersonEvent>) -> Option<Person> {
    events.into_iter().fold(None, evolve)
}
