//! `infra::auth` against a real PostgreSQL (fresh database per test) and a JWKS served
//! by a small axum server inside the test. Key pairs are committed under `fixtures/`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use infra::auth::{
    AuthError, AuthSettings, BUILTIN_ISSUER, BuiltinKey, ClaimPath, MAX_TOKEN_LEN, Principal, Role,
    TokenRequest, Verifier,
};
use infra::db::{self, PoolSettings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::harness::TestDb;

const ISS: &str = "https://idp.test/realms/il";
const AUD: &str = "interview-ledger-api";

async fn database() -> (TestDb, PgPool) {
    let db = TestDb::fresh().await;
    let pool = connect(&db).await;
    infra::auth::migrate(&pool).await.expect("migrate");
    (db, pool)
}

/// Another "process": its own pool on the same database.
async fn connect(db: &TestDb) -> PgPool {
    let settings = PoolSettings {
        max_connections: 4,
        ..PoolSettings::default()
    };
    db::connect(&db.url, settings).await.expect("connect")
}

fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).expect(name)
}

fn jwks(names: &[&str]) -> Value {
    let keys: Vec<Value> = names
        .iter()
        .map(|n| serde_json::from_slice(&fixture(&format!("{n}.jwk.json"))).expect("jwk"))
        .collect();
    json!({ "keys": keys })
}

/// Signs with the private half of fixture `name` (`rsa-1`, `ec-1`, `ed-1`, …).
fn sign(name: &str, kid: Option<&str>, claims: &Value) -> String {
    let pem = fixture(&format!("{name}.key.pem"));
    let (alg, key) = match name.split('-').next() {
        Some("rsa") => (Algorithm::RS256, EncodingKey::from_rsa_pem(&pem)),
        Some("ec") => (Algorithm::ES256, EncodingKey::from_ec_pem(&pem)),
        _ => (Algorithm::EdDSA, EncodingKey::from_ed_pem(&pem)),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.expect("private key")).expect("sign")
}

