//! A query API over a fresh database with the real projector running.

use query_api::Viewer;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use infra::auth::{AuthSettings, Role as AuthRole, TokenRequest, Verifier};
pub use infra::db::testing::TestDb;
use infra::db::{self, PoolSettings, testing::assert_dropped_after_panic};
use infra::postgres::PgEventStore;
use infra::upcast::Upcasters;
use infra::{AnyEventStore, Position};
use query_api::{AppState, Caller, HttpLimits, QueryContext, QuerySchema};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use uuid::Uuid;

use crate::world::World;

/// Everything one test needs.
pub struct TestApp {
    pub db: TestDb,
    pub pool: PgPool,
    pub ctx: QueryContext,
    pub state: AppState,
    pub world: World,
    /// Verifies tokens; its built-in key mints the harness's.
    pub verifier: Verifier,
    /// `Bearer …` of an `admin` of the default tenant: sent with every HTTP request that
    /// names no `Authorization` of its own.
    pub admin: String,
    /// Whom [`TestApp::execute`] runs as (the admin, unless a test changes it).
    pub caller: Caller,
    projector: CancellationToken,
}

/// Fresh database, event store, read models, projector and query context.
pub async fn spawn() -> TestApp {
    spawn_with(true).await
}

/// Like [`spawn`], with or without the projector (without it, checkpoints stay where
/// the test puts them).
pub async fn spawn_with(run_projector: bool) -> TestApp {
    let db = TestDb::fresh().await;
    let pool = db::connect(&db.url, PoolSettings::default())
        .await
        .expect("connect");
    db::migrate(&pool).await.expect("event store migrations");
    projections::prepare(&pool).await.expect("read models");
    infra::auth::migrate(&pool).await.expect("auth migrations");
    let verifier = Verifier::new(AuthSettings::default(), pool.clone())
        .await
        .expect("verifier");
    let store = AnyEventStore::Postgres(Arc::new(PgEventStore::new(
        pool.clone(),
        Arc::new(Upcasters::standard()),
    )));
    let ctx = QueryContext::new(pool.clone(), store.clone());
    ctx.listening().await;
    let projector = CancellationToken::new();
    let runner = projections::Projector::new(
        store.clone(),
        pool.clone(),
        projections::all(),
        projections::Settings {
            batch_timeout: Duration::from_millis(5),
            ..projections::Settings::default()
        },
    );
    if run_projector {
        tokio::spawn(runner.run(projector.clone()));
    }
    let state = AppState::new(ctx.clone(), HttpLimits::default(), verifier.clone());
    let admin = bearer(
        &verifier,
        &[AuthRole::Admin],
        None,
        Duration::from_secs(3600),
    );
    let caller = caller_of(&verifier, &admin).await;
    TestApp {
        db,
        pool,
        state,
        world: World::new(store),
        ctx,
        verifier,
        admin,
        caller,
        projector,
    }
}

/// `Bearer …` of a token of `verifier`'s built-in key: `roles` in the default tenant,
/// standing for `person` if given, valid for `ttl`.
pub fn bearer(
    verifier: &Verifier,
    roles: &[AuthRole],
    person: Option<Uuid>,
    ttl: Duration,
) -> String {
    bearer_in(verifier, "default", roles, person, ttl)
}

/// Like [`bearer`], in `tenant`.
pub fn bearer_in(
    verifier: &Verifier,
    tenant: &str,
    roles: &[AuthRole],
    person: Option<Uuid>,
    ttl: Duration,
) -> String {
    let subject = roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join("-");
    let token = verifier
        .builtin()
        .mint(&TokenRequest {
            tenant: tenant.to_owned(),
            roles: roles.to_vec(),
            subject: format!("test-{subject}"),
            person,
            name: Some("Test Caller".into()),
            ttl,
        })
        .expect("mint");
    format!("Bearer {token}")
}

/// The caller `bearer` (`Bearer …`) stands for.
pub async fn caller_of(verifier: &Verifier, bearer: &str) -> Caller {
    let token = bearer.strip_prefix("Bearer ").expect("a bearer");
    let principal = verifier.verify(token).await.expect("a valid token");
    let tenant = domain::Tenant::parse(&principal.tenant).expect("tenant");
    Caller {
        principal: std::sync::Arc::new(principal),
        tenant,
    }
}

impl TestApp {
    /// Serves from now on with `X-Min-Position` waits of at most `ms`.
    pub fn set_consistency_timeout(&mut self, ms: u64) {
        self.set_limits(HttpLimits {
            min_position_timeout: Duration::from_millis(ms),
            ..HttpLimits::default()
        });
    }

