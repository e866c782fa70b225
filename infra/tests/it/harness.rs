//! Opening each store for a test.

use std::ops::Deref;
use std::sync::Arc;

use infra::db::{self, DbError, PoolSettings, testing::TestDatabase};
use infra::postgres::PgEventStore;
use infra::upcast::Upcasters;
use infra::{AnyEventStore, Metadata, NewEvent};
use serde_json::json;
use uuid::Uuid;

/// A fresh test database that is dropped however the test ends: by
/// [`TestDb::drop_database`] on the normal path, and by `Drop` when a panic unwinds
/// past it first, so a failing test leaves no `il_test_*` database behind.
pub struct TestDb(Option<TestDatabase>);

impl TestDb {
    pub async fn fresh() -> TestDb {
        let db = db::testing::fresh_database()
            .await
            .expect("create test database");
        TestDb(Some(db))
    }

    /// Drops the database now (the guard then has nothing left to do).
    pub async fn drop_database(mut self) -> Result<(), DbError> {
        match self.0.take() {
            Some(db) => db.drop_database().await,
            None => Ok(()),
        }
    }
}

impl Deref for TestDb {
    type Target = TestDatabase;

    fn deref(&self) -> &TestDatabase {
        self.0.as_ref().expect("the database is still there")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(db) = self.0.take() else {
            return;
        };
        // `Drop` cannot await, and the test's own runtime may be the one unwinding:
        // drop it from a short-lived thread with a runtime of its own, and wait.
        let name = db.name.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(db.drop_database()))
        })
        .join();
        if !matches!(dropped, Ok(Ok(Ok(())))) {
            eprintln!("test database {name} could not be dropped: {dropped:?}");
        }
    }
}

/// A PostgreSQL event store on a fresh database.
pub async fn postgres() -> (AnyEventStore, TestDb) {
    let test_db = TestDb::fresh().await;
    let pool = db::connect(&test_db.url, PoolSettings::default())
        .await
        .expect("connect");
    db::migrate(&pool).await.expect("migrate");
    let store = PgEventStore::new(pool, Arc::new(Upcasters::standard()));
    (AnyEventStore::Postgres(Arc::new(store)), test_db)
}

/// The EventStoreDB store named by `EVENTSTORE_URL`, or `None` (said on stderr) when
/// unset. In CI (`CI` set) a missing server is a failure, never a skip.
pub async fn esdb(test: &str) -> Option<AnyEventStore> {
    let url = match std::env::var("EVENTSTORE_URL") {
        Ok(u) if u.starts_with("esdb") => u,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "EVENTSTORE_URL must name an EventStoreDB in CI"
            );
            eprintln!("{test}: skipped on eventstoredb: EVENTSTORE_URL not set");
            return None;
        }
    };
    let store = infra::esdb::EsdbEventStore::connect(&url, Arc::new(Upcasters::standard()))
        .await
        .expect("connect to EventStoreDB");
    eprintln!("{test}: running on eventstoredb at {url}");
    Some(AnyEventStore::Esdb(Arc::new(store)))
}

/// A unique stream name (the EventStoreDB under test is shared by all tests).
pub fn stream(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// `n` events with fresh ids.
pub fn events(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| NewEvent {
            event_id: Uuid::new_v4(),
            event_type: "TestHappened".into(),
            data: json!({ "n": i }),
            metadata: Metadata::anonymous(),
        })
        .collect()
}

/// Declares one test per store: `$name::postgres` and `$name::eventstoredb`.
#[macro_export]
macro_rules! contract_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let (store, db) = $crate::harness::postgres().await;
                eprintln!("{}: running on postgres", stringify!($name));
                super::$name(store).await;
                let _ = db.drop_database().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn eventstoredb() {
                if let Some(store) = $crate::harness::esdb(stringify!($name)).await {
                    super::$name(store).await;
                }
            }
        }
    };
}

/// Whether a database of that name exists on the test server.
pub async fn database_exists(name: &str) -> bool {
    use sqlx::Connection;
    let admin = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test server");
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .expect("pg_database")
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// A test body that panics, run the way `#[tokio::test]` runs one (on a runtime of its
/// own, here on a thread so the panic can be watched), leaves no database behind.
#[test]
fn a_test_that_panics_leaves_no_database_behind() {
    let (tx, rx) = std::sync::mpsc::channel();
    let test = std::thread::spawn(move || {
        block_on(async {
            let (_store, db) = postgres().await;
            assert!(database_exists(&db.name).await, "the harness made it");
            tx.send(db.name.clone()).expect("send");
            panic!("deliberate panic: the harness must still drop {}", db.name);
        })
    });
    assert!(test.join().is_err(), "the test body panicked");
    let name = rx.recv().expect("the harness made a database");
    assert!(
        !block_on(database_exists(&name)),
        "{name} is still there after the panic"
    );
}
