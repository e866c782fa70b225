//! `POST /interviews` and the lifecycle commands of an interview.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, Utc};
use domain::interview::{
    CompetencyScore, DecisionOutcome, InterviewCommand, InterviewKind, ParticipantFacts,
    TranscriptSegment,
};
use domain::{Aggregate, InterviewAggregate};
use serde::Deserialize;
use uuid::Uuid;

use super::path_id;
use crate::auth::{self, Scope};
use crate::body::ApiJson;
use crate::booking::Plan;
use crate::command::{CommandMeta, CommandResult};
use crate::error::ApiError;
use crate::meta::Meta;
use crate::pipeline::{self, Expect};
use crate::state::AppState;
use crate::streams::Streams;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/interviews", post(schedule_interview))
        .route("/interviews/{id}/reschedule", post(reschedule))
        .route("/interviews/{id}/cancel", post(cancel))
        .route("/interviews/{id}/start", post(start))
        .route("/interviews/{id}/transcript", post(transcript))
        .route("/interviews/{id}/complete", post(complete))
        .route("/interviews/{id}/no-show", post(no_show))
        .route("/interviews/{id}/feedback", post(feedback))
        .route("/interviews/{id}/decision", post(decision))
}

/// Body of `POST /interviews`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleInterview {
    /// Client-chosen id; else a UUIDv7.
    pub id: Option<Uuid>,
    /// A person with role candidate.
    pub candidate_id: Uuid,
    /// 1..10 distinct people with role interviewer.
    pub interviewer_ids: Vec<Uuid>,
    /// The position hired for.
    pub position: String,
    /// `phone_screen`, `technical`, `behavioral`, `system_design`, `onsite` or `final`.
    #[schema(value_type = String, example = "technical")]
    pub kind: InterviewKind,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// 5..480.
    pub duration_minutes: i64,
    /// Room or link.
    pub location: Option<String>,
}

/// Body of `POST /interviews/{id}/reschedule`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reschedule {
    /// New start.
    pub starts_at: DateTime<Utc>,
    /// New length (else unchanged).
    pub duration_minutes: Option<i64>,
    /// Why.
    pub reason: Option<String>,
}

/// Body of `POST /interviews/{id}/cancel`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cancel {
    /// Why (required).
    pub reason: String,
}

/// Body of the argument-less commands (`start`, `complete`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Body of `POST /interviews/{id}/no-show`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoShow {
    /// Why.
    pub reason: Option<String>,
}

/// One transcript segment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Segment {
    /// The candidate or a panel member.
    pub speaker_id: Uuid,
    /// Offset in ms, ≥ 0.
    pub start_ms: i64,
    /// Offset in ms, > startMs.
    pub end_ms: i64,
    /// ≤ 10 000 characters.
    pub text: String,
}

/// Body of `POST /interviews/{id}/transcript`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transcript {
    /// 1..1000 segments.
    pub segments: Vec<Segment>,
}

/// One competency score.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Competency {
    /// Competency name.
    pub name: String,
    /// 1..5.
    pub score: i64,
}

/// Body of `POST /interviews/{id}/feedback`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Feedback {
    /// A panel member.
    pub interviewer_id: Uuid,
    /// 1..4.
    pub rating: i64,
    /// Scores per competency.
    #[serde(default)]
    pub competencies: Vec<Competency>,
    /// Free text.
    pub notes: Option<String>,
}

/// Body of `POST /interviews/{id}/decision`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decision {
    /// `advance`, `reject`, `hire` or `hold`.
    #[schema(value_type = String, example = "advance")]
    pub outcome: DecisionOutcome,
    /// Who decided.
    pub decided_by: Uuid,
    /// Why.
    pub reason: Option<String>,
}

type Problem = crate::error::Problem;

