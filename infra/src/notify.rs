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

/// NOTIFY channel: after a committed batch touched interviews, payload = the interview id
/// (one notification per changed interview).
pub const INTERVIEW_CHANNEL: &str = "il_interview_changed";

/// NOTIFY channel: after a committed batch touched people, payload = the person id (one
/// notification per changed person).
pub const PERSON_CHANNEL: &str = "il_person_changed";

/// NOTIFY channel: after a committed batch touched schedules, payload = the person id (one
/// notification per person whose owner row, availability windows or bookings may have
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

/// One notification of the projector: its channel and its payload, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectorNotice {
    /// A projection committed a batch ([`PROJECTION_CHANNEL`]).
    Projection(ProjectionNotice),
    /// An interview's read model changed ([`INTERVIEW_CHANNEL`]).
    InterviewChanged(Uuid),
    /// A person's read model changed ([`PERSON_CHANNEL`]).
    PersonChanged(Uuid),
    /// A person's schedule (availability or bookings) changed ([`SCHEDULE_CHANNEL`]).
    ScheduleChanged(Uuid),
}

impl ProjectorNotice {
    /// The channel it is sent on.
    pub fn channel(&self) -> &'static str {
        match self {
            ProjectorNotice::Projection(_) => PROJECTION_CHANNEL,
            ProjectorNotice::InterviewChanged(_) => INTERVIEW_CHANNEL,
            ProjectorNotice::PersonChanged(_) => PERSON_CHANNEL,
            ProjectorNotice::ScheduleChanged(_) => SCHEDULE_CHANNEL,
        }
    }

    /// The payload it is sent with.
    pub fn payload(&self) -> String {
        match self {
            ProjectorNotice::Projection(notice) => serde_json::to_string(notice)
                .expect("a struct of strings and a bool always serializes"),
            ProjectorNotice::InterviewChanged(id)
            | ProjectorNotice::PersonChanged(id)
            | ProjectorNotice::ScheduleChanged(id) => id.to_string(),
        }
    }

    /// The notice heard on `channel` with `payload`; `None` for another channel or a
    /// malformed payload. Ids may be surrounded by whitespace.
    pub fn parse(channel: &str, payload: &str) -> Option<Self> {
        match channel {
            INTERVIEW_CHANNEL => payload.trim().parse().ok().map(Self::InterviewChanged),
            PERSON_CHANNEL => payload.trim().parse().ok().map(Self::PersonChanged),
            SCHEDULE_CHANNEL => payload.trim().parse().ok().map(Self::ScheduleChanged),
            PROJECTION_CHANNEL => serde_json::from_str(payload).ok().map(Self::Projection),
            _ => None,
        }
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
            ProjectorNotice::InterviewChanged(id),
            ProjectorNotice::PersonChanged(id),
            ProjectorNotice::ScheduleChanged(id),
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
            Some(ProjectorNotice::ScheduleChanged(id))
        );
    }
}
