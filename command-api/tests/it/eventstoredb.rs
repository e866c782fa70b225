//! The same commands on EventStoreDB: same answers, codes and errors as on PostgreSQL,
//! with bookings made stream by stream (no multi-stream transaction there).

use std::sync::Arc;

use futures::future::join_all;
use serde_json::json;

use crate::harness::TestApp;

fn types(events: &[infra::RecordedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lifecycle_and_its_refusals_answer_the_same_on_eventstoredb() {
    let Some(app) = TestApp::esdb("lifecycle").await else {
        return;
    };
    let cand = app.candidate().await;
    let (i1, i2) = (app.interviewer().await, app.interviewer().await);
    let (id, version, position) = app
        .schedule(cand, &[i1, i2], "2033-03-01T10:00:00Z", 60)
        .await
        .expect_ok(201);
    assert_eq!(version, 1);
    assert!(position.parse::<infra::Position>().is_ok());
    for p in [cand, i1, i2] {
        assert_eq!(
            types(&app.stream(&format!("schedule-{p}")).await),
            ["SlotBooked"]
        );
    }
    let r = app
        .schedule(app.candidate().await, &[i1], "2033-03-01T10:30:00Z", 30)
        .await;
    r.expect_problem(409, "booking-conflict");
    assert_eq!(r.body["conflicts"][0]["interviewId"], id.to_string());

    app.post(
        &format!("/interviews/{id}/feedback"),
        json!({"interviewerId": i1, "rating": 3}),
    )
    .await
    .expect_problem(422, "rule-violated");
    let r = app
        .post_with(
            &format!("/interviews/{id}/start"),
            json!({}),
            &[("if-match", "\"7\"")],
        )
        .await;
    r.expect_problem(412, "version-conflict");
    assert_eq!(r.body["currentVersion"], 1);
    app.post(
        &format!("/interviews/{id}/reschedule"),
        json!({"startsAt": "2033-03-02T10:00:00Z"}),
    )
    .await
    .expect_ok(200);
    assert_eq!(
        types(&app.stream(&format!("schedule-{i2}")).await),
        ["SlotBooked", "SlotReleased", "SlotBooked"]
    );
    app.post(&format!("/interviews/{id}/start"), json!({}))
        .await
        .expect_ok(200);
    app.post(
        &format!("/interviews/{id}/transcript"),
        json!({"segments": [{"speakerId": cand, "startMs": 0, "endMs": 10, "text": "hi"}]}),
    )
    .await
    .expect_ok(200);
    app.post(&format!("/interviews/{id}/complete"), json!({}))
        .await
        .expect_ok(200);
    app.post(
        &format!("/interviews/{id}/feedback"),
        json!({"interviewerId": i1, "rating": 3}),
    )
    .await
    .expect_ok(200);
    let (_, v, _) = app
        .post(
            &format!("/interviews/{id}/decision"),
            json!({"outcome": "hold", "decidedBy": i1}),
        )
        .await
        .expect_ok(200);
    assert_eq!(v, 7);
    app.post(
        &format!("/interviews/{}/start", uuid::Uuid::new_v4()),
        json!({}),
    )
    .await
    .expect_problem(404, "not-found");

    let (second, ..) = app
        .schedule(cand, &[i1], "2033-03-05T10:00:00Z", 60)
        .await
        .expect_ok(201);
    app.post(
        &format!("/interviews/{second}/cancel"),
        json!({"reason": "filled"}),
    )
    .await
    .expect_ok(200);
    assert_eq!(
        types(&app.stream(&format!("schedule-{i1}")).await).last(),
        Some(&"SlotReleased")
    );

    let body = json!({"name": "Kay", "roles": ["candidate"]});
    let key = format!("esdb-{}", uuid::Uuid::new_v4());
    let first = app
        .post_with("/people", body.clone(), &[("idempotency-key", &key)])
        .await;
    let again = app
        .post_with("/people", body, &[("idempotency-key", &key)])
        .await;
    assert_eq!(again.body, first.body);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    app.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overlapping_bookings_on_eventstoredb_yield_exactly_one() {
    let Some(app) = TestApp::esdb("concurrent_bookings").await else {
        return;
    };
    let app = Arc::new(app);
    let interviewer = app.interviewer().await;
    let mut candidates = Vec::new();
    for _ in 0..20 {
        candidates.push(app.candidate().await);
    }
    let replies = join_all(candidates.iter().enumerate().map(|(i, c)| {
        let (app, c) = (app.clone(), *c);
        async move {
            app.schedule(c, &[interviewer], &format!("2033-04-01T10:{i:02}:00Z"), 60)
                .await
        }
    }))
    .await;
    let created: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    let conflicts = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        (created.len(), conflicts),
        (1, 19),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.body.clone()))
            .collect::<Vec<_>>()
    );
    // The interviewer holds exactly the winner's booking; every loser's candidate holds none.
    let schedule = app.stream(&format!("schedule-{interviewer}")).await;
    assert_eq!(types(&schedule), ["SlotBooked"]);
    let winner = created[0].body["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for c in &candidates {
        let s = app.stream(&format!("schedule-{c}")).await;
        let held = s.iter().filter(|e| e.event_type == "SlotBooked").count()
            - s.iter().filter(|e| e.event_type == "SlotReleased").count();
        let is_winner = s.iter().any(|e| e.data["interviewId"] == winner.as_str());
        assert_eq!(
            held,
            usize::from(is_winner),
            "candidate {c}: {:?}",
            types(&s)
        );
    }
    if let Ok(app) = Arc::try_unwrap(app) {
        app.drop_db().await;
    }
}

