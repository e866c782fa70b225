use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn an_interview_goes_through_its_whole_lifecycle() {
    let app = TestApp::new().await;
    let cand = app.candidate().await;
    let (i1, i2) = (app.interviewer().await, app.interviewer().await);
    let r = app
        .schedule(cand, &[i1, i2], "2027-03-01T10:00:00Z", 60)
        .await;
    let (id, version, _) = r.expect_ok(201);
    assert_eq!(version, 1);
    for p in [cand, i1, i2] {
        let s = app.stream(&format!("schedule-{p}")).await;
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].event_type, "SlotBooked");
        assert_eq!(s[0].data["interviewId"], id.to_string());
    }

    let r = app
        .post(
            &format!("/interviews/{id}/reschedule"),
            json!({"startsAt": "2027-03-02T14:00:00Z", "reason": "panel away"}),
        )
        .await;
    assert_eq!(r.expect_ok(200).1, 2);
    let s = app.stream(&format!("schedule-{i1}")).await;
    let types: Vec<&str> = s.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["SlotBooked", "SlotReleased", "SlotBooked"]);
    assert_eq!(s[2].data["start"], "2027-03-02T14:00:00Z");

    app.post(&format!("/interviews/{id}/start"), json!({}))
        .await
        .expect_ok(200);
    let r = app
        .post(&format!("/interviews/{id}/transcript"), json!({"segments": [{"speakerId": cand, "startMs": 0, "endMs": 1500, "text": "Hello"}, {"speakerId": i1, "startMs": 1500, "endMs": 4000, "text": "Welcome"}]}))
        .await;
    assert_eq!(r.expect_ok(200).1, 4);
    app.post(&format!("/interviews/{id}/complete"), json!({}))
        .await
        .expect_ok(200);
    let r = app
        .post(&format!("/interviews/{id}/feedback"), json!({"interviewerId": i1, "rating": 3, "competencies": [{"name": "design", "score": 4}], "notes": "solid"}))
        .await;
    r.expect_ok(200);
    app.post(
        &format!("/interviews/{id}/feedback"),
        json!({"interviewerId": i1, "rating": 2}),
    )
    .await
    .expect_problem(422, "rule-violated");
    let r = app
        .post(
            &format!("/interviews/{id}/decision"),
            json!({"outcome": "advance", "decidedBy": i2, "reason": "strong"}),
        )
        .await;
    assert_eq!(r.expect_ok(200).1, 7);
    app.post(
        &format!("/interviews/{id}/decision"),
        json!({"outcome": "hire", "decidedBy": i2}),
    )
    .await
    .expect_problem(422, "rule-violated");
    let types: Vec<String> = app.event_types(&format!("interview-{id}")).await;
    assert_eq!(
        types,
        [
            "InterviewScheduled",
            "InterviewRescheduled",
            "InterviewStarted",
            "TranscriptSegmentsRecorded",
            "InterviewCompleted",
            "FeedbackSubmitted",
            "DecisionMade"
        ]
    );
    let completed = &app.stream(&format!("interview-{id}")).await[4];
    assert!(
        completed.data["durationSeconds"]
            .as_i64()
            .is_some_and(|d| d >= 0)
    );
    app.drop_db().await;
}

