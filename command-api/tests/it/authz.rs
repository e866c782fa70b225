//! Identity and access on the command API: every route × every role × as itself / for
//! someone else × own / other tenant, from one table ([`TABLE`]). A route the router
//! serves without a row here fails [`every_route_has_a_row`].

use axum::body::Body;
use axum::http::Request;
use chrono::{Duration, TimeZone, Utc};
use infra::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::TestApp;

/// What a role may do on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum May {
    /// On anything of its tenant.
    Any,
    /// Only as itself / on its own person / on interviews whose panel it sits on.
    OwnOnly,
    /// Nothing: 403.
    No,
}

use May::{Any, No, OwnOnly};

/// The roles, in the order of each row's columns.
const ROLES: [Role; 5] = [
    Role::Admin,
    Role::Recruiter,
    Role::Interviewer,
    Role::Candidate,
    Role::Service,
];

/// The matrix of docs/API.md §5 for the command API.
const TABLE: &[(&str, &str, [May; 5])] = &[
    //                                         admin recruiter interviewer candidate service
    ("POST", "/people", [Any, Any, No, No, No]),
    ("POST", "/people/{id}/details", [Any, Any, No, No, No]),
    (
        "POST",
        "/people/{id}/availability",
        [Any, Any, OwnOnly, OwnOnly, No],
    ),
    ("POST", "/interviews", [Any, Any, No, No, No]),
    (
        "POST",
        "/interviews/{id}/reschedule",
        [Any, Any, No, No, No],
    ),
    ("POST", "/interviews/{id}/cancel", [Any, Any, No, No, No]),
    ("POST", "/interviews/{id}/no-show", [Any, Any, No, No, No]),
    ("POST", "/interviews/{id}/start", [Any, No, OwnOnly, No, No]),
    (
        "POST",
        "/interviews/{id}/transcript",
        [Any, No, OwnOnly, No, No],
    ),
    (
        "POST",
        "/interviews/{id}/complete",
        [Any, No, OwnOnly, No, No],
    ),
    (
        "POST",
        "/interviews/{id}/feedback",
        [Any, No, OwnOnly, No, No],
    ),
    (
        "POST",
        "/interviews/{id}/decision",
        [Any, OwnOnly, No, No, No],
    ),
    ("GET", "/openapi.json", [Any, Any, Any, Any, Any]),
];

#[test]
fn every_route_has_a_row() {
    let doc = serde_json::to_value(command_api::openapi::document()).expect("openapi");
    let mut served: Vec<(String, String)> = vec![("GET".into(), "/openapi.json".into())];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            served.push((method.to_uppercase(), path.clone()));
        }
    }
    for (method, path) in &served {
        assert!(
            TABLE.iter().any(|(m, p, _)| m == method && p == path),
            "{method} {path} is served but has no row in the authorization table"
        );
        assert!(
            command_api::auth::MATRIX
                .iter()
                .any(|p| p.method.as_str() == method && p.path == path),
            "{method} {path} is served but has no row in the permission matrix"
        );
    }
    assert_eq!(TABLE.len(), served.len(), "every row names a served route");
}

/// The people and interview one case runs against, made by the admin.
struct Fixture {
    candidate: Uuid,
    /// On the panel.
    panelist: Uuid,
    /// On the panel too.
    colleague: Uuid,
    /// Not on the panel.
    outsider: Uuid,
    /// A recruiter's person.
    recruiter: Uuid,
    interview: Uuid,
}

/// A fresh hour for each interview, so none overlap.
fn slot(n: i64) -> String {
    (Utc.with_ymd_and_hms(2030, 1, 7, 0, 0, 0).unwrap() + Duration::hours(n)).to_rfc3339()
}

/// The state a route needs: scheduled, in progress or completed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Scheduled,
    InProgress,
    Completed,
}

fn stage_of(path: &str) -> Stage {
    match path {
        "/interviews/{id}/transcript" | "/interviews/{id}/complete" => Stage::InProgress,
        "/interviews/{id}/feedback" | "/interviews/{id}/decision" => Stage::Completed,
        _ => Stage::Scheduled,
    }
}

