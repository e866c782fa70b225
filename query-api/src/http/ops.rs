//! GraphiQL, health and metrics.

use async_graphql::http::GraphiQLSource;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;

/// GraphiQL, pointed at `/graphql` and `/graphql/ws`.
pub async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("Interview Ledger")
            .finish(),
    )
}

/// Alive as long as the process answers.
pub async fn live() -> &'static str {
    "ok"
}

/// Ready when the read-model database answers.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.ctx.read_model().ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready: read-model database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "read-model database unavailable",
            )
                .into_response()
        }
    }
}

/// Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state
            .metrics
            .render(state.ctx.read_model().cache().map(AsRef::as_ref)),
    )
        .into_response()
}
