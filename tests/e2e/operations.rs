//! Operating the system: restarts, crashes, rebuilds, history, seed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::harness::{Server, Store, command, drop_database, dump_read_models, fresh_database_url};

/// Waits until every projection passed `position` (read-your-writes) and reports LIVE
/// with zero lag (the lag figure is refreshed periodically, so poll it, bounded).
async fn drained(s: &Server, position: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = s
            .graphql(
                "{ projections { name state lagEvents position } }",
                json!({}),
                Some(position),
            )
            .await;
        if let Some(ps) = last["data"]["projections"].as_array()
            && !ps.is_empty()
            && ps
                .iter()
                .all(|p| p["state"] == "LIVE" && p["lagEvents"] == 0)
        {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("projections did not drain: {last}");
}

async fn some_history(s: &Server) -> (Uuid, String) {
    let (cand, _) = s.ok(s
        .post("/people", json!({"name": "C", "roles": ["candidate"]}))
        .await);
    let (int, _) = s.ok(s
        .post("/people", json!({"name": "I", "roles": ["interviewer"]}))
        .await);
    let (id, _) = s.ok(s.post("/interviews", json!({"candidateId": cand, "interviewerIds": [int], "position": "SRE", "kind": "onsite", "startsAt": "2031-05-05T10:00:00Z", "durationMinutes": 90})).await);
    s.ok(s.post(&format!("/interviews/{id}/start"), json!({})).await);
    let (_, pos) = s.ok(s
        .post(&format!("/interviews/{id}/complete"), json!({}))
        .await);
    (id, pos)
}

/// Runs an operations scenario on PostgreSQL and, when configured, on a private
/// EventStoreDB (its `$all` must hold only this test's events for table comparisons).
macro_rules! on_both_stores {
    ($scenario:ident) => {
        mod $scenario {
            use crate::harness::{Store, private_fake};

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$scenario(Store::Postgres).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn eventstoredb() {
                if Store::esdb(stringify!($scenario)).is_none() {
                    return;
                }
                let Some((mut fake, url)) = private_fake() else {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "ESDB_FAKE_BIN must be set in CI"
                    );
                    eprintln!(
                        "{}: skipped on eventstoredb: ESDB_FAKE_BIN not set",
                        stringify!($scenario)
                    );
                    return;
                };
                super::$scenario(Store::Esdb(url)).await;
                let _ = fake.kill();
                let _ = fake.wait();
            }
        }
    };
}

/// The events of one stream, from whichever store the test runs on.
async fn stream_events(store: &Store, database_url: &str, stream: &str) -> usize {
    match store {
        Store::Postgres => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(database_url)
                .await
                .expect("connect");
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE stream_id = $1")
                .bind(stream)
                .fetch_one(&mut c)
                .await
                .expect("count");
            n as usize
        }
        Store::Esdb(url) => {
            use infra::EventStore;
            let esdb = infra::esdb::EsdbEventStore::connect(
                url,
                std::sync::Arc::new(infra::upcast::Upcasters::standard()),
            )
            .await
            .expect("esdb");
            esdb.read_stream(stream, 1).await.expect("read").len()
        }
    }
}

on_both_stores!(sigterm_and_restart_give_the_same_answers);
async fn sigterm_and_restart_give_the_same_answers(store: Store) {
    let url = fresh_database_url();
    let mut server = Server::start(&url, store.clone());
    let (id, pos) = some_history(&server).await;
    let q = r#"query($id: UUID!) { interview(id: $id) { status version history { type } } }"#;
    let before = server.graphql(q, json!({"id": id}), Some(&pos)).await;
    assert_eq!(
        before["data"]["interview"]["status"], "COMPLETED",
        "{before}"
    );
    drained(&server, &pos).await;
    let dump = dump_read_models(&url).await;
    let status = server.terminate();
    assert!(status.success(), "a clean stop on SIGTERM: {status:?}");

    let server = Server::start(&url, store);
    let after = server.graphql(q, json!({"id": id}), Some(&pos)).await;
    assert_eq!(after, before);
    drained(&server, &pos).await;
    assert_eq!(
        dump_read_models(&url).await,
        dump,
        "nothing re-applied after a restart"
    );
    drop(server);
    drop_database(&url).await;
}