async fn fixture(app: &TestApp, path: &str, n: i64) -> Fixture {
    let candidate = app.candidate().await;
    let panelist = app.interviewer().await;
    let colleague = app.interviewer().await;
    let outsider = app.interviewer().await;
    let recruiter = app.interviewer().await;
    let (interview, ..) = app
        .schedule(candidate, &[panelist, colleague], &slot(2 * n), 60)
        .await
        .expect_ok(201);
    let stage = stage_of(path);
    if stage >= Stage::InProgress {
        app.post(&format!("/interviews/{interview}/start"), json!({}))
            .await
            .expect_ok(200);
    }
    if stage >= Stage::Completed {
        app.post(&format!("/interviews/{interview}/complete"), json!({}))
            .await
            .expect_ok(200);
    }
    Fixture {
        candidate,
        panelist,
        colleague,
        outsider,
        recruiter,
        interview,
    }
}

/// The request of `path` against `f`, by (or on) `person`.
fn request(path: &str, f: &Fixture, person: Uuid, n: i64) -> (String, Value) {
    let iv = f.interview;
    match path {
        "/people" => (
            path.into(),
            json!({"name": "New Person", "roles": ["candidate"]}),
        ),
        "/people/{id}/details" => (
            format!("/people/{}/details", f.candidate),
            json!({"name": format!("Renamed {n}")}),
        ),
        "/people/{id}/availability" => (
            format!("/people/{person}/availability"),
            json!({"add": [{"start": slot(1000 + 2 * n), "end": slot(1001 + 2 * n)}]}),
        ),
        "/interviews" => (
            path.into(),
            json!({
                "candidateId": f.candidate, "interviewerIds": [f.panelist],
                "position": "Backend Engineer", "kind": "technical",
                "startsAt": slot(2 * n + 1), "durationMinutes": 30,
            }),
        ),
        "/interviews/{id}/reschedule" => (
            format!("/interviews/{iv}/reschedule"),
            json!({"startsAt": slot(5000 + n)}),
        ),
        "/interviews/{id}/cancel" => (format!("/interviews/{iv}/cancel"), json!({"reason": "x"})),
        "/interviews/{id}/no-show" => (format!("/interviews/{iv}/no-show"), json!({})),
        "/interviews/{id}/start" => (format!("/interviews/{iv}/start"), json!({})),
        "/interviews/{id}/complete" => (format!("/interviews/{iv}/complete"), json!({})),
        "/interviews/{id}/transcript" => (
            format!("/interviews/{iv}/transcript"),
            json!({"segments": [{"speakerId": f.candidate, "startMs": 0, "endMs": 10, "text": "hi"}]}),
        ),
        "/interviews/{id}/feedback" => (
            format!("/interviews/{iv}/feedback"),
            json!({"interviewerId": person, "rating": 3}),
        ),
        "/interviews/{id}/decision" => (
            format!("/interviews/{iv}/decision"),
            json!({"outcome": "advance", "decidedBy": person}),
        ),
        other => panic!("no request for {other}"),
    }
}

/// For a role on a route: the caller's own person, the person the request names, and
/// the person the token stands for, as itself or for someone else.
fn people_of(role: Role, path: &str, f: &Fixture, as_itself: bool) -> (Uuid, Uuid) {
    let own = match role {
        Role::Candidate => f.candidate,
        Role::Recruiter => f.recruiter,
        _ => f.panelist,
    };
    if as_itself {
        return (own, own);
    }
    match path {
        // Someone else on the panel (so only the grant can refuse it).
        "/interviews/{id}/feedback" => (own, f.colleague),
        // Acting on an interview whose panel the caller is not on.
        "/interviews/{id}/start" | "/interviews/{id}/transcript" | "/interviews/{id}/complete" => {
            (f.outsider, f.outsider)
        }
        _ => (own, f.outsider),
    }
}

