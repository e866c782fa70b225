//! Startup of each part and the operational commands.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::routing::get;
use infra::auth::{AuthSettings, BuiltinKey, Role, TokenRequest, Verifier};
use infra::config::{EventStoreConfig, check_database_url, parse_addr};
use infra::db::{self, PoolSettings};
use infra::{AnyEventStore, EventStore};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::{Addrs, Global, TokenArgs};

/// Which parts a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// The REST command API.
    pub command_api: bool,
    /// The projector.
    pub projector: bool,
    /// The GraphQL query API.
    pub query_api: bool,
}

impl Parts {
    /// Everything (`serve`).
    pub const ALL: Parts = Parts {
        command_api: true,
        projector: true,
        query_api: true,
    };
    /// `command-api`.
    pub const COMMAND_API: Parts = Parts {
        command_api: true,
        projector: false,
        query_api: false,
    };
    /// `projector`.
    pub const PROJECTOR: Parts = Parts {
        command_api: false,
        projector: true,
        query_api: false,
    };
    /// `query-api`.
    pub const QUERY_API: Parts = Parts {
        command_api: false,
        projector: false,
        query_api: true,
    };
}

/// Connections every part needs.
pub struct Env {
    /// Read models, idempotency keys (and the PostgreSQL event store's default home).
    pub pool: PgPool,
    /// The event store.
    pub store: AnyEventStore,
}

impl Env {
    /// Connects; with `prepare`, creates the database when missing and runs every migration.
    /// Statements run without a time limit (the operational commands: rebuilds, status).
    pub async fn open(global: &Global, prepare: bool) -> anyhow::Result<Env> {
        Env::open_with(global, prepare, None).await
    }

    /// Like [`Env::open`], every statement of the pool (and of a PostgreSQL event store)
    /// cancelled by the server after `statement_timeout`. Migrations run before, on a
    /// short-lived pool of their own without that limit.
    pub async fn open_with(
        global: &Global,
        prepare: bool,
        statement_timeout: Option<Duration>,
    ) -> anyhow::Result<Env> {
        check_database_url("DATABASE_URL", &global.database_url)?;
        let store_config =
            EventStoreConfig::from_urls(global.eventstore_url.as_deref(), &global.database_url)?;
        let settings = PoolSettings {
            max_connections: global.database_max_connections,
            ..PoolSettings::default()
        }
        .with_statement_timeout(statement_timeout);
        // The event store shares the read-model pool when it lives in the same database.
        let shared_store = matches!(&store_config,
            EventStoreConfig::Postgres(url) if url == &global.database_url);
        if prepare {
            db::create_database_if_missing(&global.database_url)
                .await
                .context("DATABASE_URL")?;
            let setup = db::connect(
                &global.database_url,
                PoolSettings {
                    max_connections: 2,
                    ..PoolSettings::default()
                },
            )
            .await
            .context("DATABASE_URL")?;
            infra::auth::migrate(&setup)
                .await
                .context("failed to migrate the signing keys' table")?;
            command_api::MIGRATOR
                .run(&setup)
                .await
                .context("failed to migrate the command API's tables")?;
            projections::prepare(&setup)
                .await
                .context("failed to prepare the read models")?;
            if shared_store {
                db::migrate(&setup)
                    .await
                    .context("failed to migrate the event store")?;
            }
            setup.close().await;
        }
        let pool = db::connect(&global.database_url, settings)
            .await
            .context("DATABASE_URL")?;
        let store = if shared_store {
            infra::AnyEventStore::Postgres(std::sync::Arc::new(infra::postgres::PgEventStore::new(
                pool.clone(),
                std::sync::Arc::new(infra::upcast::Upcasters::standard()),
            )))
        } else {
            store_config.open(settings).await?
        };
        Ok(Env { pool, store })
    }

    /// Another pool on `DATABASE_URL` of at most `max_connections`, its statements
    /// cancelled after `statement_timeout` (`None`: no limit).
    pub async fn pool(
        global: &Global,
        max_connections: u32,
        statement_timeout: Option<Duration>,
    ) -> anyhow::Result<PgPool> {
        let settings = PoolSettings {
            max_connections,
            ..PoolSettings::default()
        }
        .with_statement_timeout(statement_timeout);
        db::connect(&global.database_url, settings)
            .await
            .context("DATABASE_URL")
    }

    /// The token verifier: the built-in key (made on first start, kept in the database)
    /// and whatever `AUTH_*` configures.
    pub async fn verifier(&self) -> anyhow::Result<Verifier> {
        let settings = AuthSettings::from_env().context("AUTH_* settings")?;
        Verifier::new(settings, self.pool.clone())
            .await
            .context("cannot set up token verification")
    }

