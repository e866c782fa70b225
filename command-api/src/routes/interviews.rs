//! `POST /interviews` and the lifecycle commands of an interview.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, Utc};
use domain::interview::{
    self, CompetencyScore, DecisionOutcome, Interview, InterviewCommand, InterviewEvent,
    InterviewKind, ParticipantFacts, TranscriptSegment,
};
use domain::person::{self, PersonEvent};
use domain::schedule::{self, Schedule, ScheduleCommand, ScheduleEvent};
use domain::{Conflict, DomainEvent};
use futures::future::try_join_all;
use infra::{EventStore, ExpectedVersion, StreamAppend};
use serde::Deserialize;
use uuid::Uuid;

use super::path_id;
use crate::AppState;
use crate::body::ApiJson;
use crate::error::ApiError;
use crate::handler::{
    CommandMeta, CommandResult, Expect, MAX_ATTEMPTS, Step, commit_steps, load, run_single,
};
use crate::meta::Meta;

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
            let id = b.id.unwrap_or_else(Uuid::now_v7);
            let mut ids = vec![b.candidate_id];
            ids.extend(b.interviewer_ids.iter().copied());
            // Set after a refusal decided on remembered facts: read them afresh.
            let mut confirming = false;
            for attempt in 0..MAX_ATTEMPTS {
                if attempt > 0 && !confirming {
                    crate::handler::backoff(attempt).await;
                }
                let (facts, checks, remembered) =
                    participant_facts(&state, &ids, confirming).await?;
                let cmd = InterviewCommand::Schedule {
                    interview_id: id,
                    candidate: facts[0].clone(),
                    interviewers: facts[1..].to_vec(),
                    position: b.position.clone(),
                    kind: b.kind,
                    starts_at: b.starts_at,
                    duration_minutes: b.duration_minutes,
                    location: b.location.clone(),
                };
                let result = change_with_bookings(
                    &state,
                    &meta,
                    id,
                    Expect::NewStream,
                    &checks,
                    |s| interview::decide(s, cmd.clone()),
                    book_all(id, Undo::Release),
                )
                .await;
                match result {
                    // A participant changed since this process read them: read again.
                    Err(ApiError::StreamConflict { stream, .. })
                        if checks.iter().any(|c| c.stream_id == stream) => {}
                    // Refusals are only answered from what the store says.
                    Err(e) if e.is_refusal() && !remembered.is_empty() => {
                        state.streams.refused_from_memory();
                        confirming = true;
                    }
                    other => return other,
                }
            }
            Err(ApiError::Unavailable(format!(
                "the participants of interview {id} are changing too fast; try again"
            )))
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
    let state = app.clone();
    let route = format!("/interviews/{raw_id}/reschedule");
    app.respond(meta, &route, &body.raw, StatusCode::OK, |meta| async move {
        let id = path_id(&raw_id, "interview")?;
        let b = body.value;
        let cmd = InterviewCommand::Reschedule {
            starts_at: b.starts_at,
            duration_minutes: b.duration_minutes,
            reason: b.reason,
        };
        change_with_bookings(
            &state,
            &meta,
            id,
            Expect::Existing,
            &[],
            |s| interview::decide(s, cmd.clone()),
            book_all(id, Undo::RebookBefore),
        )
        .await
    })
    .await
}

/// How a booking step is undone when a later step fails (stores without multi-stream
/// appends).
#[derive(Clone, Copy)]
enum Undo {
    /// Release it (the interview is new).
    Release,
    /// Book the interview's time before the change again.
    RebookBefore,
}

/// Books every participant of the interview as it is after the change.
fn book_all(id: Uuid, undo: Undo) -> impl Fn(&Interview, &Interview) -> ScheduleChanges {
    move |before, after| {
        let Some(range) = after.time_range() else {
            return Vec::new();
        };
        after
            .participants()
            .into_iter()
            .map(|p| {
                let undo = match undo {
                    Undo::Release => Some(ScheduleCommand::Release { interview_id: id }),
                    Undo::RebookBefore => before.time_range().map(|old| ScheduleCommand::Book {
                        person_id: p,
                        interview_id: id,
                        range: old,
                    }),
                };
                (
                    p,
                    ScheduleCommand::Book {
                        person_id: p,
                        interview_id: id,
                        range,
                    },
                    undo,
                )
            })
            .collect()
    }
}

fn release_all(id: Uuid) -> impl Fn(&Interview, &Interview) -> ScheduleChanges {
    move |before, _after| {
        before
            .participants()
            .into_iter()
            .map(|p| {
                (
                    p,
                    ScheduleCommand::Release { interview_id: id },
                    before.time_range().map(|old| ScheduleCommand::Book {
                        person_id: p,
                        interview_id: id,
                        range: old,
                    }),
                )
            })
            .collect()
    }
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
    let cmd = InterviewCommand::Cancel {
        reason: body.value.reason,
    };
    end_releasing(app, meta, route, &body.raw, raw_id, cmd).await
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
    let cmd = InterviewCommand::MarkNoShow {
        reason: body.value.reason,
    };
    end_releasing(app, meta, route, &body.raw, raw_id, cmd).await
}

