//! Tenants: a caller of one tenant never sees, counts, finds or hears of another tenant's
//! data, even where the other tenant uses the same ids. Requests go through the router
//! with a token of the tenant under test (the verified caller's tenant is the viewer's).

use std::time::Duration;

use domain::Role;
use domain::interview::{InterviewCommand, InterviewKind, TranscriptSegment};
use futures::StreamExt;
use query_api::Viewer;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{TestApp, bearer_in, caller_of, spawn};
use crate::scenario::{Hiring, hiring};
use crate::world::{Spec, t};

fn viewer(tenant: &str) -> Viewer {
    Viewer::of(domain::Tenant::parse(tenant).expect("a slug"))
}

/// Globex: a small tenant whose client chose some of acme's ids (Alice's and Bob's for
/// two people, the held interview's for one interview), plus a person and an interview
/// of its own, with a transcript acme never said.
struct Globex {
    only_person: Uuid,
    only_interview: Uuid,
}

async fn globex(app: &mut TestApp, h: &Hiring) -> Globex {
    let w = &mut app.world;
    w.in_tenant("globex");
    w.choose_ids(&[h.alice, h.bob]);
    let zed = w.person("Zed Globex", &[Role::Candidate]).await;
    let yan = w.person("Yan Globex", &[Role::Interviewer]).await;
    assert_eq!((zed, yan), (h.alice, h.bob));
    let only_person = w.person("Xia Globex", &[Role::Candidate]).await;
    let spec = |candidate, starts_at| Spec {
        candidate,
        panel: vec![yan],
        position: "Globex Secret",
        kind: InterviewKind::Technical,
        starts_at,
        minutes: 30,
    };
    w.choose_ids(&[h.held]);
    let same_id = w.schedule(spec(zed, "2027-04-01T07:00:00Z")).await;
    assert_eq!(same_id, h.held);
    let only_interview = w.schedule(spec(only_person, "2027-04-02T07:00:00Z")).await;
    w.act(
        only_interview,
        InterviewCommand::Start {
            at: t("2027-04-02T07:00:00Z"),
        },
    )
    .await;
    w.act(
        only_interview,
        InterviewCommand::RecordTranscript {
            segments: vec![TranscriptSegment {
                speaker_id: yan,
                start_ms: 0,
                end_ms: 1000,
                text: "The xylophone projections of globex.".into(),
            }],
        },
    )
    .await;
    w.in_tenant("default");
    app.settle().await;
    Globex {
        only_person,
        only_interview,
    }
}

const BY_ID: &str = r#"query($i: UUID!, $p: UUID!) {
    interview(id: $i) { id position candidate { name } interviewers { name } history { type } }
    person(id: $p) { id name } }"#;

const LISTS: &str = r#"{
    interviews(first: 50) { totalCount edges { node { id position } } }
    people(first: 50) { totalCount edges { node { name } } }
    globexPeople: people(search: "Globex") { totalCount }
    searchTranscripts(query: "xylophone OR projections") { edges { node { interview { id } segment { text } } } } }"#;

const ANALYTICS: &str = r#"{ analytics {
    dailyInterviews(from: "2027-03-01", to: "2027-04-30") { date scheduled }
    funnel { total }
    secret: funnel(position: "Globex Secret") { total }
    hourOfDay { hour interviews }
    interviewerLoad(from: "2027-01-01T00:00:00Z", to: "2028-01-01T00:00:00Z") { interviewer { name } interviews }
    competencyScores { name count } } }"#;

const SCHEDULE: &str = r#"query($p: UUID!) {
    schedule(personId: $p, from: "2027-02-01T00:00:00Z", to: "2027-05-01T00:00:00Z") { bookings { interviewId } } }"#;

const AS_OF: &str = r#"query($i: UUID!) { interview(id: $i) { asOf(at: "2027-12-31T00:00:00Z") { status version } } }"#;