    /// A token of the built-in key for a tool of this binary (see [`system_token`]).
    pub async fn system_token(&self, tenant: &str, subject: &str) -> anyhow::Result<String> {
        system_token(&self.pool, tenant, subject).await
    }
}

async fn bind_check(variable: &'static str, value: &str) -> anyhow::Result<SocketAddr> {
    Ok(parse_addr(variable, value)?)
}

/// The content type of the Prometheus text exposition.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Sets series that are figures of the moment (which nothing records as they change)
/// before the metrics listener renders; each API hands out its own.
pub type MetricsRefresh = Box<dyn Fn() + Send + Sync>;

/// The router of the metrics listener (`METRICS_ADDR`): `GET /metrics`, every series of
/// the process once, rendered after each of `refresh` ran, and `GET /health/live`;
/// anything else is refused (404, or 405 for another method). It asks for no token: the
/// listener is meant for a private address.
pub fn metrics_router(refresh: Vec<MetricsRefresh>) -> Router {
    let refresh = Arc::new(refresh);
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let refresh = refresh.clone();
                async move {
                    for r in refresh.iter() {
                        r();
                    }
                    (
                        [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
                        infra::metrics::render(),
                    )
                }
            }),
        )
        .route("/health/live", get(|| async { "ok" }))
}

/// Connections of the projector's pool in `serve` (its projections' own connections
/// come on top, one each).
const PROJECTOR_POOL_CONNECTIONS: u32 = 4;

