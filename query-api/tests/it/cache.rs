//! The row cache behind `interview(id)` and people by id: hits send nothing, the
//! projector's notifications drop what changed, and nothing stale gets in or stays.

use domain::Tenant;
use query_api::Viewer;
use std::time::Duration;

use domain::Role;
use domain::interview::{InterviewCommand, InterviewKind};
use query_api::QueryContext;
use query_api::notify::{INTERVIEW_CHANNEL, Notice, PERSON_CHANNEL, PROJECTION_CHANNEL};
use query_api::read_model::{CacheCapacity, ReadModel, RowCache};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::harness::{TestApp, spawn};
use crate::world::{Spec, t};

const ONE: &str = r#"query($id: UUID!) { interview(id: $id) {
    id startsAt location candidate { name } interviewers { name } } }"#;

/// An interview with a candidate and a panel of two, projected.
struct Seen {
    interview: Uuid,
    candidate: Uuid,
}

async fn seed(app: &mut TestApp) -> Seen {
    let w = &mut app.world;
    let candidate = w.person("Dana Candidate", &[Role::Candidate]).await;
    let panel = vec![
        w.person("Ian One", &[Role::Interviewer]).await,
        w.person("Ivy Two", &[Role::Interviewer]).await,
    ];
    let interview = w
        .schedule(Spec {
            candidate,
            panel,
            position: "SRE",
            kind: InterviewKind::Technical,
            starts_at: "2027-06-01T09:00:00Z",
            minutes: 60,
        })
        .await;
    app.settle().await;
    Seen {
        interview,
        candidate,
    }
}

pub(crate) fn cache(app: &TestApp) -> &RowCache {
    app.ctx
        .read_model()
        .cache()
        .expect("the context caches rows")
}

async fn read(app: &TestApp, id: Uuid) -> Value {
    app.data(ONE, json!({ "id": id })).await["interview"].clone()
}

/// Statements sent while reading `id`, and what was read.
async fn cost(app: &TestApp, id: Uuid) -> (u64, Value) {
    let before = app.ctx.read_model().statements();
    let data = read(app, id).await;
    (app.ctx.read_model().statements() - before, data)
}

/// Waits until the listener has broadcast a notice matching `wanted` (so it has applied
/// it to the cache: it does so before broadcasting).
pub(crate) async fn heard(rx: &mut broadcast::Receiver<Notice>, wanted: impl Fn(&Notice) -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.recv().await {
                Ok(n) if wanted(&n) => break,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("listener gone"),
            }
        }
    })
    .await
    .expect("the notice in time");
}

pub(crate) async fn sql(app: &TestApp, text: &str, id: Uuid) {
    sqlx::query(text)
        .bind(id)
        .execute(&app.pool)
        .await
        .expect("statement");
}

/// Sends a notice as the projector would.
pub(crate) async fn notify(app: &TestApp, channel: &str, payload: &str) {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(&app.pool)
        .await
        .expect("notify");
}