/// Tenants on EventStoreDB: another tenant's caller finds nothing of this one (404, no
/// event), the same id in two tenants is two streams, and a tenant's booking lives in its
/// own schedule streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenants_stay_apart_on_eventstoredb() {
    let Some(app) = TestApp::esdb("tenants").await else {
        return;
    };
    let acme = app.bearer("acme", &[infra::auth::Role::Admin], None);
    let as_acme = [("authorization", acme.as_str())];
    let cand = app.candidate().await;
    let panelist = app.interviewer().await;
    let (iv, ..) = app
        .schedule(cand, &[panelist], "2033-04-01T10:00:00Z", 60)
        .await
        .expect_ok(201);
    for (path, body) in [
        ("start", json!({})),
        ("cancel", json!({"reason": "x"})),
        ("reschedule", json!({"startsAt": "2033-04-02T10:00:00Z"})),
    ] {
        app.post_with(&format!("/interviews/{iv}/{path}"), body, &as_acme)
            .await
            .expect_problem(404, "not-found");
    }
    app.post_with(
        &format!("/people/{cand}/details"),
        json!({"name": "Stolen"}),
        &as_acme,
    )
    .await
    .expect_problem(404, "not-found");
    assert_eq!(
        types(&app.stream(&format!("interview-{iv}")).await),
        ["InterviewScheduled"]
    );
    // The same ids in acme are acme's own aggregates, booked in acme's streams.
    for (id, roles) in [(cand, "candidate"), (panelist, "interviewer")] {
        app.post_with(
            "/people",
            json!({"id": id, "name": "Twin", "roles": [roles]}),
            &as_acme,
        )
        .await
        .expect_ok(201);
    }
    let body = json!({
        "id": iv, "candidateId": cand, "interviewerIds": [panelist],
        "position": "Backend Engineer", "kind": "technical",
        "startsAt": "2033-04-01T10:00:00Z", "durationMinutes": 60,
    });
    app.post_with("/interviews", body, &as_acme)
        .await
        .expect_ok(201);
    assert_eq!(
        types(&app.stream(&format!("interview-acme.{iv}")).await),
        ["InterviewScheduled"]
    );
    for p in [cand, panelist] {
        assert_eq!(
            types(&app.stream(&format!("schedule-acme.{p}")).await),
            ["SlotBooked"]
        );
        assert_eq!(
            types(&app.stream(&format!("schedule-{p}")).await),
            ["SlotBooked"]
        );
    }
    app.drop_db().await;
}
