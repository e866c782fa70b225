//! The command side over REST: every command of API.md §2, problem+json errors,
//! idempotency keys, `If-Match`, metadata headers, health, metrics and OpenAPI.

pub mod body;
pub mod error;
pub mod handler;
pub mod idempotency;
pub mod meta;
pub mod metrics;
pub mod openapi;
pub mod recovery;
pub mod routes;
pub mod streams;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use infra::AnyEventStore;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::handler::{CommandMeta, CommandResult};

/// The command API's own tables (idempotency keys).
pub static MIGRATOR: Migrator = Migrator {
    // Several crates migrate one database; each ignores the others' entries.
    ignore_missing: true,
    ..sqlx::migrate!("./migrations")
};

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
}

impl AppState {
    /// State over a store and a pool.
    pub fn new(store: AnyEventStore, pool: PgPool) -> Self {
        let streams = Arc::new(streams::Streams::new(
            store.clone(),
            streams::DEFAULT_CAPACITY,
        ));
        AppState {
            store,
            pool,
            metrics: Arc::new(metrics::Metrics::default()),
            streams,
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

/// The whole router.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Settings of a command API server.
#[derive(Clone)]
pub struct Settings {
    /// Where to listen (port 0 picks one).
    pub addr: SocketAddr,
    /// Request timeout.
    pub request_timeout: Duration,
}

/// A bound, not yet running command API.
pub struct CommandApi {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl CommandApi {
    /// Binds the listener.
    pub async fn build(settings: Settings, state: AppState) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.addr).await?;
        let router =
            router(state.clone()).layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                settings.request_timeout,
            ));
        Ok(CommandApi {
            listener,
            router,
            state,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let pool = self.state.pool.clone();
        let purge = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                match idempotency::purge(&pool, Duration::from_secs(48 * 3600)).await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "purged old idempotency keys"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
                }
            }
        });
        // Answers go out at once: without TCP_NODELAY a response written in two parts
        // waits for the client's delayed ACK (tens of milliseconds).
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let served = axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        purge.abort();
        tracing::info!("command API stopped");
        served
    }
}
