//! Per-subject rate limits: a token bucket per (tenant, subject), 429 `rate-limited`
//! with `Retry-After` when it is empty.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use command_api::AppState;
use infra::auth::Role;
use infra::rate_limit::RateLimit;
use serde_json::json;

use crate::harness::{Reply, TestApp};

/// The harness's API over the same store, with buckets of `burst` refilled at
/// `per_second`.
fn limited(app: &TestApp, per_second: u32, burst: u32) -> TestApp {
    let mut limited = app.sibling();
    let pool = match &app.store {
        infra::AnyEventStore::Postgres(pg) => pg.pool().clone(),
        infra::AnyEventStore::Esdb(_) => unreachable!("postgres"),
    };
    let state = AppState::new(app.store.clone(), pool, app.verifier.clone())
        .with_rate_limit(RateLimit::from_settings(per_second, burst));
    limited.router = command_api::router(state);
    limited
}

async fn get_as(app: &TestApp, path: &str, bearer: &str) -> Reply {
    app.request(
        Request::get(path)
            .header("authorization", bearer)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn a_subject_past_its_burst_is_answered_429_with_retry_after_and_recovers() {
    // Arrange: buckets of two, one token a second.
    let app = TestApp::new().await;
    let api = limited(&app, 1, 2);
    let admin = app.admin.clone();

    // Act: three requests at once.
    let first = get_as(&api, "/openapi.json", &admin).await;
    let second = get_as(&api, "/openapi.json", &admin).await;
    let third = get_as(&api, "/openapi.json", &admin).await;

    // Assert
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200);
    third.expect_problem(429, "rate-limited");
    let retry_after = third
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("Retry-After in whole seconds");
    assert_eq!(retry_after, 1);
    assert_eq!(third.body["status"], 429);
    assert!(
        third.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("retry in 1 s")),
        "{}",
        third.body
    );

    // After the wait it says, the subject is served again.
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(50)).await;
    assert_eq!(get_as(&api, "/openapi.json", &admin).await.status, 200);
    drop(api);
    app.drop_db().await;
}

#[tokio::test]
async fn another_subject_and_the_same_subject_of_another_tenant_keep_their_own_buckets() {
    let app = TestApp::new().await;
    let api = limited(&app, 1, 1);
    let admin = app.admin.clone();
    let recruiter = app.bearer("default", &[Role::Recruiter], None);
    // Same subject (`test-admin`), another tenant.
    let other_tenant = app.bearer("acme", &[Role::Admin], None);

    assert_eq!(get_as(&api, "/openapi.json", &admin).await.status, 200);
    get_as(&api, "/openapi.json", &admin)
        .await
        .expect_problem(429, "rate-limited");

    assert_eq!(get_as(&api, "/openapi.json", &recruiter).await.status, 200);
    assert_eq!(
        get_as(&api, "/openapi.json", &other_tenant).await.status,
        200
    );
    drop(api);
    app.drop_db().await;
}

#[tokio::test]
async fn a_refused_command_appends_nothing_and_401_and_403_come_before_429() {
    let app = TestApp::new().await;
    let api = limited(&app, 1, 1);
    let body = json!({"name": "Rita Rate", "roles": ["candidate"]});

    // The one token goes to a command; the next command is refused and appends nothing.
    api.post("/people", body.clone()).await.expect_ok(201);
    api.post("/people", body.clone())
        .await
        .expect_problem(429, "rate-limited");
    assert_eq!(app.all_events().await.len(), 1);

    // No token: 401, not 429. A role that may not: 403, not 429. Probes are not counted.
    let anonymous = api
        .request_raw(
            Request::post("/people")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
    anonymous.expect_problem(401, "unauthorized");
    let candidate = app.bearer("default", &[Role::Candidate], None);
    let forbidden = api
        .post_with("/people", body, &[("authorization", candidate.as_str())])
        .await;
    forbidden.expect_problem(403, "forbidden");
    for _ in 0..3 {
        let live = api
            .request_raw(Request::get("/health/live").body(Body::empty()).expect("r"))
            .await;
        assert_eq!(live.status, 200);
    }
    drop(api);
    app.drop_db().await;
}

#[tokio::test]
async fn without_a_limit_nobody_is_refused() {
    let app = TestApp::new().await;
    let pool = match &app.store {
        infra::AnyEventStore::Postgres(pg) => pg.pool().clone(),
        infra::AnyEventStore::Esdb(_) => unreachable!("postgres"),
    };
    let router: Router = command_api::router(
        AppState::new(app.store.clone(), pool, app.verifier.clone()).with_rate_limit(None),
    );
    let mut api = app.sibling();
    api.router = router;
    for _ in 0..150 {
        assert_eq!(get_as(&api, "/openapi.json", &app.admin).await.status, 200);
    }
    drop(api);
    app.drop_db().await;
}
