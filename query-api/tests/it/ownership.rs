//! The ownership rules of the query API (docs/API.md §5): an interviewer's panel, the
//! independent feedback, a candidate's own interviews, tokens without a person, and the
//! response cache kept per caller; all over HTTP with real tokens.

use domain::interview::{CompetencyScore, InterviewCommand};
use infra::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{TestApp, code, spawn};
use crate::scenario::hiring;

/// POSTs `query` with `variables` as `token`; the JSON answer.
async fn ask(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = json!({ "query": query, "variables": variables });
    let (status, answer) = app.post(body, &[("authorization", token)]).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The codes of the errors of `answer`, with their paths.
fn denied(answer: &Value) -> Vec<(String, String)> {
    answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (code(e).to_owned(), e["path"].to_string()))
        .collect()
}

fn ids(answer: &Value, at: &str) -> Vec<String> {
    let mut ids: Vec<String> = answer
        .pointer(at)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| e["node"]["id"].as_str().unwrap_or("").to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(v: &[Uuid]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(Uuid::to_string).collect();
    v.sort();
    v
}

#[tokio::test]
async fn an_interviewer_reads_the_interviews_of_its_panel_and_nothing_else() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let carol = app.bearer(&[Role::Interviewer], Some(h.carol));
    const ONE: &str = "query($id: UUID!) { interview(id: $id) { id decision { outcome } asOf(at: \"2027-03-01T09:30:00Z\") { status } transcript { edges { cursor } } } }";

    let on = ask(&app, &carol, ONE, json!({ "id": h.held })).await;
    assert!(on.get("errors").is_none(), "{on}");
    assert_eq!(on["data"]["interview"]["decision"]["outcome"], "HIRE");
    let off = ask(&app, &carol, ONE, json!({ "id": h.final_round })).await;
    assert_eq!(
        denied(&off),
        [("FORBIDDEN".to_owned(), "[\"interview\"]".to_owned())]
    );
    assert!(off["data"]["interview"].is_null(), "{off}");
    let nowhere = ask(&app, &carol, ONE, json!({ "id": Uuid::new_v4() })).await;
    assert!(nowhere.get("errors").is_none() && nowhere["data"]["interview"].is_null());

    // Lists hold its panel's interviews only, counted as such.
    let list = ask(
        &app,
        &carol,
        "{ interviews(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(list["data"]["interviews"]["totalCount"], 3, "{list}");
    assert_eq!(list["data"]["interviews"]["pageInfo"]["hasNextPage"], true);
    let after = list["data"]["interviews"]["pageInfo"]["endCursor"].clone();
    let rest = ask(
        &app,
        &carol,
        "query($after: String) { interviews(first: 2, after: $after) { edges { node { id } } } }",
        json!({ "after": after }),
    )
    .await;
    let mut seen = ids(&list, "/data/interviews/edges");
    seen.extend(ids(&rest, "/data/interviews/edges"));
    seen.sort();
    assert_eq!(seen, sorted(&[h.held, h.no_show, h.upcoming]));
    let alices = ask(
        &app,
        &carol,
        "query($c: UUID!) { interviews(filter: { candidateId: $c }) { totalCount } }",
        json!({ "c": h.alice }),
    )
    .await;
    assert_eq!(alices["data"]["interviews"]["totalCount"], 2, "{alices}");
    let bobs = ask(
        &app,
        &carol,
        "query($i: UUID!) { interviews(filter: { interviewerId: $i }) { totalCount } }",
        json!({ "i": h.bob }),
    )
    .await;
    assert_eq!(
        denied(&bobs),
        [("FORBIDDEN".to_owned(), "[\"interviews\"]".to_owned())]
    );
    // Bob's interviews, seen from Carol: those they share.
    let shared = ask(
        &app,
        &carol,
        "query($id: UUID!) { interview(id: $id) { interviewers { id email interviews { totalCount } } } }",
        json!({ "id": h.upcoming }),
    )
    .await;
    assert!(shared.get("errors").is_none(), "{shared}");
    let panel = shared["data"]["interview"]["interviewers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let bob = panel
        .iter()
        .find(|p| p["id"] == json!(h.bob))
        .expect("bob on the panel");
    assert_eq!(bob["interviews"]["totalCount"], 2, "held and upcoming");

    for (query, vars, path) in [
        (
            "query($id: UUID!) { interview(id: $id) { history { type } } }",
            json!({ "id": h.held }),
            "[\"interview\",\"history\"]",
        ),
        ("{ people { totalCount } }", json!({}), "[\"people\"]"),
        (
            "query($id: UUID!) { person(id: $id) { name } }",
            json!({ "id": h.bob }),
            "[\"person\"]",
        ),
        (
            "query($id: UUID!) { schedule(personId: $id, from: \"2027-03-01T00:00:00Z\", to: \"2027-03-02T00:00:00Z\") { personId } }",
            json!({ "id": h.bob }),
            "[\"schedule\"]",
        ),
        (
            "query($a: UUID!, $b: UUID!) { availability(personIds: [$a, $b], from: \"2027-03-01T00:00:00Z\", to: \"2027-03-02T00:00:00Z\", durationMinutes: 30) { start } }",
            json!({ "a": h.carol, "b": h.bob }),
            "[\"availability\"]",
        ),
    ] {
        let answer = ask(&app, &carol, query, vars).await;
        assert_eq!(
            denied(&answer),
            [("FORBIDDEN".to_owned(), path.to_owned())],
            "{query}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_panel_member_sees_the_feedback_only_after_giving_its_own() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let w = &mut app.world;
    w.set_now("2027-03-03T08:00:00Z");
    w.hold(h.upcoming, "2027-03-03T09:00:00Z", 60).await;
    w.set_now("2027-03-03T10:30:00Z");
    let feedback = |interviewer_id, rating| InterviewCommand::SubmitFeedback {
        interviewer_id,
        rating,
        competencies: vec![CompetencyScore {
            name: "Design".into(),
            score: 4,
        }],
        notes: Some("independent".into()),
    };
    w.act(h.upcoming, feedback(h.bob, 3)).await;
    app.settle().await;
    const FEEDBACK: &str =
        "query($id: UUID!) { interview(id: $id) { id feedback { interviewer { id } rating } } }";
    let vars = json!({ "id": h.upcoming });
    let carol = app.bearer(&[Role::Interviewer], Some(h.carol));
    let bob = app.bearer(&[Role::Interviewer], Some(h.bob));

    let before = ask(&app, &carol, FEEDBACK, vars.clone()).await;
    assert_eq!(
        denied(&before),
        [(
            "FORBIDDEN".to_owned(),
            "[\"interview\",\"feedback\"]".to_owned()
        )],
        "{before}"
    );
    let bobs = ask(&app, &bob, FEEDBACK, vars.clone()).await;
    assert!(bobs.get("errors").is_none(), "{bobs}");
    assert_eq!(
        bobs["data"]["interview"]["feedback"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    app.world.act(h.upcoming, feedback(h.carol, 4)).await;
    app.settle().await;
    let after = ask(&app, &carol, FEEDBACK, vars.clone()).await;
    assert!(after.get("errors").is_none(), "{after}");
    assert_eq!(
        after["data"]["interview"]["feedback"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "all of it once its own is in: {after}"
    );
    let recruiter = app.bearer(&[Role::Recruiter], None);
    let all = ask(&app, &recruiter, FEEDBACK, vars).await;
    assert!(all.get("errors").is_none(), "{all}");
    app.stop().await;
}

#[tokio::test]
async fn a_candidate_sees_when_and_with_whom_of_its_own_interviews_only() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let alice = app.bearer(&[Role::Candidate], Some(h.alice));
    let vars = json!({ "id": h.held });

    let own = ask(
        &app,
        &alice,
        "query($id: UUID!) { interview(id: $id) { status kind position startsAt endsAt candidate { name email } interviewers { name } } }",
        vars.clone(),
    )
    .await;
    assert!(own.get("errors").is_none(), "{own}");
    assert_eq!(
        own["data"]["interview"]["interviewers"][0]["name"],
        "Bob Stone"
    );
    assert_eq!(
        own["data"]["interview"]["candidate"]["email"], "alice.martin@example.com",
        "its own email"
    );

    let list = ask(
        &app,
        &alice,
        "{ interviews { totalCount edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(list["data"]["interviews"]["totalCount"], 2, "{list}");
    assert_eq!(
        ids(&list, "/data/interviews/edges"),
        sorted(&[h.held, h.no_show])
    );
    let mine = ask(
        &app,
        &alice,
        "query($id: UUID!) { person(id: $id) { email interviews { totalCount } } }",
        json!({ "id": h.alice }),
    )
    .await;
    assert!(mine.get("errors").is_none(), "{mine}");
    assert_eq!(mine["data"]["person"]["interviews"]["totalCount"], 2);

    for field in [
        "feedback { rating }",
        "decision { outcome }",
        "transcript { edges { cursor } }",
        "history { type }",
        "asOf(at: \"2027-03-01T09:30:00Z\") { status }",
        "interviewers { email }",
    ] {
        let query = format!("query($id: UUID!) {{ interview(id: $id) {{ id {field} }} }}");
        let answer = ask(&app, &alice, &query, vars.clone()).await;
        let codes: Vec<String> = denied(&answer).into_iter().map(|(c, _)| c).collect();
        assert!(
            !codes.is_empty() && codes.iter().all(|c| c == "FORBIDDEN"),
            "{field}: {answer}"
        );
    }
    for (query, vars) in [
        (
            "query($id: UUID!) { interview(id: $id) { id } }",
            json!({ "id": h.upcoming }),
        ),
        (
            "query($id: UUID!) { interviews(filter: { candidateId: $id }) { totalCount } }",
            json!({ "id": h.dan }),
        ),
        (
            "query($id: UUID!) { person(id: $id) { name } }",
            json!({ "id": h.bob }),
        ),
        ("{ analytics { hourOfDay { hour } } }", json!({})),
        ("{ people { totalCount } }", json!({})),
        (
            "{ searchTranscripts(query: \"ledger\") { edges { cursor } } }",
            json!({}),
        ),
    ] {
        let answer = ask(&app, &alice, query, vars).await;
        let codes: Vec<String> = denied(&answer).into_iter().map(|(c, _)| c).collect();
        assert_eq!(codes, ["FORBIDDEN"], "{query}: {answer}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_token_without_a_person_or_with_service_alone_reads_nothing_personal() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    for token in [
        app.bearer(&[Role::Interviewer], None),
        app.bearer(&[Role::Candidate], None),
        app.bearer(&[Role::Service], Some(h.carol)),
    ] {
        for query in [
            "{ interviews { totalCount } }",
            "query($id: UUID!) { interview(id: $id) { id } }",
            "query($id: UUID!) { person(id: $id) { id } }",
        ] {
            let answer = ask(&app, &token, query, json!({ "id": h.carol })).await;
            let codes: Vec<String> = denied(&answer).into_iter().map(|(c, _)| c).collect();
            assert_eq!(codes, ["FORBIDDEN"], "{query}: {answer}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_kept_answer_is_never_served_to_a_caller_it_was_not_made_for() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let body = json!({
        "query": "query($id: UUID!) { interview(id: $id) { id status candidate { name email } } }",
        "variables": { "id": h.upcoming },
    });
    for _ in 0..2 {
        let (status, answer) = app.post(body.clone(), &[]).await;
        assert_eq!(status, 200);
        assert!(answer.get("errors").is_none(), "{answer}");
    }
    let alice = app.bearer(&[Role::Candidate], Some(h.alice));
    let (_, answer) = app.post(body, &[("authorization", &alice)]).await;
    let codes: Vec<String> = denied(&answer).into_iter().map(|(c, _)| c).collect();
    assert_eq!(codes, ["FORBIDDEN"], "{answer}");
    app.stop().await;
}
