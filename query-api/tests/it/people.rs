//! `person`, `people` and `Person.interviews`.

use std::collections::HashSet;

use domain::Role;
use serde_json::{Value, json};

use crate::harness::{code, spawn};
use crate::scenario::hiring;

#[tokio::test]
async fn a_person_lists_their_interviews_as_candidate_or_panel_member() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let query = r#"query($id: UUID!, $status: InterviewStatus, $first: Int, $after: String) { person(id: $id) {
        id name email roles timezone version
        interviews(first: $first, after: $after, status: $status) {
            totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } }"#;
    let ids = |v: &Value| -> Vec<String> {
        v["person"]["interviews"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
            .collect()
    };

    let data = app.data(query, json!({ "id": h.eve })).await;
    assert_eq!(data["person"]["name"], "Eve Adams");
    assert_eq!(data["person"]["roles"], json!(["CANDIDATE", "INTERVIEWER"]));
    assert_eq!(ids(&data), vec![h.final_round.to_string()]);

    let data = app.data(query, json!({ "id": h.bob })).await;
    let all = [h.held, h.cancelled, h.final_round, h.upcoming]
        .iter()
        .map(|u| u.to_string())
        .collect::<Vec<_>>();
    assert_eq!(ids(&data), all);
    assert_eq!(data["person"]["interviews"]["totalCount"], 4);

    let data = app
        .data(query, json!({ "id": h.bob, "status": "COMPLETED" }))
        .await;
    assert_eq!(
        ids(&data),
        vec![h.held.to_string(), h.final_round.to_string()]
    );

    let page1 = app.data(query, json!({ "id": h.bob, "first": 3 })).await;
    assert_eq!(
        page1["person"]["interviews"]["pageInfo"]["hasNextPage"],
        true
    );
    let after = page1["person"]["interviews"]["pageInfo"]["endCursor"].clone();
    let page2 = app
        .data(query, json!({ "id": h.bob, "first": 3, "after": after }))
        .await;
    assert_eq!([ids(&page1), ids(&page2)].concat(), all);

    let data = app.data(query, json!({ "id": uuid::Uuid::now_v7() })).await;
    assert_eq!(data["person"], Value::Null);
    app.stop().await;
}

const PEOPLE: &str = r#"query($role: Role, $search: String, $first: Int, $after: String) {
    people(role: $role, search: $search, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name roles } } } }"#;

#[tokio::test]
async fn people_page_by_name_filtered_by_role_and_search() {
    let mut app = spawn().await;
    for (name, roles) in [
        ("zoe Quinn", vec![Role::Candidate]),
        ("Adam Smith", vec![Role::Interviewer]),
        ("bella Jones", vec![Role::Candidate]),
        ("Carl 100% Real", vec![Role::Candidate, Role::Interviewer]),
        ("Dora Smithson", vec![Role::Interviewer]),
        ("Ezra Pound", vec![Role::Candidate]),
        ("Fay Wray", vec![Role::Candidate]),
    ] {
        app.world.person(name, &roles).await;
    }
    app.settle().await;

    let (mut names, mut more, mut after) = (vec![], vec![], Value::Null);
    loop {
        let page = app
            .data(PEOPLE, json!({ "first": 3, "after": after }))
            .await["people"]
            .clone();
        assert_eq!(page["totalCount"], 7);
        names.extend(
            page["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["name"].as_str().expect("name").to_owned()),
        );
        more.push(page["pageInfo"]["hasNextPage"].as_bool().expect("bool"));
        if !more.last().copied().unwrap_or(false) {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(more, vec![true, true, false]);
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), 7);
    assert_eq!(
        names,
        [
            "Adam Smith",
            "bella Jones",
            "Carl 100% Real",
            "Dora Smithson",
            "Ezra Pound",
            "Fay Wray",
            "zoe Quinn"
        ]
    );

    let page = app.data(PEOPLE, json!({ "role": "INTERVIEWER" })).await;
    let got: Vec<&str> = page["people"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(got, ["Adam Smith", "Carl 100% Real", "Dora Smithson"]);
    assert_eq!(page["people"]["totalCount"], 3);

    let page = app
        .data(PEOPLE, json!({ "search": "SMITH", "role": "INTERVIEWER" }))
        .await;
    assert_eq!(page["people"]["totalCount"], 2);
    let page = app.data(PEOPLE, json!({ "search": "0%" })).await;
    assert_eq!(page["people"]["totalCount"], 1, "% is matched literally");
    let page = app.data(PEOPLE, json!({ "search": "_" })).await;
    assert_eq!(page["people"]["totalCount"], 0, "_ is matched literally");

    for first in [0, 101] {
        let errors = app.errors(PEOPLE, json!({ "first": first })).await;
        assert_eq!(code(&errors[0]), "BAD_USER_INPUT");
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("between 1 and 100"),
            "{errors:?}"
        );
    }
    app.stop().await;
}
