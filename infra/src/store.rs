//! The event store port: what every adapter offers and what the rest of the system uses.

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// What the writer believes about the stream it appends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must hold exactly this many events (0 is the same as `NoStream`).
    Exact(u64),
}

impl ExpectedVersion {
    /// The version the stream must be at, `None` for [`ExpectedVersion::Any`]
    /// (`NoStream` is version 0).
    pub fn required_version(self) -> Option<u64> {
        match self {
            ExpectedVersion::Any => None,
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(n) => Some(n),
        }
    }

    /// True when a stream at `current_version` (0: no stream) meets this expectation.
    ///
    /// The one definition of the check every adapter makes: `Exact(0)` and `NoStream`
    /// are the same expectation.
    pub fn matches(self, current_version: u64) -> bool {
        self.required_version()
            .is_none_or(|required| required == current_version)
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "{v}"),
        }
    }
}

/// A point in the global order of events (`$all`).
///
/// Two numbers compared lexicographically: for PostgreSQL (transaction id, sequence), for
/// EventStoreDB (commit, prepare). Printed as `"{a}-{b}"`; clients treat it as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// The major part (transaction id / commit position).
    pub major: u64,
    /// The minor part (sequence / prepare position).
    pub minor: u64,
}

impl Position {
    /// Before every event.
    pub const START: Position = Position { major: 0, minor: 0 };

    /// A position from its two parts.
    pub const fn new(major: u64, minor: u64) -> Self {
        Position { major, minor }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.major, self.minor)
    }
}

/// A string that is not a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid position {0:?}: expected two non-negative integers joined by '-'")]
pub struct InvalidPosition(pub String);

impl FromStr for Position {
    type Err = InvalidPosition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidPosition(s.chars().take(64).collect());
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        Ok(Position {
            major: a.parse().map_err(|_| bad())?,
            minor: b.parse().map_err(|_| bad())?,
        })
    }
}

impl Serialize for Position {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Metadata stored with every event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Groups every event caused by one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The command (or event) that caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Who issued the command: the verified token's subject (before tokens: the
    /// self-declared `X-Actor`, else `anonymous`).
    pub actor: String,
    /// The actor's display name, when the token carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The person the actor's token maps to, when it maps to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_person: Option<Uuid>,
    /// The person a `service` actor acted for (`X-On-Behalf-Of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<Uuid>,
    /// The tenant the command was issued in (the stream name says it too; events from
    /// before tenants have none and are the `default` tenant's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// When the command was decided.
    pub occurred_at: DateTime<Utc>,
    /// The shape version of the event's data.
    pub schema_version: u32,
}

impl Metadata {
    /// Metadata for an anonymous actor now, schema version 1.
    pub fn anonymous() -> Self {
        Metadata {
            correlation_id: None,
            causation_id: None,
            actor: "anonymous".into(),
            actor_name: None,
            actor_person: None,
            on_behalf_of: None,
            tenant: None,
            occurred_at: Utc::now(),
            schema_version: 1,
        }
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id; appending the same id again at the same expected version is a no-op.
    pub event_id: Uuid,
    /// The event's type name, e.g. `InterviewScheduled`.
    pub event_type: String,
    /// The event's JSON data.
    pub data: Value,
    /// Its metadata.
    pub metadata: Metadata,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// The event's id.
    pub event_id: Uuid,
    /// The stream it belongs to.
    pub stream_id: String,
    /// Its version in that stream: 1 for the first event.
    pub version: u64,
    /// Its place in the global order.
    pub position: Position,
    /// The event's type name.
    pub event_type: String,
    /// JSON data, upcast to the current schema version.
    pub data: Value,
    /// Metadata.
    pub metadata: Metadata,
}

/// What a successful append reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AppendResult {
    /// The stream's version after the append (the version of its last event).
    pub version: u64,
    /// The position of the last event appended (or already there, for an idempotent retry).
    pub position: Position,
}

/// One stream's part of a multi-stream append.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    /// The stream to append to.
    pub stream_id: String,
    /// What the stream must hold.
    pub expected: ExpectedVersion,
    /// What to append (may be empty: then only the expectation is checked).
    pub events: Vec<NewEvent>,
}