fn names(v: &Value, list: &str) -> Vec<String> {
    let mut out: Vec<String> = v[list]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let node = &e["node"];
            node.get("name")
                .or_else(|| node.get("position"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    out.sort();
    out
}

fn total(v: &Value, path: &str) -> i64 {
    v[path]["totalCount"].as_i64().expect("totalCount")
}

fn sum(v: &Value, list: &str, field: &str) -> i64 {
    v["analytics"][list]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r[field].as_i64().unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn a_viewer_sees_only_its_tenant_on_every_read_path() {
    let mut app = spawn().await;
    app.world.in_tenant("acme");
    let h = hiring(&mut app).await;
    app.world.in_tenant("default");
    let g = globex(&mut app, &h).await;
    let (acme, globex, home) = (viewer("acme"), viewer("globex"), viewer("default"));

    // By id: the same ids answer each tenant's own rows; another tenant's ids are null.
    let ids = json!({ "i": h.held, "p": h.alice });
    let a = app.data_as(&acme, BY_ID, ids.clone()).await;
    assert_eq!(a["interview"]["position"], "Backend Engineer");
    assert_eq!(a["interview"]["candidate"]["name"], "Alice Martin");
    assert_eq!(a["person"]["name"], "Alice Martin");
    let acme_history = a["interview"]["history"].as_array().map(Vec::len);
    assert!(acme_history > Some(1), "{a:#}");
    let b = app.data_as(&globex, BY_ID, ids.clone()).await;
    assert_eq!(b["interview"]["position"], "Globex Secret");
    assert_eq!(b["interview"]["candidate"]["name"], "Zed Globex");
    assert_eq!(b["interview"]["interviewers"][0]["name"], "Yan Globex");
    assert_eq!(b["person"]["name"], "Zed Globex");
    assert_eq!(
        b["interview"]["history"],
        json!([{ "type": "InterviewScheduled" }]),
        "history reads globex's stream"
    );
    let others = json!({ "i": g.only_interview, "p": g.only_person });
    let a = app.data_as(&acme, BY_ID, others.clone()).await;
    assert_eq!(a, json!({ "interview": null, "person": null }));
    let b = app
        .data_as(&globex, BY_ID, json!({ "i": h.final_round, "p": h.eve }))
        .await;
    assert_eq!(b, json!({ "interview": null, "person": null }));
    let d = app.data_as(&home, BY_ID, ids).await;
    assert_eq!(d, json!({ "interview": null, "person": null }));
    // Asked again: the answer and row caches hold per tenant.
    let again = app.data_as(&acme, BY_ID, others).await;
    assert_eq!(again, json!({ "interview": null, "person": null }));
    let b = app
        .data_as(&globex, BY_ID, json!({ "i": h.held, "p": h.alice }))
        .await;
    assert_eq!(b["person"]["name"], "Zed Globex");

    // asOf folds the viewer's stream.
    let a = app.data_as(&acme, AS_OF, json!({ "i": h.held })).await;
    let b = app.data_as(&globex, AS_OF, json!({ "i": h.held })).await;
    assert_eq!(a["interview"]["asOf"]["status"], "COMPLETED");
    assert_eq!(
        b["interview"]["asOf"],
        json!({ "status": "SCHEDULED", "version": 1 })
    );

    // Lists, counts, search.
    let a = app.data_as(&acme, LISTS, json!({})).await;
    assert_eq!((total(&a, "interviews"), total(&a, "people")), (5, 5));
    assert!(!names(&a, "interviews").contains(&"Globex Secret".to_owned()));
    assert_eq!(total(&a, "globexPeople"), 0);
    let hits = a["searchTranscripts"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(hits.len(), 2, "acme's own two hits only: {a:#}");
    assert!(
        hits.iter()
            .all(|e| e["node"]["interview"]["id"] == json!(h.final_round))
    );
    let b = app.data_as(&globex, LISTS, json!({})).await;
    assert_eq!((total(&b, "interviews"), total(&b, "people")), (2, 3));
    assert_eq!(
        names(&b, "people"),
        ["Xia Globex", "Yan Globex", "Zed Globex"]
    );
    let hits = b["searchTranscripts"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(hits.len(), 1, "{b:#}");
    assert_eq!(hits[0]["node"]["interview"]["id"], json!(g.only_interview));
    let d = app.data_as(&home, LISTS, json!({})).await;
    assert_eq!((total(&d, "interviews"), total(&d, "people")), (0, 0));

    // Analytics.
    let a = app.data_as(&acme, ANALYTICS, json!({})).await;
    assert_eq!(sum(&a, "dailyInterviews", "scheduled"), 5);
    assert_eq!(sum(&a, "hourOfDay", "interviews"), 5);
    assert_eq!(a["analytics"]["funnel"]["total"], 5);
    assert_eq!(a["analytics"]["secret"]["total"], 0);
    let load = a["analytics"]["interviewerLoad"].to_string();
    assert!(!load.contains("Globex"), "{load}");
    let b = app.data_as(&globex, ANALYTICS, json!({})).await;
    assert_eq!(sum(&b, "dailyInterviews", "scheduled"), 2);
    assert_eq!(b["analytics"]["funnel"]["total"], 2);
    assert_eq!(b["analytics"]["secret"]["total"], 2);
    assert_eq!(b["analytics"]["competencyScores"], json!([]));
    assert_eq!(
        b["analytics"]["interviewerLoad"],
        json!([{ "interviewer": { "name": "Yan Globex" }, "interviews": 2 }])
    );

    // Schedules: Bob's id is Yan's in globex.
    let a = app.data_as(&acme, SCHEDULE, json!({ "p": h.bob })).await;
    let b = app.data_as(&globex, SCHEDULE, json!({ "p": h.bob })).await;
    let booked = |v: &Value| v["schedule"]["bookings"].as_array().map(Vec::len);
    assert_eq!(booked(&b), Some(2));
    assert!(booked(&a) > Some(2), "{a:#}");
    app.stop().await;
}

#[tokio::test]
async fn a_subscription_hears_only_its_tenants_changes() {
    let mut app = spawn().await;
    let w = &mut app.world;
    let mut made = Vec::new();
    for tenant in ["acme", "globex"] {
        w.in_tenant(tenant);
        // The same ids in both tenants.
        w.choose_ids(&made);
        let cand = w.person("Sub Candidate", &[Role::Candidate]).await;
        let ivr = w.person("Sub Interviewer", &[Role::Interviewer]).await;
        let id = w
            .schedule(Spec {
                candidate: cand,
                panel: vec![ivr],
                position: tenant,
                kind: InterviewKind::Technical,
                starts_at: "2027-06-01T09:00:00Z",
                minutes: 30,
            })
            .await;
        made = vec![cand, ivr, id];
    }
    let id = made[2];
    app.settle().await;

    let acme = viewer("acme");
    let token = bearer_in(
        &app.verifier,
        "acme",
        &[infra::auth::Role::Admin],
        None,
        Duration::from_secs(3600),
    );
    let caller = caller_of(&app.verifier, &token).await;
    let sub = "subscription { interviewChanged { id position startsAt } }";
    let mut changes = app.schema().execute_stream(
        async_graphql::Request::new(sub)
            .data(acme.clone())
            .data(caller)
            .data(app.ctx.loaders(&acme)),
    );
    let first = tokio::spawn(async move { changes.next().await });
    while app.ctx.notices().receiver_count() < 1 {
        tokio::task::yield_now().await;
    }
    // Globex changes first; acme's subscriber must skip it and hear acme's change.
    let moved = |at: &str| InterviewCommand::Reschedule {
        starts_at: t(at),
        duration_minutes: None,
        reason: None,
    };
    app.world.in_tenant("globex");
    app.world.act(id, moved("2027-06-02T09:00:00Z")).await;
    app.world.in_tenant("acme");
    app.world.act(id, moved("2027-06-03T09:00:00Z")).await;

    let change = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("in time")
        .expect("task")
        .expect("item");
    let change = serde_json::to_value(&change).expect("json");
    assert_eq!(
        change["data"]["interviewChanged"],
        json!({ "id": id, "position": "acme", "startsAt": "2027-06-03T09:00:00Z" }),
        "{change}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_token_of_the_default_tenant_reads_the_default_tenant() {
    let mut app = spawn().await;
    let ada = app.world.person("Ada Default", &[Role::Candidate]).await;
    app.world.in_tenant("acme");
    app.world.choose_ids(&[ada]);
    app.world.person("Ada Acme", &[Role::Candidate]).await;
    app.settle().await;
    let query = json!({ "query": "query($p: UUID!) { person(id: $p) { name } }", "variables": { "p": ada } });
    let (_, plain) = app.post(query, &[]).await;
    assert_eq!(plain["data"]["person"]["name"], "Ada Default", "{plain}");
    let acme = app
        .data_as(
            &viewer("acme"),
            "query($p: UUID!) { person(id: $p) { name } }",
            json!({ "p": ada }),
        )
        .await;
    assert_eq!(acme["person"]["name"], "Ada Acme");
    app.stop().await;
}

#[test]
fn the_query_api_reads_as_the_role_and_setting_the_projections_set_up() {
    assert_eq!(
        query_api::read_model::READER_ROLE,
        projections::rls::READER_ROLE
    );
    assert_eq!(
        query_api::read_model::TENANT_SETTING,
        projections::rls::TENANT_SETTING
    );
}