on_both_stores!(sigkill_mid_stream_loses_no_acknowledged_command);
async fn sigkill_mid_stream_loses_no_acknowledged_command(store: Store) {
    let url = fresh_database_url();
    let mut server = Server::start(&url, store.clone());
    let acknowledged = Arc::new(Mutex::new(Vec::<(Uuid, infra::Position)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (http, base) = (server.http.clone(), server.command_url.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let id = Uuid::new_v4();
                let r = http
                    .post(format!("{base}/people"))
                    .json(&json!({"id": id, "name": "K", "roles": ["candidate"]}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        let Some(position) = body["position"].as_str().and_then(|p| p.parse().ok())
                        else {
                            break;
                        };
                        acknowledged.lock().await.push((id, position));
                    }
                    _ => break,
                }
            }
        }));
    }
    // Bounded: if the writers stop early (the server failed), say so instead of hanging.
    for _ in 0..3000 {
        if acknowledged.lock().await.len() >= 150 || writers.iter().all(|w| w.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        acknowledged.lock().await.len() >= 150,
        "the writers stopped after {} commands",
        acknowledged.lock().await.len()
    );
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }
    let acknowledged = acknowledged.lock().await.clone();

    let last = acknowledged
        .iter()
        .map(|(_, p)| *p)
        .max()
        .expect("some acknowledged")
        .to_string();
    let server = Server::start(&url, store.clone());
    drained(&server, &last).await;
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
    for (id, _) in &acknowledged {
        let events = stream_events(&store, &url, &format!("person-{id}")).await;
        assert_eq!(events, 1, "acknowledged person {id} is stored exactly once");
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM rm.people WHERE id = $1")
            .bind(id)
            .fetch_one(&mut c)
            .await
            .expect("count");
        assert_eq!(rows, 1, "and projected exactly once");
    }
    let projected: i64 = sqlx::query_scalar("SELECT count(*) FROM rm.people")
        .fetch_one(&mut c)
        .await
        .expect("count");
    assert!(projected as usize >= acknowledged.len());
    let checkpoints: Vec<(i64,)> =
        sqlx::query_as("SELECT events_applied FROM projection_checkpoints WHERE name = 'people'")
            .fetch_all(&mut c)
            .await
            .expect("checkpoint");
    assert_eq!(checkpoints.len(), 1);
    drop(server);
    drop_database(&url).await;
}

on_both_stores!(rebuilding_every_projection_while_serving_gives_the_same_read_models);
async fn rebuilding_every_projection_while_serving_gives_the_same_read_models(store: Store) {
    let url = fresh_database_url();
    let server = Server::start(&url, store.clone());
    let seeded = command(&url, &store)
        .args([
            "seed",
            "--people",
            "30",
            "--interviews",
            "80",
            "--concurrency",
            "4",
        ])
        .output()
        .expect("seed");
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let (_, pos) = some_history(&server).await;
    drained(&server, &pos).await;
    let before = dump_read_models(&url).await;
    assert!(
        before
            .iter()
            .any(|(t, rows)| t == "interviews" && rows.len() >= 80)
    );

    let rebuilt = command(&url, &store)
        .args(["projections", "rebuild", "--all"])
        .output()
        .expect("rebuild");
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    // The server kept answering during and after the swap.
    let after_status = drained(&server, &pos).await;
    assert!(after_status.get("errors").is_none());
    assert_eq!(dump_read_models(&url).await, before);

    let status = command(&url, &store)
        .args(["projections", "status"])
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&status.stdout);
    for name in ["people", "interviews", "schedules", "analytics"] {
        assert!(text.contains(name), "{text}");
    }
    drop(server);
    drop_database(&url).await;
}

on_both_stores!(history_prints_the_stream_in_order);
async fn history_prints_the_stream_in_order(store: Store) {
    let url = fresh_database_url();
    let server = Server::start(&url, store.clone());
    let (id, _) = some_history(&server).await;
    let out = command(&url, &store)
        .args(["history", "interview", &id.to_string()])
        .output()
        .expect("history");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let types: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        types,
        [
            "InterviewScheduled",
            "InterviewStarted",
            "InterviewCompleted"
        ],
        "{text}"
    );
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.trim_start().starts_with('1')),
        "{text}"
    );

    let out = command(&url, &store)
        .args(["history", "interview", &id.to_string(), "--json"])
        .output()
        .expect("history");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["version"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(lines[0]["actor"], "cli", "the token's subject");

    let missing = command(&url, &store)
        .args(["history", "interview", &Uuid::new_v4().to_string()])
        .output()
        .expect("history");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("error: "));
    drop(server);
    drop_database(&url).await;
}

#[test]
fn bad_configuration_is_a_one_line_error() {
    let out = command("mysql://nope", &Store::Postgres)
        .args(["history", "interview", &Uuid::new_v4().to_string()])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let out = command(
        "postgres://postgres@127.0.0.1:5432/postgres",
        &Store::Esdb("http://nope".into()),
    )
    .args(["history", "interview", &Uuid::new_v4().to_string()])
    .output()
    .expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("EVENTSTORE_URL"));

    let out = command(
        "postgres://postgres@127.0.0.1:5432/postgres",
        &Store::Postgres,
    )
    .args(["serve", "--command-api-addr", "not-an-addr"])
    .output()
    .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("COMMAND_API_ADDR"));
    let help = std::process::Command::new(crate::harness::BIN)
        .args(["projections", "rebuild", "--help"])
        .output()
        .expect("help");
    assert!(String::from_utf8_lossy(&help.stdout).contains("--all"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_when_an_endpoint_is_set() {
    use std::io::{Read, Write};
    let collector = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", collector.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for conn in collector.incoming().flatten().take(5) {
            let mut conn = conn;
            let mut buf = vec![0u8; 64 * 1024];
            let n = conn.read(&mut buf).unwrap_or(0);
            let _ = tx.send(
                String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            );
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let url = fresh_database_url();
    let mut server = Server::start_with(
        &url,
        Store::Postgres,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("RUST_LOG", "info"),
        ],
    );
    server.ok(server
        .post("/people", json!({"name": "Traced", "roles": ["candidate"]}))
        .await);
    assert!(server.terminate().success());
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the collector received spans");
    assert!(first.starts_with("POST /v1/traces"), "{first}");
    drop_database(&url).await;
}
