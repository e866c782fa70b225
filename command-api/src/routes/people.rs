//! `POST /people`, `/people/{id}/details`, `/people/{id}/availability`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, Utc};
use domain::person::{Person, PersonCommand};
use domain::schedule::ScheduleCommand;
use domain::{Aggregate, PersonAggregate, Role, ScheduleAggregate, Tenant};
use serde::Deserialize;
use uuid::Uuid;

use super::path_id;
use crate::auth;
use crate::body::ApiJson;
use crate::command::CommandResult;
use crate::error::ApiError;
use crate::meta::Meta;
use crate::pipeline::{Expect, execute};
use crate::state::AppState;
use crate::streams::Streams;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/people", post(register))
        .route("/people/{id}/details", post(change_details))
        .route("/people/{id}/availability", post(change_availability))
}

/// Body of `POST /people`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterPerson {
    /// Client-chosen id (a retry is then safe); else a UUIDv7 is made.
    pub id: Option<Uuid>,
    /// 1..200 characters.
    pub name: String,
    /// Syntactically valid address.
    pub email: Option<String>,
    /// At least one of `candidate`, `interviewer`.
    #[schema(value_type = Vec<String>, example = json!(["interviewer"]))]
    pub roles: Vec<Role>,
    /// IANA name, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
}

/// Body of `POST /people/{id}/details`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeDetails {
    /// New name.
    pub name: Option<String>,
    /// New email.
    pub email: Option<String>,
    /// New timezone.
    pub timezone: Option<String>,
}

/// A half-open time window.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Window {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// Body of `POST /people/{id}/availability`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeAvailability {
    /// Windows to add.
    #[serde(default)]
    pub add: Vec<Window>,
    /// Windows to remove (bookings stay).
    #[serde(default)]
    pub remove: Vec<Window>,
}

/// Register a person.
#[utoipa::path(post, path = "/people", request_body = RegisterPerson,
    responses((status = 201, body = CommandResult), (status = "4XX", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn register(
    State(app): State<AppState>,
    Meta(meta): Meta,
    body: ApiJson<RegisterPerson>,
) -> Response {
    let streams = app.streams.clone();
    app.respond(
        meta,
        "/people",
        &body.raw,
        StatusCode::CREATED,
        |meta| async move {
            let b = body.value;
            let id = b.id.unwrap_or_else(|| meta.new_id());
            let cmd = PersonCommand::Register {
                person_id: id,
                name: b.name,
                email: b.email,
                roles: b.roles,
                timezone: b.timezone,
            };
            Ok(execute::<PersonAggregate>(&streams, &meta, id, Expect::NewStream, cmd).await?)
        },
    )
    .await
}

/// Change a person's details.
#[utoipa::path(post, path = "/people/{id}/details", request_body = ChangeDetails,
    params(("id" = Uuid, Path, description = "person id")),
    responses((status = 200, body = CommandResult), (status = "4XX", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn change_details(
    State(app): State<AppState>,
    Path(raw_id): Path<String>,
    Meta(meta): Meta,
    body: ApiJson<ChangeDetails>,
) -> Response {
    let streams = app.streams.clone();
    let route = format!("/people/{raw_id}/details");
    app.respond(meta, &route, &body.raw, StatusCode::OK, |meta| async move {
        let id = path_id(&raw_id, "person")?;
        let b = body.value;
        let cmd = PersonCommand::ChangeDetails {
            name: b.name,
            email: b.email,
            timezone: b.timezone,
        };
        Ok(execute::<PersonAggregate>(&streams, &meta, id, Expect::Existing, cmd).await?)
    })
    .await
}

/// Add or remove availability windows.
#[utoipa::path(post, path = "/people/{id}/availability", request_body = ChangeAvailability,
    params(("id" = Uuid, Path, description = "person id")),
    responses((status = 200, body = CommandResult), (status = "4XX", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn change_availability(
    State(app): State<AppState>,
    Path(raw_id): Path<String>,
    Meta(meta): Meta,
    body: ApiJson<ChangeAvailability>,
) -> Response {
    let streams = app.streams.clone();
    let route = format!("/people/{raw_id}/availability");
    app.respond(meta, &route, &body.raw, StatusCode::OK, |meta| async move {
        let id = path_id(&raw_id, "person")?;
        require_person(&streams, &meta.actor.tenant, id).await?;
        auth::require_own(&meta, id, "availability changes")?;
        let b = body.value;
        let cmd = ScheduleCommand::ChangeAvailability {
            add: b.add.iter().map(|w| (w.start, w.end)).collect(),
            remove: b.remove.iter().map(|w| (w.start, w.end)).collect(),
        };
        Ok(execute::<ScheduleAggregate>(&streams, &meta, id, Expect::Existing, cmd).await?)
    })
    .await
}

/// Loads a person; 404 when missing.
pub(crate) async fn require_person(
    streams: &Streams,
    tenant: &Tenant,
    id: Uuid,
) -> Result<Person, ApiError> {
    // A person, once registered, stays: a remembered one need not be read again.
    let stream = PersonAggregate::stream_in(tenant, id);
    let mut loaded = streams.load::<PersonAggregate>(stream.clone()).await?;
    if loaded.state.is_none() && loaded.from_memory {
        // Not found is only answered from what the store says.
        loaded = streams.load_fresh::<PersonAggregate>(stream).await?;
    }
    loaded.state.ok_or(ApiError::NotFound {
        entity: "person",
        id,
    })
}
