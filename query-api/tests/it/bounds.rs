//! Time bounds of the database on the read side: a read held past the pool's
//! `statement_timeout` is cancelled by the server and answered `SERVICE_UNAVAILABLE`,
//! with no internal text.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use infra::db::{self, PoolSettings};
use query_api::{AppState, HttpLimits, QueryContext};
use serde_json::{Value, json};
use sqlx::Connection;
use tower::ServiceExt;

use crate::harness::spawn_with;

#[tokio::test]
async fn a_read_held_past_the_statement_timeout_is_service_unavailable_without_internal_text() {
    // Arrange: reads on a pool that cancels statements after 300 ms, and the people
    // table locked by another session.
    let app = spawn_with(false).await;
    let pool = db::connect(
        &app.db.url,
        PoolSettings::default().with_statement_timeout(Some(Duration::from_millis(300))),
    )
    .await
    .expect("connect");
    let store =
        infra::AnyEventStore::Postgres(std::sync::Arc::new(infra::postgres::PgEventStore::new(
            app.pool.clone(),
            std::sync::Arc::new(infra::upcast::Upcasters::standard()),
        )));
    let ctx = QueryContext::new(pool, store);
    let state = AppState::new(ctx, HttpLimits::default(), app.verifier.clone());
    let mut locker = sqlx::PgConnection::connect(&app.db.url)
        .await
        .expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut locker)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE rm.people IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .expect("lock");
    let request = || {
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", app.admin.as_str())
            .body(Body::from(
                json!({ "query": "{ people(first: 5) { totalCount } }" }).to_string(),
            ))
            .expect("request")
    };

    // Act
    let started = Instant::now();
    let response = query_api::router(state.clone())
        .oneshot(request())
        .await
        .expect("answers");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("json");

    // Assert
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["extensions"]["code"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| *c == "SERVICE_UNAVAILABLE"),
        "{body}"
    );
    let text = body.to_string();
    for secret in [
        "statement",
        "timeout",
        "cancel",
        "127.0.0.1",
        "sqlx",
        "rm.people",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    // Once the lock is gone, the same pool answers.
    sqlx::query("ROLLBACK")
        .execute(&mut locker)
        .await
        .expect("rollback");
    drop(locker);
    let response = query_api::router(state)
        .oneshot(request())
        .await
        .expect("answers");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body["data"]["people"]["totalCount"], 0, "{body}");
    app.stop().await;
}
