//! Starting `interview-ledger serve` on a fresh database and talking to it.

use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use infra::db::testing::{TestDatabase, TestDb, assert_dropped_after_panic};
use serde_json::{Value, json};
use uuid::Uuid;

pub const BIN: &str = env!("CARGO_BIN_EXE_interview-ledger");

/// Which event store a test runs on.
#[derive(Debug, Clone)]
pub enum Store {
    Postgres,
    Esdb(String),
}

impl Store {
    /// The EventStoreDB under test, or `None` when not configured (skipped, said on stderr).
    pub fn esdb(test: &str) -> Option<Store> {
        match std::env::var("EVENTSTORE_URL") {
            Ok(u) if u.starts_with("esdb") => {
                eprintln!("{test}: running on eventstoredb at {u}");
                Some(Store::Esdb(u))
            }
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "EVENTSTORE_URL must name an EventStoreDB in CI"
                );
                eprintln!("{test}: skipped on eventstoredb: EVENTSTORE_URL not set");
                None
            }
        }
    }
}

pub struct Server {
    pub child: Child,
    pub command_url: String,
    pub query_url: String,
    pub http: reqwest::Client,
}

/// The URL of a database of its own for one test (`serve` creates it). The guard drops
/// the database when it goes, so a test that panics before its `drop_database` leaves no
/// `il_e2e_*` database behind; it reads as the URL (`&url` is a `&str`).
pub struct FreshDatabase {
    db: TestDb,
}

impl Deref for FreshDatabase {
    type Target = str;

    fn deref(&self) -> &str {
        &self.db.url
    }
}

pub fn fresh_database_url() -> FreshDatabase {
    let name = format!("il_e2e_{}", Uuid::new_v4().simple());
    FreshDatabase {
        db: TestDb::guard(TestDatabase::named(&name).expect("test database URL")),
    }
}

/// Runs the binary with the environment of a test (database, store).
pub fn command(database_url: &str, store: &Store) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn");
    // These tests drive a few subjects as hard as they can (a crash under load, say):
    // the per-subject rate limits are raised so that they never refuse them. Tests of
    // the limit itself set theirs with `Server::start_with`.
    for limit in [
        "RATE_LIMIT_COMMANDS_PER_SECOND",
        "RATE_LIMIT_COMMANDS_BURST",
        "RATE_LIMIT_QUERIES_PER_SECOND",
        "RATE_LIMIT_QUERIES_BURST",
    ] {
        cmd.env(limit, "1000000");
    }
    match store {
        Store::Postgres => cmd.env_remove("EVENTSTORE_URL"),
        Store::Esdb(url) => cmd.env("EVENTSTORE_URL", url),
    };
    cmd
}

/// `interview-ledger token ARGS…` against `database_url`: the token it prints.
pub fn token(database_url: &str, store: &Store, args: &[&str]) -> String {
    let out = command(database_url, store)
        .arg("token")
        .args(args)
        .output()
        .expect("run token");
    assert!(
        out.status.success(),
        "token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let token = text.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    token
}

impl Server {
    /// Starts `serve` on free ports and waits until both APIs listen.
    pub fn start(database_url: &str, store: Store) -> Server {
        Server::start_with(database_url, store, &[])
    }

    /// Starts `serve` with extra environment variables.
    pub fn start_with(database_url: &str, store: Store, env: &[(&str, &str)]) -> Server {
        let mut cmd = command(database_url, &store);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .args([
                "serve",
                "--command-api-addr",
                "127.0.0.1:0",
                "--query-api-addr",
                "127.0.0.1:0",
                "--projector-addr",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut command_url, mut query_url) = (None, None);
        while command_url.is_none() || query_url.is_none() {
            let line = lines
                .next()
                .expect("serve printed its addresses")
                .expect("line");
            if let Some(url) = line.strip_prefix("command API listening on ") {
                command_url = Some(url.to_owned());
            } else if let Some(url) = line.strip_prefix("query API listening on ") {
                query_url = Some(url.to_owned());
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        // Every request carries a token, minted as a newcomer would: with the CLI, from
        // the built-in key `serve` made in this database.
        let token = token(database_url, &store, &["--role", "admin"]);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header value"),
        );
        Server {
            child,
            command_url: command_url.unwrap_or_default(),
            query_url: query_url.unwrap_or_default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .default_headers(headers)
                .build()
                .expect("client"),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.command_url))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POSTs and asserts success; returns (id, position).
    #[track_caller]
    pub fn ok(&self, reply: (u16, Value)) -> (Uuid, String) {
        assert!((200..300).contains(&reply.0), "{reply:?}");
        let id = reply.1["id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .expect("id");
        (
            id,
            reply.1["position"].as_str().expect("position").to_owned(),
        )
    }

    /// A GraphQL query that waits for `min_position`.
    pub async fn graphql(
        &self,
        query: &str,
        variables: Value,
        min_position: Option<&str>,
    ) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.query_url))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(p) = min_position {
            req = req.header("x-min-position", p);
        }
        let r = req.send().await.expect("graphql request");
        assert_eq!(r.status().as_u16(), 200);
        r.json().await.expect("graphql json")
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.wait_exit()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("serve did not stop within 15 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub async fn drop_database(url: &str) {
    let Some(name) = url.rsplit('/').next() else {
        return;
    };
    if let Ok(db) = TestDatabase::named(name) {
        let _ = db.drop_database().await;
    }
}

/// Dumps every read-model table as sorted JSON text, for comparisons.
pub async fn dump_read_models(database_url: &str) -> Vec<(String, Vec<String>)> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(database_url)
        .await
        .expect("connect");
    let tables: Vec<(String,)> = sqlx::query_as("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'rm' ORDER BY 1")
        .fetch_all(&mut c)
        .await
        .expect("tables");
    let mut out = Vec::new();
    for (t,) in tables {
        let rows: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT to_jsonb(x)::text FROM rm.{t} x ORDER BY 1"
        ))
        .fetch_all(&mut c)
        .await
        .expect("rows");
        out.push((t, rows.into_iter().map(|r| r.0).collect()));
    }
    out
}

/// A private esdb-fake, so pausing it does not disturb other tests.
pub fn private_fake() -> Option<(std::process::Child, String)> {
    let bin = std::env::var("ESDB_FAKE_BIN").ok()?;
    let mut child = std::process::Command::new(bin)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    use std::io::BufRead;
    let line = std::io::BufReader::new(stdout).lines().next()?.ok()?;
    let port = line.rsplit(':').next()?.trim().to_owned();
    Some((child, format!("esdb://127.0.0.1:{port}?tls=false")))
}

/// A test body that panics leaves no database behind: the guard drops it.
#[test]
fn a_test_that_panics_leaves_no_database_behind() {
    assert_dropped_after_panic(|tx| async move {
        let url = fresh_database_url();
        let _server = Server::start(&url, Store::Postgres);
        let name = url.rsplit('/').next().expect("name").to_owned();
        let made = infra::db::testing::database_exists(&name).await;
        assert!(made.expect("pg_database"), "the harness made {name}");
        tx.send(name.clone()).expect("send");
        panic!("deliberate panic: the harness must still drop {name}");
    });
}
