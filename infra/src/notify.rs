//! What the projector announces to the query side through PostgreSQL `NOTIFY`: the
//! channels and each notification's payload. `projections` sends them, `query-api`
//! listens; both use these definitions. (The event store's own channel,
//! [`crate::postgres::NOTIFY_CHANNEL`], is a different matter.)

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// NOTIFY channel: after each committed batch, payload `{"name": …, "position": "…", "state": "…"}`;
/// a rebuild swapping the projection's tables in adds `"swapped": true` (everything of that
/// projection may have changed). Within one transaction it is sent after the
/// [`INTERVIEW_CHANNEL`], [`PERSON_CHANNEL`] and [`SCHEDULE_CHANNEL`] notifications, so a listener that handles
/// notifications in order has seen a batch's changes when it sees its position.
pub const PROJECTION_CHANNEL: &str = "il_projection";

/// NOTIFY channel: after a committed batch touched interviews, payload = `{tenant}.{id}`
/// of the interview (one notification per changed interview; a bare id, as projectors
/// sent before tenants, is the `default` tenant's).
pub const INTERVIEW_CHANNEL: &str = "il_interview_changed";

/// NOTIFY channel: after a committed batch touched people, payload = `{tenant}.{id}` of
/// the person (one notification per changed person).
pub const PERSON_CHANNEL: &str = "il_person_changed";

/// NOTIFY channel: after a committed batch touched schedules, payload = `{tenant}.{id}` of
/// the person (one notification per person whose owner row, availability windows or bookings may have
/// changed).
pub const SCHEDULE_CHANNEL: &str = "il_schedule_changed";

/// Payload of [`PROJECTION_CHANNEL`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectionNotice {
    /// The projection.
    pub name: String,
    /// Its checkpoint, printed (`None` before the first batch).
    #[serde(default)]
    pub position: Option<String>,
    /// Its state, lower_snake.
    #[serde(default)]
    pub state: Option<String>,
    /// A rebuild swapped its tables in: any of its rows may have changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub swapped: bool,
}

/// The tenant of the streams of everything written before tenants existed (the same
/// slug as `domain::DEFAULT_TENANT`; `infra` does not depend on `domain`).
pub const DEFAULT_TENANT: &str = "default";

/// One notification of the projector: its channel and its payload, typed. A change names
/// the tenant (slug) and the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectorNotice {
    /// A projection committed a batch ([`PROJECTION_CHANNEL`]).
    Projection(ProjectionNotice),
    /// An interview's read model changed ([`INTERVIEW_CHANNEL`]).
    InterviewChanged(String, Uuid),
    /// A person's read model changed ([`PERSON_CHANNEL`]).
    PersonChanged(String, Uuid),
    /// A person's schedule (availability or bookings) changed ([`SCHEDULE_CHANNEL`]).
    ScheduleChanged(String, Uuid),
}

impl ProjectorNotice {
    /// The channel it is sent on.
    pub fn channel(&self) -> &'static str {
        match self {
            ProjectorNotice::Projection(_) => PROJECTION_CHANNEL,
            ProjectorNotice::InterviewChanged(..) => INTERVIEW_CHANNEL,
            ProjectorNotice::PersonChanged(..) => PERSON_CHANNEL,
            ProjectorNotice::ScheduleChanged(..) => SCHEDULE_CHANNEL,
        }
    }

    /// The payload it is sent with.
    pub fn payload(&self) -> String {
        match self {
            ProjectorNotice::Projection(notice) => serde_json::to_string(notice)
                .expect("a struct of strings and a bool always serializes"),
            ProjectorNotice::InterviewChanged(tenant, id)
            | ProjectorNotice::PersonChanged(tenant, id)
            | ProjectorNotice::ScheduleChanged(tenant, id) => format!("{tenant}.{id}"),
        }
    }

    /// The notice heard on `channel` with `payload`; `None` for another channel or a
    /// malformed payload. Payloads may be surrounded by whitespace; a bare id is the
    /// `default` tenant's.
    pub fn parse(channel: &str, payload: &str) -> Option<Self> {
        match channel {
            INTERVIEW_CHANNEL => tenant_id(payload).map(|(t, id)| Self::InterviewChanged(t, id)),
            PERSON_CHANNEL => tenant_id(payload).map(|(t, id)| Self::PersonChanged(t, id)),
            SCHEDULE_CHANNEL => tenant_id(payload).map(|(t, id)| Self::ScheduleChanged(t, id)),
            PROJECTION_CHANNEL => serde_json::from_str(payload).ok().map(Self::Projection),
            _ => None,
        }
    }
}

