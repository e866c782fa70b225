//! Opening each store for a test.

use std::sync::Arc;

pub use infra::db::testing::TestDb;
use infra::db::{self, PoolSettings, testing::assert_dropped_after_panic};
use infra::postgres::PgEventStore;
use infra::upcast::Upcasters;
use infra::{AnyEventStore, Metadata, NewEvent};
use serde_json::json;
use uuid::Uuid;

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

/// A test body that panics leaves no database behind: the harness's guard drops it.
#[test]
fn a_test_that_panics_leaves_no_database_behind() {
    assert_dropped_after_panic(|tx| async move {
        let (_store, db) = postgres().await;
        let name = db.name.clone();
        let made = infra::db::testing::database_exists(&name).await;
        assert!(made.expect("pg_database"), "the harness made {name}");
        tx.send(name.clone()).expect("send");
        panic!("deliberate panic: the harness must still drop {name}");
    });
}
