//! Schedules in the row cache: a cached `availability` sends nothing, the projector's
//! schedule notices drop what changed, and the cached answers are the database's at
//! every edge of the range.

use domain::Tenant;
use query_api::Viewer;
use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use domain::Role;
use domain::interview::InterviewKind;
use query_api::QueryContext;
use query_api::notify::{Notice, PROJECTION_CHANNEL, SCHEDULE_CHANNEL};
use query_api::read_model::{BookingRow, CacheCapacity, ReadModel, ScheduleRows, WindowRow};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cache::{cache, heard, notify};
use crate::harness::{TestApp, spawn};
use crate::world::{Spec, t};

const AVAILABILITY: &str = r#"query($ids: [UUID!]!, $from: DateTime!, $to: DateTime!, $d: Int!) {
    availability(personIds: $ids, from: $from, to: $to, durationMinutes: $d) { start end } }"#;

const SCHEDULE: &str = r#"query($p: UUID!, $from: DateTime!, $to: DateTime!) {
    schedule(personId: $p, from: $from, to: $to) {
        personId availability { start end } bookings { interviewId start end } free { start end } } }"#;

const WEEK: (&str, &str) = ("2027-03-01T00:00:00Z", "2027-03-08T00:00:00Z");

/// Two interviewers (one declared availability) and a candidate, with an interview.
async fn seed(app: &mut TestApp) -> Vec<Uuid> {
    let w = &mut app.world;
    let ann = w.person("Ann Interviewer", &[Role::Interviewer]).await;
    let bob = w.person("Bob Interviewer", &[Role::Interviewer]).await;
    let cid = w.person("Cid Candidate", &[Role::Candidate]).await;
    w.availability(
        ann,
        &[
            ("2027-03-01T08:00:00Z", "2027-03-01T12:00:00Z"),
            ("2027-03-02T08:00:00Z", "2027-03-02T18:00:00Z"),
            ("2027-03-07T20:00:00Z", "2027-03-08T04:00:00Z"),
        ],
        &[],
    )
    .await;
    w.schedule(Spec {
        candidate: cid,
        panel: vec![ann, bob],
        position: "SRE",
        kind: InterviewKind::Technical,
        starts_at: "2027-03-02T09:00:00Z",
        minutes: 60,
    })
    .await;
    app.settle().await;
    vec![ann, bob, cid]
}

fn week(ids: &[Uuid]) -> Value {
    json!({ "ids": ids, "from": WEEK.0, "to": WEEK.1, "d": 60 })
}

/// Statements sent while asking `availability`, and the answer.
async fn cost(app: &TestApp, vars: Value) -> (u64, Value) {
    let before = app.ctx.read_model().statements();
    let data = app.data(AVAILABILITY, vars).await["availability"].clone();
    (app.ctx.read_model().statements() - before, data)
}

