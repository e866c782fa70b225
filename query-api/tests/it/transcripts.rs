//! `Interview.transcript` and `searchTranscripts`.

use serde_json::{Value, json};

use crate::harness::{code, spawn};
use crate::scenario::hiring;

#[tokio::test]
async fn a_transcript_pages_in_spoken_order() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let query = r#"query($id: UUID!, $after: String) { interview(id: $id) {
        transcript(first: 3, after: $after) { pageInfo { hasNextPage endCursor } edges { node { speakerId startMs endMs text } } } } }"#;
    let page1 =
        app.data(query, json!({ "id": h.final_round })).await["interview"]["transcript"].clone();
    assert_eq!(page1["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        page1["edges"][0]["node"],
        json!({ "speakerId": h.bob, "startMs": 0, "endMs": 4000, "text": "Tell me about a distributed system you designed." })
    );
    let after = page1["pageInfo"]["endCursor"].clone();
    let page2 = app
        .data(query, json!({ "id": h.final_round, "after": after }))
        .await["interview"]["transcript"]
        .clone();
    assert_eq!(page2["pageInfo"]["hasNextPage"], false);
    assert_eq!(page2["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(page2["edges"][0]["node"]["startMs"], 25000);
    app.stop().await;
}

const SEARCH: &str = r#"query($q: String!, $first: Int, $after: String) { searchTranscripts(query: $q, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } edges { cursor node { rank interview { id status } segment { text speakerId } } } } }"#;

#[tokio::test]
async fn search_finds_segments_best_first_and_pages_by_rank() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let hits = app.data(SEARCH, json!({ "q": "projections" })).await["searchTranscripts"].clone();
    let edges = hits["edges"].as_array().cloned().unwrap_or_default();
    assert_eq!(edges.len(), 2, "{hits:#}");
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["interview"]["id"] == json!(h.final_round))
    );
    assert_eq!(edges[0]["node"]["interview"]["status"], "COMPLETED");
    let ranks: Vec<f64> = edges
        .iter()
        .map(|e| e["node"]["rank"].as_f64().expect("rank"))
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] >= w[1]),
        "best first: {ranks:?}"
    );

    // Web-search syntax: a phrase and an exclusion.
    let hits = app
        .data(SEARCH, json!({ "q": "\"event sourced\" -banana" }))
        .await;
    let text = hits["searchTranscripts"]["edges"][0]["node"]["segment"]["text"].clone();
    assert_eq!(
        text,
        "I built an event sourced ledger with PostgreSQL projections."
    );

    // One hit per page: every hit once, in the same order.
    let (mut seen, mut after) = (vec![], Value::Null);
    loop {
        let page = app
            .data(
                SEARCH,
                json!({ "q": "projections OR system OR batch", "first": 1, "after": after }),
            )
            .await["searchTranscripts"]
            .clone();
        seen.extend(
            page["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["segment"]["text"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let all = app
        .data(
            SEARCH,
            json!({ "q": "projections OR system OR batch", "first": 100 }),
        )
        .await;
    let expected: Vec<Value> = all["searchTranscripts"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["segment"]["text"].clone())
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(seen.len(), 4);

    let none = app.data(SEARCH, json!({ "q": "zebra" })).await;
    assert_eq!(none["searchTranscripts"]["edges"], json!([]));
    let errors = app.errors(SEARCH, json!({ "q": "  " })).await;
    assert_eq!(code(&errors[0]), "BAD_USER_INPUT");
    app.stop().await;
}
