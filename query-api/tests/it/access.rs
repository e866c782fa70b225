//! Who reads what (docs/API.md §5, "Roles (query API)"): a matrix of every root field of
//! `Query` and `Subscription` against every role, over HTTP with real tokens (the
//! ownership rules are in `ownership.rs`).

use std::time::Duration;

use domain::interview::{InterviewCommand, InterviewKind};
use futures::StreamExt;
use infra::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{TestApp, bearer_in, caller_of, code, spawn};
use crate::scenario::{Hiring, hiring};
use crate::world::{Spec, t};

/// What a role gets from a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The field's data, no error.
    Data,
    /// A `FORBIDDEN` error on the field.
    Forbidden,
}
use Outcome::{Data as D, Forbidden as F};

/// The roles of the matrix, one token each: admin and recruiter without a person, the
/// interviewer Carol, the candidate Alice, a service without a person.
const ROLES: [Role; 5] = [
    Role::Admin,
    Role::Recruiter,
    Role::Interviewer,
    Role::Candidate,
    Role::Service,
];

/// One row: the root type, the field, a query exercising it with `$iv` (an interview on
/// Carol's panel whose candidate is Alice) and `$me` (the caller's person, or Bob), and
/// the outcome per role in [`ROLES`] order. A root field without a row fails the test.
const MATRIX: &[(&str, &str, &str, [Outcome; 5])] = &[
    (
        "Query",
        "interview",
        "query($iv: UUID!) { interview(id: $iv) { id status } }",
        [D, D, D, D, F],
    ),
    (
        "Query",
        "interviews",
        "{ interviews { totalCount edges { node { id } } } }",
        [D, D, D, D, F],
    ),
    (
        "Query",
        "person",
        "query($me: UUID!) { person(id: $me) { id name } }",
        [D, D, D, D, F],
    ),
    (
        "Query",
        "people",
        "{ people { totalCount } }",
        [D, D, F, F, F],
    ),
    (
        "Query",
        "schedule",
        "query($me: UUID!) { schedule(personId: $me, from: \"2027-03-01T00:00:00Z\", to: \"2027-03-08T00:00:00Z\") { personId } }",
        [D, D, D, D, F],
    ),
    (
        "Query",
        "availability",
        "query($me: UUID!) { availability(personIds: [$me], from: \"2027-03-01T00:00:00Z\", to: \"2027-03-08T00:00:00Z\", durationMinutes: 30) { start } }",
        [D, D, D, D, F],
    ),
    (
        "Query",
        "searchTranscripts",
        "{ searchTranscripts(query: \"projections\") { edges { node { rank } } } }",
        [D, D, F, F, F],
    ),
    (
        "Query",
        "analytics",
        "{ analytics { hourOfDay { hour interviews } } }",
        [D, D, F, F, F],
    ),
    (
        "Query",
        "projections",
        "{ projections { name parkedCount parked { stream reason since } } }",
        [D, F, F, F, F],
    ),
    (
        "Subscription",
        "interviewChanged",
        "subscription($iv: UUID) { interviewChanged(id: $iv) { id startsAt } }",
        [D, D, D, D, F],
    ),
    (
        "Subscription",
        "projectionStatus",
        "subscription { projectionStatus { name } }",
        [D, F, F, F, F],
    ),
];

/// The token and person of each role of [`ROLES`].
fn tokens(app: &TestApp, h: &Hiring) -> Vec<(String, Uuid)> {
    ROLES
        .iter()
        .map(|role| {
            let person = match role {
                Role::Interviewer => Some(h.carol),
                Role::Candidate => Some(h.alice),
                _ => None,
            };
            (app.bearer(&[*role], person), person.unwrap_or(h.bob))
        })
        .collect()
}

/// What `body` says of `field`: its data, or a `FORBIDDEN` error on it.
#[track_caller]
fn outcome(body: &Value, field: &str) -> Outcome {
    match body["errors"].as_array() {
        None => {
            assert!(!body["data"][field].is_null(), "data for {field}: {body}");
            D
        }
        Some(errors) => {
            assert_eq!(errors.len(), 1, "{body}");
            assert_eq!(code(&errors[0]), "FORBIDDEN", "{body}");
            assert_eq!(errors[0]["path"][0], field, "{body}");
            F
        }
    }
}

/// The root fields the schema serves, by introspection.
async fn root_fields(app: &TestApp) -> Vec<(String, String)> {
    let data = app
        .data(
            "{ __schema { queryType { fields { name } } subscriptionType { fields { name } } } }",
            json!({}),
        )
        .await;
    let mut fields = Vec::new();
    for (root, key) in [("Query", "queryType"), ("Subscription", "subscriptionType")] {
        for f in data["__schema"][key]["fields"]
            .as_array()
            .into_iter()
            .flatten()
        {
            fields.push((root.to_owned(), f["name"].as_str().unwrap_or("").to_owned()));
        }
    }
    fields.sort();
    fields
}

