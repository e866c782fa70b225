use std::sync::Arc;

use futures::future::join_all;
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test]
async fn a_retry_with_the_same_key_gets_the_first_answer_and_appends_nothing() {
    let app = TestApp::new().await;
    let body = json!({"name": "Kay", "roles": ["candidate"]});
    let first = app
        .post_with("/people", body.clone(), &[("idempotency-key", "k-1")])
        .await;
    first.expect_ok(201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = app
        .post_with("/people", body.clone(), &[("idempotency-key", "k-1")])
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(app.all_events().await.len(), 1);

    let other = app
        .post_with(
            "/people",
            json!({"name": "Other", "roles": ["candidate"]}),
            &[("idempotency-key", "k-1")],
        )
        .await;
    other.expect_problem(422, "idempotency-key-reused");
    assert_eq!(app.all_events().await.len(), 1);

    // Refusals are answers too: replayed as they were.
    let bad = json!({"name": "", "roles": ["candidate"]});
    let r1 = app
        .post_with("/people", bad.clone(), &[("idempotency-key", "k-2")])
        .await;
    r1.expect_problem(422, "validation-failed");
    let r2 = app
        .post_with("/people", bad, &[("idempotency-key", "k-2")])
        .await;
    assert_eq!((r2.status, &r2.body), (r1.status, &r1.body));
    assert_eq!(
        r2.headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );

    let long = "k".repeat(256);
    app.post_with(
        "/people",
        json!({"name": "L", "roles": ["candidate"]}),
        &[("idempotency-key", &long)],
    )
    .await
    .expect_problem(400, "malformed-request");
    app.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_requests_racing_with_one_key_append_once() {
    let app = Arc::new(TestApp::new().await);
    let cand = app.candidate().await;
    let i1 = app.interviewer().await;
    let body = json!({"candidateId": cand, "interviewerIds": [i1], "position": "SRE", "kind": "behavioral", "startsAt": "2027-03-01T10:00:00Z", "durationMinutes": 30});
    let replies = join_all((0..10).map(|_| {
        let app = app.clone();
        let body = body.clone();
        async move {
            app.post_with("/interviews", body, &[("idempotency-key", "race")])
                .await
        }
    }))
    .await;
    for r in &replies {
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body, replies[0].body);
    }
    let scheduled = app
        .all_events()
        .await
        .iter()
        .filter(|(_, t)| t == "InterviewScheduled")
        .count();
    assert_eq!(scheduled, 1);
    if let Ok(app) = Arc::try_unwrap(app) {
        app.drop_db().await;
    }
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_appends_nothing() {
    // The events landed but the stored answer did not (e.g. a crash in between): the
    // retry derives the same event ids, finds them, and answers as the first did.
    let app = TestApp::new().await;
    let id = uuid::Uuid::new_v4();
    let body = json!({"id": id, "name": "Lost", "roles": ["candidate"]});
    let first = app
        .post_with("/people", body.clone(), &[("idempotency-key", "lost-1")])
        .await;
    let (_, version, position) = first.expect_ok(201);
    let pool = match &app.store {
        infra::AnyEventStore::Postgres(s) => s.pool().clone(),
        infra::AnyEventStore::Esdb(_) => unreachable!("postgres in this test"),
    };
    sqlx::query("DELETE FROM idempotency_keys")
        .execute(&pool)
        .await
        .expect("forget the answer");
    let again = app
        .post_with("/people", body, &[("idempotency-key", "lost-1")])
        .await;
    let (got, v2, p2) = again.expect_ok(201);
    assert_eq!((got, v2, p2), (id, version, position));
    assert_eq!(app.all_events().await.len(), 1);
    app.drop_db().await;
}

/// A creation without a client id, retried under its key after an unknown outcome (the
/// first answer was lost, e.g. a 5xx that released the key): the id comes from the key, so
/// the retry finds its own events and creates nothing twice. Another caller's same key is
/// its own (keys are kept per tenant and subject).
#[tokio::test]
async fn a_retried_creation_without_an_id_creates_once() {
    let app = TestApp::new().await;
    let candidate = app.candidate().await;
    let panelist = app.interviewer().await;
    let cases = [
        ("/people", json!({"name": "Kay", "roles": ["candidate"]})),
        (
            "/interviews",
            json!({
                "candidateId": candidate, "interviewerIds": [panelist],
                "position": "Backend Engineer", "kind": "technical",
                "startsAt": "2031-02-03T10:00:00Z", "durationMinutes": 45,
            }),
        ),
    ];
    for (path, body) in cases {
        let key = format!("retry-{path}");
        let first = app
            .post_with(path, body.clone(), &[("idempotency-key", &key)])
            .await;
        let (id, ..) = first.expect_ok(201);
        let events = app.all_events().await.len();
        // The stored answer is gone, as after a failure that released the key.
        let infra::AnyEventStore::Postgres(pg) = &app.store else {
            unreachable!("postgres")
        };
        sqlx::query("DELETE FROM idempotency_keys")
            .execute(pg.pool())
            .await
            .expect("forget the answer");
        let retry = app
            .post_with(path, body.clone(), &[("idempotency-key", &key)])
            .await;
        let (again, ..) = retry.expect_ok(201);
        assert_eq!(again, id, "{path}: the retry names the same aggregate");
        assert_eq!(
            app.all_events().await.len(),
            events,
            "{path}: nothing twice"
        );
    }
    // Someone else's identical key is not this one: another person, another id.
    let recruiter = app.bearer("default", &[infra::auth::Role::Recruiter], None);
    let body = json!({"name": "Kay", "roles": ["candidate"]});
    let mine = app
        .post_with(
            "/people",
            body.clone(),
            &[("idempotency-key", "retry-/people")],
        )
        .await;
    let theirs = app
        .post_with(
            "/people",
            body,
            &[
                ("idempotency-key", "retry-/people"),
                ("authorization", &recruiter),
            ],
        )
        .await;
    assert!(theirs.headers.get("idempotent-replayed").is_none());
    let (theirs, ..) = theirs.expect_ok(201);
    let (mine, ..) = mine.expect_ok(201);
    assert_ne!(mine, theirs, "another subject's key makes its own person");
    app.drop_db().await;
}