/// Runs the chosen parts until SIGINT/SIGTERM, then stops each gracefully.
///
/// With `METRICS_ADDR`, `/metrics` is served there alone, for the whole process; the
/// APIs and the projector leave it off their ports (404).
pub async fn serve(global: &Global, addrs: &Addrs, parts: Parts) -> anyhow::Result<()> {
    let command_addr = bind_check("COMMAND_API_ADDR", &addrs.command_api_addr).await?;
    let query_addr = bind_check("QUERY_API_ADDR", &addrs.query_api_addr).await?;
    let projector_addr = bind_check("PROJECTOR_ADDR", &addrs.projector_addr).await?;
    let metrics_addr = match &addrs.metrics_addr {
        Some(addr) => Some(bind_check("METRICS_ADDR", addr).await?),
        None => None,
    };
    // Three pools, so that no part can take another's connections (an expensive search
    // or `totalCount` cannot starve the command API): the commands' (with the event
    // store, when it is in this database, which the projector reads the log through),
    // the query API's, and the projector's. Statements answering a request are cancelled
    // by the server after 15 s; the projector's are not limited (docs/ARCHITECTURE.md).
    let env = Env::open_with(global, true, Some(db::REQUEST_STATEMENT_TIMEOUT)).await?;
    // Bound first, so that an address in use stops the process before any part starts.
    let metrics_listener = match metrics_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (METRICS_ADDR)"))?,
        ),
        None => None,
    };
    let separate_metrics = metrics_listener.is_some();
    let mut refresh: Vec<MetricsRefresh> = Vec::new();
    let cancel = CancellationToken::new();
    let mut tasks: JoinSet<anyhow::Result<&'static str>> = JoinSet::new();

    if parts.command_api {
        let mut state =
            command_api::AppState::new(env.store.clone(), env.pool.clone(), env.verifier().await?)
                .with_rate_limit(addrs.rate_limits.commands());
        if separate_metrics {
            state = state.without_metrics_route();
            refresh.push(Box::new(state.metrics_refresh()));
        }
        let settings = command_api::Settings {
            addr: command_addr,
            request_timeout: Duration::from_secs(30),
            http: addrs.http_bounds(),
        };
        let api = command_api::CommandApi::build(settings, state)
            .await
            .with_context(|| format!("cannot listen on {command_addr} (COMMAND_API_ADDR)"))?;
        let addr = api.local_addr()?;
        tracing::info!(%addr, store = env.store.kind(), "command API listening");
        println!("command API listening on http://{addr}");
        let stop = cancel.clone();
        tasks.spawn(async move {
            api.run_until_stopped(async move { stop.cancelled().await })
                .await?;
            Ok("command API")
        });
        let (store, pool, stop) = (env.store.clone(), env.pool.clone(), cancel.clone());
        let grace = Duration::from_millis(addrs.booking_recovery_grace_ms);
        tasks.spawn(async move {
            command_api::recovery::run(store, pool, grace, Duration::from_secs(10), stop).await;
            Ok("booking recovery")
        });
    }
    if parts.query_api {
        // Beside the command API in one process, half the connections: the two pools
        // together stay within 1.5 × DATABASE_MAX_CONNECTIONS of the server's limit.
        let size = if parts.command_api {
            (global.database_max_connections / 2).max(2)
        } else {
            global.database_max_connections
        };
        let reads = Env::pool(global, size, Some(db::REQUEST_STATEMENT_TIMEOUT)).await?;
        let mut settings =
            query_api::Settings::new(query_addr, reads, env.store.clone(), env.verifier().await?);
        settings.min_position_timeout = Duration::from_millis(addrs.min_position_timeout_ms);
        settings.metrics_route = !separate_metrics;
        settings.rate_limit = addrs.rate_limits.queries();
        settings.http = addrs.http_bounds();
        let api = query_api::QueryApi::build(settings)
            .await
            .context("QUERY_API_ADDR")?;
        if separate_metrics {
            refresh.push(Box::new(api.metrics_refresh()));
        }
        let addr = api.local_addr();
        println!("query API listening on http://{addr}");
        let stop = cancel.clone();
        tasks.spawn(async move {
            api.run_until_stopped(async move { stop.cancelled().await })
                .await?;
            Ok("query API")
        });
    }
    if parts.projector {
        // Checkpoints and lag; each projection writes on a connection of its own made
        // with this pool's options (holding its lock).
        let projector_pool = Env::pool(global, PROJECTOR_POOL_CONNECTIONS, None).await?;
        let projector = projections::Projector::new(
            env.store.clone(),
            projector_pool,
            projections::all(),
            projections::Settings::default(),
        );
        let metrics = projector.metrics();
        let listener = TcpListener::bind(projector_addr)
            .await
            .with_context(|| format!("cannot listen on {projector_addr} (PROJECTOR_ADDR)"))?;
        let addr = listener.local_addr()?;
        let mut router = Router::new().route("/health/live", get(|| async { "ok" }));
        if separate_metrics {
            // Its series are recorded as they change: nothing to refresh.
            println!("projector health on http://{addr}/health/live");
        } else {
            println!("projector metrics on http://{addr}/metrics");
            router = router.route(
                "/metrics",
                get(move || {
                    let metrics = metrics.clone();
                    async move {
                        (
                            [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
                            metrics.render_prometheus(),
                        )
                    }
                }),
            );
        }
        let stop = cancel.clone();
        tasks.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await?;
            Ok("projector health")
        });
        let stop = cancel.clone();
        tracing::info!("projector started");
        tasks.spawn(async move {
            projector.run(stop).await;
            Ok("projector")
        });
    }
    if let Some(listener) = metrics_listener {
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "metrics listening");
        println!("metrics listening on http://{addr}/metrics");
        let router = metrics_router(refresh);
        let stop = cancel.clone();
        tasks.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await?;
            Ok("metrics")
        });
    }

    tokio::select! {
        () = shutdown_signal() => tracing::info!("shutting down"),
        Some(ended) = tasks.join_next() => {
            // A part ended on its own: that is a failure; stop the others.
            cancel.cancel();
            let what = match ended {
                Ok(Ok(part)) => anyhow::anyhow!("{part} stopped unexpectedly"),
                Ok(Err(e)) => e,
                Err(e) => anyhow::anyhow!("a part panicked: {e}"),
            };
            while tasks.join_next().await.is_some() {}
            return Err(what);
        }
    }
    cancel.cancel();
    while let Some(ended) = tasks.join_next().await {
        match ended {
            Ok(Ok(part)) => tracing::info!(part, "stopped"),
            Ok(Err(e)) => tracing::error!(error = %e, "a part failed while stopping"),
            Err(e) => tracing::error!(error = %e, "a part panicked"),
        }
    }
    env.pool.close().await;
    Ok(())
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// `projections status`.
pub async fn projections_status(global: &Global, json: bool) -> anyhow::Result<()> {
    let env = Env::open(global, true).await?;
    let mut rows = projections::status(&env.pool)
        .await
        .context("failed to read projection status")?;
    // The stored lag is as of the projection's last update; count it now.
    for r in &mut rows {
        let after = r
            .position
            .as_deref()
            .and_then(|p| p.parse::<infra::Position>().ok());
        if let Ok(lag) = env.store.count_after(after).await {
            r.lag_events = lag as i64;
        }
    }
    let head = env
        .store
        .head_position()
        .await
        .context("failed to read the event store's head")?;
    if json {
        for r in &rows {
            println!(
                "{}",
                serde_json::json!({
                    "name": r.name, "state": r.state.as_str(), "position": r.position,
                    "lagEvents": r.lag_events, "lastError": r.last_error,
                    "parkedStreams": r.parked_streams,
                    "updatedAt": r.updated_at.to_rfc3339(),
                })
            );
        }
        return Ok(());
    }
    println!(
        "event store head: {}",
        head.map(|p| p.to_string())
            .unwrap_or_else(|| "(empty)".into())
    );
    println!(
        "{:<12} {:<12} {:>22} {:>10} {:>7}  LAST ERROR",
        "NAME", "STATE", "POSITION", "LAG", "PARKED"
    );
    let parked: i64 = rows.iter().map(|r| r.parked_streams).sum();
    for r in rows {
        println!(
            "{:<12} {:<12} {:>22} {:>10} {:>7}  {}",
            r.name,
            r.state.as_str(),
            r.position.as_deref().unwrap_or("-"),
            r.lag_events,
            r.parked_streams,
            r.last_error.as_deref().unwrap_or("")
        );
    }
    if parked > 0 {
        println!(
            "{parked} parked stream(s): see `interview-ledger projections parked`, then `retry` or `skip`"
        );
    }
    Ok(())
}

