//! `interview`, `interviews` and the fields of `Interview`.

use std::collections::HashSet;

use domain::Role;
use domain::interview::{InterviewCommand, InterviewKind};
use serde_json::{Value, json};

use crate::harness::{code, spawn};
use crate::scenario::hiring;
use crate::world::Spec;

const FULL: &str = r#"query($id: UUID!) { interview(id: $id) {
    id status kind position startsAt endsAt durationMinutes location
    candidate { id name email roles timezone }
    interviewers { name }
    startedAt completedAt actualDurationSeconds cancellationReason
    feedback { interviewer { name } rating competencies { name score } notes submittedAt }
    decision { outcome decidedBy reason decidedAt }
    transcript { edges { cursor node { text } } pageInfo { hasNextPage endCursor } }
    version updatedAt
} }"#;

#[tokio::test]
async fn an_interview_serves_every_field_of_the_contract() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;

    let data = app.data(FULL, json!({ "id": h.held })).await;
    let iv = &data["interview"];
    assert_eq!(iv["id"], json!(h.held));
    assert_eq!(iv["status"], "COMPLETED");
    assert_eq!(iv["kind"], "TECHNICAL");
    assert_eq!(iv["position"], "Backend Engineer");
    assert_eq!(iv["startsAt"], "2027-03-01T09:00:00Z");
    assert_eq!(iv["endsAt"], "2027-03-01T10:00:00Z");
    assert_eq!(iv["durationMinutes"], 60);
    assert_eq!(iv["location"], "Room 1");
    assert_eq!(iv["candidate"]["name"], "Alice Martin");
    assert_eq!(iv["candidate"]["email"], "alice.martin@example.com");
    assert_eq!(iv["candidate"]["roles"], json!(["CANDIDATE"]));
    assert_eq!(iv["candidate"]["timezone"], "Europe/Paris");
    assert_eq!(
        iv["interviewers"],
        json!([{ "name": "Bob Stone" }, { "name": "Carol White" }])
    );
    assert_eq!(iv["startedAt"], "2027-03-01T09:00:00Z");
    assert_eq!(iv["completedAt"], "2027-03-01T09:55:00Z");
    assert_eq!(iv["actualDurationSeconds"], 55 * 60);
    assert_eq!(iv["cancellationReason"], Value::Null);
    assert_eq!(
        iv["feedback"],
        json!([
            { "interviewer": { "name": "Bob Stone" }, "rating": 3,
              "competencies": [{ "name": "Coding", "score": 4 }, { "name": "Communication", "score": 3 }],
              "notes": "solid", "submittedAt": "2027-03-01T10:00:00Z" },
            { "interviewer": { "name": "Carol White" }, "rating": 4,
              "competencies": [{ "name": "Coding", "score": 5 }],
              "notes": null, "submittedAt": "2027-03-01T10:01:00Z" }
        ])
    );
    assert_eq!(
        iv["decision"],
        json!({ "outcome": "HIRE", "decidedBy": h.bob, "reason": "strong", "decidedAt": "2027-03-01T11:55:00Z" })
    );
    assert_eq!(iv["transcript"]["edges"], json!([]));
    assert_eq!(
        iv["transcript"]["pageInfo"],
        json!({ "hasNextPage": false, "endCursor": null })
    );
    assert_eq!(iv["version"], 6);
    assert!(iv["updatedAt"].as_str().is_some_and(|s| s.ends_with('Z')));

    let data = app.data(FULL, json!({ "id": h.cancelled })).await;
    assert_eq!(data["interview"]["status"], "CANCELLED");
    assert_eq!(data["interview"]["kind"], "PHONE_SCREEN");
    assert_eq!(
        data["interview"]["cancellationReason"],
        "candidate withdrew"
    );
    assert_eq!(data["interview"]["decision"], Value::Null);
    assert_eq!(data["interview"]["startedAt"], Value::Null);

    let data = app.data(FULL, json!({ "id": h.no_show })).await;
    assert_eq!(data["interview"]["status"], "NO_SHOW");
    assert_eq!(data["interview"]["startsAt"], "2027-03-03T11:00:00Z");
    let data = app.data(FULL, json!({ "id": h.upcoming })).await;
    assert_eq!(data["interview"]["status"], "SCHEDULED");
    assert_eq!(data["interview"]["kind"], "SYSTEM_DESIGN");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_interview_is_null_and_a_malformed_id_is_bad_input() {
    let app = spawn().await;
    let data = app
        .data(
            "{ interview(id: \"0190a000-0000-7000-8000-000000000000\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(data["interview"], Value::Null);

    let errors = app
        .errors("{ interview(id: \"not-a-uuid\") { id } }", json!({}))
        .await;
    assert_eq!(code(&errors[0]), "BAD_USER_INPUT", "{errors:?}");
    let errors = app
        .errors(
            "query($id: UUID!) { interview(id: $id) { id } }",
            json!({ "id": "nope" }),
        )
        .await;
    assert_eq!(code(&errors[0]), "BAD_USER_INPUT", "{errors:?}");
    app.stop().await;
}

const PAGE: &str = r#"query($first: Int, $after: String, $order: InterviewOrder, $filter: InterviewFilter) {
    interviews(first: $first, after: $after, orderBy: $order, filter: $filter) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id startsAt } }
    } }"#;

