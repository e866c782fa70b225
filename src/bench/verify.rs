//! `bench verify`: what checking a bearer token costs, in this process, with the same
//! verifier and the same kind of token the APIs see under `bench commands` and
//! `bench queries` (the built-in key's HS256). Beside the full run it says how much of
//! the command and query figures the authentication can account for.

use std::time::{Duration, Instant};

use anyhow::Context;
use infra::auth::{AuthSettings, Verifier};

/// Upper bound of verifications (the loop is bounded in count and in time).
const MAX_VERIFICATIONS: u64 = 50_000_000;

/// The measured cost.
pub struct VerifyResult {
    /// Verifications per second on one core.
    pub per_second: f64,
    /// Microseconds per verification.
    pub micros: f64,
}

/// A small pool on `database_url`, a token of its built-in key (an `admin` of the
/// default tenant, subject `bench`) and the verifier the APIs would use.
async fn setup(database_url: &str) -> anyhow::Result<(sqlx::PgPool, String, Verifier)> {
    let settings = infra::db::PoolSettings {
        max_connections: 2,
        ..infra::db::PoolSettings::default()
    };
    let pool = infra::db::connect(database_url, settings)
        .await
        .context("DATABASE_URL (for bench verify)")?;
    let token = crate::app::system_token(&pool, domain::DEFAULT_TENANT, "bench").await?;
    let verifier = Verifier::new(AuthSettings::default(), pool.clone())
        .await
        .context("token verifier")?;
    Ok((pool, token, verifier))
}

/// Verifies one token of the built-in key of `database_url` over and over for `seconds`
/// (after a short warm-up) on this task's core.
pub async fn run(database_url: &str, seconds: f64) -> anyhow::Result<VerifyResult> {
    let (pool, token, verifier) = setup(database_url).await?;
    let window = Duration::from_secs_f64(seconds.clamp(0.5, 10.0));
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(200) {
        verifier.verify(&token).await.context("verify")?;
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < window && n < MAX_VERIFICATIONS {
        for _ in 0..256 {
            std::hint::black_box(verifier.verify(std::hint::black_box(&token)).await)
                .context("verify")?;
        }
        n += 256;
    }
    let elapsed = started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(VerifyResult {
        per_second: n as f64 / elapsed,
        micros: elapsed * 1e6 / n as f64,
    })
}

/// What each API's authentication and authorization layer costs per request.
pub struct LayerCost {
    /// Microseconds the command API's layer adds to a request (token, matrix, caller,
    /// the command's actor and idempotency scope).
    pub command_micros: f64,
    /// Microseconds the query API's layer adds to a request (token, tenant, caller, the
    /// viewer).
    pub query_micros: f64,
}

/// Measures [`LayerCost`] in this process, on one core: the same request sent through
/// a router with the API's real middleware (`authenticate`, as `serve` mounts it) and a
/// handler that takes what the real handlers take from it, and through the same router
/// without the middleware, whose handler has nothing to take. The difference is what
/// the layer costs; the routers do no other work, so nothing else is in it.
pub async fn layers(database_url: &str, seconds: f64) -> anyhow::Result<LayerCost> {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::middleware::from_fn_with_state;
    use axum::routing::post;
    use std::sync::Arc;

    let (pool, token, verifier) = setup(database_url).await?;
    let store = infra::AnyEventStore::Postgres(Arc::new(infra::postgres::PgEventStore::new(
        pool.clone(),
        Arc::new(infra::upcast::Upcasters::standard()),
    )));
    let window = Duration::from_secs_f64(seconds.clamp(0.5, 10.0));
    let bearer = format!("Bearer {token}");

    // The command API: a command route, with the extractor every command handler uses.
    let state = command_api::AppState::new(store.clone(), pool.clone(), verifier.clone());
    let with = Router::new()
        .route(
            "/interviews/{id}/start",
            post(|meta: command_api::meta::Meta| async move {
                std::hint::black_box(meta.0);
                StatusCode::OK
            }),
        )
        .route_layer(from_fn_with_state(
            state.clone(),
            command_api::auth::authenticate,
        ))
        .with_state(state);
    let without: Router =
        Router::new().route("/interviews/{id}/start", post(|| async { StatusCode::OK }));
    let path = format!("/interviews/{}/start", uuid::Uuid::nil());
    let command = || {
        Request::post(path.as_str())
            .header(header::AUTHORIZATION, bearer.as_str())
            .header("idempotency-key", "bench-layer")
            .body(Body::empty())
    };
    let command_micros = per_request(&with, &command, window).await?
        - per_request(&without, &command, window).await?;

    // The query API: `/graphql`, with what its handler takes from the layer.
    let ctx = query_api::QueryContext::new(pool.clone(), store);
    let state = query_api::AppState::new(ctx, query_api::HttpLimits::default(), verifier);
    let with = Router::new()
        .route(
            "/graphql",
            post(|caller: axum::Extension<query_api::Caller>| async move {
                let viewer = query_api::Viewer::of(caller.0.tenant.clone());
                std::hint::black_box((viewer, caller.0));
                StatusCode::OK
            }),
        )
        .route_layer(from_fn_with_state(state.clone(), query_api::authenticate))
        .with_state(state);
    let without: Router = Router::new().route("/graphql", post(|| async { StatusCode::OK }));
    let query = || {
        Request::post("/graphql")
            .header(header::AUTHORIZATION, bearer.as_str())
            .body(Body::empty())
    };
    let query_micros =
        per_request(&with, &query, window).await? - per_request(&without, &query, window).await?;
    pool.close().await;
    Ok(LayerCost {
        command_micros: command_micros.max(0.0),
        query_micros: query_micros.max(0.0),
    })
}

/// Microseconds per request of `router` answering `request()` (which must be a 200).
async fn per_request(
    router: &axum::Router,
    request: &impl Fn() -> Result<axum::http::Request<axum::body::Body>, axum::http::Error>,
    window: Duration,
) -> anyhow::Result<f64> {
    use tower::ServiceExt;
    let send = async || -> anyhow::Result<()> {
        let response = router.clone().oneshot(request()?).await?;
        anyhow::ensure!(
            response.status() == axum::http::StatusCode::OK,
            "bench verify: the layer answered {}",
            response.status()
        );
        Ok(())
    };
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(200) {
        send().await?;
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < window && n < MAX_VERIFICATIONS {
        for _ in 0..256 {
            send().await?;
        }
        n += 256;
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / n as f64)
}
