//! Per-subject rate limit of the command API: every authenticated request takes a token
//! from its caller's bucket (tenant, subject; [`infra::rate_limit`]), or is answered 429
//! `rate-limited` with `Retry-After`. Probes, `/metrics` and unknown paths carry no
//! caller and are not counted; unauthenticated requests were refused (401) before this.
//! Refusals are counted with the other answers (`command_api_requests_total{status="429"}`).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The middleware: after `authenticate`, before the handler (and before the body is read).
pub async fn limit(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if let (Some(limiter), Some(caller)) = (&app.limiter, request.extensions().get::<Caller>())
        && let Err(wait) = limiter.check(caller.tenant.as_str(), &caller.principal.subject)
    {
        return ApiError::RateLimited {
            retry_after: wait.secs(),
        }
        .into_response();
    }
    next.run(request).await
}