#[tokio::test]
async fn every_root_field_answers_each_role_as_the_access_table_says() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    // Alice's interview with Carol on the panel, still scheduled: it can change.
    let iv = app
        .world
        .schedule(Spec {
            candidate: h.alice,
            panel: vec![h.carol],
            position: "Backend Engineer",
            kind: InterviewKind::Final,
            starts_at: "2027-03-05T09:00:00Z",
            minutes: 30,
        })
        .await;
    app.settle().await;

    let mut table: Vec<(String, String)> = MATRIX
        .iter()
        .map(|(root, field, ..)| ((*root).to_owned(), (*field).to_owned()))
        .collect();
    table.sort();
    assert_eq!(
        root_fields(&app).await,
        table,
        "every root field needs a row in MATRIX (and every row a field)"
    );

    let tokens = tokens(&app, &h);
    for (root, field, query, expected) in MATRIX.iter().filter(|r| r.0 == "Query") {
        for ((role, (token, me)), want) in ROLES.iter().zip(&tokens).zip(expected) {
            let body = json!({ "query": query, "variables": { "iv": iv, "me": me } });
            let (status, answer) = app.post(body, &[("authorization", token)]).await;
            assert_eq!(status, 200, "{root}.{field} as {role}: {answer}");
            assert_eq!(
                outcome(&answer, field),
                *want,
                "{root}.{field} as {role}: {answer}"
            );
        }
    }

    // The same roles and persons in another tenant: a refused field stays refused, an
    // allowed one answers as if this tenant's data did not exist (no id of it, no row,
    // no count).
    let secrets: Vec<String> = [
        iv,
        h.held,
        h.cancelled,
        h.no_show,
        h.upcoming,
        h.final_round,
    ]
    .iter()
    .map(Uuid::to_string)
    .collect();
    for (root, field, query, expected) in MATRIX.iter().filter(|r| r.0 == "Query") {
        for (role, want) in ROLES.iter().zip(expected) {
            let person = match role {
                Role::Interviewer => Some(h.carol),
                Role::Candidate => Some(h.alice),
                _ => None,
            };
            let me = person.unwrap_or(h.bob);
            let token = bearer_in(
                &app.verifier,
                "globex",
                &[*role],
                person,
                Duration::from_secs(600),
            );
            let body = json!({ "query": query, "variables": { "iv": iv, "me": me } });
            let (status, answer) = app.post(body, &[("authorization", &token)]).await;
            let name = format!("{root}.{field} as {role} of another tenant");
            assert_eq!(status, 200, "{name}: {answer}");
            if *want == F {
                assert_eq!(outcome(&answer, field), F, "{name}: {answer}");
                continue;
            }
            assert!(answer.get("errors").is_none(), "{name}: {answer}");
            let text = answer.to_string();
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{name} names {secret}: {answer}"
                );
            }
            let data = &answer["data"][field];
            match *field {
                "interview" | "person" => assert!(data.is_null(), "{name}: {answer}"),
                "interviews" | "people" => assert_eq!(data["totalCount"], 0, "{name}: {answer}"),
                "searchTranscripts" => assert_eq!(data["edges"], json!([]), "{name}: {answer}"),
                "analytics" => assert!(
                    data["hourOfDay"].as_array().is_none_or(|hours| hours
                        .iter()
                        .all(|h| h["interviews"].as_i64().unwrap_or(0) == 0)),
                    "{name}: {answer}"
                ),
                _ => {}
            }
        }
    }

    // Subscriptions: a refused one ends at once with its error; an allowed one delivers
    // the next change (the reschedule below, and the projector's batch for it).
    let mut streams = Vec::new();
    for (root, field, query, expected) in MATRIX.iter().filter(|r| r.0 == "Subscription") {
        for ((role, (token, _)), want) in ROLES.iter().zip(&tokens).zip(expected) {
            let caller = caller_of(&app.verifier, token).await;
            let request = async_graphql::Request::new(*query)
                .variables(async_graphql::Variables::from_json(json!({ "iv": iv })))
                .data(app.ctx.loaders(&query_api::Viewer::default_tenant()))
                .data(caller);
            let stream = app.schema().execute_stream(request);
            streams.push((format!("{root}.{field} as {role}"), *field, *want, stream));
        }
    }
    let mut pending = Vec::new();
    for (name, field, want, mut stream) in streams {
        if want == F {
            let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .expect("refused at once")
                .expect("an error item");
            let first = serde_json::to_value(&first).expect("json");
            assert_eq!(outcome(&first, field), F, "{name}: {first}");
        } else {
            pending.push((
                name,
                field,
                tokio::spawn(async move { stream.next().await }),
            ));
        }
    }
    while app.ctx.notices().receiver_count() < pending.len() {
        tokio::task::yield_now().await;
    }
    app.world
        .act(
            iv,
            InterviewCommand::Reschedule {
                starts_at: t("2027-03-05T11:00:00Z"),
                duration_minutes: None,
                reason: None,
            },
        )
        .await;
    for (name, field, task) in pending {
        let item = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap_or_else(|_| panic!("{name}: an item in time"))
            .expect("task")
            .expect("item");
        let item = serde_json::to_value(&item).expect("json");
        assert_eq!(outcome(&item, field), D, "{name}: {item}");
    }
    app.stop().await;
}