/// Failures of the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream did not match the expected version; nothing was appended.
    #[error("wrong expected version on {stream}: expected {expected}, stream is at {actual:?}")]
    WrongExpectedVersion {
        /// The stream.
        stream: String,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// The stream's actual version, when known (`Some(0)` = no stream).
        actual: Option<u64>,
    },
    /// The store cannot be reached or did not answer in time.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// The operation is not offered by this adapter.
    #[error("not supported by this event store: {0}")]
    Unsupported(&'static str),
    /// Stored data could not be decoded.
    #[error("could not decode stored event: {0}")]
    Decode(String),
    /// One stored event could not be decoded (its data is not JSON, its metadata is not
    /// ours, an upcaster refused it), but where it is in the log is known: a reader of
    /// `$all` can step past it. The feed of [`EventStore::subscribe_all`] reports it and
    /// goes on with the next event.
    #[error("{0}")]
    Undecodable(Box<UndecodableEvent>),
    /// Anything else the store reported.
    #[error("event store error: {0}")]
    Other(String),
}

impl StoreError {
    /// True for a version conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::WrongExpectedVersion { .. })
    }
}

/// Where an event that could not be decoded is, and why it could not be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not decode {event_type} v{version} of {stream_id} at {position}: {reason}")]
pub struct UndecodableEvent {
    /// The stream it belongs to.
    pub stream_id: String,
    /// Its version in that stream (1 for the first event).
    pub version: u64,
    /// Its place in the global order.
    pub position: Position,
    /// Its type name, as stored.
    pub event_type: String,
    /// What is wrong, in a few words (never the data itself).
    pub reason: String,
}

impl UndecodableEvent {
    /// The error of this event.
    pub fn into_error(self) -> StoreError {
        StoreError::Undecodable(Box::new(self))
    }
}