/// Cancel and no-show: the interview ends while scheduled and every booking is released.
async fn end_releasing(
    app: AppState,
    meta: CommandMeta,
    route: String,
    raw_body: &[u8],
    raw_id: String,
    cmd: InterviewCommand,
) -> Response {
    let state = app.clone();
    app.respond(meta, &route, raw_body, StatusCode::OK, |meta| async move {
        let id = path_id(&raw_id, "interview")?;
        change_with_bookings(
            &state,
            &meta,
            id,
            Expect::Existing,
            &[],
            |s| interview::decide(s, cmd.clone()),
            release_all(id),
        )
        .await
    })
    .await
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
                let cmd: InterviewCommand = $cmd;
                run_single(&streams, Expect::Existing, &$meta, "interview", id, InterviewEvent::stream_id(id), || None, interview::evolve, |s| {
                    interview::decide(s, cmd.clone())
                })
                .await
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

/// What each participant's person stream says about them (roles, or missing), and, on
/// a store with atomic multi-stream appends, the checks that make the booking commit only
/// if those streams are still at the versions read (so remembered facts are never
/// trusted blindly), and which facts came from memory. Elsewhere the facts are read from
/// the store each time.
async fn participant_facts(
    app: &AppState,
    ids: &[Uuid],
    fresh: bool,
) -> Result<(Vec<ParticipantFacts>, Vec<StreamAppend>, Vec<String>), ApiError> {
    let checked = app.store.supports_multi_stream();
    let people = try_join_all(ids.iter().map(|id| async move {
        let stream = PersonEvent::stream_id(*id);
        if checked && !fresh {
            app.streams.load(stream, None, person::evolve).await
        } else if checked {
            app.streams.load_fresh(stream, None, person::evolve).await
        } else {
            load(&app.store, stream, None, person::evolve).await
        }
    }))
    .await?;
    let facts = ids
        .iter()
        .zip(&people)
        .map(|(id, p)| ParticipantFacts {
            id: *id,
            roles: p.state.as_ref().map(|p| p.roles.clone()),
        })
        .collect();
    let mut checks: Vec<StreamAppend> = Vec::new();
    if checked {
        for p in &people {
            if checks.iter().all(|c| c.stream_id != p.stream) {
                checks.push(StreamAppend {
                    stream_id: p.stream.clone(),
                    expected: ExpectedVersion::Exact(p.version),
                    events: Vec::new(),
                });
            }
        }
    }
    let remembered = people
        .iter()
        .filter(|p| p.from_memory)
        .map(|p| p.stream.clone())
        .collect();
    Ok((facts, checks, remembered))
}

type ScheduleChanges = Vec<(Uuid, ScheduleCommand, Option<ScheduleCommand>)>;

/// An interview change that also books or releases participants' schedules: decided on
/// every stream, then committed together (atomically on PostgreSQL; in a fixed order with
/// undo on EventStoreDB), the interview last. `checks` are streams read but not written
/// that must still be at the given versions (multi-stream stores only); a conflict on
/// one of them is returned to the caller, who reads them again.
async fn change_with_bookings(
    app: &AppState,
    meta: &CommandMeta,
    id: Uuid,
    expect: Expect,
    checks: &[StreamAppend],
    decide: impl Fn(&Option<Interview>) -> Result<Vec<InterviewEvent>, domain::Error>,
    schedule_changes: impl Fn(&Interview, &Interview) -> ScheduleChanges,
) -> Result<CommandResult, ApiError> {
    let streams = &app.streams;
    let interview_stream = InterviewEvent::stream_id(id);
    let mut lost_race = false;
    // Set after a refusal decided on memory: the next decision is on fresh reads.
    let mut confirming = false;
    for attempt in 0..MAX_ATTEMPTS {
        if lost_race {
            crate::handler::backoff(attempt).await;
        }
        lost_race = false;
        if meta.if_match.is_some() {
            // `If-Match` is judged against the store, never against this process's memory.
            streams.forget(&interview_stream);
        }
        let loaded = match expect {
            Expect::NewStream if !confirming => streams.load_new(interview_stream.clone(), None),
            _ => None,
        };
        let loaded = match loaded {
            Some(l) => l,
            None if confirming => {
                streams
                    .load_fresh(interview_stream.clone(), None, interview::evolve)
                    .await?
            }
            None => {
                streams
                    .load(interview_stream.clone(), None, interview::evolve)
                    .await?
            }
        };
        if let Some(done) = loaded.already_applied(meta, id) {
            return Ok(done);
        }
        loaded.check_if_match(meta, "interview")?;
        let events = match decide(&loaded.state) {
            Ok(events) => events,
            Err(_) if loaded.from_memory => {
                // Refusals are only answered from what the store says.
                streams.forget(&interview_stream);
                streams.refused_from_memory();
                confirming = true;
                continue;
            }
            Err(e) => return Err(e.with_target_id(id).into()),
        };
        if events.is_empty() {
            return Ok(loaded.unchanged(id));
        }
        let after = events.iter().fold(loaded.state.clone(), interview::evolve);
        let Some(after_iv) = after.clone() else {
            return Err(ApiError::Internal(
                "an interview change left no interview".into(),
            ));
        };
        let before = loaded.state.clone().unwrap_or_else(|| after_iv.clone());
        let mut changes = schedule_changes(&before, &after_iv);
        changes.sort_by_key(|(p, ..)| *p);

        let mut steps = Vec::with_capacity(changes.len() + checks.len() + 1);
        // What to remember once committed: each schedule as loaded and after.
        let mut booked = Vec::with_capacity(changes.len());
        let mut conflicts: Vec<Conflict> = Vec::new();
        // A schedule this process does not know is taken to be empty (a new participant's
        // usually is): the append checks it, and a refusal is confirmed on a fresh read.
        let schedules = try_join_all(changes.iter().map(|(p, ..)| async move {
            let stream = ScheduleEvent::stream_id(*p);
            let assumed = if confirming {
                None
            } else {
                streams.load_new(stream.clone(), Schedule::default())
            };
            match assumed {
                Some(l) => Ok(l),
                None if confirming => {
                    streams
                        .load_fresh(stream, Schedule::default(), schedule::evolve)
                        .await
                }
                None => {
                    streams
                        .load(stream, Schedule::default(), schedule::evolve)
                        .await
                }
            }
        }))
        .await?;
        let remembered: Vec<String> = schedules
            .iter()
            .filter(|s| s.from_memory)
            .map(|s| s.stream.clone())
            .chain(loaded.from_memory.then(|| interview_stream.clone()))
            .collect();
        let mut refusal: Option<ApiError> = None;
        for ((_, cmd, undo), sched) in changes.into_iter().zip(schedules) {
            match schedule::decide(&sched.state, cmd) {
                Ok(evts) if evts.is_empty() => {}
                Ok(evts) => {
                    let encoded = meta.encode(&sched.stream, &evts);
                    let ids: Vec<Uuid> = encoded.iter().map(|e| e.event_id).collect();
                    steps.push(Step {
                        append: StreamAppend {
                            stream_id: sched.stream.clone(),
                            expected: ExpectedVersion::Exact(sched.version),
                            events: encoded,
                        },
                        undo,
                    });
                    let sched_after = evts.iter().fold(sched.state.clone(), schedule::evolve);
                    booked.push((steps.len() - 1, sched, sched_after, ids));
                }
                Err(domain::Error::BookingConflict(c)) => conflicts.extend(c),
                Err(e) => {
                    refusal.get_or_insert(e.into());
                }
            }
        }
        if refusal.is_none() && !conflicts.is_empty() {
            refusal = Some(ApiError::BookingConflict(conflicts));
        }
        if let Some(refusal) = refusal {
            if remembered.is_empty() {
                return Err(refusal);
            }
            // Refusals are only answered from what the store says.
            for s in &remembered {
                streams.forget(s);
            }
            streams.refused_from_memory();
            confirming = true;
            continue;
        }
        steps.extend(checks.iter().map(|c| Step {
            append: c.clone(),
            undo: None,
        }));
        let encoded = meta.encode(&interview_stream, &events);
        let interview_ids: Vec<Uuid> = encoded.iter().map(|e| e.event_id).collect();
        steps.push(Step {
            append: StreamAppend {
                stream_id: interview_stream.clone(),
                expected: ExpectedVersion::Exact(loaded.version),
                events: encoded,
            },
            undo: None,
        });
        let touched: Vec<String> = steps.iter().map(|s| s.append.stream_id.clone()).collect();
        match commit_steps(&app.store, &app.pool, meta, id, steps).await {
            Ok(results) => {
                for (i, sched, sched_after, ids) in booked {
                    if let Some(r) = results.get(i) {
                        streams.appended(&sched, sched_after, &ids, r);
                    }
                }
                let position = results.iter().map(|r| r.position).max().unwrap_or_default();
                let last = results.last();
                if let Some(r) = last {
                    streams.appended(&loaded, after, &interview_ids, r);
                }
                let version = last.map_or(loaded.version, |r| r.version);
                return Ok(CommandResult {
                    id,
                    version,
                    position: position.to_string(),
                });
            }
            Err(ApiError::StreamConflict { stream, actual }) => {
                for s in &touched {
                    streams.forget(s);
                }
                // A stale memory (or a wrong guess that a stream is new) is not a race:
                // read the store again at once.
                lost_race = remembered.is_empty();
                confirming |= !remembered.is_empty();
                if checks.iter().any(|c| c.stream_id == stream) {
                    return Err(ApiError::StreamConflict { stream, actual });
                }
                if let (Some(expected), true) = (meta.if_match, stream == interview_stream) {
                    return Err(ApiError::VersionConflict {
                        entity: "interview",
                        expected,
                        current: actual.unwrap_or(loaded.version + 1),
                    });
                }
            }
            Err(e) => {
                // The outcome may be unknown (a lost answer) or partly undone: read again.
                for s in &touched {
                    streams.forget(s);
                }
                return Err(e);
            }
        }
    }
    Err(ApiError::Unavailable(format!(
        "interview {id} or its participants' schedules are changing too fast; try again"
    )))
}