/// Schedule an interview, booking every participant.
#[utoipa::path(post, path = "/interviews", request_body = ScheduleInterview,
    responses((status = 201, body = CommandResult), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn schedule_interview(
    State(app): State<AppState>,
    Meta(meta): Meta,
    body: ApiJson<ScheduleInterview>,
) -> Response {
    let state = app.clone();
    app.respond(
        meta,
        "/interviews",
        &body.raw,
        StatusCode::CREATED,
        |meta| async move {
            let b = body.value;
            let id = b.id.unwrap_or_else(|| meta.new_id());
            let command = |candidate: ParticipantFacts, interviewers: Vec<ParticipantFacts>| {
                InterviewCommand::Schedule {
                    interview_id: id,
                    candidate,
                    interviewers,
                    position: b.position.clone(),
                    kind: b.kind,
                    starts_at: b.starts_at,
                    duration_minutes: b.duration_minutes,
                    location: b.location.clone(),
                }
            };
            let booking = state.booking(&meta);
            Ok(booking
                .schedule(id, b.candidate_id, &b.interviewer_ids, command)
                .await?)
        },
    )
    .await
}

/// Move an interview, re-booking every participant.
#[utoipa::path(post, path = "/interviews/{id}/reschedule", request_body = Reschedule,
    params(("id" = Uuid, Path, description = "interview id")),
    responses((status = 200, body = CommandResult), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn reschedule(
    State(app): State<AppState>,
    Path(raw_id): Path<String>,
    Meta(meta): Meta,
    body: ApiJson<Reschedule>,
) -> Response {
    let route = format!("/interviews/{raw_id}/reschedule");
    let b = body.value;
    let command = InterviewCommand::Reschedule {
        starts_at: b.starts_at,
        duration_minutes: b.duration_minutes,
        reason: b.reason,
    };
    with_bookings(app, meta, route, &body.raw, raw_id, command, Plan::Rebook).await
}

/// Cancel a scheduled interview, releasing every booking.
#[utoipa::path(post, path = "/interviews/{id}/cancel", request_body = Cancel,
    params(("id" = Uuid, Path, description = "interview id")),
    responses((status = 200, body = CommandResult), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    State(app): State<AppState>,
    Path(raw_id): Path<String>,
    Meta(meta): Meta,
    body: ApiJson<Cancel>,
) -> Response {
    let route = format!("/interviews/{raw_id}/cancel");
    let command = InterviewCommand::Cancel {
        reason: body.value.reason,
    };
    with_bookings(app, meta, route, &body.raw, raw_id, command, Plan::Release).await
}

/// Mark a scheduled interview as a no-show, releasing every booking.
#[utoipa::path(post, path = "/interviews/{id}/no-show", request_body = NoShow,
    params(("id" = Uuid, Path, description = "interview id")),
    responses((status = 200, body = CommandResult), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn no_show(
    State(app): State<AppState>,
    Path(raw_id): Path<String>,
    Meta(meta): Meta,
    body: ApiJson<NoShow>,
) -> Response {
    let route = format!("/interviews/{raw_id}/no-show");
    let command = InterviewCommand::MarkNoShow {
        reason: body.value.reason,
    };
    with_bookings(app, meta, route, &body.raw, raw_id, command, Plan::Release).await
}

/// An interview command that books or releases its participants.
async fn with_bookings(
    app: AppState,
    meta: CommandMeta,
    route: String,
    raw_body: &[u8],
    raw_id: String,
    command: InterviewCommand,
    plan: Plan,
) -> Response {
    let state = app.clone();
    app.respond(meta, &route, raw_body, StatusCode::OK, |meta| async move {
        let id = path_id(&raw_id, "interview")?;
        Ok(state.booking(&meta).change(id, command, plan).await?)
    })
    .await
}

/// The checks of a grant narrower than `Any` that need the target: an interviewer acts
/// only on interviews whose panel it sits on, and submits feedback only as itself; a
/// recruiter decides only as itself. An interview that does not exist is left to the
/// command, which answers 404 as for anyone.
async fn authorize(
    streams: &Streams,
    meta: &CommandMeta,
    id: Uuid,
    command: &InterviewCommand,
) -> Result<(), ApiError> {
    match (meta.scope, command) {
        (Scope::Any, _) => Ok(()),
        (Scope::Own, InterviewCommand::SubmitFeedback { interviewer_id, .. }) => {
            auth::require_own(meta, *interviewer_id, "feedback")
        }
        (Scope::Own, InterviewCommand::MakeDecision { decided_by, .. }) => {
            auth::require_own(meta, *decided_by, "a decision")
        }
        (Scope::Panel, _) => {
            let stream = InterviewAggregate::stream_in(&meta.actor.tenant, id);
            let loaded = streams.load::<InterviewAggregate>(stream).await?;
            match (&loaded.state, meta.actor.acting_person()) {
                (None, _) => Ok(()),
                (Some(iv), Some(person)) if iv.interviewer_ids.contains(&person) => Ok(()),
                (Some(_), _) => Err(ApiError::Forbidden(
                    "only the interview's panel may do this".into(),
                )),
            }
        }
        (Scope::Own, _) => Err(ApiError::Forbidden(
            "your roles do not allow this command".into(),
        )),
    }
}

macro_rules! single_command {
    ($(#[$doc:meta])* $name:ident, $path:literal, $body:ty, |$b:ident, $meta:ident| $cmd:expr) => {
        $(#[$doc])*
        #[utoipa::path(post, path = $path, request_body = $body,
            params(("id" = Uuid, Path, description = "interview id")),
            responses((status = 200, body = CommandResult), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
        pub async fn $name(State(app): State<AppState>, Path(raw_id): Path<String>, Meta(meta): Meta, body: ApiJson<$body>) -> Response {
            let streams = app.streams.clone();
            let route = $path.replace("{id}", &raw_id);
            app.respond(meta, &route, &body.raw, StatusCode::OK, |$meta| async move {
                let id = path_id(&raw_id, "interview")?;
                let $b = body.value;
                let command: InterviewCommand = $cmd;
                authorize(&streams, &$meta, id, &command).await?;
                Ok(pipeline::execute::<InterviewAggregate>(&streams, &$meta, id, Expect::Existing, command).await?)
            })
            .await
        }
    };
}

single_command!(
    /// Start a scheduled interview.
    start, "/interviews/{id}/start", Empty, |_b, meta| InterviewCommand::Start { at: meta.now });
single_command!(
    /// Complete an interview in progress.
    complete, "/interviews/{id}/complete", Empty, |_b, meta| InterviewCommand::Complete { at: meta.now });
single_command!(
/// Record transcript segments of an interview in progress.
transcript, "/interviews/{id}/transcript", Transcript, |b, meta| InterviewCommand::RecordTranscript {
    segments: b.segments.into_iter().map(|s| TranscriptSegment { speaker_id: s.speaker_id, start_ms: s.start_ms, end_ms: s.end_ms, text: s.text }).collect(),
});
single_command!(
/// Submit a panel member's feedback on a completed interview.
feedback, "/interviews/{id}/feedback", Feedback, |b, meta| InterviewCommand::SubmitFeedback {
    interviewer_id: b.interviewer_id,
    rating: b.rating,
    competencies: b.competencies.into_iter().map(|c| CompetencyScore { name: c.name, score: c.score }).collect(),
    notes: b.notes,
});
single_command!(
/// Record the decision on a completed interview.
decision, "/interviews/{id}/decision", Decision, |b, meta| InterviewCommand::MakeDecision {
    outcome: b.outcome,
    decided_by: b.decided_by,
    reason: b.reason,
});
