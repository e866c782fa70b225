//! A whole hiring story over HTTP, checked through GraphQL with read-your-writes.

use serde_json::json;

use crate::harness::{Server, Store, drop_database, fresh_database_url};

const INTERVIEW: &str = r#"query($id: UUID!) { interview(id: $id) {
  id status kind position startsAt endsAt durationMinutes version
  candidate { id name roles } interviewers { id name }
  startedAt completedAt actualDurationSeconds cancellationReason
  feedback { interviewer { id } rating competencies { name score } notes }
  decision { outcome decidedBy reason }
  transcript(first: 10) { edges { node { speakerId text } } }
  history { version type actor actorName actorPerson onBehalfOf }
  asOf(at: "2099-01-01T00:00:00Z") { version lastActor }
} }"#;

async fn story(server: &Server) {
    let s = server;
    // Unique days and position, so a shared EventStoreDB's other events do not count here.
    let offset = (uuid::Uuid::new_v4().as_u128() % 20_000) as i64;
    let day1 =
        chrono::NaiveDate::from_ymd_opt(2030, 1, 1).expect("date") + chrono::Duration::days(offset);
    let day2 = day1 + chrono::Duration::days(1);
    let position_name = format!(
        "Backend Engineer {offset}-{}",
        uuid::Uuid::new_v4().simple()
    );
    let at = |d: chrono::NaiveDate, hm: &str| format!("{d}T{hm}:00Z");
    let (cand, _) = s.ok(s
        .post(
            "/people",
            json!({"name": "Cora Candidate", "email": "cora@example.com", "roles": ["candidate"]}),
        )
        .await);
    let (i1, _) = s.ok(s
        .post(
            "/people",
            json!({"name": "Ivan Interviewer", "roles": ["interviewer"]}),
        )
        .await);
    let (i2, _) = s.ok(s
        .post(
            "/people",
            json!({"name": "Ines Interviewer", "roles": ["interviewer"]}),
        )
        .await);
    s.ok(s.post(&format!("/people/{i2}/availability"), json!({"add": [{"start": at(day1, "08:00"), "end": at(day1, "18:00")}, {"start": at(day2, "08:00"), "end": at(day2, "18:00")}]})).await);

    let (id, _) = s.ok(s.post("/interviews", json!({"candidateId": cand, "interviewerIds": [i1, i2], "position": position_name, "kind": "system_design", "startsAt": at(day1, "10:00"), "durationMinutes": 60})).await);
    // Ines is booked; another candidate cannot take the slot.
    let (other, _) = s.ok(s
        .post("/people", json!({"name": "Otto", "roles": ["candidate"]}))
        .await);
    let (status, problem) = s.post("/interviews", json!({"candidateId": other, "interviewerIds": [i2], "position": position_name, "kind": "technical", "startsAt": at(day1, "10:30"), "durationMinutes": 30})).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap_or_default()
            .ends_with("booking-conflict")
    );

    s.ok(s
        .post(
            &format!("/interviews/{id}/reschedule"),
            json!({"startsAt": at(day2, "09:00"), "reason": "room"}),
        )
        .await);
    s.ok(s.post(&format!("/interviews/{id}/start"), json!({})).await);
    s.ok(s.post(&format!("/interviews/{id}/transcript"), json!({"segments": [{"speakerId": cand, "startMs": 0, "endMs": 2000, "text": "I designed an event store"}]})).await);
    s.ok(s
        .post(&format!("/interviews/{id}/complete"), json!({}))
        .await);
    s.ok(s.post(&format!("/interviews/{id}/feedback"), json!({"interviewerId": i1, "rating": 4, "competencies": [{"name": "design", "score": 5}]})).await);
    let (_, position) = s.ok(s
        .post(
            &format!("/interviews/{id}/decision"),
            json!({"outcome": "hire", "decidedBy": i1, "reason": "great"}),
        )
        .await);

    let got = s
        .graphql(INTERVIEW, json!({"id": id}), Some(&position))
        .await;
    assert!(got.get("errors").is_none(), "{got}");
    let iv = &got["data"]["interview"];
    assert_eq!(iv["status"], "COMPLETED");
    assert_eq!(iv["kind"], "SYSTEM_DESIGN");
    assert_eq!(iv["startsAt"], at(day2, "09:00"));
    assert_eq!(iv["version"], 7);
    assert_eq!(iv["candidate"]["name"], "Cora Candidate");
    assert_eq!(iv["interviewers"].as_array().map(Vec::len), Some(2));
    assert_eq!(iv["feedback"][0]["rating"], 4);
    assert_eq!(
        iv["feedback"][0]["competencies"][0],
        json!({"name": "design", "score": 5})
    );
    assert_eq!(iv["decision"]["outcome"], "HIRE");
    assert_eq!(
        iv["transcript"]["edges"][0]["node"]["text"],
        "I designed an event store"
    );
    let history: Vec<&str> = iv["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["type"].as_str())
        .collect();
    assert_eq!(
        history,
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
    // Every event names the verified caller: the CLI's token (subject `cli`).
    for h in iv["history"].as_array().expect("history") {
        assert_eq!(h["actor"], "cli", "{h}");
        assert_eq!(h["onBehalfOf"], serde_json::Value::Null, "{h}");
    }
    assert_eq!(iv["asOf"]["lastActor"], "cli");
    assert_eq!(iv["asOf"]["version"], 7);

    // A second interview, cancelled: its bookings are released and counted as cancelled.
    let (second, _) = s.ok(s.post("/interviews", json!({"candidateId": other, "interviewerIds": [i2], "position": position_name, "kind": "technical", "startsAt": at(day1, "10:30"), "durationMinutes": 30})).await);
    let (_, position) = s.ok(s
        .post(
            &format!("/interviews/{second}/cancel"),
            json!({"reason": "filled"}),
        )
        .await);
    let q = r#"query($p: UUID!, $from: DateTime!, $to: DateTime!, $d1: Date!, $d2: Date!, $pos: String) {
      schedule(personId: $p, from: $from, to: $to) { bookings { interviewId start } free { start end } }
      analytics { dailyInterviews(from: $d1, to: $d2) { date scheduled completed cancelled }
                  funnel(position: $pos) { total completed hired } }
      projections { name state lagEvents }
    }"#;
    let vars = json!({"p": i2, "from": at(day1, "00:00"), "to": at(day2 + chrono::Duration::days(1), "00:00"),
                      "d1": day1.to_string(), "d2": day2.to_string(), "pos": position_name});
    let got = s.graphql(q, vars, Some(&position)).await;
    assert!(got.get("errors").is_none(), "{got}");
    let d = &got["data"];
    assert_eq!(
        d["schedule"]["bookings"],
        json!([{"interviewId": id.to_string(), "start": at(day2, "09:00")}])
    );
    assert_eq!(
        d["analytics"]["dailyInterviews"],
        json!([
            {"date": day1.to_string(), "scheduled": 1, "completed": 0, "cancelled": 1},
            {"date": day2.to_string(), "scheduled": 1, "completed": 1, "cancelled": 0},
        ])
    );
    assert_eq!(
        d["analytics"]["funnel"],
        json!({"total": 2, "completed": 1, "hired": 1})
    );
    for p in d["projections"].as_array().expect("projections") {
        assert_eq!(p["state"], "LIVE", "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_hiring_story_on_postgres() {
    let url = fresh_database_url();
    let server = Server::start(&url, Store::Postgres);
    story(&server).await;
    drop(server);
    drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_hiring_story_on_eventstoredb() {
    let Some(store) = Store::esdb("a_whole_hiring_story") else {
        return;
    };
    let url = fresh_database_url();
    let server = Server::start(&url, store);
    story(&server).await;
    drop(server);
    drop_database(&url).await;
}