    /// Serves from now on with these HTTP limits.
    pub fn set_limits(&mut self, limits: HttpLimits) {
        self.state = AppState::new(self.ctx.clone(), limits, self.verifier.clone());
    }

    /// `Bearer …` of a one-hour token with `roles`, standing for `person` if given.
    pub fn bearer(&self, roles: &[AuthRole], person: Option<Uuid>) -> String {
        bearer(&self.verifier, roles, person, Duration::from_secs(3600))
    }

    /// The schema served.
    pub fn schema(&self) -> &QuerySchema {
        self.state.schema()
    }

    /// Waits, through read-your-writes, until the projections have applied every event
    /// the world appended.
    pub async fn settle(&self) {
        if let Some(target) = self.world.last_position() {
            self.settle_at(target).await;
        }
    }

    /// Waits until the projections have applied `target`.
    pub async fn settle_at(&self, target: Position) {
        query_api::consistency::wait_for_position(
            self.ctx.read_model(),
            self.ctx.notices(),
            target,
            Duration::from_secs(20),
        )
        .await
        .expect("projections catch up");
    }

    /// Runs `query` with `variables` on the schema; the whole response as JSON.
    pub async fn execute(&self, query: &str, variables: Value) -> Value {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables))
            .data(self.ctx.loaders(&Viewer::default_tenant()))
            .data(self.caller.clone());
        let response = self.schema().execute(request).await;
        serde_json::to_value(&response).expect("response serializes")
    }

    /// Runs `query` and returns its `data`, failing on any error.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.execute(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// Runs `query` and returns its errors, failing when there are none.
    pub async fn errors(&self, query: &str, variables: Value) -> Vec<Value> {
        let response = self.execute(query, variables).await;
        let errors = response["errors"].as_array().cloned().unwrap_or_default();
        assert!(!errors.is_empty(), "expected errors: {response:#}");
        errors
    }

    /// Sends an HTTP request through the router (no socket), as the harness's admin
    /// unless it carries an `Authorization` of its own.
    pub async fn http(&self, mut request: Request<Body>) -> (StatusCode, String) {
        if !request.headers().contains_key("authorization") {
            let value = self.admin.parse().expect("header value");
            request.headers_mut().insert("authorization", value);
        }
        self.http_raw(request).await
    }

    /// Sends an HTTP request through the router exactly as given.
    pub async fn http_raw(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = query_api::router(self.state.clone())
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let request = Request::get("/metrics")
            .body(Body::empty())
            .expect("request");
        self.http(request).await.1
    }

    /// POSTs a GraphQL body with extra headers; status and JSON response.
    pub async fn post(&self, body: Value, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut request = Request::post("/graphql").header("content-type", "application/json");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(Body::from(body.to_string())).expect("request");
        let (status, text) = self.http(request).await;
        let json = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
        (status, json)
    }

    /// POSTs a GraphQL request as an admin of `viewer`'s tenant (its token says the
    /// tenant); the JSON response, failing on errors.
    pub async fn data_as(&self, viewer: &Viewer, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables });
        let token = bearer_in(
            &self.verifier,
            viewer.tenant.as_str(),
            &[AuthRole::Admin],
            None,
            Duration::from_secs(3600),
        );
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", token)
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, text) = self.http(request).await;
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
        assert_eq!(status, StatusCode::OK, "{json:#}");
        assert!(json.get("errors").is_none(), "unexpected errors: {json:#}");
        json["data"].clone()
    }

    /// Stops the projector and drops the database.
    pub async fn stop(self) {
        self.projector.cancel();
        drop(self.state);
        drop(self.ctx);
        self.pool.close().await;
        self.db.drop_database().await.expect("drop test database");
    }
}

/// The `extensions.code` of a GraphQL error.
pub fn code(error: &Value) -> &str {
    error["extensions"]["code"].as_str().unwrap_or("<none>")
}

/// A test body that panics leaves no database behind: the harness's guard drops it.
#[test]
fn a_test_that_panics_leaves_no_database_behind() {
    assert_dropped_after_panic(|tx| async move {
        let mut app = spawn().await;
        app.world.person("Ada", &[domain::Role::Candidate]).await;
        app.settle().await;
        let name = app.db.name.clone();
        let made = infra::db::testing::database_exists(&name).await;
        assert!(made.expect("pg_database"), "the harness made {name}");
        tx.send(name.clone()).expect("send");
        panic!("deliberate panic: the harness must still drop {name}");
    });
}
