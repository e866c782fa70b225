//! A command API on a fresh database, driven with `oneshot` requests.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use command_api::AppState;
use http_body_util::BodyExt;
use infra::auth::{AuthSettings, Role, TokenRequest, Verifier};
pub use infra::db::testing::TestDb;
use infra::db::{self, PoolSettings, testing::assert_dropped_after_panic};
use infra::postgres::PgEventStore;
use infra::upcast::Upcasters;
use infra::{AnyEventStore, EventStore};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

pub struct TestApp {
    pub router: Router,
    pub store: AnyEventStore,
    /// Verifies tokens; its built-in key mints the harness's.
    pub verifier: Verifier,
    /// `Bearer …` of an `admin` of the default tenant: sent with every request that
    /// names no `Authorization` of its own.
    pub admin: String,
    db: Option<TestDb>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    #[track_caller]
    pub fn problem_type(&self) -> String {
        let t = self.body["type"].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "problem content type for {}",
            self.body
        );
        t.rsplit('/').next().unwrap_or_default().to_owned()
    }

    #[track_caller]
    pub fn expect_problem(&self, status: u16, kind: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.problem_type(), kind, "{}", self.body);
    }

    #[track_caller]
    pub fn expect_ok(&self, status: u16) -> (Uuid, u64, String) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        let id = self.body["id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .expect("id");
        let version = self.body["version"].as_u64().expect("version");
        let position = self.body["position"].as_str().expect("position").to_owned();
        (id, version, position)
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        let test_db = TestDb::fresh().await;
        let pool = db::connect(&test_db.url, PoolSettings::default())
            .await
            .expect("connect");
        db::migrate(&pool).await.expect("migrate events");
        infra::auth::migrate(&pool).await.expect("migrate keys");
        command_api::MIGRATOR
            .run(&pool)
            .await
            .expect("migrate command api");
        let store = AnyEventStore::Postgres(Arc::new(PgEventStore::new(
            pool.clone(),
            Arc::new(Upcasters::standard()),
        )));
        TestApp::over(store, pool, Some(test_db)).await
    }

    /// The API over `store` and `pool` (migrated), owning `db` if given.
    async fn over(store: AnyEventStore, pool: sqlx::PgPool, db: Option<TestDb>) -> TestApp {
        let verifier = Verifier::new(AuthSettings::default(), pool.clone())
            .await
            .expect("verifier");
        let router = command_api::router(AppState::new(store.clone(), pool, verifier.clone()));
        let mut app = TestApp {
            router,
            store,
            verifier,
            admin: String::new(),
            db,
        };
        app.admin = app.bearer("default", &[Role::Admin], None);
        app
    }

    /// The same API on the EventStoreDB named by `EVENTSTORE_URL` (idempotency keys and
    /// booking intents in a fresh PostgreSQL database), or `None` when not configured.
    pub async fn esdb(test: &str) -> Option<TestApp> {
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
        eprintln!("{test}: running on eventstoredb at {url}");
        let test_db = TestDb::fresh().await;
        let pool = db::connect(&test_db.url, PoolSettings::default())
            .await
            .expect("connect");
        infra::auth::migrate(&pool).await.expect("migrate keys");
        command_api::MIGRATOR
            .run(&pool)
            .await
            .expect("migrate command api");
        let esdb = infra::esdb::EsdbEventStore::connect(&url, Arc::new(Upcasters::standard()))
            .await
            .expect("esdb");
        let store = AnyEventStore::Esdb(Arc::new(esdb));
        Some(TestApp::over(store, pool, Some(test_db)).await)
    }

    /// `Bearer …` of a token of the built-in key: `roles` in `tenant`, standing for
    /// `person` if given.
    pub fn bearer(&self, tenant: &str, roles: &[Role], person: Option<Uuid>) -> String {
        let token = self
            .verifier
            .builtin()
            .mint(&TokenRequest {
                tenant: tenant.to_owned(),
                roles: roles.to_vec(),
                subject: format!(
                    "test-{}",
                    roles
                        .iter()
                        .map(Role::to_string)
                        .collect::<Vec<_>>()
                        .join("-")
                ),
                person,
                name: Some("Test Caller".into()),
                ttl: std::time::Duration::from_secs(3600),
            })
            .expect("mint");
        format!("Bearer {token}")
    }

    /// Sends `req`, as the harness's admin unless it carries an `Authorization` of its own.
    pub async fn request(&self, mut req: Request<Body>) -> Reply {
        if !req.headers().contains_key("authorization") {
            let value = self.admin.parse().expect("header value");
            req.headers_mut().insert("authorization", value);
        }
        self.request_raw(req).await
    }

    /// Sends `req` as it is (no token added).
    pub async fn request_raw(&self, req: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(req).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post_with(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Reply {
        let mut req = Request::post(path).header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.request(req.body(Body::from(body.to_string())).expect("request"))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.post_with(path, body, &[]).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Request::get(path).body(Body::empty()).expect("request"))
            .await
    }

    /// Every event in the store, as (stream, type), in insertion order. Read with SQL,
    /// not `read_all`: that one rightly holds back events while any transaction in the
    /// cluster (other tests' included) is older than them.
    pub async fn all_events(&self) -> Vec<(String, String)> {
        let infra::AnyEventStore::Postgres(store) = &self.store else {
            unreachable!("postgres")
        };
        sqlx::query_as("SELECT stream_id, event_type FROM events ORDER BY position")
            .fetch_all(store.pool())
            .await
            .expect("events")
    }

    pub async fn stream(&self, stream: &str) -> Vec<infra::RecordedEvent> {
        self.store.read_stream(stream, 1).await.expect("read")
    }

    /// The types of `stream`'s events, in order.
    pub async fn event_types(&self, stream: &str) -> Vec<String> {
        self.stream(stream)
            .await
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }

    pub async fn person(&self, name: &str, roles: &[&str]) -> Uuid {
        let r = self
            .post("/people", json!({"name": name, "roles": roles}))
            .await;
        r.expect_ok(201).0
    }

    pub async fn candidate(&self) -> Uuid {
        self.person("Cora Candidate", &["candidate"]).await
    }

    pub async fn interviewer(&self) -> Uuid {
        self.person("Ivan Interviewer", &["interviewer"]).await
    }

    /// Schedules an interview; returns the reply.
    pub async fn schedule(
        &self,
        candidate: Uuid,
        panel: &[Uuid],
        starts_at: &str,
        minutes: i64,
    ) -> Reply {
        self.post(
            "/interviews",
            json!({
                "candidateId": candidate,
                "interviewerIds": panel,
                "position": "Backend Engineer",
                "kind": "technical",
                "startsAt": starts_at,
                "durationMinutes": minutes,
            }),
        )
        .await
    }

    /// A second command API process over the same store and database: its own memory of
    /// streams, nothing else shared. Drop it before the first (it owns no database).
    pub fn sibling(&self) -> TestApp {
        let pool = match &self.store {
            AnyEventStore::Postgres(pg) => pg.pool().clone(),
            AnyEventStore::Esdb(_) => unreachable!("siblings are built on PostgreSQL"),
        };
        TestApp {
            router: command_api::router(AppState::new(
                self.store.clone(),
                pool,
                self.verifier.clone(),
            )),
            store: self.store.clone(),
            verifier: self.verifier.clone(),
            admin: self.admin.clone(),
            db: None,
        }
    }

    pub async fn drop_db(mut self) {
        if let Some(db) = self.db.take() {
            drop(self.router);
            drop(self.store);
            let _ = db.drop_database().await;
        }
    }

    /// The name of the database this app owns (none for a sibling).
    pub fn database_name(&self) -> Option<&str> {
        self.db.as_ref().map(|db| db.name.as_str())
    }
}

/// A test body that panics leaves no database behind: the harness's guard drops it.
#[test]
fn a_test_that_panics_leaves_no_database_behind() {
    assert_dropped_after_panic(|tx| async move {
        let app = TestApp::new().await;
        app.candidate().await;
        let name = app.database_name().expect("owns one").to_owned();
        let made = infra::db::testing::database_exists(&name).await;
        assert!(made.expect("pg_database"), "the harness made {name}");
        tx.send(name.clone()).expect("send");
        panic!("deliberate panic: the harness must still drop {name}");
    });
}
