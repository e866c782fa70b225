//! What every handler shares, and how a command's outcome becomes the HTTP answer under
//! its idempotency key.

use std::future::Future;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use infra::AnyEventStore;
use infra::auth::Verifier;
use infra::rate_limit::{RateLimit, SubjectLimiter};
use sqlx::PgPool;

use crate::command::{CommandMeta, CommandResult};
use crate::error::ApiError;
use crate::{idempotency, metrics, streams};

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The event store commands append to.
    pub store: AnyEventStore,
    /// PostgreSQL for idempotency keys.
    pub pool: PgPool,
    /// Request metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// The event store with the streams this process has folded.
    pub streams: Arc<streams::Streams>,
    /// Verifies the bearer token of every request.
    pub verifier: Verifier,
    /// Token buckets per (tenant, subject); `None`: no rate limit ([`crate::rate_limit`]).
    pub limiter: Option<Arc<SubjectLimiter>>,
}

impl AppState {
    /// State over a store and a pool, verifying tokens with `verifier`, with no rate
    /// limit ([`AppState::with_rate_limit`]).
    pub fn new(store: AnyEventStore, pool: PgPool, verifier: Verifier) -> Self {
        let streams = Arc::new(streams::Streams::new(
            store.clone(),
            streams::DEFAULT_CAPACITY,
        ));
        AppState {
            store,
            pool,
            metrics: Arc::new(metrics::Metrics::default()),
            streams,
            verifier,
            limiter: None,
        }
    }

    /// This state with a rate limit per subject (`None`: none, as [`AppState::new`]
    /// makes it). The binary turns [`infra::rate_limit::COMMANDS_DEFAULT`] on unless told
    /// otherwise (`RATE_LIMIT_COMMANDS_*`).
    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.limiter = limit.map(|l| Arc::new(SubjectLimiter::new(l)));
        self
    }

    /// Interview changes that book or release participants, for one command.
    pub fn booking<'a>(&'a self, meta: &'a CommandMeta) -> crate::booking::Booking<'a> {
        crate::booking::Booking {
            streams: &self.streams,
            intents: &self.pool,
            meta,
        }
    }

    /// Runs a command under its idempotency key (if any) and turns the outcome into the
    /// response: `success` status with `{id, version, position}`, or a problem.
    pub async fn respond<F, Fut>(
        &self,
        meta: CommandMeta,
        route: &str,
        raw_body: &[u8],
        success: StatusCode,
        run: F,
    ) -> Response
    where
        F: FnOnce(CommandMeta) -> Fut,
        Fut: Future<Output = Result<CommandResult, ApiError>>,
    {
        let correlation = meta.correlation_id;
        let mut response = match meta.idempotency_key.clone() {
            None => answer(run(meta).await, success),
            Some(key) => {
                let hash = idempotency::request_hash("POST", route, raw_body);
                match idempotency::claim(&self.pool, &key, &hash).await {
                    Err(e) => e.into_response(),
                    Ok(idempotency::Claim::Replay(r)) => r,
                    Ok(idempotency::Claim::Owned) => {
                        let (status, body, response) = answer_parts(run(meta).await, success);
                        match idempotency::record(&self.pool, &key, status, &body).await {
                            Ok(()) => response,
                            Err(e) => {
                                // The events are appended; only the stored answer is missing.
                                // A retry re-derives the same event ids and appends nothing.
                                tracing::warn!(error = %e, "could not store an idempotent answer");
                                response
                            }
                        }
                    }
                }
            }
        };
        if let Ok(v) = HeaderValue::from_str(&correlation.to_string()) {
            response.headers_mut().insert("x-correlation-id", v);
        }
        response
    }
}

fn answer(result: Result<CommandResult, ApiError>, success: StatusCode) -> Response {
    answer_parts(result, success).2
}

fn answer_parts(
    result: Result<CommandResult, ApiError>,
    success: StatusCode,
) -> (StatusCode, Vec<u8>, Response) {
    match result {
        Ok(r) => {
            let body = serde_json::to_vec(&r).unwrap_or_default();
            let mut response = (success, body.clone()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            (success, body, response)
        }
        Err(e) => {
            let status = e.status_code();
            let body = serde_json::to_vec(&e.problem()).unwrap_or_default();
            (status, body, e.into_response())
        }
    }
}