fn sign_hs256(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_secret(secret).expect("secret");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// A token with a header of our own making and no signature.
fn unsigned(header: &Value, claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", part(header), part(claims))
}

fn now() -> i64 {
    Utc::now().timestamp()
}

fn claims(iss: &str, aud: &str) -> Value {
    json!({
        "iss": iss, "aud": aud, "sub": "user-1", "tenant": "acme", "roles": ["recruiter"],
        "iat": now(), "nbf": now() - 5, "exp": now() + 300,
    })
}

/// `claims` with `key` set to `value`, or removed when `value` is null.
fn with(claims: &Value, key: &str, value: Value) -> Value {
    let mut claims = claims.clone();
    let map = claims.as_object_mut().expect("object");
    if value.is_null() {
        map.remove(key);
    } else {
        map.insert(key.to_owned(), value);
    }
    claims
}

fn external(configure: impl FnOnce(&mut AuthSettings)) -> AuthSettings {
    let mut settings = AuthSettings {
        issuers: vec![ISS.to_owned()],
        audiences: vec![AUD.to_owned()],
        ..AuthSettings::default()
    };
    configure(&mut settings);
    settings
}

async fn builtin_secret(pool: &PgPool, kid: &str) -> Vec<u8> {
    sqlx::query_scalar("SELECT secret FROM auth_signing_keys WHERE kid = $1")
        .bind(kid)
        .fetch_one(pool)
        .await
        .expect("the key row")
}

/// A JWKS endpoint whose document the test can swap, counting its requests.
struct JwksServer {
    url: String,
    document: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

type JwksState = (Arc<Mutex<Value>>, Arc<AtomicUsize>);

async fn serve_jwks(State((document, hits)): State<JwksState>) -> Json<Value> {
    hits.fetch_add(1, Ordering::SeqCst);
    Json(document.lock().expect("document").clone())
}

impl JwksServer {
    async fn start(keys: &[&str]) -> JwksServer {
        let document = Arc::new(Mutex::new(jwks(keys)));
        let hits = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/jwks", get(serve_jwks))
            .with_state((document.clone(), hits.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        JwksServer {
            url: format!("http://{addr}/jwks"),
            document,
            hits,
        }
    }

    fn publish(&self, keys: &[&str]) {
        *self.document.lock().expect("document") = jwks(keys);
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

#[track_caller]
fn assert_refusals(results: Vec<(&str, Result<Principal, AuthError>, AuthError)>) {
    let wrong: Vec<String> = results
        .into_iter()
        .filter(|(_, got, expected)| got.as_ref().err() != Some(expected))
        .map(|(case, got, expected)| format!("{case}: expected {expected:?}, got {got:?}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_token_verifies_to_its_principal() {
    let (db, pool) = database().await;
    let verifier = Verifier::new(AuthSettings::default(), pool.clone())
        .await
        .expect("verifier");
    let person = Uuid::new_v4();
    let request = TokenRequest {
        tenant: "acme".into(),
        roles: vec![Role::Recruiter, Role::Interviewer],
        subject: "user-42".into(),
        person: Some(person),
        name: Some("Ada".into()),
        ttl: Duration::from_secs(600),
    };

    let token = verifier.builtin().mint(&request).expect("mint");
    let principal = verifier.verify(&token).await.expect("verifies");

    assert_eq!(principal.subject, "user-42");
    assert_eq!(principal.tenant, "acme");
    assert_eq!(principal.person, Some(person));
    assert_eq!(principal.name.as_deref(), Some("Ada"));
    assert_eq!(
        principal.roles.iter().collect::<Vec<_>>(),
        [Role::Recruiter, Role::Interviewer]
    );
    assert_eq!(principal.issuer, BUILTIN_ISSUER);
    let ttl = principal.expires_at - Utc::now();
    assert!((590..=600).contains(&ttl.num_seconds()), "{ttl}");
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.kid.as_deref(), Some(verifier.builtin().kid()));
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_starting_at_once_create_one_key() {
    let (db, pool) = database().await;
    let other = connect(&db).await;

    let (a, b) = tokio::join!(
        BuiltinKey::load_or_create(&pool),
        BuiltinKey::load_or_create(&other)
    );

    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a.kid(), b.kid());
    assert!(a.kid().starts_with("il-"));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM auth_signing_keys")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 1);
    let secret = builtin_secret(&pool, a.kid()).await;
    assert!(secret.len() >= 32);
    let shown = format!("{a:?}");
    assert!(!shown.contains(&format!("{:?}", &secret[..8])), "{shown}");
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_accepts_tokens_minted_by_the_first_and_learns_new_keys() {
    let (db, pool) = database().await;
    let first = Verifier::new(AuthSettings::default(), pool.clone())
        .await
        .expect("first");
    let second = Verifier::new(AuthSettings::default(), connect(&db).await)
        .await
        .expect("second");
    let request = TokenRequest {
        tenant: "acme".into(),
        roles: vec![Role::Candidate],
        subject: "cand-1".into(),
        person: None,
        name: None,
        ttl: Duration::from_secs(60),
    };

    let token = first.builtin().mint(&request).expect("mint");
    assert_eq!(
        second.verify(&token).await.expect("second accepts").subject,
        "cand-1"
    );

    // A third process rotates: a newer key appears after both verifiers loaded theirs.
    let secret: Vec<u8> = [Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat();
    sqlx::query(
        "INSERT INTO auth_signing_keys (kid, alg, secret, created_at)
         VALUES ('il-newer', 'HS256', $1, now() + interval '1 second')",
    )
    .bind(&secret)
    .execute(&pool)
    .await
    .expect("insert");
    let newer = BuiltinKey::load_or_create(&pool).await.expect("newest");
    assert_eq!(newer.kid(), "il-newer");

    let token = newer.mint(&request).expect("mint");
    assert!(
        second.verify(&token).await.is_ok(),
        "an unknown il- kid reloads the keys"
    );
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_refused_with_its_own_error() {
    let (db, pool) = database().await;
    let verifier = Verifier::new(AuthSettings::default(), pool.clone())
        .await
        .expect("verifier");
    let kid = verifier.builtin().kid().to_owned();
    let secret = builtin_secret(&pool, &kid).await;
    let good = claims(BUILTIN_ISSUER, BUILTIN_ISSUER);
    let signed = |c: &Value| sign_hs256(&secret, Some(&kid), c);
    assert!(
        verifier.verify(&signed(&good)).await.is_ok(),
        "the baseline verifies"
    );

    let cases: Vec<(&str, String, AuthError)> = vec![
        ("garbage", "not a token".into(), AuthError::Malformed),
        ("three garbage parts", "a.b.c".into(), AuthError::Malformed),
        (
            "oversized",
            "a".repeat(MAX_TOKEN_LEN + 1),
            AuthError::TooLarge,
        ),
        (
            "alg none",
            unsigned(&json!({ "alg": "none", "kid": kid }), &good),
            AuthError::UnsupportedAlgorithm,
        ),
        (
            "unknown alg",
            unsigned(&json!({ "alg": "XS256", "kid": kid }), &good),
            AuthError::UnsupportedAlgorithm,
        ),
        (
            "unknown kid",
            sign_hs256(&secret, Some("il-unknown"), &good),
            AuthError::UnknownKey,
        ),
        (
            "signed by another key",
            sign_hs256(b"another secret that is long enough!!", Some(&kid), &good),
            AuthError::BadSignature,
        ),
        (
            "wrong issuer",
            signed(&with(&good, "iss", json!("https://evil.test"))),
            AuthError::WrongIssuer,
        ),
        (
            "wrong audience",
            signed(&with(&good, "aud", json!("other-app"))),
            AuthError::WrongAudience,
        ),
        (
            "expired",
            signed(&with(&good, "exp", json!(now() - 3600))),
            AuthError::Expired,
        ),
        (
            "not yet valid",
            signed(&with(&good, "nbf", json!(now() + 3600))),
            AuthError::NotYetValid,
        ),
        (
            "no exp",
            signed(&with(&good, "exp", Value::Null)),
            AuthError::MissingClaim("exp"),
        ),
        (
            "no tenant",
            signed(&with(&good, "tenant", Value::Null)),
            AuthError::MissingClaim("tenant"),
        ),
        (
            "invalid tenant",
            signed(&with(&good, "tenant", json!("Acme Corp"))),
            AuthError::InvalidClaim("tenant"),
        ),
        (
            "no roles",
            signed(&with(&good, "roles", Value::Null)),
            AuthError::MissingClaim("roles"),
        ),
        (
            "empty roles",
            signed(&with(&good, "roles", json!([]))),
            AuthError::MissingClaim("roles"),
        ),
        (
            "only unknown roles",
            signed(&with(&good, "roles", json!(["root"]))),
            AuthError::MissingClaim("roles"),
        ),
        (
            "no sub",
            signed(&with(&good, "sub", Value::Null)),
            AuthError::MissingClaim("sub"),
        ),
        (
            "person not a uuid",
            signed(&with(&good, "person", json!("42"))),
            AuthError::InvalidClaim("person"),
        ),
    ];
    let mut results = Vec::new();
    for (case, token, expected) in cases {
        results.push((case, verifier.verify(&token).await, expected));
    }

    assert_refusals(results);
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hs256_token_keyed_with_a_public_key_is_refused() {
    let (db, pool) = database().await;
    let public_pem = fixture("rsa-1.pub.pem");
    let good = claims(ISS, AUD);
    let jwk_file = external(|s| s.jwks_file = Some(fixture_path("rsa-1.jwk.json")));
    let pem_file = external(|s| s.jwks_file = Some(fixture_path("rsa-1.pub.pem")));
    let by_jwk = Verifier::new(jwk_file, pool.clone())
        .await
        .expect("jwk file");
    let by_pem = Verifier::new(pem_file, pool.clone())
        .await
        .expect("pem file");
    assert!(
        by_jwk
            .verify(&sign("rsa-1", Some("rsa-1"), &good))
            .await
            .is_ok()
    );
    assert!(by_pem.verify(&sign("rsa-1", None, &good)).await.is_ok());

    let results = vec![
        (
            "HS256 naming the RSA key's kid",
            by_jwk
                .verify(&sign_hs256(&public_pem, Some("rsa-1"), &good))
                .await,
            AuthError::AlgorithmMismatch,
        ),
        (
            "HS256 without kid, JWKS file",
            by_jwk.verify(&sign_hs256(&public_pem, None, &good)).await,
            AuthError::UnknownKey,
        ),
        (
            "HS256 without kid, PEM file",
            by_pem.verify(&sign_hs256(&public_pem, None, &good)).await,
            AuthError::AlgorithmMismatch,
        ),
    ];

    assert_refusals(results);
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_url_verifies_rsa_ec_and_eddsa_tokens() {
    let (db, pool) = database().await;
    let server = JwksServer::start(&["rsa-1", "ec-1", "ed-1"]).await;
    let settings = external(|s| s.jwks_url = Some(server.url.clone()));
    let verifier = Verifier::new(settings, pool).await.expect("verifier");
    let good = claims(ISS, AUD);

    for key in ["rsa-1", "ec-1", "ed-1"] {
        let principal = verifier.verify(&sign(key, Some(key), &good)).await;
        assert_eq!(principal.expect(key).issuer, ISS);
    }
    let results = vec![
        (
            "signed by another key",
            verifier.verify(&sign("rsa-2", Some("rsa-1"), &good)).await,
            AuthError::BadSignature,
        ),
        (
            "wrong issuer",
            verifier
                .verify(&sign(
                    "ec-1",
                    Some("ec-1"),
                    &with(&good, "iss", json!("https://evil.test")),
                ))
                .await,
            AuthError::WrongIssuer,
        ),
        (
            "ES256 header on the RSA key",
            verifier.verify(&sign("ec-1", Some("rsa-1"), &good)).await,
            AuthError::AlgorithmMismatch,
        ),
    ];
    assert_refusals(results);
    assert_eq!(server.hits(), 1, "every key was there from the start");
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_jwks_is_picked_up_and_the_old_key_refused() {
    let (db, pool) = database().await;
    let server = JwksServer::start(&["rsa-1"]).await;
    let settings = external(|s| s.jwks_url = Some(server.url.clone()));
    let verifier = Verifier::new(settings, pool).await.expect("verifier");
    let good = claims(ISS, AUD);
    let old = sign("rsa-1", Some("rsa-1"), &good);
    assert!(verifier.verify(&old).await.is_ok());

    server.publish(&["rsa-2"]);
    let new = sign("rsa-2", Some("rsa-2"), &good);

    // The first tokens of the new key arrive together: one fetches, the others wait
    // for that fetch rather than being refused.
    let burst = futures::future::join_all((0..20).map(|_| verifier.verify(&new))).await;

    assert!(burst.iter().all(Result::is_ok), "{burst:?}");
    assert_eq!(verifier.verify(&old).await, Err(AuthError::UnknownKey));
    assert_eq!(server.hits(), 2, "one fetch at start, one for the new kid");
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_fetches_at_most_once_per_window() {
    let (db, pool) = database().await;
    let server = JwksServer::start(&["rsa-1"]).await;
    let settings = external(|s| s.jwks_url = Some(server.url.clone()));
    let verifier = Verifier::new(settings, pool).await.expect("verifier");
    let good = claims(ISS, AUD);
    let bogus: Vec<String> = (0..200)
        .map(|i| sign_hs256(b"irrelevant", Some(&format!("bogus-{i}")), &good))
        .chain((0..50).map(|i| sign("rsa-1", Some(&format!("made-up-{i}")), &good)))
        .collect();

    let results = futures::future::join_all(bogus.iter().map(|t| verifier.verify(t))).await;

    assert!(
        results.iter().all(|r| *r == Err(AuthError::UnknownKey)),
        "{results:?}"
    );
    assert!(server.hits() <= 2, "{} fetches", server.hits());
    assert!(
        verifier
            .verify(&sign("rsa-1", Some("rsa-1"), &good))
            .await
            .is_ok()
    );
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_jwks_is_a_server_side_failure() {
    let (db, pool) = database().await;
    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let settings = external(|s| s.jwks_url = Some(format!("http://{addr}/jwks")));
    let verifier = Verifier::new(settings, pool).await.expect("starts anyway");

    let err = verifier
        .verify(&sign("rsa-1", Some("rsa-1"), &claims(ISS, AUD)))
        .await
        .expect_err("no keys");

    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(err.http_status(), 503);
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_realm_roles_and_scope_strings_are_read_where_configured() {
    let (db, pool) = database().await;
    let keycloak = external(|s| {
        s.jwks_file = Some(fixture_path("rsa-1.jwk.json"));
        s.claims.roles = ClaimPath::new("realm_access.roles");
    });
    let scope = external(|s| {
        s.jwks_file = Some(fixture_path("ec-1.pub.pem"));
        s.claims.roles = ClaimPath::new("scope");
        s.claims.tenant = ClaimPath::new("org");
        s.claims.name = ClaimPath::new("preferred_username");
    });
    let keycloak = Verifier::new(keycloak, pool.clone())
        .await
        .expect("keycloak");
    let scope = Verifier::new(scope, pool).await.expect("scope");
    let base = with(&claims(ISS, AUD), "roles", Value::Null);

    let realm = with(
        &base,
        "realm_access",
        json!({ "roles": ["interviewer", "offline_access"] }),
    );
    let principal = keycloak
        .verify(&sign("rsa-1", Some("rsa-1"), &realm))
        .await
        .expect("keycloak");
    assert_eq!(
        principal.roles.iter().collect::<Vec<_>>(),
        [Role::Interviewer]
    );

    let scoped = with(
        &with(&base, "scope", json!("openid candidate")),
        "org",
        json!("globex"),
    );
    let scoped = with(
        &with(&scoped, "tenant", Value::Null),
        "preferred_username",
        json!("x".repeat(300)),
    );
    let principal = scope
        .verify(&sign("ec-1", None, &scoped))
        .await
        .expect("scope");
    assert_eq!(
        principal.roles.iter().collect::<Vec<_>>(),
        [Role::Candidate]
    );
    assert_eq!(principal.tenant, "globex");
    assert_eq!(principal.name.map(|n| n.chars().count()), Some(200));
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_secret_verifies_its_tokens_beside_the_built_in_key() {
    let (db, pool) = database().await;
    let secret = "a shared secret of at least thirty-two bytes";
    let settings = external(|s| s.hs256_secret = Some(secret.into()));
    let verifier = Verifier::new(settings, pool).await.expect("verifier");
    let good = claims(ISS, AUD);

    assert!(
        verifier
            .verify(&sign_hs256(secret.as_bytes(), None, &good))
            .await
            .is_ok()
    );
    let wrong_key = sign_hs256(b"a different secret, also long enough", None, &good);
    assert_eq!(
        verifier.verify(&wrong_key).await,
        Err(AuthError::BadSignature)
    );
    let minted = verifier.builtin().mint(&TokenRequest {
        tenant: "acme".into(),
        roles: vec![Role::Service],
        subject: "svc".into(),
        person: None,
        name: None,
        ttl: Duration::from_secs(60),
    });
    assert!(verifier.verify(&minted.expect("mint")).await.is_ok());
    assert!(!format!("{verifier:?}").contains("thirty-two"));
    db.drop_database().await.expect("drop");
}

/// Not a benchmark: a guard against verification becoming expensive (a debug build
/// verifies in tens of µs; a release build in a few).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifying_a_built_in_token_is_cheap() {
    let (db, pool) = database().await;
    let verifier = Verifier::new(AuthSettings::default(), pool)
        .await
        .expect("verifier");
    let token = verifier
        .builtin()
        .mint(&TokenRequest {
            tenant: "acme".into(),
            roles: vec![Role::Admin],
            subject: "admin".into(),
            person: Some(Uuid::new_v4()),
            name: Some("Admin".into()),
            ttl: Duration::from_secs(60),
        })
        .expect("mint");

    let n = 2_000u32;
    let started = Instant::now();
    for _ in 0..n {
        verifier.verify(&token).await.expect("verifies");
    }
    let each = started.elapsed() / n;

    eprintln!("one verification: {each:?}");
    assert!(each < Duration::from_millis(2), "{each:?} per verification");
    db.drop_database().await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwks_is_refetched_in_the_background_until_the_verifier_is_dropped() {
    let (db, pool) = database().await;
    let server = JwksServer::start(&["rsa-1"]).await;
    let settings = external(|s| {
        s.jwks_url = Some(server.url.clone());
        s.jwks_refresh = Duration::from_millis(50);
    });
    let verifier = Verifier::new(settings, pool).await.expect("verifier");

    let deadline = Instant::now() + Duration::from_secs(10);
    while server.hits() < 3 {
        assert!(Instant::now() < deadline, "no background refresh");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(verifier);
    // Let a refresh already under way finish, then nothing more may come.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_drop = server.hits();
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(
        server.hits(),
        after_drop,
        "the refresher outlived its verifier"
    );
    db.drop_database().await.expect("drop");
}

/// A token verified before is remembered (no second signature check), but only within
/// its validity: once `exp` (with the leeway, here none) has passed it is refused like
/// any expired token. (A remembered token whose key rotated away is refused too: see
/// `a_rotated_jwks_is_picked_up_and_the_old_key_refused`, which verifies the old token
/// before the rotation.)
#[tokio::test]
async fn a_remembered_token_is_refused_once_it_expires() {
    let (db, pool) = database().await;
    let settings = AuthSettings {
        leeway: Duration::ZERO,
        ..AuthSettings::default()
    };
    let verifier = Verifier::new(settings, pool.clone())
        .await
        .expect("verifier");
    let token = verifier
        .builtin()
        .mint(&TokenRequest {
            tenant: "acme".into(),
            roles: vec![Role::Recruiter],
            subject: "short-lived".into(),
            person: None,
            name: None,
            ttl: Duration::from_secs(1),
        })
        .expect("mint");
    let first = verifier.verify(&token).await.expect("valid");
    let again = verifier.verify(&token).await.expect("still valid");
    assert_eq!(first, again);
    // A token differing in one signature character is not the remembered one.
    let mut forged = token.clone();
    let last = forged.pop().expect("a character");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert!(verifier.verify(&forged).await.is_err());
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(verifier.verify(&token).await, Err(AuthError::Expired));
    db.drop_database().await.expect("drop");
}
