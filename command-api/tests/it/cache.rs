//! Each command API process remembers the streams it folded. Several processes over one
//! store must still decide on the truth: a memory another process made stale is caught
//! by the expected version at append time and read again, never trusted.

use serde_json::json;

use crate::harness::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_made_by_another_process_is_seen_before_double_booking() {
    let a = TestApp::new().await;
    let b = a.sibling();
    let interviewer = a.interviewer().await;
    let (c1, c2) = (a.candidate().await, a.candidate().await);
    // Process A remembers the interviewer's empty schedule.
    let first = a
        .schedule(c1, &[interviewer], "2027-05-03T09:00:00Z", 60)
        .await;
    let (first_id, ..) = first.expect_ok(201);
    let cancel = a
        .post(
            &format!("/interviews/{first_id}/cancel"),
            json!({"reason": "moved"}),
        )
        .await;
    cancel.expect_ok(200);
    // Process B books the interviewer at 10:00; A has not seen it.
    b.schedule(c2, &[interviewer], "2027-05-03T10:00:00Z", 60)
        .await
        .expect_ok(201);
    // A must refuse an overlapping booking all the same.
    let c3 = a.candidate().await;
    let overlap = a
        .schedule(c3, &[interviewer], "2027-05-03T10:30:00Z", 60)
        .await;
    overlap.expect_problem(409, "booking-conflict");
    // And a free slot still books, on top of B's booking.
    a.schedule(c3, &[interviewer], "2027-05-03T12:00:00Z", 60)
        .await
        .expect_ok(201);
    let schedule = a.stream(&format!("schedule-{interviewer}")).await;
    let types: Vec<&str> = schedule.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["SlotBooked", "SlotReleased", "SlotBooked", "SlotBooked"]
    );
    drop(b);
    a.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_is_judged_against_the_store_not_a_stale_memory() {
    let a = TestApp::new().await;
    let b = a.sibling();
    let interviewer = a.interviewer().await;
    let candidate = a.candidate().await;
    let (id, v1, _) = a
        .schedule(candidate, &[interviewer], "2027-05-04T09:00:00Z", 60)
        .await
        .expect_ok(201);
    // B moves the interview; A still remembers version 1.
    let (_, v2, _) = b
        .post(
            &format!("/interviews/{id}/reschedule"),
            json!({"startsAt": "2027-05-04T11:00:00Z"}),
        )
        .await
        .expect_ok(200);
    assert!(v2 > v1);
    // A client that knows version 2 is right, whichever process it reaches.
    let current = v2.to_string();
    let started = a
        .post_with(
            &format!("/interviews/{id}/start"),
            json!({}),
            &[("if-match", current.as_str())],
        )
        .await;
    let (_, v3, _) = started.expect_ok(200);
    assert_eq!(v3, v2 + 1);
    // One that knows only version 1 is refused, naming the real version.
    let stale = v1.to_string();
    let refused = b
        .post_with(
            &format!("/interviews/{id}/complete"),
            json!({}),
            &[("if-match", stale.as_str())],
        )
        .await;
    refused.expect_problem(412, "version-conflict");
    assert_eq!(
        refused.body["currentVersion"],
        json!(v3),
        "{:?}",
        refused.body
    );
    drop(b);
    a.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_on_a_stream_changed_elsewhere_is_decided_again() {
    let a = TestApp::new().await;
    let b = a.sibling();
    let interviewer = a.interviewer().await;
    let candidate = a.candidate().await;
    let (id, ..) = a
        .schedule(candidate, &[interviewer], "2027-05-05T09:00:00Z", 60)
        .await
        .expect_ok(201);
    // B starts it; A remembers it as scheduled and would decide "start" again.
    b.post(&format!("/interviews/{id}/start"), json!({}))
        .await
        .expect_ok(200);
    let again = a.post(&format!("/interviews/{id}/start"), json!({})).await;
    again.expect_problem(422, "rule-violated");
    // A's next command is decided on the started interview.
    a.post(&format!("/interviews/{id}/complete"), json!({}))
        .await
        .expect_ok(200);
    let types: Vec<String> = a.event_types(&format!("interview-{id}")).await;
    assert_eq!(
        types,
        [
            "InterviewScheduled",
            "InterviewStarted",
            "InterviewCompleted"
        ]
    );
    drop(b);
    a.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_what_another_process_created_is_refused_not_duplicated() {
    let a = TestApp::new().await;
    let b = a.sibling();
    // B registers a person under a client-chosen id; A, which never read that stream,
    // takes it to be new, and must still answer as the store says.
    let id = uuid::Uuid::new_v4();
    let body = json!({"id": id, "name": "Dana", "roles": ["interviewer"]});
    b.post("/people", body.clone()).await.expect_ok(201);
    let again = a
        .post(
            "/people",
            json!({"id": id, "name": "Other", "roles": ["candidate"]}),
        )
        .await;
    again.expect_problem(409, "already-exists");
    assert_eq!(a.stream(&format!("person-{id}")).await.len(), 1);
    // The same for an interview id.
    let interviewer = b.interviewer().await;
    let (c1, c2) = (b.candidate().await, a.candidate().await);
    let interview = uuid::Uuid::new_v4();
    let schedule = |candidate: uuid::Uuid, start: &str| {
        json!({
            "id": interview, "candidateId": candidate, "interviewerIds": [interviewer],
            "position": "Backend Engineer", "kind": "technical",
            "startsAt": start, "durationMinutes": 60,
        })
    };
    b.post("/interviews", schedule(c1, "2027-06-01T09:00:00Z"))
        .await
        .expect_ok(201);
    a.post("/interviews", schedule(c2, "2027-06-02T09:00:00Z"))
        .await
        .expect_problem(409, "already-exists");
    // A refusal on input alone is answered at once, not retried into a 503.
    a.post(
        "/people",
        json!({"id": uuid::Uuid::new_v4(), "name": "", "roles": []}),
    )
    .await
    .expect_problem(422, "validation-failed");
    drop(b);
    a.drop_db().await;
}

/// A command that is a no-op on what a process remembers (details equal to the
/// remembered ones, a reschedule to the remembered time) may be stale when another process
/// changed the stream: it is answered only after a fresh read, so the change is not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_on_a_stale_memory_is_confirmed_on_a_fresh_read() {
    let a = TestApp::new().await;
    let b = a.sibling();
    let person = a.candidate().await;
    let details = format!("/people/{person}/details");
    // A remembers the name "Cora Candidate"; B renames her.
    b.post(&details, json!({"name": "Renamed"}))
        .await
        .expect_ok(200);
    // Back to the name A remembers: a no-op for A's memory, not for the store.
    let (_, version, _) = a
        .post(&details, json!({"name": "Cora Candidate"}))
        .await
        .expect_ok(200);
    assert_eq!(version, 3, "the rename back was appended");
    let names: Vec<String> = a
        .stream(&format!("person-{person}"))
        .await
        .iter()
        .filter_map(|e| e.data["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names, ["Cora Candidate", "Renamed", "Cora Candidate"]);

    // The same for an interview: A remembers 09:00, B moves it to 11:00, A moves it
    // "to 09:00" again.
    let interviewer = a.interviewer().await;
    let candidate = a.candidate().await;
    let (iv, ..) = a
        .schedule(candidate, &[interviewer], "2027-06-01T09:00:00Z", 60)
        .await
        .expect_ok(201);
    let reschedule = format!("/interviews/{iv}/reschedule");
    b.post(&reschedule, json!({"startsAt": "2027-06-01T11:00:00Z"}))
        .await
        .expect_ok(200);
    a.post(&reschedule, json!({"startsAt": "2027-06-01T09:00:00Z"}))
        .await
        .expect_ok(200);
    let last = a.stream(&format!("interview-{iv}")).await;
    let last = last.last().expect("events");
    assert_eq!(last.event_type, "InterviewRescheduled");
    assert_eq!(last.data["startsAt"], "2027-06-01T09:00:00Z");
    drop(b);
    a.drop_db().await;
}