#[tokio::test]
async fn lifecycle_rules_are_enforced_without_appending() {
    let app = TestApp::new().await;
    let cand = app.candidate().await;
    let i1 = app.interviewer().await;
    let (id, ..) = app
        .schedule(cand, &[i1], "2027-03-01T10:00:00Z", 45)
        .await
        .expect_ok(201);
    let before = app.all_events().await.len();
    app.post(
        &format!("/interviews/{id}/feedback"),
        json!({"interviewerId": i1, "rating": 3}),
    )
    .await
    .expect_problem(422, "rule-violated");
    app.post(&format!("/interviews/{id}/complete"), json!({}))
        .await
        .expect_problem(422, "rule-violated");
    app.post(
        &format!("/interviews/{id}/transcript"),
        json!({"segments": [{"speakerId": cand, "startMs": 0, "endMs": 1, "text": "x"}]}),
    )
    .await
    .expect_problem(422, "rule-violated");
    app.post(
        &format!("/interviews/{id}/decision"),
        json!({"outcome": "hire", "decidedBy": i1}),
    )
    .await
    .expect_problem(422, "rule-violated");
    app.post(
        &format!("/interviews/{id}/decision"),
        json!({"outcome": "maybe", "decidedBy": i1}),
    )
    .await
    .expect_problem(422, "validation-failed");
    app.post(&format!("/interviews/{id}/start"), json!({}))
        .await
        .expect_ok(200);
    app.post(
        &format!("/interviews/{id}/reschedule"),
        json!({"startsAt": "2027-03-05T10:00:00Z"}),
    )
    .await
    .expect_problem(422, "rule-violated");
    app.post(
        &format!("/interviews/{id}/cancel"),
        json!({"reason": "late"}),
    )
    .await
    .expect_problem(422, "rule-violated");
    app.post(&format!("/interviews/{id}/no-show"), json!({}))
        .await
        .expect_problem(422, "rule-violated");
    let stranger = uuid::Uuid::new_v4();
    app.post(
        &format!("/interviews/{id}/transcript"),
        json!({"segments": [{"speakerId": stranger, "startMs": 0, "endMs": 1, "text": "x"}]}),
    )
    .await
    .expect_problem(422, "rule-violated");
    app.post(
        &format!("/interviews/{id}/transcript"),
        json!({"segments": [{"speakerId": cand, "startMs": 5, "endMs": 5, "text": "x"}]}),
    )
    .await
    .expect_problem(422, "validation-failed");
    app.post(
        &format!("/interviews/{id}/transcript"),
        json!({"segments": []}),
    )
    .await
    .expect_problem(422, "validation-failed");
    assert_eq!(
        app.all_events().await.len(),
        before + 1,
        "only the start was appended"
    );
    let missing = uuid::Uuid::new_v4();
    app.post(&format!("/interviews/{missing}/start"), json!({}))
        .await
        .expect_problem(404, "not-found");
    app.post(
        &format!("/interviews/{missing}/cancel"),
        json!({"reason": "x"}),
    )
    .await
    .expect_problem(404, "not-found");
    app.drop_db().await;
}