/// `projections parked`.
pub async fn projections_parked(global: &Global, json: bool) -> anyhow::Result<()> {
    let env = Env::open(global, true).await?;
    let rows = projections::parked::parked(&env.pool)
        .await
        .context("failed to read the parked streams")?;
    if json {
        for r in &rows {
            println!(
                "{}",
                serde_json::json!({
                    "projection": r.projection, "stream": r.stream_id, "version": r.version,
                    "position": r.position.to_string(), "eventType": r.event_type,
                    "reason": r.reason, "held": r.held, "since": r.parked_at.to_rfc3339(),
                    "retriedAt": r.retried_at.map(|t| t.to_rfc3339()),
                })
            );
        }
        return Ok(());
    }
    if rows.is_empty() {
        println!("no parked streams");
        return Ok(());
    }
    println!(
        "{:<12} {:<48} {:>7} {:>22} {:<24} {:>5} {:<20}  REASON",
        "PROJECTION", "STREAM", "VERSION", "POSITION", "EVENT TYPE", "HELD", "SINCE"
    );
    for r in rows {
        println!(
            "{:<12} {:<48} {:>7} {:>22} {:<24} {:>5} {:<20}  {}",
            r.projection,
            r.stream_id,
            r.version,
            r.position.to_string(),
            r.event_type,
            r.held,
            r.parked_at.format("%Y-%m-%d %H:%M:%S"),
            r.reason
        );
    }
    Ok(())
}

fn projection_named(name: &str) -> anyhow::Result<std::sync::Arc<dyn projections::Projection>> {
    projections::by_names(&[name.to_owned()])
        .map_err(|n| {
            let known: Vec<_> = projections::all().iter().map(|p| p.name()).collect();
            anyhow::anyhow!("no projection named {n:?}; known: {}", known.join(", "))
        })?
        .into_iter()
        .next()
        .context("no projection")
}

fn print_release(r: &projections::parked::Released) {
    use projections::parked::Release;
    match &r.release {
        Release::Released { applied } => println!(
            "{} {}: released ({applied} event(s) applied)",
            r.projection, r.stream_id
        ),
        Release::Parked { version, reason } => println!(
            "{} {}: still parked at version {version}: {reason}",
            r.projection, r.stream_id
        ),
    }
}

/// `projections retry NAME [STREAM]`.
pub async fn projections_retry(
    global: &Global,
    name: &str,
    stream: Option<&str>,
) -> anyhow::Result<()> {
    let projection = projection_named(name)?;
    let env = Env::open(global, true).await?;
    let done = projections::parked::retry(&env.store, &env.pool, projection.as_ref(), stream)
        .await
        .context("retry failed")?;
    if done.is_empty() {
        println!("{name} has no parked streams");
    }
    for r in &done {
        print_release(r);
    }
    Ok(())
}

