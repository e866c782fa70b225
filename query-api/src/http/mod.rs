//! The HTTP surface: `/graphql` (POST, GET), `/graphql/ws`, GraphiQL at `/`, health and
//! metrics (unless a listener of its own serves them). Every route but health, metrics and GraphiQL's page needs a bearer token
//! ([`auth`]).

pub(crate) mod auth;
mod docs;
mod graphql;
mod ops;
mod rate_limit;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use infra::auth::Verifier;
use infra::rate_limit::{RateLimit, SubjectLimiter};
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::context::QueryContext;
use crate::metrics::Metrics;
use crate::schema::{QuerySchema, schema};

/// Limits of the HTTP endpoint.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Longest wait for `X-Min-Position` (default 5 s).
    pub min_position_timeout: Duration,
    /// Longest execution of one query (default 10 s).
    pub query_timeout: Duration,
    /// Largest request body (default 1 MiB).
    pub max_body_bytes: usize,
    /// Token bucket per (tenant, subject) for HTTP requests and subscription starts
    /// (default `None`: no limit; [`crate::Settings::new`] has
    /// [`infra::rate_limit::QUERIES_DEFAULT`]).
    pub rate_limit: Option<RateLimit>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            min_position_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            rate_limit: None,
        }
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    schema: QuerySchema,
    ctx: QueryContext,
    metrics: Arc<Metrics>,
    limits: HttpLimits,
    shutdown: CancellationToken,
    docs: Arc<docs::Documents>,
    /// Verifies the bearer token of every request (see [`auth`]).
    verifier: Verifier,
    /// Whether the router serves `/metrics` (see [`AppState::without_metrics_route`]).
    metrics_route: bool,
    /// The buckets of `limits.rate_limit` ([`rate_limit`]).
    limiter: Option<Arc<SubjectLimiter>>,
}

impl AppState {
    /// State serving the schema built on `ctx` to callers whose tokens `verifier` accepts.
    pub fn new(ctx: QueryContext, limits: HttpLimits, verifier: Verifier) -> Self {
        AppState {
            schema: schema(ctx.clone()),
            ctx,
            metrics: Arc::new(Metrics::default()),
            limits,
            shutdown: CancellationToken::new(),
            docs: Arc::default(),
            verifier,
            metrics_route: true,
            limiter: limits.rate_limit.map(|l| Arc::new(SubjectLimiter::new(l))),
        }
    }

    /// This state with `/metrics` left off its router (an unknown path there, 404): the
    /// process's exposition is served by a listener of its own (`METRICS_ADDR`), which
    /// calls [`AppState::metrics_refresh`] before rendering.
    pub fn without_metrics_route(self) -> Self {
        AppState {
            metrics_route: false,
            ..self
        }
    }

    /// Sets the series this API's `/metrics` sets when it renders (the caches' counts),
    /// for a listener that renders the process's exposition itself.
    pub fn metrics_refresh(&self) -> impl Fn() + Send + Sync + 'static {
        let (metrics, ctx) = (self.metrics.clone(), self.ctx.clone());
        move || metrics.refresh(ctx.read_model().cache().map(AsRef::as_ref))
    }

    /// The schema served.
    pub fn schema(&self) -> &QuerySchema {
        &self.schema
    }

    /// The context resolvers read through.
    pub fn context(&self) -> &QueryContext {
        &self.ctx
    }

    /// Cancelled when the server stops: open subscriptions end with it.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }
}

/// Every route of the query API (`/metrics` unless the state says it is served
/// elsewhere, see [`AppState::without_metrics_route`]).
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let mut routes = Router::new()
        .route("/", get(ops::graphiql))
        .route(
            "/graphql",
            get(graphql::graphql_get).post(graphql::graphql_post),
        )
        .route("/graphql/ws", get(graphql::graphql_ws))
        .route("/health/live", get(ops::live))
        .route("/health/ready", get(ops::ready));
    if state.metrics_route {
        routes = routes.route("/metrics", get(ops::metrics));
    }
    routes
        // Inside `authenticate`: a caller is known (401 comes first).
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        // Before any handler reads the body; unknown paths stay a 404 for anyone.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
                tracing::info_span!(
                    "query_api.http",
                    method = %req.method(),
                    path = %req.uri().path(),
                )
            }),
        )
        .with_state(state)
}
