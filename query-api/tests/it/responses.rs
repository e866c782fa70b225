//! Whole answers kept by request body: only for requests that read nothing but an
//! interview and people by id, dropped with those rows, never kept with errors.

use domain::Tenant;
use query_api::notify::{INTERVIEW_CHANNEL, Notice, PERSON_CHANNEL};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cache::{cache, heard, notify, sql};
use crate::harness::{TestApp, spawn};
use crate::world::Spec;
use domain::Role;
use domain::interview::InterviewKind;

const ONE: &str = r#"query($id: UUID!) { interview(id: $id) {
    id status location candidate { name } interviewers { name } decision { outcome } } }"#;

async fn seed(app: &mut TestApp) -> (Uuid, Uuid) {
    let w = &mut app.world;
    let candidate = w.person("Rae Candidate", &[Role::Candidate]).await;
    let panel = vec![w.person("Ola Panel", &[Role::Interviewer]).await];
    let interview = w
        .schedule(Spec {
            candidate,
            panel,
            position: "Data",
            kind: InterviewKind::Technical,
            starts_at: "2027-07-01T09:00:00Z",
            minutes: 45,
        })
        .await;
    app.settle().await;
    (interview, candidate)
}

/// POSTs `query` with `id`; the answer and the statements it sent.
async fn ask(app: &TestApp, query: &str, id: Uuid) -> (Value, u64) {
    let before = app.ctx.read_model().statements();
    let (status, answer) = app
        .post(json!({ "query": query, "variables": { "id": id } }), &[])
        .await;
    assert_eq!(status, 200, "{answer}");
    (answer, app.ctx.read_model().statements() - before)
}

#[tokio::test]
async fn an_answer_is_kept_whole_and_dropped_with_any_of_its_rows() {
    let mut app = spawn().await;
    let (interview, candidate) = seed(&mut app).await;
    let mut rx = app.ctx.notices().subscribe();
    let responses = || cache(&app).responses().stats();

    let (first, _) = ask(&app, ONE, interview).await;
    assert_eq!(first["data"]["interview"]["location"], "Room 1", "{first}");
    assert_eq!(responses().stored, 1);
    let (again, statements) = ask(&app, ONE, interview).await;
    assert_eq!(again, first);
    assert_eq!(statements, 0);
    assert_eq!(responses().hits, 1);

    // The interview changes: the projector's notice drops the answer with the row.
    sql(
        &app,
        "UPDATE rm.interviews SET location = 'Room 5' WHERE id = $1",
        interview,
    )
    .await;
    notify(&app, INTERVIEW_CHANNEL, &interview.to_string()).await;
    heard(&mut rx, |n| {
        *n == Notice::InterviewChanged(Tenant::default_tenant(), interview)
    })
    .await;
    let (changed, _) = ask(&app, ONE, interview).await;
    assert_eq!(
        changed["data"]["interview"]["location"], "Room 5",
        "{changed}"
    );

    // So does a change of a person in it.
    sql(
        &app,
        "UPDATE rm.people SET name = 'Rae Renamed' WHERE id = $1",
        candidate,
    )
    .await;
    notify(&app, PERSON_CHANNEL, &candidate.to_string()).await;
    heard(&mut rx, |n| {
        *n == Notice::PersonChanged(Tenant::default_tenant(), candidate)
    })
    .await;
    let (renamed, _) = ask(&app, ONE, interview).await;
    assert_eq!(
        renamed["data"]["interview"]["candidate"]["name"],
        "Rae Renamed"
    );
    assert_eq!(renamed["data"]["interview"]["location"], "Room 5");
    let (kept, statements) = ask(&app, ONE, interview).await;
    assert_eq!((kept, statements), (renamed, 0));

    // A clear (listener behind, reconnect) drops everything.
    cache(&app).clear();
    assert_eq!(responses().held, 0);

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("read_model_response_cache_hits_total 2"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn answers_that_read_anything_else_or_have_errors_are_not_kept() {
    let mut app = spawn().await;
    let (interview, candidate) = seed(&mut app).await;
    let untracked = [
        // Feedback comes from its own table, which no per-id notice of the interview covers.
        r#"query($id: UUID!) { interview(id: $id) { id feedback { rating } } }"#,
        // A person's interviews are a list query.
        r#"query($id: UUID!) { person(id: $id) { name interviews { totalCount } } }"#,
        // Lists.
        r#"query($id: UUID!) { interview(id: $id) { id } interviews(first: 5) { totalCount } }"#,
        // Introspection.
        r#"query($id: UUID!) { interview(id: $id) { id } __schema { queryType { name } } }"#,
    ];
    for query in untracked {
        let id = if query.contains("person(") {
            candidate
        } else {
            interview
        };
        for _ in 0..2 {
            let (answer, _) = ask(&app, query, id).await;
            // Each answer is about something that exists (a null answer reads one row).
            let data = &answer["data"];
            assert!(
                data["interview"]["id"] == json!(id) || data["person"]["name"] == "Rae Candidate",
                "{answer}"
            );
            assert!(answer.get("errors").is_none(), "{answer}");
        }
        let stats = cache(&app).responses().stats();
        assert_eq!(stats.stored, 0, "{query}");
    }
    // An answer with errors (the person does not exist: the resolver says so).
    let missing = r#"query($id: UUID!) { interview(id: $id) { id candidate { name } } }"#;
    sql(
        &app,
        "DELETE FROM rm.people WHERE id IN (SELECT candidate_id FROM rm.interviews WHERE id = $1)",
        interview,
    )
    .await;
    cache(&app).clear();
    let (answer, _) = ask(&app, missing, interview).await;
    assert!(answer.get("errors").is_some(), "{answer}");
    let stats = cache(&app).responses().stats();
    assert_eq!(
        (stats.stored, stats.hits, stats.held),
        (0, 0, 0),
        "{stats:?}"
    );
    app.stop().await;
}