/// `{tenant}.{id}` or a bare `{id}` (the `default` tenant's); the tenant must be a slug
/// (`a-z 0-9 -`, not starting with `-`).
fn tenant_id(payload: &str) -> Option<(String, Uuid)> {
    let payload = payload.trim();
    match payload.split_once('.') {
        Some((tenant, id)) => {
            let slug = !tenant.is_empty()
                && !tenant.starts_with('-')
                && tenant
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            slug.then_some(())?;
            Some((tenant.to_owned(), id.parse().ok()?))
        }
        None => Some((DEFAULT_TENANT.to_owned(), payload.parse().ok()?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(swapped: bool) -> ProjectionNotice {
        ProjectionNotice {
            name: "people".into(),
            position: Some("5-1".into()),
            state: Some("live".into()),
            swapped,
        }
    }

    #[test]
    fn every_notice_reads_back_from_its_channel_and_payload() {
        let id = Uuid::new_v4();
        for notice in [
            ProjectorNotice::Projection(batch(false)),
            ProjectorNotice::Projection(batch(true)),
            ProjectorNotice::InterviewChanged(DEFAULT_TENANT.to_owned(), id),
            ProjectorNotice::PersonChanged(acme(), id),
            ProjectorNotice::ScheduleChanged(acme(), id),
        ] {
            let heard = ProjectorNotice::parse(notice.channel(), &notice.payload());
            assert_eq!(heard, Some(notice));
        }
    }

    #[test]
    fn a_batch_payload_names_the_swap_only_when_there_was_one() {
        assert_eq!(
            ProjectorNotice::Projection(batch(false)).payload(),
            r#"{"name":"people","position":"5-1","state":"live"}"#
        );
        assert_eq!(
            ProjectorNotice::Projection(batch(true)).payload(),
            r#"{"name":"people","position":"5-1","state":"live","swapped":true}"#
        );
        let before_any_batch = ProjectionNotice {
            position: None,
            ..batch(false)
        };
        assert_eq!(
            ProjectorNotice::Projection(before_any_batch).payload(),
            r#"{"name":"people","position":null,"state":"live"}"#
        );
    }

    #[test]
    fn other_channels_and_malformed_payloads_are_nothing() {
        assert_eq!(ProjectorNotice::parse("il_events", ""), None);
        assert_eq!(
            ProjectorNotice::parse(INTERVIEW_CHANNEL, "not a uuid"),
            None
        );
        assert_eq!(ProjectorNotice::parse(SCHEDULE_CHANNEL, ""), None);
        assert_eq!(ProjectorNotice::parse(PROJECTION_CHANNEL, "{"), None);
        let id = Uuid::new_v4();
        assert_eq!(
            ProjectorNotice::parse(SCHEDULE_CHANNEL, &format!(" {id}\n")),
            Some(ProjectorNotice::ScheduleChanged(
                DEFAULT_TENANT.to_owned(),
                id
            ))
        );
        assert_eq!(
            ProjectorNotice::parse(PERSON_CHANNEL, &format!("Bad.{id}")),
            None
        );
    }

    #[test]
    fn a_change_names_its_tenant() {
        let id = Uuid::new_v4();
        let notice = ProjectorNotice::InterviewChanged(acme(), id);
        assert_eq!(notice.payload(), format!("acme.{id}"));
        assert_eq!(
            ProjectorNotice::InterviewChanged(DEFAULT_TENANT.to_owned(), id).payload(),
            format!("default.{id}")
        );
    }

    fn acme() -> String {
        "acme".to_owned()
    }
}