/// A reason short enough for a status line, with quoted values elided: decoders quote
/// the offending value (`invalid type: string "Ada"`), which may be personal data.
pub fn short_reason(text: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::with_capacity(text.len().min(MAX));
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
            continue;
        }
        if quoted || c.is_control() {
            continue;
        }
        if out.chars().count() >= MAX {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

/// Keeps the decodable start of a page of `$all`: the events before the first one that
/// could not be decoded. When that one comes first, it is the error, so that the caller
/// can step past it (read on after its position).
pub(crate) fn page_until_undecodable(
    items: impl IntoIterator<Item = StoreResult<RecordedEvent>>,
) -> StoreResult<Vec<RecordedEvent>> {
    let mut page = Vec::new();
    for item in items {
        match item {
            Ok(event) => page.push(event),
            Err(StoreError::Undecodable(u)) if !page.is_empty() => {
                tracing::debug!(error = %u, "page of $all cut before an undecodable event");
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(page)
}

/// The answer to an append of no events: only the expectation is checked, against the
/// stream's `version` and the `position` of its last event (`None` when it has none).
pub(crate) fn check_only(
    stream_id: &str,
    expected: ExpectedVersion,
    version: u64,
    position: Option<Position>,
) -> StoreResult<AppendResult> {
    if !expected.matches(version) {
        return Err(StoreError::WrongExpectedVersion {
            stream: stream_id.to_owned(),
            expected,
            actual: Some(version),
        });
    }
    Ok(AppendResult {
        version,
        position: position.unwrap_or(Position::START),
    })
}

/// The result of event store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// A live feed of events: catch-up from a position, then new events as they are written.
pub type EventFeed = BoxStream<'static, StoreResult<RecordedEvent>>;

/// The event store port.
pub trait EventStore: Send + Sync + 'static {
    /// Appends to one stream if it is at `expected`. Re-appending events whose ids are
    /// already stored right after `expected` succeeds without writing.
    fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = StoreResult<AppendResult>> + Send;

    /// Appends to several streams atomically, all or nothing. Adapters without
    /// multi-stream transactions answer `StoreError::Unsupported`.
    fn append_multi(
        &self,
        appends: Vec<StreamAppend>,
    ) -> impl Future<Output = StoreResult<Vec<AppendResult>>> + Send;

    /// True when `append_multi` is atomic on this store.
    fn supports_multi_stream(&self) -> bool;

    /// Reads a stream forwards from version `from` (1 = first event). Missing stream: empty.
    fn read_stream(
        &self,
        stream_id: &str,
        from: u64,
    ) -> impl Future<Output = StoreResult<Vec<RecordedEvent>>> + Send;

    /// Reads up to `limit` events of `$all` strictly after `after` (`None`: from the start).
    /// A page ends before an event that cannot be decoded (so it may come back short
    /// before the head); when that event is the first, the answer is
    /// [`StoreError::Undecodable`] naming its position, after which the caller reads on.
    fn read_all(
        &self,
        after: Option<Position>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<RecordedEvent>>> + Send;

    /// Subscribes to `$all` strictly after `after`: stored events first, then live ones.
    /// System events (types or streams starting with `$`) are never delivered. An event
    /// that cannot be decoded comes as [`StoreError::Undecodable`] in its place and the
    /// feed goes on; after any other error it may end.
    fn subscribe_all(&self, after: Option<Position>) -> EventFeed;

    /// The position of the newest event, `None` when the store is empty.
    fn head_position(&self) -> impl Future<Output = StoreResult<Option<Position>>> + Send;

    /// Number of events after `after` up to the head (for lag reporting).
    fn count_after(&self, after: Option<Position>)
    -> impl Future<Output = StoreResult<u64>> + Send;

    /// Cheap liveness check.
    fn ping(&self) -> impl Future<Output = StoreResult<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_reason_elides_quoted_values_and_is_bounded() {
        assert_eq!(
            short_reason("invalid type: string \"Ada Lovelace\", expected u32 at line 1"),
            "invalid type: string \"…\", expected u32 at line 1"
        );
        assert_eq!(
            short_reason("missing field `actor`"),
            "missing field `actor`"
        );
        assert!(short_reason(&"x".repeat(1000)).chars().count() <= 201);
    }

    fn event(n: u64) -> RecordedEvent {
        RecordedEvent {
            event_id: Uuid::nil(),
            stream_id: format!("s-{n}"),
            version: 1,
            position: Position::new(n, 0),
            event_type: "T".into(),
            data: Value::Null,
            metadata: Metadata::anonymous(),
        }
    }

    fn undecodable(n: u64) -> StoreError {
        UndecodableEvent {
            stream_id: format!("s-{n}"),
            version: 1,
            position: Position::new(n, 0),
            event_type: "T".into(),
            reason: "bad".into(),
        }
        .into_error()
    }

    #[test]
    fn a_page_ends_before_an_undecodable_event_which_is_the_answer_when_first() {
        let page = page_until_undecodable([Ok(event(1)), Err(undecodable(2)), Ok(event(3))])
            .expect("the start of the page");
        let positions: Vec<Position> = page.iter().map(|e| e.position).collect();
        assert_eq!(positions, vec![Position::new(1, 0)]);
        let first = page_until_undecodable([Err(undecodable(2)), Ok(event(3))]).expect_err("it");
        assert!(
            matches!(&first, StoreError::Undecodable(u) if u.position == Position::new(2, 0)),
            "{first:?}"
        );
        let other = page_until_undecodable([Ok(event(1)), Err(StoreError::Other("x".into()))]);
        assert!(matches!(other, Err(StoreError::Other(_))));
    }

    #[test]
    fn any_matches_every_version() {
        assert!(ExpectedVersion::Any.matches(0));
        assert!(ExpectedVersion::Any.matches(7));
        assert_eq!(ExpectedVersion::Any.required_version(), None);
    }

    #[test]
    fn no_stream_matches_only_version_zero() {
        assert!(ExpectedVersion::NoStream.matches(0));
        assert!(!ExpectedVersion::NoStream.matches(1));
        assert_eq!(ExpectedVersion::NoStream.required_version(), Some(0));
    }

    #[test]
    fn exact_matches_only_its_version_and_exact_zero_is_no_stream() {
        assert!(ExpectedVersion::Exact(3).matches(3));
        assert!(!ExpectedVersion::Exact(3).matches(2));
        assert!(!ExpectedVersion::Exact(3).matches(4));
        assert!(!ExpectedVersion::Exact(3).matches(0));
        assert!(ExpectedVersion::Exact(0).matches(0));
        assert!(!ExpectedVersion::Exact(0).matches(1));
        assert_eq!(ExpectedVersion::Exact(3).required_version(), Some(3));
    }
}