/// `projections skip NAME STREAM --reason TEXT`.
pub async fn projections_skip(
    global: &Global,
    name: &str,
    stream: &str,
    reason: &str,
    actor: &str,
) -> anyhow::Result<()> {
    anyhow::ensure!(!reason.trim().is_empty(), "--reason must say why");
    let projection = projection_named(name)?;
    let env = Env::open(global, true).await?;
    let done = projections::parked::skip(
        &env.store,
        &env.pool,
        projection.as_ref(),
        stream,
        reason,
        actor,
    )
    .await
    .context("skip failed")?;
    println!(
        "{name} {stream}: parked event skipped (recorded in {} by {actor})",
        projections::parked::AUDIT_STREAM
    );
    print_release(&done);
    Ok(())
}

/// `projections rebuild [NAME | --all]`.
pub async fn projections_rebuild(global: &Global, name: Option<String>) -> anyhow::Result<()> {
    let env = Env::open(global, true).await?;
    let all = projections::all();
    let chosen: Vec<_> = match &name {
        None => all,
        Some(n) => {
            let names: Vec<&str> = all.iter().map(|p| p.name()).collect();
            let found: Vec<_> = all.iter().filter(|p| p.name() == n).cloned().collect();
            if found.is_empty() {
                anyhow::bail!("no projection named {n:?}; known: {}", names.join(", "));
            }
            found
        }
    };
    use std::io::IsTerminal;
    let progress = projections::progress_reporter(std::io::stderr().is_terminal());
    let report = projections::rebuild(&env.store, &env.pool, &chosen, progress)
        .await
        .context("rebuild failed")?;
    let secs = report.elapsed.as_secs_f64();
    println!(
        "rebuilt {} from {} events in {:.1}s ({:.0} events/s), now at {}",
        report.projections.join(", "),
        report.events,
        secs,
        report.events as f64 / secs.max(1e-9),
        report
            .position
            .map(|p| p.to_string())
            .unwrap_or_else(|| "the start".into())
    );
    Ok(())
}

/// A token of the built-in key for a tool of this binary (`seed`, `bench`): `admin` of
/// `tenant`, subject `subject`, valid for a day. Creates the key's table and the key when
/// this database has none yet.
pub async fn system_token(pool: &PgPool, tenant: &str, subject: &str) -> anyhow::Result<String> {
    Ok(builtin_key(pool).await?.mint(&TokenRequest {
        tenant: tenant.to_owned(),
        roles: vec![Role::Admin],
        subject: subject.to_owned(),
        person: None,
        name: None,
        ttl: Duration::from_secs(24 * 3600),
    })?)
}

/// `token`: a token of the built-in key of `DATABASE_URL` (the database and the key are
/// made when missing, as `serve` would), printed alone on stdout.
pub async fn print_token(global: &Global, args: &TokenArgs) -> anyhow::Result<()> {
    check_database_url("DATABASE_URL", &global.database_url)?;
    db::create_database_if_missing(&global.database_url)
        .await
        .context("DATABASE_URL")?;
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let pool = db::connect(&global.database_url, settings)
        .await
        .context("DATABASE_URL")?;
    let token = builtin_key(&pool)
        .await?
        .mint(&TokenRequest {
            tenant: args.tenant.to_string(),
            roles: args.roles.clone(),
            subject: args.subject.clone(),
            person: args.person,
            name: args.name.clone(),
            ttl: args.ttl,
        })
        .context("cannot mint that token")?;
    pool.close().await;
    println!("{token}");
    Ok(())
}

/// The built-in signing key of `pool`'s database, with its table and the key made when
/// this database has none yet (as `serve` would on its first start).
async fn builtin_key(pool: &PgPool) -> anyhow::Result<BuiltinKey> {
    infra::auth::migrate(pool)
        .await
        .context("failed to migrate the signing keys' table")?;
    BuiltinKey::load_or_create(pool)
        .await
        .context("the built-in signing key")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn call(router: &Router, method: Method, path: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_metrics_listener_refreshes_then_renders_and_answers_nothing_else() {
        // Arrange: a refresh that counts its calls and sets the command API's gauge.
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let command_metrics = command_api::metrics::Metrics::served_elsewhere();
        let router = metrics_router(vec![Box::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            command_metrics.refresh(7);
        })]);

        // Act
        let (status, text) = call(&router, Method::GET, "/metrics").await;

        // Assert
        assert_eq!(status, StatusCode::OK);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(text.contains("command_api_streams_remembered 7"), "{text}");
        assert_eq!(
            call(&router, Method::GET, "/health/live").await.0,
            StatusCode::OK
        );
        for path in ["/", "/graphql", "/people", "/health/ready", "/metrics/"] {
            assert_eq!(
                call(&router, Method::GET, path).await.0,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        assert_eq!(
            call(&router, Method::POST, "/metrics").await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