#[tokio::test]
async fn a_cached_interview_with_its_people_sends_no_statement() {
    let mut app = spawn().await;
    let s = seed(&mut app).await;
    let (first, data) = cost(&app, s.interview).await;
    assert_eq!(first, 2, "the interview, then its people in one batch");
    assert_eq!(data["candidate"]["name"], "Dana Candidate");
    assert_eq!(
        data["interviewers"],
        json!([{ "name": "Ian One" }, { "name": "Ivy Two" }])
    );
    let (again, same) = cost(&app, s.interview).await;
    assert_eq!(again, 0, "served from memory");
    assert_eq!(same, data);

    // Through HTTP too (where the parsed query is kept as well).
    let body = json!({ "query": ONE, "variables": { "id": s.interview } });
    let before = app.ctx.read_model().statements();
    for _ in 0..3 {
        let (status, answer) = app.post(body.clone(), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(answer["data"]["interview"], data, "{answer}");
    }
    assert_eq!(app.ctx.read_model().statements(), before);
    let stats = cache(&app).interview_stats();
    assert!(stats.hits >= 2 && stats.entries == 1, "{stats:?}");
    // The first POST ran on cached rows; the next two were answered whole.
    let responses = cache(&app).responses().stats();
    assert_eq!((responses.stored, responses.hits), (1, 2), "{responses:?}");
    let metrics = app.metrics().await;
    assert!(metrics.contains("read_model_cache_on 1"), "{metrics}");
    assert!(
        metrics.contains("read_model_cache_entries{table=\"people\"} 3"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_change_by_the_projector_is_read_with_x_min_position() {
    let mut app = spawn().await;
    // Generous, as in `live`: the store's subscription may take its fallback delay.
    app.set_consistency_timeout(15_000);
    let s = seed(&mut app).await;
    let body = json!({ "query": ONE, "variables": { "id": s.interview } });
    let (_, before) = app.post(body.clone(), &[]).await;
    assert_eq!(
        before["data"]["interview"]["startsAt"],
        "2027-06-01T09:00:00Z"
    );
    // Several rounds: the read right after the write races the listener.
    for day in 2..6 {
        let starts_at = format!("2027-06-{day:02}T09:00:00Z");
        let name = format!("Dana Renamed {day}");
        app.world
            .act(
                s.interview,
                InterviewCommand::Reschedule {
                    starts_at: t(&starts_at),
                    duration_minutes: None,
                    reason: None,
                },
            )
            .await;
        app.world.rename(s.candidate, &name).await;
        let position = app.world.last_position().expect("appended").to_string();
        let (status, after) = app
            .post(body.clone(), &[("X-Min-Position", &position)])
            .await;
        assert_eq!(status, 200);
        let iv = &after["data"]["interview"];
        assert_eq!(iv["startsAt"], starts_at.as_str(), "{after}");
        assert_eq!(iv["candidate"]["name"], name.as_str(), "{after}");
        // And it is cached again: the next read sends nothing.
        let (again, data) = cost(&app, s.interview).await;
        assert_eq!(again, 0);
        assert_eq!(&data, iv);
    }
    app.stop().await;
}

#[tokio::test]
async fn notices_drop_rows_by_id_and_a_swap_drops_the_whole_projection() {
    let mut app = spawn().await;
    let s = seed(&mut app).await;
    let mut rx = app.ctx.notices().subscribe();
    read(&app, s.interview).await;

    // Changed behind the listener's back: the cache keeps serving what it holds.
    sql(
        &app,
        "UPDATE rm.interviews SET location = 'Room 9' WHERE id = $1",
        s.interview,
    )
    .await;
    sql(
        &app,
        "UPDATE rm.people SET name = 'Dana B' WHERE id = $1",
        s.candidate,
    )
    .await;
    let data = read(&app, s.interview).await;
    assert_eq!(data["location"], "Room 1");
    assert_eq!(data["candidate"]["name"], "Dana Candidate");

    // By id.
    notify(&app, INTERVIEW_CHANNEL, &s.interview.to_string()).await;
    heard(&mut rx, |n| {
        *n == Notice::InterviewChanged(Tenant::default_tenant(), s.interview)
    })
    .await;
    let data = read(&app, s.interview).await;
    assert_eq!(data["location"], "Room 9");
    assert_eq!(
        data["candidate"]["name"], "Dana Candidate",
        "people untouched"
    );
    notify(&app, PERSON_CHANNEL, &s.candidate.to_string()).await;
    heard(&mut rx, |n| {
        *n == Notice::PersonChanged(Tenant::default_tenant(), s.candidate)
    })
    .await;
    assert_eq!(read(&app, s.interview).await["candidate"]["name"], "Dana B");

    // A swap: everything of that projection, nothing of the others.
    sql(
        &app,
        "UPDATE rm.interviews SET location = 'Room 7' WHERE id = $1",
        s.interview,
    )
    .await;
    sql(
        &app,
        "UPDATE rm.people SET name = 'Dana C' WHERE id = $1",
        s.candidate,
    )
    .await;
    let position = app.world.last_position().expect("appended").to_string();
    for name in ["interviews", "people"] {
        let swapped =
            json!({ "name": name, "position": position, "state": "live", "swapped": true });
        notify(&app, PROJECTION_CHANNEL, &swapped.to_string()).await;
        heard(
            &mut rx,
            |n| matches!(n, Notice::Projection(p) if p.swapped && p.name == name),
        )
        .await;
        let data = read(&app, s.interview).await;
        assert_eq!(data["location"], "Room 7");
        let person = if name == "people" { "Dana C" } else { "Dana B" };
        assert_eq!(data["candidate"]["name"], person, "after the {name} swap");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_cache_starts_over_when_the_listener_reconnects() {
    let mut app = spawn().await;
    let s = seed(&mut app).await;
    let mut rx = app.ctx.notices().subscribe();
    read(&app, s.interview).await;
    sql(
        &app,
        "UPDATE rm.interviews SET location = 'Room 5' WHERE id = $1",
        s.interview,
    )
    .await;
    assert_eq!(
        read(&app, s.interview).await["location"],
        "Room 1",
        "cached"
    );

    // Kill the listener's connection: notifications could be missed until it is back.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%il_projection%'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("terminate the listener");
    assert_eq!(killed, vec![true]);
    heard(&mut rx, |n| *n == Notice::Resync).await;
    assert!(app.ctx.notices().is_listening());
    assert!(cache(&app).is_on());
    assert_eq!(read(&app, s.interview).await["location"], "Room 5");
    app.stop().await;
}

#[tokio::test]
async fn a_row_read_before_a_change_never_enters_the_cache_after_it() {
    let mut app = spawn().await;
    let s = seed(&mut app).await;
    let cache = app.ctx.read_model().cache().expect("cache").clone();
    let uncached = ReadModel::new(app.pool.clone());

    // A reader looks, misses, and reads the row as it is now...
    let lookup = cache.lookup_interviews(&Tenant::default_tenant(), &[s.interview]);
    assert_eq!(lookup.missing, vec![s.interview]);
    let old = uncached
        .interviews_by_ids(&Viewer::default_tenant(), &[s.interview])
        .await
        .expect("read");
    // ...then the projector changes it and the listener hears of it...
    app.world
        .act(
            s.interview,
            InterviewCommand::Reschedule {
                starts_at: t("2027-07-01T09:00:00Z"),
                duration_minutes: None,
                reason: None,
            },
        )
        .await;
    app.settle().await;
    // ...before the reader gets to put what it read into the cache: refused.
    cache.fill_interviews(lookup.ticket, &Tenant::default_tenant(), &old);
    assert_eq!(cache.interview_stats().entries, 0);
    assert_eq!(
        read(&app, s.interview).await["startsAt"],
        "2027-07-01T09:00:00Z"
    );
    assert_eq!(cache.interview_stats().entries, 1, "the fresh read is kept");

    // A reader whose ticket is newer than every change is let in.
    cache.clear();
    let fresh = cache.lookup_people(&Tenant::default_tenant(), &[s.candidate]);
    assert_eq!(fresh.missing, vec![s.candidate]);
    let row = uncached
        .people_by_ids(&Viewer::default_tenant(), &[s.candidate])
        .await
        .expect("read");
    cache.fill_people(fresh.ticket, &Tenant::default_tenant(), &row);
    assert_eq!(
        cache
            .people(&Tenant::default_tenant(), &[s.candidate])
            .map(|r| r.len()),
        Some(1)
    );
    app.stop().await;
}

#[tokio::test]
async fn the_cache_holds_no_more_than_its_capacity_and_off_reads_through() {
    let mut app = spawn().await;
    let mut ids = vec![];
    for _ in 0..5 {
        ids.push(seed(&mut app).await.interview);
    }
    let store = app.ctx.store().clone();
    let small = QueryContext::with_cache(
        app.pool.clone(),
        store.clone(),
        CacheCapacity {
            interviews: 2,
            people: 3,
            schedules: 0,
            responses: 0,
        },
    );
    small.listening().await;
    let rm = small.read_model();
    for id in &ids {
        let rows = rm
            .interviews_by_ids(&Viewer::default_tenant(), &[*id])
            .await
            .expect("read");
        assert_eq!(rows.len(), 1);
        let panel = &rows[0].interviewer_ids;
        assert_eq!(
            rm.people_by_ids(&Viewer::default_tenant(), panel)
                .await
                .expect("read")
                .len(),
            2
        );
    }
    let cache = rm.cache().expect("cache");
    let (interviews, people) = (cache.interview_stats(), cache.people_stats());
    assert_eq!((interviews.entries, interviews.evictions), (2, 3));
    assert_eq!((people.entries, people.evictions), (3, 7));
    let before = rm.statements();
    assert_eq!(
        rm.interviews_by_ids(&Viewer::default_tenant(), &ids[3..])
            .await
            .expect("read")
            .len(),
        2
    );
    assert_eq!(rm.statements(), before, "the last two are held");

    let off = QueryContext::with_cache(app.pool.clone(), store, CacheCapacity::OFF);
    off.listening().await;
    assert!(off.read_model().cache().is_none());
    for _ in 0..2 {
        let before = off.read_model().statements();
        off.read_model()
            .interviews_by_ids(&Viewer::default_tenant(), &ids)
            .await
            .expect("read");
        assert_eq!(off.read_model().statements(), before + 1);
    }
    drop((small, off));
    app.stop().await;
}
