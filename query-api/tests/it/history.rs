//! `Interview.history` and `Interview.asOf`, read from the event store.

use serde_json::{Value, json};

use crate::harness::spawn;
use crate::scenario::hiring;

#[tokio::test]
async fn history_is_the_interviews_own_stream_oldest_first() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let query = r#"query($id: UUID!) { interview(id: $id) { history {
        version position type occurredAt actor correlationId causationId data } } }"#;
    let data = app.data(query, json!({ "id": h.no_show })).await;
    let history = data["interview"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let types: Vec<&str> = history
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "InterviewScheduled",
            "InterviewRescheduled",
            "InterviewMarkedNoShow"
        ]
    );
    assert_eq!(
        history
            .iter()
            .map(|e| e["version"].clone())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let first = &history[0];
    assert_eq!(first["actor"], "tester");
    assert!(first["correlationId"].is_string() && first["causationId"].is_string());
    assert_eq!(first["data"]["candidateId"], json!(h.alice));
    assert_eq!(first["data"]["startsAt"], "2027-03-02T10:00:00Z");
    assert_eq!(history[1]["data"]["reason"], "room");
    let positions: Vec<infra::Position> = history
        .iter()
        .map(|e| {
            e["position"]
                .as_str()
                .unwrap_or("")
                .parse()
                .expect("position")
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    assert!(
        history
            .iter()
            .all(|e| e["occurredAt"].as_str().is_some_and(|t| t.ends_with('Z')))
    );
    app.stop().await;
}

#[tokio::test]
async fn as_of_rebuilds_the_interview_at_any_instant() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let times = app
        .data(
            r#"query($id: UUID!) { interview(id: $id) { history { occurredAt } } }"#,
            json!({ "id": h.no_show }),
        )
        .await;
    let at = |i: usize| {
        times["interview"]["history"][i]["occurredAt"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let (scheduled, rescheduled) = (at(0), at(1));
    let query = r#"query($id: UUID!, $at: DateTime!) { interview(id: $id) {
        asOf(at: $at) { status startsAt endsAt interviewerIds version } } }"#;
    let snapshot = |t: String| {
        let app = &app;
        async move {
            app.data(query, json!({ "id": h.no_show, "at": t })).await["interview"]["asOf"].clone()
        }
    };

    assert_eq!(
        snapshot("2025-01-01T00:00:00Z".into()).await,
        Value::Null,
        "before creation"
    );
    assert_eq!(
        snapshot(scheduled.clone()).await,
        json!({ "status": "SCHEDULED", "startsAt": "2027-03-02T10:00:00Z", "endsAt": "2027-03-02T10:45:00Z", "interviewerIds": [h.carol], "version": 1 })
    );
    assert_eq!(
        snapshot(rescheduled.clone()).await["startsAt"],
        "2027-03-03T11:00:00Z",
        "after the move"
    );
    assert_eq!(
        snapshot(rescheduled).await["status"],
        "SCHEDULED",
        "between changes"
    );
    let now = app
        .data(
            query,
            json!({ "id": h.no_show, "at": "2100-01-01T00:00:00+02:00" }),
        )
        .await;
    assert_eq!(now["interview"]["asOf"]["status"], "NO_SHOW");
    assert_eq!(now["interview"]["asOf"]["version"], 3);
    app.stop().await;
}
