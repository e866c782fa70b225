//! Read-your-writes, the `projections` status and subscriptions.

use query_api::Viewer;
use std::time::{Duration, Instant};

use domain::Role;
use domain::interview::{InterviewCommand, InterviewKind};
use futures::StreamExt;
use query_api::notify::PROJECTION_CHANNEL;
use serde_json::json;

use crate::harness::{TestApp, code, spawn, spawn_with};
use crate::world::{Spec, t};

const NAME: &str = "query($id: UUID!) { person(id: $id) { name } }";

#[tokio::test]
async fn x_min_position_waits_for_the_projections_then_reads_the_write() {
    let mut app = spawn().await;
    // Generous: the event store's subscription may take up to its 5 s fallback to see
    // an event when another database's transaction held it back (infra's concern).
    app.set_consistency_timeout(15_000);
    let id = app.world.person("Fresh Face", &[Role::Candidate]).await;
    let position = app.world.last_position().expect("appended").to_string();
    let (status, body) = app
        .post(
            json!({ "query": NAME, "variables": { "id": id } }),
            &[("X-Min-Position", &position)],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["person"]["name"], "Fresh Face", "{body}");

    app.set_consistency_timeout(700);
    let started = Instant::now();
    let (status, body) = app
        .post(
            json!({ "query": NAME, "variables": { "id": id } }),
            &[("X-Min-Position", "999999999999-0")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(code(&body["errors"][0]), "CONSISTENCY_TIMEOUT", "{body}");
    assert!(
        started.elapsed() >= Duration::from_millis(650),
        "waited the configured 700 ms"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    let (status, body) = app
        .post(
            json!({ "query": NAME, "variables": { "id": id } }),
            &[("X-Min-Position", "tomorrow")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(code(&body["errors"][0]), "BAD_USER_INPUT", "{body}");
    app.stop().await;
}

/// Moves every checkpoint to `major-minor` and notifies, as the projector does.
async fn checkpoint_all(app: &TestApp, major: i64, state: &str) {
    sqlx::query(
        "UPDATE projection_checkpoints SET position_major = $1, position_minor = 0, state = $2",
    )
    .bind(major)
    .bind(state)
    .execute(&app.pool)
    .await
    .expect("update checkpoints");
    let payload =
        json!({ "name": "people", "position": format!("{major}-0"), "state": state }).to_string();
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(PROJECTION_CHANNEL)
        .bind(payload)
        .execute(&app.pool)
        .await
        .expect("notify");
}

#[tokio::test]
async fn a_waiting_query_wakes_on_the_projectors_notification_and_failed_projections_time_out() {
    let mut app = spawn_with(false).await;
    app.set_consistency_timeout(2000);
    let query = json!({ "query": "{ projections { name state position } }" });
    let waiting = {
        let (state, q, admin) = (app.state.clone(), query.clone(), app.admin.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let request = axum::http::Request::post("/graphql")
                .header("content-type", "application/json")
                .header("x-min-position", "50-0")
                .header("authorization", admin)
                .body(axum::body::Body::from(q.to_string()))
                .expect("request");
            let response = tower::ServiceExt::oneshot(query_api::router(state), request)
                .await
                .expect("answer");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (
                started.elapsed(),
                serde_json::from_slice::<serde_json::Value>(&body).expect("json"),
            )
        })
    };
    while app.ctx.notices().receiver_count() == 0 {
        tokio::task::yield_now().await;
    }
    checkpoint_all(&app, 49, "live").await;
    checkpoint_all(&app, 50, "live").await;
    let (elapsed, body) = waiting.await.expect("request task");
    assert!(body.get("errors").is_none(), "{body}");
    assert!(
        elapsed < Duration::from_millis(1500),
        "woken by NOTIFY, not by the timeout: {elapsed:?}"
    );
    assert_eq!(body["data"]["projections"][0]["position"], "50-0");
    assert_eq!(body["data"]["projections"][0]["state"], "LIVE");

    checkpoint_all(&app, 50, "failed").await;
    let (_, body) = app.post(query, &[("X-Min-Position", "51-0")]).await;
    assert_eq!(code(&body["errors"][0]), "CONSISTENCY_TIMEOUT", "{body}");
    app.stop().await;
}

#[tokio::test]
async fn projections_report_their_state_and_position() {
    let mut app = spawn().await;
    app.world.person("Someone", &[Role::Candidate]).await;
    app.settle().await;
    let data = app
        .data(
            "{ projections { name state position lagEvents lastError updatedAt } }",
            json!({}),
        )
        .await;
    let rows = data["projections"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["analytics", "interviews", "people", "schedules"]);
    let last = app.world.last_position().expect("appended");
    for row in &rows {
        assert!(
            ["LIVE", "CATCHING_UP"].contains(&row["state"].as_str().unwrap_or("")),
            "{row}"
        );
        let position: infra::Position = row["position"]
            .as_str()
            .unwrap_or("")
            .parse()
            .expect("position");
        assert!(position >= last, "{row}");
        assert!(
            row["lagEvents"].is_i64() && row["lastError"].is_null() && row["updatedAt"].is_string()
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn projections_list_the_streams_they_parked() {
    let mut app = spawn().await;
    app.world.person("Someone", &[Role::Candidate]).await;
    app.settle().await;
    // What the projector records when it parks a stream (projections' `parking` tests).
    sqlx::query(
        "INSERT INTO projection_parked (projection, stream_id, version, position_major,
             position_minor, event_type, reason, held, last_version)
         VALUES ('people', 'person-x', 2, 7, 8, 'PersonDetailsChanged',
                 'metadata: missing field `actor`', 3, 5)",
    )
    .execute(&app.pool)
    .await
    .expect("park");
    let data = app
        .data(
            "{ projections { name parkedCount parked { stream version position eventType reason held since } } }",
            json!({}),
        )
        .await;
    let rows = data["projections"].as_array().cloned().unwrap_or_default();
    for row in &rows {
        if row["name"] == "people" {
            assert_eq!(row["parkedCount"], 1, "{row}");
            let parked = &row["parked"][0];
            assert_eq!(parked["stream"], "person-x", "{row}");
            assert_eq!(parked["version"], 2);
            assert_eq!(parked["position"], "7-8");
            assert_eq!(parked["eventType"], "PersonDetailsChanged");
            assert_eq!(parked["reason"], "metadata: missing field `actor`");
            assert_eq!(parked["held"], 3);
            assert!(parked["since"].is_string(), "{row}");
        } else {
            assert_eq!(row["parkedCount"], 0, "{row}");
            assert_eq!(row["parked"], json!([]), "{row}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn subscriptions_follow_the_projectors_notifications() {
    let mut app = spawn().await;
    let w = &mut app.world;
    let cand = w.person("Sub Candidate", &[Role::Candidate]).await;
    let ivr = w.person("Sub Interviewer", &[Role::Interviewer]).await;
    let spec = |s| Spec {
        candidate: cand,
        panel: vec![ivr],
        position: "Ops",
        kind: InterviewKind::Technical,
        starts_at: s,
        minutes: 30,
    };
    let id = w.schedule(spec("2027-06-01T09:00:00Z")).await;
    let other = w.schedule(spec("2027-06-02T09:00:00Z")).await;
    app.settle().await;

    let sub = format!(
        "subscription {{ interviewChanged(id: \"{id}\") {{ id startsAt candidate {{ name }} }} }}"
    );
    let mut changes = app.schema().execute_stream(
        async_graphql::Request::new(sub)
            .data(app.ctx.loaders(&Viewer::default_tenant()))
            .data(app.caller.clone()),
    );
    let mut statuses = app.schema().execute_stream(
        async_graphql::Request::new("subscription { projectionStatus { name state position } }")
            .data(app.caller.clone()),
    );
    let (first_change, first_status) = (
        tokio::spawn(async move { changes.next().await }),
        tokio::spawn(async move { statuses.next().await }),
    );
    while app.ctx.notices().receiver_count() < 2 {
        tokio::task::yield_now().await;
    }
    let moved = InterviewCommand::Reschedule {
        starts_at: t("2027-06-01T13:00:00Z"),
        duration_minutes: None,
        reason: None,
    };
    app.world
        .act(
            other,
            InterviewCommand::Cancel {
                reason: "not this one".into(),
            },
        )
        .await;
    app.world.act(id, moved).await;

    let timeout = Duration::from_secs(10);
    let change = tokio::time::timeout(timeout, first_change)
        .await
        .expect("in time")
        .expect("task")
        .expect("item");
    let change = serde_json::to_value(&change).expect("json");
    assert_eq!(
        change["data"]["interviewChanged"]["id"],
        json!(id),
        "only the watched interview: {change}"
    );
    assert_eq!(
        change["data"]["interviewChanged"]["startsAt"],
        "2027-06-01T13:00:00Z"
    );
    assert_eq!(
        change["data"]["interviewChanged"]["candidate"]["name"],
        "Sub Candidate"
    );

    let status = tokio::time::timeout(timeout, first_status)
        .await
        .expect("in time")
        .expect("task")
        .expect("item");
    let status = serde_json::to_value(&status).expect("json");
    assert!(status.get("errors").is_none(), "{status}");
    assert!(
        status["data"]["projectionStatus"]["name"].is_string(),
        "{status}"
    );
    assert!(
        status["data"]["projectionStatus"]["position"].is_string(),
        "{status}"
    );
    app.stop().await;
}
