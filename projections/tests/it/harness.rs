//! A fresh database with the event store, the read models and a projector per test.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use infra::db::testing::TestDb;
use infra::db::{self, PoolSettings, testing::assert_dropped_after_panic};
use infra::postgres::PgEventStore;
use infra::upcast::Upcasters;
use infra::{AnyEventStore, EventStore};
use projections::runtime::Settings;
use projections::{Projection, ProjectionState, Projector};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::world::World;

pub struct Env {
    pub db: TestDb,
    pub pool: PgPool,
    pub store: AnyEventStore,
}

/// A projector running in the background.
pub struct Running {
    cancel: CancellationToken,
    handle: JoinHandle<()>,
    pub metrics: Arc<projections::Metrics>,
}

impl Running {
    /// Cancels it and waits until every task has exited.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.handle.await.expect("projector task");
    }

    /// Waits until every task has exited on its own (failpoints, failures).
    pub async fn join(self) {
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("projector ends")
            .expect("projector task");
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

pub fn fast_settings() -> Settings {
    Settings {
        lock_poll: Duration::from_millis(20),
        lag_refresh: Duration::from_millis(200),
        min_backoff: Duration::from_millis(10),
        ..Settings::default()
    }
}

impl Env {
    pub async fn new() -> Env {
        init_tracing();
        let db = TestDb::fresh().await;
        let pool = db::connect(
            &db.url,
            PoolSettings {
                max_connections: 16,
                ..PoolSettings::default()
            },
        )
        .await
        .expect("connect");
        db::migrate(&pool).await.expect("event store migrations");
        projections::prepare(&pool).await.expect("prepare");
        let store = AnyEventStore::Postgres(Arc::new(PgEventStore::new(
            pool.clone(),
            Arc::new(Upcasters::standard()),
        )));
        Env { db, pool, store }
    }

    /// Like [`Env::new`], with the EventStoreDB at `url` as the event store.
    pub async fn with_esdb(url: &str) -> Env {
        let mut env = Env::new().await;
        let store = infra::esdb::EsdbEventStore::connect(url, Arc::new(Upcasters::standard()))
            .await
            .expect("connect to EventStoreDB");
        env.store = AnyEventStore::Esdb(Arc::new(store));
        env
    }

    pub fn world(&self) -> World {
        World::new(self.store.clone())
    }

    pub fn start(&self, settings: Settings) -> Running {
        self.start_only(projections::all(), settings)
    }

    pub fn start_only(&self, which: Vec<Arc<dyn Projection>>, settings: Settings) -> Running {
        let projector = Projector::new(self.store.clone(), self.pool.clone(), which, settings);
        let metrics = projector.metrics();
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(projector.run(cancel.clone()));
        Running {
            cancel,
            handle,
            metrics,
        }
    }

    /// Runs every projection until it has applied everything stored, then stops it.
    pub async fn project(&self) {
        let running = self.start(fast_settings());
        self.drain().await;
        running.stop().await;
    }

    /// Waits (polling, bounded) until every projection's checkpoint has reached the head
    /// of the store. Panics when one fails or time runs out.
    pub async fn drain(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let head = self.store.head_position().await.expect("head");
            let rows = projections::status(&self.pool).await.expect("status");
            if let Some(failed) = rows.iter().find(|r| r.state == ProjectionState::Failed) {
                panic!("projection {} failed: {:?}", failed.name, failed.last_error);
            }
            if rows.iter().all(|r| r.checkpoint >= head) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "projections did not drain: {rows:?} head {head:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (polling, bounded) until `check` holds for the status rows.
    pub async fn wait_status(
        &self,
        what: &str,
        check: impl Fn(&[projections::ProjectionStatusRow]) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let rows = projections::status(&self.pool).await.expect("status");
            if check(&rows) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every row of `rm.{table}` as JSON text, sorted.
    pub async fn dump(&self, table: &str) -> Vec<String> {
        sqlx::query_scalar(&format!(
            "SELECT to_jsonb(t)::text AS j FROM rm.{table} t ORDER BY j"
        ))
        .fetch_all(&self.pool)
        .await
        .expect("dump")
    }

    /// Every read-model table, dumped.
    pub async fn dump_all(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for p in projections::all() {
            for t in p.tables() {
                out.insert((*t).to_owned(), self.dump(t).await);
            }
        }
        out
    }

    pub async fn rebuild(&self) -> projections::RebuildReport {
        projections::rebuild(&self.store, &self.pool, &projections::all(), |_| {})
            .await
            .expect("rebuild")
    }

    pub async fn finish(self) {
        self.pool.close().await;
        let _ = self.db.drop_database().await;
    }
}

/// Asserts two dumps are equal, table by table, with a readable first difference.
#[track_caller]
pub fn assert_same_tables(
    live: &BTreeMap<String, Vec<String>>,
    replay: &BTreeMap<String, Vec<String>>,
) {
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        replay.keys().collect::<Vec<_>>()
    );
    for (table, rows) in live {
        let other = &replay[table];
        if rows != other {
            let first = rows
                .iter()
                .zip(other)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("live:   {a}\nreplay: {b}"))
                .unwrap_or_default();
            panic!(
                "table {table} differs ({} live rows, {} replayed)\n{first}",
                rows.len(),
                other.len()
            );
        }
    }
}

impl Env {
    pub async fn store_head(&self) -> Option<infra::Position> {
        self.store.head_position().await.expect("head")
    }
}

/// A test body that panics leaves no database behind: the harness's guard drops it.
#[test]
fn a_test_that_panics_leaves_no_database_behind() {
    assert_dropped_after_panic(|tx| async move {
        let env = Env::new().await;
        env.project().await;
        let name = env.db.name.clone();
        let made = infra::db::testing::database_exists(&name).await;
        assert!(made.expect("pg_database"), "the harness made {name}");
        tx.send(name.clone()).expect("send");
        panic!("deliberate panic: the harness must still drop {name}");
    });
}

/// An esdb-fake of the calling test's own (its `$all` holds only that test's events):
/// the process (killed when dropped) and its `esdb://` URL. `ESDB_FAKE_BIN` names the
/// binary, else the one `esdb-fake/start` builds into `target/esdb-fake`. `None` (said
/// on stderr) when there is none, except in CI, where that fails the test.
pub async fn own_esdb() -> Option<(tokio::process::Child, String)> {
    let bin = std::env::var("ESDB_FAKE_BIN").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/esdb-fake/release/esdb-fake"
        )
        .into()
    });
    if !std::path::Path::new(&bin).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no esdb-fake binary at {bin} (ESDB_FAKE_BIN) in CI"
        );
        eprintln!("skipped: no esdb-fake binary at {bin}");
        return None;
    }
    let mut child = tokio::process::Command::new(&bin)
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start esdb-fake");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let banner = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("banner in time")
        .expect("read banner")
        .expect("a banner");
    let addr = banner.rsplit(' ').next().expect("address").to_owned();
    Some((child, format!("esdb://{addr}?tls=false")))
}
