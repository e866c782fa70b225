//! Operating the system: restarts, crashes, rebuilds, history, seed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::harness::{Server, Store, command, drop_database, dump_read_models, fresh_database_url};

/// Waits until every projection is LIVE with zero lag (bounded).
async fn drained(s: &Server) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = s.graphql("{ projections { name state lagEvents position } }", json!({}), None).await;
        if let Some(ps) = last["data"]["projections"].as_array()
            && !ps.is_empty()
            && ps.iter().all(|p| p["state"] == "LIVE" && p["lagEvents"] == 0)
        {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("projections did not drain: {last}");
}

async fn some_history(s: &Server) -> (Uuid, String) {
    let (cand, _) = s.ok(s.post("/people", json!({"name": "C", "roles": ["candidate"]})).await);
    let (int, _) = s.ok(s.post("/people", json!({"name": "I", "roles": ["interviewer"]})).await);
    let (id, _) = s.ok(s.post("/interviews", json!({"candidateId": cand, "interviewerIds": [int], "position": "SRE", "kind": "onsite", "startsAt": "2031-05-05T10:00:00Z", "durationMinutes": 90})).await);
    s.ok(s.post(&format!("/interviews/{id}/start"), json!({})).await);
    let (_, pos) = s.ok(s.post(&format!("/interviews/{id}/complete"), json!({})).await);
    (id, pos)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_restart_give_the_same_answers() {
    let url = fresh_database_url();
    let mut server = Server::start(&url, Store::Postgres);
    let (id, pos) = some_history(&server).await;
    let q = r#"query($id: UUID!) { interview(id: $id) { status version history { type } } }"#;
    let before = server.graphql(q, json!({"id": id}), Some(&pos)).await;
    assert_eq!(before["data"]["interview"]["status"], "COMPLETED", "{before}");
    drained(&server).await;
    let dump = dump_read_models(&url).await;
    let status = server.terminate();
    assert!(status.success(), "a clean stop on SIGTERM: {status:?}");

    let server = Server::start(&url, Store::Postgres);
    let after = server.graphql(q, json!({"id": id}), Some(&pos)).await;
    assert_eq!(after, before);
    drained(&server).await;
    assert_eq!(dump_read_models(&url).await, dump, "nothing re-applied after a restart");
    drop(server);
    drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_stream_loses_no_acknowledged_command() {
    let url = fresh_database_url();
    let mut server = Server::start(&url, Store::Postgres);
    let acknowledged = Arc::new(Mutex::new(Vec::<Uuid>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (http, base) = (server.http.clone(), server.command_url.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let id = Uuid::new_v4();
                let r = http.post(format!("{base}/people")).json(&json!({"id": id, "name": "K", "roles": ["candidate"]})).send().await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => acknowledged.lock().await.push(id),
                    _ => break,
                }
            }
        }));
    }
    while acknowledged.lock().await.len() < 150 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }
    let acknowledged = acknowledged.lock().await.clone();

    let server = Server::start(&url, Store::Postgres);
    drained(&server).await;
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
    for id in &acknowledged {
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE stream_id = $1")
            .bind(format!("person-{id}"))
            .fetch_one(&mut c)
            .await
            .expect("count");
        assert_eq!(events, 1, "acknowledged person {id} is stored exactly once");
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM rm.people WHERE id = $1").bind(id).fetch_one(&mut c).await.expect("count");
        assert_eq!(rows, 1, "and projected exactly once");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&mut c).await.expect("count");
    let projected: i64 = sqlx::query_scalar("SELECT count(*) FROM rm.people").fetch_one(&mut c).await.expect("count");
    assert_eq!(stored, projected, "every stored registration projected once");
    drop(server);
    drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_every_projection_while_serving_gives_the_same_read_models() {
    let url = fresh_database_url();
    let server = Server::start(&url, Store::Postgres);
    let seeded = command(&url, &Store::Postgres)
        .args(["seed", "--people", "30", "--interviews", "80", "--concurrency", "4"])
        .output()
        .expect("seed");
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    some_history(&server).await;
    drained(&server).await;
    let before = dump_read_models(&url).await;
    assert!(before.iter().any(|(t, rows)| t == "interviews" && rows.len() >= 80));

    let rebuilt = command(&url, &Store::Postgres).args(["projections", "rebuild", "--all"]).output().expect("rebuild");
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    // The server kept answering during and after the swap.
    let after_status = drained(&server).await;
    assert!(after_status.get("errors").is_none());
    assert_eq!(dump_read_models(&url).await, before);

    let status = command(&url, &Store::Postgres).args(["projections", "status"]).output().expect("status");
    let text = String::from_utf8_lossy(&status.stdout);
    for name in ["people", "interviews", "schedules", "analytics"] {
        assert!(text.contains(name), "{text}");
    }
    drop(server);
    drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_prints_the_stream_in_order() {
    let url = fresh_database_url();
    let server = Server::start(&url, Store::Postgres);
    let (id, _) = some_history(&server).await;
    let out = command(&url, &Store::Postgres).args(["history", "interview", &id.to_string()]).output().expect("history");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let types: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert_eq!(types, ["InterviewScheduled", "InterviewStarted", "InterviewCompleted"], "{text}");
    assert!(text.lines().next().is_some_and(|l| l.trim_start().starts_with('1')), "{text}");

    let out = command(&url, &Store::Postgres).args(["history", "interview", &id.to_string(), "--json"]).output().expect("history");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.iter().map(|l| l["version"].as_u64().unwrap_or(0)).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(lines[0]["actor"], "anonymous");

    let missing = command(&url, &Store::Postgres).args(["history", "interview", &Uuid::new_v4().to_string()]).output().expect("history");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("error: "));
    drop(server);
    drop_database(&url).await;
}

#[test]
fn bad_configuration_is_a_one_line_error() {
    let out = command("mysql://nope", &Store::Postgres).args(["history", "interview", &Uuid::new_v4().to_string()]).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let out = command("postgres://postgres@127.0.0.1:5432/postgres", &Store::Esdb("http://nope".into()))
        .args(["history", "interview", &Uuid::new_v4().to_string()])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("EVENTSTORE_URL"));

    let out = command("postgres://postgres@127.0.0.1:5432/postgres", &Store::Postgres).args(["serve", "--command-api-addr", "not-an-addr"]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("COMMAND_API_ADDR"));
    let help = std::process::Command::new(crate::harness::BIN).args(["projections", "rebuild", "--help"]).output().expect("help");
    assert!(String::from_utf8_lossy(&help.stdout).contains("--all"));
}