#[tokio::test]
async fn scheduling_validates_participants() {
    let app = TestApp::new().await;
    let cand = app.candidate().await;
    let i1 = app.interviewer().await;
    let nobody = uuid::Uuid::new_v4();
    let before = app.all_events().await.len();
    // Roles: an interviewer as candidate, a candidate on the panel, unknown people.
    app.schedule(i1, &[i1], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_problem(422, "validation-failed");
    app.schedule(cand, &[cand], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_problem(422, "validation-failed");
    app.schedule(cand, &[nobody], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_problem(422, "validation-failed");
    app.schedule(cand, &[], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_problem(422, "validation-failed");
    app.schedule(cand, &[i1, i1], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_problem(422, "validation-failed");
    app.schedule(cand, &[i1], "2027-03-01T10:00:00Z", 4)
        .await
        .expect_problem(422, "validation-failed");
    app.schedule(cand, &[i1], "2027-03-01T10:00:00Z", 481)
        .await
        .expect_problem(422, "validation-failed");
    let r = app
        .post("/interviews", json!({"candidateId": cand, "interviewerIds": [i1], "position": "X", "kind": "chat", "startsAt": "2027-03-01T10:00:00Z", "durationMinutes": 30}))
        .await;
    r.expect_problem(422, "validation-failed");
    assert_eq!(r.body["errors"][0]["field"], "kind");
    assert_eq!(app.all_events().await.len(), before);

    let id = uuid::Uuid::new_v4();
    let body = json!({"id": id, "candidateId": cand, "interviewerIds": [i1], "position": "X", "kind": "onsite", "startsAt": "2027-03-01T10:00:00Z", "durationMinutes": 30});
    app.post("/interviews", body.clone()).await.expect_ok(201);
    app.post("/interviews", body)
        .await
        .expect_problem(409, "already-exists");
    app.drop_db().await;
}

#[tokio::test]
async fn overlapping_bookings_and_missing_availability_are_booking_conflicts() {
    let app = TestApp::new().await;
    let (c1, c2) = (app.candidate().await, app.candidate().await);
    let i1 = app.interviewer().await;
    let (first, ..) = app
        .schedule(c1, &[i1], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_ok(201);
    let before = app.all_events().await.len();
    let r = app.schedule(c2, &[i1], "2027-03-01T10:30:00Z", 60).await;
    r.expect_problem(409, "booking-conflict");
    let conflicts = r.body["conflicts"].as_array().expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0]["personId"], i1.to_string());
    assert_eq!(conflicts[0]["interviewId"], first.to_string());
    assert_eq!(conflicts[0]["start"], "2027-03-01T10:00:00Z");
    assert_eq!(conflicts[0]["end"], "2027-03-01T11:00:00Z");
    assert_eq!(
        app.all_events().await.len(),
        before,
        "no booking left behind"
    );

    // Back to back is fine (half-open intervals).
    app.schedule(c2, &[i1], "2027-03-01T11:00:00Z", 30)
        .await
        .expect_ok(201);

    // A person with declared availability must have one window covering the interval.
    let i2 = app.interviewer().await;
    app.post(
        &format!("/people/{i2}/availability"),
        json!({"add": [{"start": "2027-03-02T09:00:00Z", "end": "2027-03-02T12:00:00Z"}]}),
    )
    .await
    .expect_ok(200);
    let before = app.all_events().await.len();
    let r = app.schedule(c1, &[i2], "2027-03-02T11:30:00Z", 60).await;
    r.expect_problem(409, "booking-conflict");
    assert_eq!(r.body["conflicts"][0]["personId"], i2.to_string());
    assert!(
        r.body["conflicts"][0].get("interviewId").is_none(),
        "{}",
        r.body
    );
    assert_eq!(r.body["conflicts"][0]["start"], "2027-03-02T11:30:00Z");
    assert_eq!(app.all_events().await.len(), before);
    app.schedule(c1, &[i2], "2027-03-02T11:00:00Z", 60)
        .await
        .expect_ok(201);
    app.drop_db().await;
}

#[tokio::test]
async fn cancelling_and_no_show_release_every_booking() {
    let app = TestApp::new().await;
    let cand = app.candidate().await;
    let i1 = app.interviewer().await;
    let (a, ..) = app
        .schedule(cand, &[i1], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_ok(201);
    app.post(&format!("/interviews/{a}/cancel"), json!({}))
        .await
        .expect_problem(422, "validation-failed");
    app.post(
        &format!("/interviews/{a}/cancel"),
        json!({"reason": "candidate withdrew"}),
    )
    .await
    .expect_ok(200);
    // The slot is free again.
    let (b, ..) = app
        .schedule(cand, &[i1], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_ok(201);
    app.post(
        &format!("/interviews/{b}/no-show"),
        json!({"reason": "did not join"}),
    )
    .await
    .expect_ok(200);
    let s: Vec<String> = app.event_types(&format!("schedule-{i1}")).await;
    assert_eq!(
        s,
        ["SlotBooked", "SlotReleased", "SlotBooked", "SlotReleased"]
    );
    app.schedule(cand, &[i1], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_ok(201);
    app.drop_db().await;
}

#[tokio::test]
async fn if_match_guards_the_aggregate_version() {
    let app = TestApp::new().await;
    let cand = app.candidate().await;
    let i1 = app.interviewer().await;
    let (id, ..) = app
        .schedule(cand, &[i1], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_ok(201);
    let r = app
        .post_with(
            &format!("/interviews/{id}/start"),
            json!({}),
            &[("if-match", "\"5\"")],
        )
        .await;
    r.expect_problem(412, "version-conflict");
    assert_eq!(r.body["currentVersion"], 1);
    let r = app
        .post_with(
            &format!("/interviews/{id}/reschedule"),
            json!({"startsAt": "2027-03-03T10:00:00Z"}),
            &[("if-match", "\"2\"")],
        )
        .await;
    r.expect_problem(412, "version-conflict");
    let r = app
        .post_with(
            &format!("/interviews/{id}/reschedule"),
            json!({"startsAt": "2027-03-03T10:00:00Z"}),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.expect_ok(200).1, 2);
    let r = app
        .post_with(
            &format!("/people/{cand}/details"),
            json!({"name": "New"}),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.expect_ok(200).1, 2);
    app.drop_db().await;
}
