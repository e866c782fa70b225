//! Routes, per module, and the middleware around them.

mod interviews;
mod people;

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use infra::EventStore;
use tracing::Instrument;
use uuid::Uuid;

use crate::error::{ApiError, LoggedCause};
use crate::state::AppState;

pub use interviews::*;
pub use people::*;

/// Every route of the command API (`/metrics` unless the state says it is served
/// elsewhere, see [`AppState::without_metrics_route`]).
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new()
        .merge(people::router())
        .merge(interviews::router())
        .route("/health/live", get(|| async { "ok" }))
        .route("/health/ready", get(ready));
    if state.metrics.on_router() {
        routes = routes.route("/metrics", get(metrics));
    }
    routes
        .route(
            "/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .fallback(|uri: axum::http::Uri| async move { ApiError::NoRoute(uri.path().to_owned()) })
        // Inside `authenticate`: a caller is known (401 and 403 come first).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::rate_limit::limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        // Bodies are read by `ApiJson` with its own 1 MiB limit and 413 problem.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => ApiError::Unavailable(format!("event store: {e}")).into_response(),
        Err(_) => {
            ApiError::Unavailable("event store did not answer in time".into()).into_response()
        }
    }
}

impl AppState {
    /// This state with `/metrics` left off its router (an unknown path there, 404): the
    /// process's exposition is served by a listener of its own (`METRICS_ADDR`), which
    /// calls [`AppState::metrics_refresh`] before rendering.
    pub fn without_metrics_route(mut self) -> Self {
        self.metrics = std::sync::Arc::new(crate::metrics::Metrics::served_elsewhere());
        self
    }

    /// Sets the series this API's `/metrics` sets when it renders (the streams
    /// remembered), for a listener that renders the process's exposition itself.
    pub fn metrics_refresh(&self) -> impl Fn() + Send + Sync + 'static {
        let (metrics, streams) = (self.metrics.clone(), self.streams.clone());
        move || metrics.refresh(streams.len())
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(state.streams.len());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// One span per request carrying the correlation id; counts and times it; logs the
/// hidden cause of a 5xx once.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let mut request = request;
    let sent = request
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    // A request without one gets its id here, so the span and the events share it.
    let correlation = if sent.is_empty() {
        Uuid::now_v7().to_string()
    } else {
        sent.to_owned()
    };
    if sent.is_empty()
        && let Ok(v) = axum::http::HeaderValue::from_str(&correlation)
    {
        request.headers_mut().insert("x-correlation-id", v);
    }
    let span = tracing::info_span!("http.request", method = %request.method(), route = %route, correlation_id = %correlation);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    span.in_scope(|| {
        if let Some(LoggedCause(cause)) = response.extensions().get::<LoggedCause>() {
            if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
                tracing::error!(status = status.as_u16(), cause = %cause, "command failed");
            } else {
                tracing::warn!(status = status.as_u16(), cause = %cause, "command unavailable");
            }
        } else {
            tracing::debug!(
                status = status.as_u16(),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                "request"
            );
        }
    });
    state
        .metrics
        .observe(&route, status.as_u16(), elapsed.as_secs_f64());
    response
}

/// Parses an id from the path.
pub(crate) fn path_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::Malformed(format!("{what} id {raw:?} is not a UUID")))
}
