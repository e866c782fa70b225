//! Time bounds of the database: a statement held past the pool's `statement_timeout`
//! is cancelled by the server and answered 503 `unavailable`, with no internal text.

use std::sync::Arc;
use std::time::{Duration, Instant};

use command_api::AppState;
use infra::db::{self, PoolSettings};
use infra::postgres::PgEventStore;
use infra::upcast::Upcasters;
use serde_json::json;
use sqlx::Connection;

use crate::harness::TestApp;

#[tokio::test]
async fn a_statement_held_past_the_statement_timeout_is_a_503_without_internal_text() {
    // Arrange: an API whose pool cancels statements after 300 ms, and the event log
    // locked by another session.
    let app = TestApp::new().await;
    let name = app.database_name().expect("owns one").to_owned();
    let url = infra::db::testing::TestDatabase::named(&name)
        .expect("url")
        .url;
    let pool = db::connect(
        &url,
        PoolSettings::default().with_statement_timeout(Some(Duration::from_millis(300))),
    )
    .await
    .expect("connect");
    let store = infra::AnyEventStore::Postgres(Arc::new(PgEventStore::new(
        pool.clone(),
        Arc::new(Upcasters::standard()),
    )));
    let mut api = app.sibling();
    api.router = command_api::router(AppState::new(store, pool, app.verifier.clone()));
    let mut locker = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut locker)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .expect("lock");

    // Act
    let started = Instant::now();
    let reply = api
        .post(
            "/people",
            json!({"name": "Tim Out", "roles": ["candidate"]}),
        )
        .await;

    // Assert: refused in time, as unavailable, saying nothing of the cause.
    reply.expect_problem(503, "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let text = reply.body.to_string();
    for secret in [
        "statement",
        "timeout",
        "cancel",
        "127.0.0.1",
        "sqlx",
        "database",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    sqlx::query("ROLLBACK")
        .execute(&mut locker)
        .await
        .expect("rollback");
    drop(locker);

    // Once the lock is gone, the same API answers again.
    api.post("/people", json!({"name": "Tim In", "roles": ["candidate"]}))
        .await
        .expect_ok(201);
    drop(api);
    app.drop_db().await;
}
