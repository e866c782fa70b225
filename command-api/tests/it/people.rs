use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn registering_a_person_answers_id_version_and_position() {
    let app = TestApp::new().await;
    let id = uuid::Uuid::new_v4();
    let r = app
        .post("/people", json!({"id": id, "name": "Ada Lovelace", "email": "ada@example.com", "roles": ["interviewer"], "timezone": "Europe/London"}))
        .await;
    let (got, version, position) = r.expect_ok(201);
    assert_eq!(got, id);
    assert_eq!(version, 1);
    assert!(position.parse::<infra::Position>().is_ok(), "{position}");
    let events = app.stream(&format!("person-{id}")).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "PersonRegistered");
    assert_eq!(events[0].data["name"], "Ada Lovelace");
    assert_eq!(events[0].data["roles"], json!(["interviewer"]));
    app.drop_db().await;
}

#[tokio::test]
async fn invalid_people_are_refused_with_field_errors_and_nothing_appended() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/people",
            json!({"name": "", "roles": [], "email": "not an email"}),
        )
        .await;
    r.expect_problem(422, "validation-failed");
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"roles") && fields.contains(&"email"),
        "{fields:?}"
    );

    let r = app
        .post("/people", json!({"name": "X", "roles": ["boss"]}))
        .await;
    r.expect_problem(422, "validation-failed");
    assert_eq!(r.body["errors"][0]["field"], "roles[0]", "{}", r.body);

    let r = app
        .post(
            "/people",
            json!({"name": "X", "roles": ["candidate"], "shoeSize": 44}),
        )
        .await;
    r.expect_problem(422, "validation-failed");

    let r = app
        .post(
            "/people",
            json!({"name": "x".repeat(201), "roles": ["candidate"]}),
        )
        .await;
    r.expect_problem(422, "validation-failed");
    assert!(
        app.all_events().await.is_empty(),
        "a refused command appends nothing"
    );
    app.drop_db().await;
}

#[tokio::test]
async fn registering_an_existing_id_is_already_exists() {
    let app = TestApp::new().await;
    let id = uuid::Uuid::new_v4();
    app.post(
        "/people",
        json!({"id": id, "name": "A", "roles": ["candidate"]}),
    )
    .await
    .expect_ok(201);
    let r = app
        .post(
            "/people",
            json!({"id": id, "name": "B", "roles": ["candidate"]}),
        )
        .await;
    r.expect_problem(409, "already-exists");
    assert_eq!(app.all_events().await.len(), 1);
    app.drop_db().await;
}

#[tokio::test]
async fn details_change_and_missing_people_are_not_found() {
    let app = TestApp::new().await;
    let id = app.candidate().await;
    let r = app
        .post(
            &format!("/people/{id}/details"),
            json!({"name": "Cora C.", "timezone": "America/New_York"}),
        )
        .await;
    let (_, version, _) = r.expect_ok(200);
    assert_eq!(version, 2);
    let r = app.post(&format!("/people/{id}/details"), json!({})).await;
    r.expect_problem(422, "validation-failed");

    let missing = uuid::Uuid::new_v4();
    app.post(&format!("/people/{missing}/details"), json!({"name": "Z"}))
        .await
        .expect_problem(404, "not-found");
    app.post(
        &format!("/people/{missing}/availability"),
        json!({"add": [{"start": "2027-03-01T09:00:00Z", "end": "2027-03-01T17:00:00Z"}]}),
    )
    .await
    .expect_problem(404, "not-found");
    app.post("/people/not-a-uuid/details", json!({"name": "Z"}))
        .await
        .expect_problem(400, "malformed-request");
    assert_eq!(app.all_events().await.len(), 2);
    app.drop_db().await;
}

#[tokio::test]
async fn availability_is_added_and_removed_and_validated() {
    let app = TestApp::new().await;
    let id = app.interviewer().await;
    let path = format!("/people/{id}/availability");
    let r = app
        .post(&path, json!({"add": [{"start": "2027-03-01T09:00:00Z", "end": "2027-03-01T17:00:00Z"}, {"start": "2027-03-02T09:00:00Z", "end": "2027-03-02T17:00:00Z"}]}))
        .await;
    let (got, version, _) = r.expect_ok(200);
    assert_eq!(got, id);
    assert_eq!(version, 2);
    let r = app
        .post(
            &path,
            json!({"remove": [{"start": "2027-03-01T12:00:00Z", "end": "2027-03-01T13:00:00Z"}]}),
        )
        .await;
    assert_eq!(r.expect_ok(200).1, 3);
    let types: Vec<String> = app.event_types(&format!("schedule-{id}")).await;
    assert_eq!(
        types,
        [
            "AvailabilityAdded",
            "AvailabilityAdded",
            "AvailabilityRemoved"
        ]
    );

    for bad in [
        json!({"add": [{"start": "2027-03-01T17:00:00Z", "end": "2027-03-01T09:00:00Z"}]}),
        json!({"add": [{"start": "2027-03-01T00:00:00Z", "end": "2027-03-16T00:00:01Z"}]}),
        json!({}),
        json!({"add": [{"start": "yesterday", "end": "2027-03-01T09:00:00Z"}]}),
    ] {
        app.post(&path, bad)
            .await
            .expect_problem(422, "validation-failed");
    }
    let many: Vec<_> = (0..501)
        .map(|i| json!({"start": format!("2027-04-01T00:{:02}:00Z", i % 60), "end": "2027-04-02T00:00:00Z"}))
        .collect();
    app.post(&path, json!({"add": many}))
        .await
        .expect_problem(422, "validation-failed");
    assert_eq!(app.stream(&format!("schedule-{id}")).await.len(), 3);
    app.drop_db().await;
}