/// Walks every page; returns the ids in order and the `hasNextPage` of each page.
async fn walk(
    app: &crate::harness::TestApp,
    first: i32,
    order: &str,
    filter: Value,
) -> (Vec<String>, Vec<bool>, Vec<String>) {
    let (mut ids, mut more, mut starts, mut after) = (vec![], vec![], vec![], Value::Null);
    loop {
        let vars = json!({ "first": first, "after": after, "order": order, "filter": filter });
        let page = app.data(PAGE, vars).await["interviews"].clone();
        for e in page["edges"].as_array().expect("edges") {
            ids.push(e["node"]["id"].as_str().expect("id").to_owned());
            starts.push(e["node"]["startsAt"].as_str().expect("start").to_owned());
        }
        let next = page["pageInfo"]["hasNextPage"].as_bool().expect("bool");
        more.push(next);
        if !next {
            return (ids, more, starts);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

#[tokio::test]
async fn paging_walks_three_pages_in_order_without_duplicates_either_way() {
    let mut app = spawn().await;
    let w = &mut app.world;
    let cand = w.person("Cara Candidate", &[Role::Candidate]).await;
    let ivr = w.person("Ian Interviewer", &[Role::Interviewer]).await;
    // 25 interviews; two share each start time to exercise the id tie-break.
    for i in 0..25 {
        let candidate = if i % 2 == 0 {
            cand
        } else {
            w.person(&format!("C{i}"), &[Role::Candidate]).await
        };
        let panel = if i % 2 == 0 {
            vec![ivr]
        } else {
            vec![w.person(&format!("I{i}"), &[Role::Interviewer]).await]
        };
        let starts_at = format!("2027-04-{:02}T09:00:00Z", 1 + i / 2);
        w.schedule(Spec {
            candidate,
            panel,
            position: "SRE",
            kind: InterviewKind::Onsite,
            starts_at: &starts_at,
            minutes: 30,
        })
        .await;
    }
    app.settle().await;

    let (asc, more, starts) = walk(&app, 10, "STARTS_AT_ASC", Value::Null).await;
    assert_eq!(more, vec![true, true, false]);
    assert_eq!(asc.len(), 25);
    assert_eq!(
        asc.iter().collect::<HashSet<_>>().len(),
        25,
        "no duplicates"
    );
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "ascending by start");

    let (desc, more, _) = walk(&app, 10, "STARTS_AT_DESC", Value::Null).await;
    assert_eq!(more, vec![true, true, false]);
    assert_eq!(desc, asc.iter().rev().cloned().collect::<Vec<_>>());

    let first = app.data(PAGE, json!({ "first": 10 })).await;
    assert_eq!(first["interviews"]["totalCount"], 25);
    let cursor = first["interviews"]["pageInfo"]["endCursor"].clone();
    let errors = app
        .errors(
            PAGE,
            json!({ "first": 10, "after": cursor, "order": "STARTS_AT_DESC" }),
        )
        .await;
    assert_eq!(
        code(&errors[0]),
        "BAD_USER_INPUT",
        "an ascending cursor in a descending list"
    );
    let errors = app.errors(PAGE, json!({ "after": "garbage" })).await;
    assert_eq!(code(&errors[0]), "BAD_USER_INPUT");
    app.stop().await;
}

#[tokio::test]
async fn filters_combine_with_and_and_total_count_counts_every_match() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let count = |filter: Value| {
        let app = &app;
        async move {
            let page = app
                .data(PAGE, json!({ "first": 100, "filter": filter }))
                .await;
            let ids: Vec<String> = page["interviews"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
                .collect();
            assert_eq!(page["interviews"]["totalCount"], ids.len());
            ids
        }
    };
    let id = |u: uuid::Uuid| u.to_string();
    assert_eq!(count(json!({})).await.len(), 5);
    assert_eq!(
        count(json!({ "status": ["COMPLETED"] })).await,
        vec![id(h.held), id(h.final_round)]
    );
    assert_eq!(
        count(json!({ "status": ["CANCELLED", "NO_SHOW"] })).await,
        vec![id(h.cancelled), id(h.no_show)]
    );
    assert_eq!(
        count(json!({ "kind": ["FINAL", "PHONE_SCREEN"] })).await,
        vec![id(h.cancelled), id(h.final_round)]
    );
    assert_eq!(
        count(json!({ "candidateId": h.dan })).await,
        vec![id(h.cancelled), id(h.upcoming)]
    );
    assert_eq!(
        count(json!({ "interviewerId": h.carol })).await,
        vec![id(h.held), id(h.upcoming), id(h.no_show)]
    );
    assert_eq!(
        count(json!({ "position": "Frontend Engineer" })).await,
        vec![id(h.final_round), id(h.no_show)]
    );
    assert_eq!(
        count(
            json!({ "startsFrom": "2027-03-01T14:00:00Z", "startsBefore": "2027-03-03T09:00:00Z" })
        )
        .await,
        vec![id(h.cancelled), id(h.final_round)]
    );
    assert_eq!(
        count(json!({ "interviewerId": h.bob, "position": "Backend Engineer", "status": ["SCHEDULED", "COMPLETED"] })).await,
        vec![id(h.held), id(h.upcoming)]
    );
    assert!(
        count(json!({ "candidateId": h.eve, "kind": ["TECHNICAL"] }))
            .await
            .is_empty()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_page_of_interviews_with_people_feedback_and_decision_costs_a_fixed_number_of_statements()
{
    let mut app = spawn().await;
    let w = &mut app.world;
    let ivr = [
        w.person("Pat", &[Role::Interviewer]).await,
        w.person("Quinn", &[Role::Interviewer]).await,
    ];
    for i in 0..100 {
        let cand = w.person(&format!("Cand {i:03}"), &[Role::Candidate]).await;
        let starts_at = format!("2027-05-{:02}T{:02}:00:00Z", 1 + i / 10, 8 + i % 10);
        let id = w
            .schedule(Spec {
                candidate: cand,
                panel: ivr.to_vec(),
                position: "QA",
                kind: InterviewKind::Technical,
                starts_at: &starts_at,
                minutes: 30,
            })
            .await;
        if i % 3 == 0 {
            w.hold(id, &starts_at, 30).await;
            w.act(
                id,
                InterviewCommand::SubmitFeedback {
                    interviewer_id: ivr[0],
                    rating: 2,
                    competencies: vec![domain::interview::CompetencyScore {
                        name: "Testing".into(),
                        score: 3,
                    }],
                    notes: None,
                },
            )
            .await;
        }
    }
    app.settle().await;
    let query = r#"query($first: Int) { interviews(first: $first) { edges { node {
        id candidate { name } interviewers { name }
        feedback { rating interviewer { name } competencies { name score } }
        decision { outcome } } } } }"#;

    let mut costs = vec![];
    for first in [10, 100] {
        let before = app.ctx.read_model().statements();
        let data = app.data(query, json!({ "first": first })).await;
        costs.push(app.ctx.read_model().statements() - before);
        let edges = data["interviews"]["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), first as usize);
        assert_eq!(
            edges[0]["node"]["interviewers"],
            json!([{ "name": "Pat" }, { "name": "Quinn" }])
        );
        assert_eq!(
            edges[0]["node"]["feedback"][0]["competencies"][0]["name"],
            "Testing"
        );
    }
    // Page, people, feedback, competency scores, feedback's interviewers.
    assert!(
        costs.iter().all(|c| *c <= 6),
        "statements per page: {costs:?}"
    );
    assert_eq!(costs[0], costs[1], "the cost does not grow with the page");
    app.stop().await;
}