#[tokio::test]
async fn a_cached_availability_sends_no_statement() {
    let mut app = spawn().await;
    let people = seed(&mut app).await;
    let (first, data) = cost(&app, week(&people)).await;
    assert_eq!(first, 1, "the three whole schedules in one statement");
    assert_eq!(
        data,
        json!([
            { "start": "2027-03-01T08:00:00Z", "end": "2027-03-01T12:00:00Z" },
            { "start": "2027-03-02T08:00:00Z", "end": "2027-03-02T09:00:00Z" },
            { "start": "2027-03-02T10:00:00Z", "end": "2027-03-02T18:00:00Z" },
            { "start": "2027-03-07T20:00:00Z", "end": "2027-03-08T00:00:00Z" },
        ])
    );
    for _ in 0..3 {
        let (again, same) = cost(&app, week(&people)).await;
        assert_eq!(again, 0, "served from memory");
        assert_eq!(same, data);
    }
    // Another range, a subset, `schedule`, and HTTP: still nothing sent.
    let before = app.ctx.read_model().statements();
    let vars = json!({ "ids": &people[1..], "from": "2027-03-02T00:00:00Z",
        "to": "2027-03-03T00:00:00Z", "d": 30 });
    assert_eq!(
        app.data(AVAILABILITY, vars).await["availability"],
        json!([
            { "start": "2027-03-02T00:00:00Z", "end": "2027-03-02T09:00:00Z" },
            { "start": "2027-03-02T10:00:00Z", "end": "2027-03-03T00:00:00Z" },
        ])
    );
    let schedule = app
        .data(
            SCHEDULE,
            json!({ "p": people[0], "from": WEEK.0, "to": WEEK.1 }),
        )
        .await;
    assert_eq!(
        schedule["schedule"]["bookings"].as_array().map(Vec::len),
        Some(1)
    );
    let body = json!({ "query": AVAILABILITY, "variables": week(&people) });
    for _ in 0..3 {
        let (status, answer) = app.post(body.clone(), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(answer["data"]["availability"], data, "{answer}");
    }
    assert_eq!(app.ctx.read_model().statements(), before);
    let stats = cache(&app).schedule_stats();
    assert_eq!(stats.entries, 3, "{stats:?}");
    assert!(stats.hits >= 12, "{stats:?}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("read_model_cache_entries{table=\"schedules\"} 3"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_schedule_change_by_the_projector_is_read_with_x_min_position() {
    let mut app = spawn().await;
    // Generous, as in `live`: the store's subscription may take its fallback delay.
    app.set_consistency_timeout(15_000);
    let people = seed(&mut app).await;
    let (ann, bob, cid) = (people[0], people[1], people[2]);
    let pair = [ann, bob];
    let body = |ids: &[Uuid]| json!({ "query": AVAILABILITY, "variables": week(ids) });
    let (_, before) = app.post(body(&pair), &[]).await;
    let slots = before["data"]["availability"].as_array().map(Vec::len);
    assert_eq!(slots, Some(4), "{before}");
    // Several rounds: the read right after the write races the listener.
    for day in 3..7 {
        let start = format!("2027-03-0{day}T09:00:00Z");
        let end = format!("2027-03-0{day}T11:00:00Z");
        app.world.availability(ann, &[(&start, &end)], &[]).await;
        let position = app.world.last_position().expect("appended").to_string();
        let (status, after) = app
            .post(body(&pair), &[("X-Min-Position", &position)])
            .await;
        assert_eq!(status, 200);
        let list = after["data"]["availability"].clone();
        let added = json!({ "start": start, "end": end });
        assert!(
            list.as_array().is_some_and(|l| l.contains(&added)),
            "{after}"
        );
        // And cached again.
        let (again, same) = cost(&app, week(&pair)).await;
        assert_eq!(again, 0);
        assert_eq!(same, list);

        // A booking takes the hour out for everyone booked.
        let booked = format!("2027-03-0{day}T10:00:00Z");
        app.world
            .schedule(Spec {
                candidate: cid,
                panel: vec![bob],
                position: "SRE",
                kind: InterviewKind::Technical,
                starts_at: &booked,
                minutes: 60,
            })
            .await;
        let position = app.world.last_position().expect("appended").to_string();
        let (_, after) = app
            .post(body(&pair), &[("X-Min-Position", &position)])
            .await;
        let cut = json!({ "start": start, "end": booked });
        let list = after["data"]["availability"].clone();
        assert!(
            list.as_array()
                .is_some_and(|l| l.contains(&cut) && !l.contains(&added)),
            "{after}"
        );
        let (again, same) = cost(&app, week(&pair)).await;
        assert_eq!(again, 0);
        assert_eq!(same, list);
    }
    app.stop().await;
}

#[tokio::test]
async fn schedule_notices_drop_schedules_and_stale_reads_stay_out() {
    let mut app = spawn().await;
    let people = seed(&mut app).await;
    let (ann, bob) = (people[0], people[1]);
    let mut rx = app.ctx.notices().subscribe();
    let (_, data) = cost(&app, week(&people)).await;

    // Changed behind the listener's back: the cache keeps serving what it holds.
    sqlx::query("DELETE FROM rm.availability_windows WHERE person_id = $1")
        .bind(ann)
        .execute(&app.pool)
        .await
        .expect("delete");
    assert_eq!(cost(&app, week(&people)).await, (0, data.clone()));

    // By person: Ann declared but has no window left, so nobody is free together.
    notify(&app, SCHEDULE_CHANNEL, &ann.to_string()).await;
    heard(&mut rx, |n| {
        *n == Notice::ScheduleChanged(Tenant::default_tenant(), ann)
    })
    .await;
    assert_eq!(
        cost(&app, week(&people)).await,
        (1, json!([])),
        "only Ann is read again"
    );

    // A swap of the schedules drops every schedule, and only those.
    sqlx::query("DELETE FROM rm.bookings WHERE person_id = $1")
        .bind(bob)
        .execute(&app.pool)
        .await
        .expect("delete");
    let position = app.world.last_position().expect("appended").to_string();
    let swapped =
        json!({ "name": "schedules", "position": position, "state": "live", "swapped": true });
    notify(&app, PROJECTION_CHANNEL, &swapped.to_string()).await;
    heard(
        &mut rx,
        |n| matches!(n, Notice::Projection(p) if p.swapped && p.name == "schedules"),
    )
    .await;
    assert_eq!(cache(&app).schedule_stats().entries, 0);
    let vars = json!({ "ids": [bob], "from": "2027-03-02T00:00:00Z",
        "to": "2027-03-03T00:00:00Z", "d": 30 });
    assert_eq!(
        app.data(AVAILABILITY, vars).await["availability"],
        json!([{ "start": "2027-03-02T00:00:00Z", "end": "2027-03-03T00:00:00Z" }]),
        "Bob's booking is gone"
    );

    // A schedule read before a change never enters the cache after it.
    let cache = app.ctx.read_model().cache().expect("cache").clone();
    cache.clear();
    let lookup = cache.lookup_schedules(&Tenant::default_tenant(), &[bob]);
    assert_eq!(lookup.missing, vec![bob]);
    let old = app
        .ctx
        .read_model()
        .whole_schedules(&Viewer::default_tenant(), &[bob])
        .await
        .expect("read");
    notify(&app, SCHEDULE_CHANNEL, &bob.to_string()).await;
    heard(&mut rx, |n| {
        *n == Notice::ScheduleChanged(Tenant::default_tenant(), bob)
    })
    .await;
    cache.fill_schedules(lookup.ticket, &Tenant::default_tenant(), &old);
    assert_eq!(cache.schedule_stats().entries, 0, "refused");
    let fresh = cache.lookup_schedules(&Tenant::default_tenant(), &[bob]);
    cache.fill_schedules(fresh.ticket, &Tenant::default_tenant(), &old);
    assert_eq!(
        cache.schedule_stats().entries,
        1,
        "a newer ticket is let in"
    );
    app.stop().await;
}

/// The rows of the range exactly as the read model's range statements used to read them.
async fn by_the_original_sql(
    pool: &sqlx::PgPool,
    people: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ScheduleRows {
    let declared: Vec<Uuid> = sqlx::query_scalar(
        "SELECT person_id FROM rm.schedule_owners \
         WHERE person_id = ANY($1) AND declared_availability",
    )
    .bind(people)
    .fetch_all(pool)
    .await
    .expect("owners");
    let windows: Vec<WindowRow> = sqlx::query_as(
        "SELECT person_id, start_at, end_at FROM rm.availability_windows \
         WHERE person_id = ANY($1) AND start_at < $3 AND end_at > $2 \
         ORDER BY person_id, start_at",
    )
    .bind(people)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .expect("windows");
    let bookings: Vec<BookingRow> = sqlx::query_as(
        "SELECT person_id, interview_id, start_at, end_at FROM rm.bookings \
         WHERE person_id = ANY($1) AND start_at < $3 AND end_at > $2 \
         ORDER BY person_id, start_at, interview_id",
    )
    .bind(people)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .expect("bookings");
    ScheduleRows {
        declared: declared.into_iter().collect::<HashSet<_>>(),
        windows,
        bookings,
    }
}

#[tokio::test]
async fn cached_and_uncached_schedules_agree_at_every_edge_of_the_range() {
    let mut app = spawn().await;
    let mut people = seed(&mut app).await;
    // Rows no event made (so the projector leaves them alone), shaped as the projector
    // never would: long and overlapping bookings, bookings sharing a start, windows
    // that touch, an owner who declared nothing, an empty schedule.
    let (odd, idle, nobody) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let insert = |sql: &'static str, rows: Vec<(Uuid, &'static str, &'static str)>| {
        let pool = app.pool.clone();
        async move {
            for (id, a, b) in rows {
                sqlx::query(sql)
                    .bind(id)
                    .bind(t(a))
                    .bind(t(b))
                    .execute(&pool)
                    .await
                    .expect("insert");
            }
        }
    };
    sqlx::query(
        "INSERT INTO rm.schedule_owners (tenant, person_id, declared_availability, version) \
         VALUES ('default', $1, true, 1), ('default', $2, false, 1)",
    )
    .bind(odd)
    .bind(idle)
    .execute(&app.pool)
    .await
    .expect("owners");
    insert(
        "INSERT INTO rm.availability_windows (tenant, person_id, start_at, end_at) \
         VALUES ('default', $1, $2, $3)",
        vec![
            (odd, "2027-02-20T00:00:00Z", "2027-03-01T06:00:00Z"),
            (odd, "2027-03-01T06:00:00Z", "2027-03-01T09:00:00Z"),
            (odd, "2027-03-01T10:00:00Z", "2027-03-01T10:30:00Z"),
            (odd, "2027-03-02T00:00:00Z", "2027-03-05T00:00:00Z"),
            (idle, "2027-03-01T00:00:00Z", "2027-03-09T00:00:00Z"),
        ],
    )
    .await;
    insert(
        "INSERT INTO rm.bookings (tenant, person_id, interview_id, start_at, end_at) \
         VALUES ('default', $1, gen_random_uuid(), $2, $3)",
        vec![
            (odd, "2027-01-01T00:00:00Z", "2027-03-02T01:00:00Z"),
            (odd, "2027-03-01T08:00:00Z", "2027-03-01T09:00:00Z"),
            (odd, "2027-03-01T08:00:00Z", "2027-03-01T08:30:00Z"),
            (odd, "2027-03-02T12:00:00Z", "2027-03-02T12:00:00Z"),
            (odd, "2027-03-03T12:00:00Z", "2027-03-03T11:00:00Z"),
            (odd, "2027-03-04T23:00:00Z", "2027-03-06T00:00:00Z"),
            (idle, "2027-03-01T06:00:00Z", "2027-03-01T07:00:00Z"),
        ],
    )
    .await;
    people.extend([odd, idle, nobody]);

    let cached = app.ctx.read_model();
    let uncached = ReadModel::new(app.pool.clone());
    let off = QueryContext::with_cache(
        app.pool.clone(),
        app.ctx.store().clone(),
        CacheCapacity::OFF,
    );
    off.listening().await;
    let off_schema = query_api::schema(off.clone());

    // Every range from a grid of edges (on the rows' own edges and between them).
    let base = t("2027-02-28T00:00:00Z");
    let edges: Vec<DateTime<Utc>> = (0..=(7 * 48))
        .map(|half_hours| base + TimeDelta::minutes(30 * half_hours))
        .step_by(6)
        .chain([
            t("2027-01-01T00:00:00Z"),
            t("2027-03-01T09:00:00Z"),
            t("2027-03-02T12:00:00Z"),
        ])
        .collect();
    let mut checked = 0;
    for from in &edges {
        for to in edges.iter().filter(|to| *to > from) {
            let want = by_the_original_sql(&app.pool, &people, *from, *to).await;
            let got = cached
                .schedules(&Viewer::default_tenant(), &people, *from, *to)
                .await
                .expect("cached");
            assert_eq!(got, want, "cached [{from}, {to})");
            let got = uncached
                .schedules(&Viewer::default_tenant(), &people, *from, *to)
                .await
                .expect("uncached");
            assert_eq!(got, want, "uncached [{from}, {to})");
            checked += 1;
        }
    }
    assert!(checked > 1_000, "{checked}");

    // And the answers of the API, a few ranges and groups.
    let before = cached.statements();
    for (from, to) in [
        WEEK,
        ("2027-03-01T08:00:00Z", "2027-03-01T09:00:00Z"),
        ("2027-03-01T08:30:00Z", "2027-03-02T12:00:00Z"),
        ("2027-03-02T01:00:00Z", "2027-03-05T00:00:00Z"),
        ("2027-02-27T00:00:00Z", "2027-03-01T06:00:00Z"),
    ] {
        for ids in [
            &people[..],
            &[odd],
            &[idle, nobody],
            &[people[0], odd],
            &[people[1], idle],
        ] {
            for d in [1, 30, 120] {
                let vars = json!({ "ids": ids, "from": from, "to": to, "d": d });
                let off_answer = off_schema
                    .execute(
                        async_graphql::Request::new(AVAILABILITY)
                            .variables(async_graphql::Variables::from_json(vars.clone()))
                            .data(off.loaders(&Viewer::default_tenant()))
                            .data(app.caller.clone()),
                    )
                    .await;
                let off_answer = serde_json::to_value(&off_answer).expect("json");
                assert!(off_answer.get("errors").is_none(), "{off_answer}");
                assert_eq!(app.data(AVAILABILITY, vars).await, off_answer["data"]);
            }
            for p in ids.iter() {
                let vars = json!({ "p": p, "from": from, "to": to });
                let off_answer = off_schema
                    .execute(
                        async_graphql::Request::new(SCHEDULE)
                            .variables(async_graphql::Variables::from_json(vars.clone()))
                            .data(off.loaders(&Viewer::default_tenant()))
                            .data(app.caller.clone()),
                    )
                    .await;
                let off_answer = serde_json::to_value(&off_answer).expect("json");
                assert_eq!(app.data(SCHEDULE, vars).await, off_answer["data"]);
            }
        }
    }
    assert_eq!(cached.statements(), before, "all from memory");
    assert!(
        off.read_model().statements() > 0,
        "the other context read the database"
    );
    drop((off_schema, off));
    app.stop().await;
}
