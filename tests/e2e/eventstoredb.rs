//! EventStoreDB-specific behaviour of the whole system: crash recovery of bookings made
//! without a multi-stream transaction, retries after lost answers, and a paused server.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use infra::EventStore;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Server, Store, drop_database, fresh_database_url, private_fake};

async fn esdb_store(url: &str) -> infra::AnyEventStore {
    let store =
        infra::esdb::EsdbEventStore::connect(url, Arc::new(infra::upcast::Upcasters::standard()))
            .await
            .expect("connect to EventStoreDB");
    infra::AnyEventStore::Esdb(Arc::new(store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_booking_and_the_interview_leaves_no_booking_behind() {
    let Some(store) = Store::esdb("crash_between_booking_steps") else {
        return;
    };
    let Store::Esdb(esdb_url) = store.clone() else {
        return;
    };
    let esdb_url = esdb_url.as_str();
    let url = fresh_database_url();
    let mut server = Server::start_with(
        &url,
        store.clone(),
        &[("INTERVIEW_LEDGER_FAILPOINT", "after-bookings")],
    );
    let (cand, _) = server.ok(server
        .post("/people", json!({"name": "C", "roles": ["candidate"]}))
        .await);
    let (int, _) = server.ok(server
        .post("/people", json!({"name": "I", "roles": ["interviewer"]}))
        .await);
    let interview = Uuid::new_v4();
    let body = json!({"id": interview, "candidateId": cand, "interviewerIds": [int], "position": "P", "kind": "technical", "startsAt": "2032-01-05T10:00:00Z", "durationMinutes": 30});
    let lost = server
        .http
        .post(format!("{}/interviews", server.command_url))
        .json(&body)
        .send()
        .await;
    assert!(
        lost.is_err(),
        "the process died between the steps: {lost:?}"
    );
    let _ = server.child.wait();

    let events = esdb_store(esdb_url).await;
    let booked = events
        .read_stream(&format!("schedule-{int}"), 1)
        .await
        .expect("read");
    assert_eq!(
        booked
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["SlotBooked"],
        "the crash left a booking"
    );

    let server = Server::start_with(&url, store, &[("BOOKING_RECOVERY_GRACE_MS", "0")]);
    let mut types = Vec::new();
    for _ in 0..100 {
        types = events
            .read_stream(&format!("schedule-{int}"), 1)
            .await
            .expect("read")
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        if types.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        types,
        ["SlotBooked", "SlotReleased"],
        "recovery released the orphaned booking"
    );
    for p in [cand, int] {
        let s = events
            .read_stream(&format!("schedule-{p}"), 1)
            .await
            .expect("read");
        assert_eq!(
            s.last().map(|e| e.event_type.as_str()),
            Some("SlotReleased")
        );
    }
    assert!(
        events
            .read_stream(&format!("interview-{interview}"), 1)
            .await
            .expect("read")
            .is_empty()
    );
    // And the slot can be booked again.
    server.ok(server.post("/interviews", body).await);
    drop(server);
    drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_retried_after_a_lost_answer_appends_nothing() {
    let Some(store) = Store::esdb("retry_after_lost_answer") else {
        return;
    };
    let Store::Esdb(esdb_url) = store.clone() else {
        return;
    };
    let esdb_url = esdb_url.as_str();
    let url = fresh_database_url();
    let server = Server::start(&url, store.clone());
    let id = Uuid::new_v4();
    let body = json!({"id": id, "name": "Retry", "roles": ["candidate"]});
    let send = || {
        server
            .http
            .post(format!("{}/people", server.command_url))
            .header("idempotency-key", "lost-answer")
            .json(&body)
            .send()
    };
    let first: serde_json::Value = send().await.expect("first").json().await.expect("json");
    // The answer is lost: the stored idempotent answer is gone too (worst case).
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::query("DELETE FROM idempotency_keys")
        .execute(&mut c)
        .await
        .expect("delete");
    let again = send().await.expect("retry");
    assert_eq!(again.status().as_u16(), 201);
    let again: serde_json::Value = again.json().await.expect("json");
    assert_eq!(again, first);
    let events = esdb_store(esdb_url)
        .await
        .read_stream(&format!("person-{id}"), 1)
        .await
        .expect("read");
    assert_eq!(events.len(), 1, "appended once");
    drop(server);
    drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_event_store_gives_503_and_everything_resumes() {
    if Store::esdb("paused_event_store").is_none() {
        return;
    }
    let Some((mut fake, esdb_url)) = private_fake() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ESDB_FAKE_BIN must be set in CI"
        );
        eprintln!("paused_event_store: skipped: ESDB_FAKE_BIN not set");
        return;
    };
    let url = fresh_database_url();
    let server = Server::start(&url, Store::Esdb(esdb_url));
    let (cand, _) = server.ok(server
        .post("/people", json!({"name": "C", "roles": ["candidate"]}))
        .await);
    let pid = fake.id().to_string();
    let _ = Command::new("kill").args(["-STOP", &pid]).status();

    let started = std::time::Instant::now();
    let (status, problem) = server
        .post("/people", json!({"name": "D", "roles": ["candidate"]}))
        .await;
    assert_eq!(status, 503, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap_or_default()
            .ends_with("unavailable")
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "bounded: {:?}",
        started.elapsed()
    );
    let ready = server
        .http
        .get(format!("{}/health/ready", server.command_url))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status().as_u16(), 503);

    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    let mut resumed = false;
    for _ in 0..100 {
        let (status, _) = server
            .post(&format!("/people/{cand}/details"), json!({"name": "C2"}))
            .await;
        if status == 200 {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "commands work again without a restart");
    let ready = server
        .http
        .get(format!("{}/health/ready", server.command_url))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status().as_u16(), 200);
    drop(server);
    let _ = fake.kill();
    drop_database(&url).await;
}
