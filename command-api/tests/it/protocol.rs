use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use infra::auth::Role;

use crate::harness::TestApp;

#[tokio::test]
async fn malformed_bodies_wrong_types_and_huge_bodies_are_problems() {
    let app = TestApp::new().await;
    let r = app
        .request(
            Request::post("/people")
                .header("content-type", "application/json")
                .body(Body::from("{\"name\": "))
                .expect("req"),
        )
        .await;
    r.expect_problem(400, "malformed-request");
    let r = app
        .request(
            Request::post("/people")
                .header("content-type", "application/json")
                .body(Body::from("[1,2]"))
                .expect("req"),
        )
        .await;
    r.expect_problem(400, "malformed-request");
    let r = app
        .request(
            Request::post("/people")
                .header("content-type", "text/plain")
                .body(Body::from("{}"))
                .expect("req"),
        )
        .await;
    r.expect_problem(415, "unsupported-media-type");
    let big = format!(
        "{{\"name\": \"{}\", \"roles\": [\"candidate\"]}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let r = app
        .request(
            Request::post("/people")
                .header("content-type", "application/json")
                .body(Body::from(big))
                .expect("req"),
        )
        .await;
    r.expect_problem(413, "payload-too-large");
    let r = app.post("/nowhere", json!({})).await;
    r.expect_problem(404, "not-found");
    assert!(app.all_events().await.is_empty());
    app.drop_db().await;
}

#[tokio::test]
async fn the_verified_caller_and_the_correlation_header_reach_the_event_metadata() {
    let app = TestApp::new().await;
    let correlation = uuid::Uuid::new_v4().to_string();
    let recruiter = uuid::Uuid::new_v4();
    let token = app.bearer("default", &[Role::Recruiter], Some(recruiter));
    let r = app
        .post_with(
            "/people",
            json!({"name": "A", "roles": ["candidate"]}),
            &[
                // Self-declared actors are not believed: the token says who it is.
                ("x-actor", "somebody-else"),
                ("x-correlation-id", &correlation),
                ("authorization", &token),
            ],
        )
        .await;
    let (id, ..) = r.expect_ok(201);
    assert_eq!(
        r.headers
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok()),
        Some(correlation.as_str())
    );
    let events = app.stream(&format!("person-{id}")).await;
    let metadata = &events[0].metadata;
    assert_eq!(metadata.actor, "test-recruiter");
    assert_eq!(metadata.actor_name.as_deref(), Some("Test Caller"));
    assert_eq!(metadata.actor_person, Some(recruiter));
    assert_eq!(metadata.tenant.as_deref(), Some("default"));
    assert_eq!(metadata.on_behalf_of, None);
    assert_eq!(
        events[0].metadata.correlation_id.map(|c| c.to_string()),
        Some(correlation)
    );
    assert!(events[0].metadata.causation_id.is_some());

    let r = app
        .post("/people", json!({"name": "B", "roles": ["candidate"]}))
        .await;
    let (id, ..) = r.expect_ok(201);
    assert!(
        r.headers.get("x-correlation-id").is_some(),
        "a new correlation id is echoed"
    );
    assert_eq!(
        app.stream(&format!("person-{id}")).await[0].metadata.actor,
        "test-admin"
    );

    app.post_with(
        "/people",
        json!({"name": "C", "roles": ["candidate"]}),
        &[("x-correlation-id", "nope")],
    )
    .await
    .expect_problem(400, "malformed-request");
    app.post_with(
        "/people",
        json!({"name": "C", "roles": ["candidate"]}),
        &[("if-match", "three")],
    )
    .await
    .expect_problem(400, "malformed-request");
    app.drop_db().await;
}

#[tokio::test]
async fn health_metrics_and_openapi_are_served() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/health/live").await.status, 200);
    assert_eq!(app.get("/health/ready").await.status, 200);
    app.candidate().await;
    let metrics = app.get("/metrics").await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains("command_api_requests_total{route=\"/people\",status=\"201\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("command_api_request_duration_seconds_bucket"),
        "{text}"
    );
    // The registration took its new stream to be empty and remembered it.
    assert!(
        text.contains("command_api_stream_loads_total{source=\"assumed_new\"} 1"),
        "{text}"
    );
    assert!(text.contains("command_api_streams_remembered 1"), "{text}");
    let doc = app.get("/openapi.json").await;
    for path in [
        "/people",
        "/people/{id}/availability",
        "/interviews",
        "/interviews/{id}/decision",
        "/interviews/{id}/no-show",
    ] {
        assert!(
            doc.body["paths"][path]["post"].is_object(),
            "{path} in the OpenAPI document"
        );
    }
    app.drop_db().await;
}

/// U+0000 cannot be stored (PostgreSQL text and jsonb refuse it): any field holding it,
/// at any depth, is a 422 naming the field, never a 500, and appends nothing.
#[tokio::test]
async fn a_nul_character_in_any_field_is_a_422_naming_it() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/people",
            json!({"name": "a\u{0}b", "roles": ["candidate"]}),
        )
        .await;
    r.expect_problem(422, "validation-failed");
    assert_eq!(r.body["errors"][0]["field"], "name");
    let candidate = app.candidate().await;
    let panelist = app.interviewer().await;
    let r = app
        .post(
            "/interviews",
            json!({
                "candidateId": candidate, "interviewerIds": [panelist],
                "position": "Backend\u{0}", "kind": "technical",
                "startsAt": "2031-02-03T10:00:00Z", "durationMinutes": 45,
            }),
        )
        .await;
    r.expect_problem(422, "validation-failed");
    assert_eq!(r.body["errors"][0]["field"], "position");
    let r = app
        .post(
            &format!("/people/{candidate}/details"),
            json!({"timezone": "Europe/\u{0}"}),
        )
        .await;
    r.expect_problem(422, "validation-failed");
    let (iv, ..) = app
        .schedule(candidate, &[panelist], "2031-02-04T10:00:00Z", 30)
        .await
        .expect_ok(201);
    app.post(&format!("/interviews/{iv}/start"), json!({}))
        .await
        .expect_ok(200);
    let r = app
        .post(
            &format!("/interviews/{iv}/transcript"),
            json!({"segments": [{"speakerId": candidate, "startMs": 0, "endMs": 5, "text": "x\u{0}"}]}),
        )
        .await;
    r.expect_problem(422, "validation-failed");
    assert_eq!(r.body["errors"][0]["field"], "segments[0].text");
    // Only what succeeded is in the log: two people, the interview with its two
    // bookings, its start.
    assert_eq!(app.all_events().await.len(), 2 + 3 + 1);
    app.drop_db().await;
}
