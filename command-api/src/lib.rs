//! The command side over REST: every command of API.md §2, problem+json errors,
//! idempotency keys, `If-Match`, metadata headers, health, metrics and OpenAPI.

pub mod auth;
pub mod body;
pub mod booking;
pub mod command;
pub mod error;
pub mod idempotency;
pub mod meta;
pub mod metrics;
pub mod openapi;
pub mod pipeline;
pub mod rate_limit;
pub mod routes;
pub mod state;
pub mod streams;

pub use booking::recovery;
pub use state::AppState;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

/// The command API's own tables (idempotency keys).
pub static MIGRATOR: Migrator = Migrator {
    // Several crates migrate one database; each ignores the others' entries.
    ignore_missing: true,
    ..sqlx::migrate!("./migrations")
};

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
    /// Header-read timeout and connection limit ([`infra::serve`]).
    pub http: infra::serve::HttpBounds,
}

/// A bound, not yet running command API.
pub struct CommandApi {
    listener: TcpListener,
    router: Router,
    state: AppState,
    http: infra::serve::HttpBounds,
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
            http: settings.http,
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
        // Headers within the timeout, at most so many connections, TCP_NODELAY.
        let served = infra::serve::serve(self.listener, self.router, self.http, shutdown).await;
        purge.abort();
        tracing::info!("command API stopped");
        served
    }
}
