//! The server-side bounds every pool's connections carry (`infra::db::bounded`).

use std::time::{Duration, Instant};

use infra::db::{self, PoolSettings, testing::TestDb};

#[tokio::test]
async fn pool_connections_carry_the_keepalive_check_and_timeout_settings() {
    let test_db = TestDb::fresh().await;
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    }
    .with_statement_timeout(Some(Duration::from_millis(250)));
    let pool = db::connect(&test_db.url, settings).await.expect("connect");

    let show = |name: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(&format!("SHOW {name}"))
                .fetch_one(&pool)
                .await
                .expect(name)
        }
    };
    assert_eq!(show("statement_timeout").await, "250ms");
    assert_eq!(show("idle_in_transaction_session_timeout").await, "1min");
    assert_eq!(show("client_connection_check_interval").await, "5s");
    // Over TCP the keepalive settings are the server's for this connection; over a Unix
    // socket PostgreSQL ignores them (and reads 0).
    if test_db.url.contains("127.0.0.1") || test_db.url.contains("localhost") {
        assert_eq!(show("tcp_keepalives_idle").await, "8");
        assert_eq!(show("tcp_keepalives_interval").await, "4");
        assert_eq!(show("tcp_keepalives_count").await, "3");
        assert_eq!(show("tcp_user_timeout").await, "20000");
    }

    // A statement running past the timeout is cancelled by the server.
    let started = Instant::now();
    let error = sqlx::query("SELECT pg_sleep(5)")
        .execute(&pool)
        .await
        .expect_err("cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let code = error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("57014"), "{error}");
    pool.close().await;
    test_db.drop_database().await.expect("drop");
}

#[tokio::test]
async fn a_session_idle_in_a_transaction_is_ended_by_the_server() {
    let test_db = TestDb::fresh().await;
    let settings = PoolSettings {
        max_connections: 1,
        idle_in_transaction_timeout: Some(Duration::from_millis(200)),
        ..PoolSettings::default()
    };
    let pool = db::connect(&test_db.url, settings).await.expect("connect");
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT 1")
        .execute(&mut *tx)
        .await
        .expect("select");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ended = sqlx::query("SELECT 1").execute(&mut *tx).await;
    assert!(ended.is_err(), "the session outlived its idle transaction");
    drop(tx);
    // The pool replaces the connection.
    sqlx::query("SELECT 1")
        .execute(&pool)
        .await
        .expect("a fresh one");
    pool.close().await;
    test_db.drop_database().await.expect("drop");
}