async fn send(app: &TestApp, method: &str, path: &str, body: Value, bearer: &str) -> u16 {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", bearer);
    let body = if method == "GET" {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    app.request_raw(builder.body(body).expect("request"))
        .await
        .status
        .as_u16()
}

/// Every row × role × (as itself, for someone else) in the caller's own tenant.
#[tokio::test]
async fn every_route_answers_each_role_as_the_matrix_says() {
    let app = TestApp::new().await;
    let mut n = 0;
    let mut failures = Vec::new();
    for (method, path, mays) in TABLE {
        for (role, may) in ROLES.iter().zip(mays) {
            for as_itself in [true, false] {
                n += 1;
                let expected = match (may, as_itself) {
                    (Any, _) | (OwnOnly, true) => 2,
                    (OwnOnly, false) | (No, _) => 4,
                };
                let status = if *method == "GET" {
                    let bearer = app.bearer("default", &[*role], None);
                    send(&app, method, path, Value::Null, &bearer).await
                } else {
                    let f = fixture(&app, path, n).await;
                    let (token_person, person) = people_of(*role, path, &f, as_itself);
                    let bearer = app.bearer("default", &[*role], Some(token_person));
                    let (uri, body) = request(path, &f, person, n);
                    let before = app.all_events().await.len();
                    let status = send(&app, method, &uri, body, &bearer).await;
                    if expected == 4 {
                        assert_eq!(
                            app.all_events().await.len(),
                            before,
                            "a refused {method} {path} by {role} appended events"
                        );
                    }
                    status
                };
                let ok = match expected {
                    2 => (200..300).contains(&status),
                    _ => status == 403,
                };
                if !ok {
                    failures.push(format!(
                        "{method} {path} by {role} ({}): {status}",
                        if as_itself {
                            "as itself"
                        } else {
                            "for another"
                        }
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    app.drop_db().await;
}

/// An admin of another tenant reaches nothing of this one: every id answers 404 and
/// nothing is appended; what it creates is its own.
#[tokio::test]
async fn another_tenant_finds_nothing_of_this_one() {
    let app = TestApp::new().await;
    let outsider = app.bearer("acme", &[Role::Admin], None);
    for (n, (method, path, _)) in TABLE.iter().enumerate() {
        let n = n as i64 + 100;
        if *method == "GET" {
            assert_eq!(send(&app, method, path, Value::Null, &outsider).await, 200);
            continue;
        }
        let f = fixture(&app, path, n).await;
        let (uri, body) = request(path, &f, f.panelist, n);
        let before: Vec<_> = app
            .all_events()
            .await
            .into_iter()
            .filter(|(stream, _)| !stream.contains("acme."))
            .collect();
        let status = send(&app, method, &uri, body, &outsider).await;
        let after: Vec<_> = app
            .all_events()
            .await
            .into_iter()
            .filter(|(stream, _)| !stream.contains("acme."))
            .collect();
        assert_eq!(before, after, "{method} {path} from acme touched default");
        match *path {
            "/people" => assert_eq!(status, 201, "{path}: its own person"),
            // Participants that are not there, exactly as for ids that exist nowhere.
            "/interviews" => {
                let nowhere = json!({
                    "candidateId": Uuid::new_v4(), "interviewerIds": [Uuid::new_v4()],
                    "position": "Backend Engineer", "kind": "technical",
                    "startsAt": slot(9000), "durationMinutes": 30,
                });
                let unknown = send(&app, method, path, nowhere, &outsider).await;
                assert_eq!((status, unknown), (422, 422), "{path}");
            }
            _ => assert_eq!(status, 404, "{method} {path} from acme: {status}"),
        }
    }
    // The same id in two tenants is two aggregates.
    let id = Uuid::new_v4();
    let body = json!({"id": id, "name": "Twin", "roles": ["candidate"]});
    app.post("/people", body.clone()).await.expect_ok(201);
    let r = app
        .post_with("/people", body, &[("authorization", &outsider)])
        .await;
    r.expect_ok(201);
    assert_eq!(app.event_types(&format!("person-acme.{id}")).await.len(), 1);
    assert_eq!(app.event_types(&format!("person-{id}")).await.len(), 1);
    app.drop_db().await;
}

/// Without a valid token: 401 with an RFC 6750 challenge, a problem body, and nothing
/// appended; health and metrics stay open.
#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let app = TestApp::new().await;
    let body = json!({"name": "A", "roles": ["candidate"]});
    let cases: [(Option<&str>, Option<&str>); 4] = [
        (None, None),
        (Some("Bearer"), Some("invalid_request")),
        (Some("Bearer not.a.jwt"), Some("invalid_token")),
        (Some("Basic dXNlcjpwYXNz"), Some("invalid_request")),
    ];
    for (authorization, code) in cases {
        let mut req = Request::post("/people").header("content-type", "application/json");
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        let r = app
            .request_raw(req.body(Body::from(body.to_string())).expect("request"))
            .await;
        let status = r.status.as_u16();
        assert!(
            status == 401 || status == 400,
            "{authorization:?}: {status}"
        );
        assert_eq!(
            r.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        if status == 401 {
            let challenge = r.headers["www-authenticate"].to_str().expect("ascii");
            assert!(challenge.starts_with("Bearer realm="), "{challenge}");
            match code {
                Some(code) => assert!(
                    challenge.contains(&format!("error=\"{code}\"")),
                    "{challenge}"
                ),
                None => assert!(!challenge.contains("error="), "{challenge}"),
            }
        }
    }
    // A token signed by another key (another database's built-in key).
    let other = TestApp::new().await;
    let foreign = other.bearer("default", &[Role::Admin], None);
    other.drop_db().await;
    let r = app
        .post_with("/people", body.clone(), &[("authorization", &foreign)])
        .await;
    r.expect_problem(401, "unauthorized");
    assert!(app.all_events().await.is_empty());
    for open in ["/health/live", "/health/ready", "/metrics"] {
        let r = app
            .request_raw(Request::get(open).body(Body::empty()).expect("request"))
            .await;
        assert_eq!(r.status.as_u16(), 200, "{open}");
    }
    app.drop_db().await;
}

/// A service acts for a person with `X-On-Behalf-Of`; both are recorded. Anyone else
/// naming someone is refused.
#[tokio::test]
async fn a_service_acts_on_behalf_of_a_person_and_both_are_recorded() {
    let app = TestApp::new().await;
    let candidate = app.candidate().await;
    let panelist = app.interviewer().await;
    let (iv, ..) = app
        .schedule(candidate, &[panelist], &slot(1), 60)
        .await
        .expect_ok(201);
    for step in ["start", "complete"] {
        app.post(&format!("/interviews/{iv}/{step}"), json!({}))
            .await
            .expect_ok(200);
    }
    let feedback = json!({"interviewerId": panelist, "rating": 4});
    let on_behalf = panelist.to_string();
    // An interviewer may not name someone else to act for.
    let interviewer = app.bearer("default", &[Role::Interviewer], Some(candidate));
    app.post_with(
        &format!("/interviews/{iv}/feedback"),
        feedback.clone(),
        &[
            ("authorization", &interviewer),
            ("x-on-behalf-of", &on_behalf),
        ],
    )
    .await
    .expect_problem(403, "forbidden");
    let service = app.bearer("default", &[Role::Service, Role::Interviewer], None);
    app.post_with(
        &format!("/interviews/{iv}/feedback"),
        feedback.clone(),
        &[
            ("authorization", &service),
            ("x-on-behalf-of", "not-a-uuid"),
        ],
    )
    .await
    .expect_problem(400, "malformed-request");
    app.post_with(
        &format!("/interviews/{iv}/feedback"),
        feedback,
        &[("authorization", &service), ("x-on-behalf-of", &on_behalf)],
    )
    .await
    .expect_ok(200);
    let events = app.stream(&format!("interview-{iv}")).await;
    let last = events.last().expect("feedback");
    assert_eq!(last.event_type, "FeedbackSubmitted");
    assert_eq!(last.metadata.actor, "test-service-interviewer");
    assert_eq!(last.metadata.on_behalf_of, Some(panelist));
    app.drop_db().await;
}
