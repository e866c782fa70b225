//! Starting and stopping the query API.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use infra::AnyEventStore;
use infra::auth::Verifier;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::context::QueryContext;
use crate::http::{AppState, HttpLimits, router};
use crate::read_model::CacheCapacity;
use crate::schema::Limits;

/// How long `build` waits for the notification listener before serving anyway.
const LISTENER_GRACE: Duration = Duration::from_secs(10);

/// Everything the query API needs, with defaults for the limits.
#[derive(Clone)]
pub struct Settings {
    /// Where to listen (`QUERY_API_ADDR`, default `127.0.0.1:8081`; port 0 picks one).
    pub addr: SocketAddr,
    /// The read-model database.
    pub pool: PgPool,
    /// The event store, for `history` and `asOf`.
    pub store: AnyEventStore,
    /// Verifies the bearer token of every request (built by the caller, which knows the
    /// `AUTH_*` settings; docs/API.md §5).
    pub verifier: Verifier,
    /// Longest `X-Min-Position` wait (default 5 s).
    pub min_position_timeout: Duration,
    /// Longest query execution (default 10 s).
    pub query_timeout: Duration,
    /// Largest request body (default 1 MiB).
    pub max_body_bytes: usize,
    /// Depth and complexity limits (default 12 and 5,000).
    pub limits: Limits,
    /// Token bucket per (tenant, subject) for HTTP requests and subscription starts
    /// (default 200/s, bursts of 400; `None`: no limit).
    pub rate_limit: Option<infra::rate_limit::RateLimit>,
    /// Rows of `rm.interviews` and `rm.people` kept in memory (default 100,000 each),
    /// and whole schedules by person (default 20,000; [`CacheCapacity::OFF`] reads
    /// everything from the database).
    pub cache: CacheCapacity,
    /// Header-read timeout and connection limit (default 10 s, 1,024; [`infra::serve`]).
    pub http: infra::serve::HttpBounds,
    /// Whether `/metrics` is on this API's port (default); `false` when the process
    /// serves the metrics on an address of their own ([`QueryApi::metrics_refresh`]).
    pub metrics_route: bool,
}

impl Settings {
    /// Settings with the default limits.
    pub fn new(addr: SocketAddr, pool: PgPool, store: AnyEventStore, verifier: Verifier) -> Self {
        let http = HttpLimits::default();
        Settings {
            addr,
            pool,
            store,
            verifier,
            min_position_timeout: http.min_position_timeout,
            query_timeout: http.query_timeout,
            max_body_bytes: http.max_body_bytes,
            limits: Limits::default(),
            rate_limit: Some(infra::rate_limit::QUERIES_DEFAULT),
            http: infra::serve::HttpBounds::default(),
            cache: CacheCapacity::default(),
            metrics_route: true,
        }
    }
}

/// Failures starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum QueryApiError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("query API server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// A bound, not yet running query API.
pub struct QueryApi {
    listener: TcpListener,
    http: infra::serve::HttpBounds,
    addr: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
    refresh: Arc<dyn Fn() + Send + Sync>,
}

impl QueryApi {
    /// Starts the notification listener and binds the address.
    pub async fn build(settings: Settings) -> Result<Self, QueryApiError> {
        let ctx = QueryContext::with_cache(
            settings.pool.clone(),
            settings.store.clone(),
            settings.cache,
        )
        .with_limits(settings.limits);
        if tokio::time::timeout(LISTENER_GRACE, ctx.listening())
            .await
            .is_err()
        {
            tracing::warn!(
                "notification listener not up yet; subscriptions and X-Min-Position waits start when it is"
            );
        }
        let mut state = AppState::new(
            ctx,
            HttpLimits {
                min_position_timeout: settings.min_position_timeout,
                query_timeout: settings.query_timeout,
                max_body_bytes: settings.max_body_bytes,
                rate_limit: settings.rate_limit,
            },
            settings.verifier,
        );
        if !settings.metrics_route {
            state = state.without_metrics_route();
        }
        let refresh = Arc::new(state.metrics_refresh());
        let shutdown = state.shutdown_token().clone();
        let listener =
            TcpListener::bind(settings.addr)
                .await
                .map_err(|source| QueryApiError::Bind {
                    addr: settings.addr,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| QueryApiError::Bind {
                addr: settings.addr,
                source,
            })?;
        tracing::info!(%addr, "query API listening");
        Ok(QueryApi {
            listener,
            http: settings.http,
            addr,
            router: router(state),
            shutdown,
            refresh,
        })
    }

    /// Sets the series this API's `/metrics` would set when it renders (the caches'
    /// counts), for a process that serves its metrics on an address of their own.
    pub fn metrics_refresh(&self) -> impl Fn() + Send + Sync + 'static {
        let refresh = self.refresh.clone();
        move || refresh()
    }

    /// The port bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then closes subscriptions, finishes the
    /// requests in flight and returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), QueryApiError> {
        let token = self.shutdown.clone();
        // Headers within the timeout, at most so many connections, TCP_NODELAY.
        let result = infra::serve::serve(self.listener, self.router, self.http, async move {
            shutdown.await;
            token.cancel();
        })
        .await
        .map_err(QueryApiError::Serve);
        self.shutdown.cancel();
        tracing::info!("query API stopped");
        result
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
