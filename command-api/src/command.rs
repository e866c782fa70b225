//! What a command carries besides its body, what it answers, and the three ways it can
//! fail: refused by the domain, lost a version race, or the store failed.

use chrono::{DateTime, Utc};
use domain::{DomainEvent, Tenant};

use crate::auth::Scope;
use infra::{Metadata, NewEvent, StoreError};
use serde::Serialize;
use uuid::Uuid;

/// Namespace of aggregate ids derived from an idempotency key.
const AGGREGATE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x3f0c_2a71_95d4_4b1e_8c6f_0e9a_d7b2_5c41);

/// Namespace of event ids derived from a command id or idempotency key.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1e_d0c5_4b7e_4c4e_9f3a_2d8b_7c11_e0a1);

/// What every command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CommandResult {
    /// The aggregate's id.
    pub id: Uuid,
    /// Its version after the command (number of events in its stream).
    pub version: u64,
    /// Position of the last event the command appended (opaque, for `X-Min-Position`).
    pub position: String,
}

/// Who issues a command, as the event metadata records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The verified token's subject, or the name of a system actor.
    pub subject: String,
    /// Its display name, when known.
    pub name: Option<String>,
    /// The person the actor is, when it maps to one.
    pub person: Option<Uuid>,
    /// The person a `service` actor acts for.
    pub on_behalf_of: Option<Uuid>,
    /// The tenant everything the command touches belongs to.
    pub tenant: Tenant,
}

impl Actor {
    /// A named actor of the system itself (repairs, recovery, the CLI) in `tenant`.
    pub fn system(subject: &str, tenant: Tenant) -> Actor {
        Actor {
            subject: subject.to_owned(),
            name: None,
            person: None,
            on_behalf_of: None,
            tenant,
        }
    }

    /// The person the command is by: the one acted for, else the actor's own.
    pub fn acting_person(&self) -> Option<Uuid> {
        self.on_behalf_of.or(self.person)
    }
}

/// Who asks, under which key and expectation, and when.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    /// Who asks, in which tenant.
    pub actor: Actor,
    /// How far the caller's grant on this command reaches (handlers check `Own` and
    /// `Panel` against the target).
    pub scope: Scope,
    /// `X-Correlation-Id`, else new.
    pub correlation_id: Uuid,
    /// The command's own id: the causation id of its events.
    pub command_id: Uuid,
    /// `Idempotency-Key`, when sent.
    pub idempotency_key: Option<String>,
    /// `If-Match` version, when sent.
    pub if_match: Option<u64>,
    /// The clock, read once per command.
    pub now: DateTime<Utc>,
}

impl CommandMeta {
    /// The metadata of a command the system issues itself (repairs, recovery): no key,
    /// no expectation, a new id.
    pub fn system(actor: Actor) -> Self {
        CommandMeta {
            actor,
            scope: Scope::Any,
            correlation_id: Uuid::now_v7(),
            command_id: Uuid::now_v7(),
            idempotency_key: None,
            if_match: None,
            now: Utc::now(),
        }
    }

    /// A follow-up command issued on behalf of this one (an undo): same actor and
    /// correlation, but its own id, no key and no `If-Match`.
    pub fn follow_up(&self) -> Self {
        CommandMeta {
            command_id: Uuid::new_v4(),
            idempotency_key: None,
            if_match: None,
            ..self.clone()
        }
    }

    /// The id of an aggregate this command creates when the body names none: derived
    /// from the idempotency key (which is kept per tenant and subject) when there is one,
    /// so a retry after an unknown outcome (a timeout, a 5xx that released the key)
    /// addresses the same aggregate, finds its own events there and creates nothing
    /// twice; else a new UUIDv7.
    pub fn new_id(&self) -> Uuid {
        match &self.idempotency_key {
            Some(key) => Uuid::new_v5(&AGGREGATE_ID_NAMESPACE, key.as_bytes()),
            None => Uuid::now_v7(),
        }
    }

    /// Metadata for the events of this command.
    pub fn metadata(&self) -> Metadata {
        Metadata {
            correlation_id: Some(self.correlation_id),
            causation_id: Some(self.command_id),
            actor: self.actor.subject.clone(),
            actor_name: self.actor.name.clone(),
            actor_person: self.actor.person,
            on_behalf_of: self.actor.on_behalf_of,
            tenant: Some(self.actor.tenant.as_str().to_owned()),
            occurred_at: self.now,
            schema_version: 1,
        }
    }

    /// The id of the `index`-th event this command appends to `stream`. Derived from the
    /// idempotency key when there is one, so a retry after a lost answer appends nothing.
    pub fn event_id(&self, stream: &str, index: usize) -> Uuid {
        let seed = match &self.idempotency_key {
            Some(key) => format!("key\n{key}\n{stream}\n{index}"),
            None => format!("cmd\n{}\n{stream}\n{index}", self.command_id),
        };
        Uuid::new_v5(&EVENT_ID_NAMESPACE, seed.as_bytes())
    }

    /// Encodes domain events for `stream`.
    pub fn encode<E: DomainEvent>(&self, stream: &str, events: &[E]) -> Vec<NewEvent> {
        let metadata = self.metadata();
        events
            .iter()
            .enumerate()
            .map(|(i, e)| NewEvent {
                event_id: self.event_id(stream, i),
                event_type: e.event_type().to_owned(),
                data: e.to_data(),
                metadata: Metadata {
                    schema_version: e.schema_version(),
                    ..metadata.clone()
                },
            })
            .collect()
    }
}

/// Why a command did not go through. Mapped to an HTTP answer only at the edge
/// ([`crate::error::ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The domain refused it, as decided on what the store says.
    #[error(transparent)]
    Refused(domain::Error),
    /// It lost a version race it may not retry, or kept losing them.
    #[error(transparent)]
    Conflict(Conflict),
    /// The event store, or PostgreSQL beside it, failed or could not be reached; the
    /// outcome may be unknown.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A version race that ended the command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// `If-Match` named another version than the aggregate's.
    #[error("expected version {expected}, but the {entity} is at version {current}")]
    IfMatch {
        /// Aggregate kind.
        entity: &'static str,
        /// What the client sent.
        expected: u64,
        /// Where it is.
        current: u64,
    },
    /// Every attempt lost a race on the streams the command writes.
    #[error("{what} changing too fast; try again")]
    Contended {
        /// What kept changing, e.g. `interview {id} is`.
        what: String,
    },
}
