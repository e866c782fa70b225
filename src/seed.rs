//! `seed`: realistic demo data through the command API's own router (the same command
//! path as HTTP clients, without the socket).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::DEFAULT_TENANT;
use http_body_util::BodyExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use crate::app::Env;
use crate::cli::{Global, SeedArgs};

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Leslie",
    "Hedy",
    "John",
    "Katherine",
    "Linus",
    "Anita",
    "Tim",
    "Shafi",
    "Niklaus",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Lamport",
    "Lamarr",
    "Backus",
    "Johnson",
    "Torvalds",
    "Borg",
    "Berners-Lee",
    "Goldwasser",
    "Wirth",
];
const ZONES: &[&str] = &[
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "UTC",
];
const POSITIONS: &[&str] = &[
    "Backend Engineer",
    "Frontend Engineer",
    "Site Reliability Engineer",
    "Data Scientist",
    "Engineering Manager",
    "Product Designer",
];
const KINDS: &[&str] = &[
    "phone_screen",
    "technical",
    "behavioral",
    "system_design",
    "onsite",
    "final",
];
const COMPETENCIES: &[&str] = &[
    "communication",
    "problem solving",
    "system design",
    "coding",
    "collaboration",
];
const LINES: &[&str] = &[
    "Tell me about a system you designed end to end.",
    "We sharded the ledger by tenant and kept a global index.",
    "How did you handle consistency between the services?",
    "Events were the source of truth; projections caught up asynchronously.",
    "What would you change with hindsight?",
    "I would measure the commit latency before choosing the batch size.",
];

/// Interviews per day in the seeded calendar (each in its own hour, so none overlap).
const SLOTS_PER_DAY: i64 = 10;

struct Seeder {
    router: Router,
    /// `Bearer …` of the built-in key: seeding acts as the system actor `seed`.
    authorization: String,
    failures: AtomicU64,
    commands: AtomicU64,
}

impl Seeder {
    async fn post(&self, path: &str, body: Value) -> Option<Value> {
        self.commands.fetch_add(1, Ordering::Relaxed);
        // Like any client: a 503 (contention, a store hiccup) is retried after a pause.
        for attempt in 0..6u32 {
            let request = Request::post(path)
                .header("content-type", "application/json")
                .header("authorization", &self.authorization)
                .body(Body::from(body.to_string()))
                .ok()?;
            let response = self.router.clone().oneshot(request).await.ok()?;
            let status = response.status();
            let bytes = response.into_body().collect().await.ok()?.to_bytes();
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status.is_success() {
                return Some(value);
            }
            if status.as_u16() == 503 && attempt < 5 {
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                continue;
            }
            if self.failures.fetch_add(1, Ordering::Relaxed) < 5 {
                tracing::warn!(path, status = status.as_u16(), problem = %value, "seed command refused");
            }
            return None;
        }
        None
    }
}

fn slot(base: DateTime<Utc>, k: i64) -> DateTime<Utc> {
    base + Duration::days(k / SLOTS_PER_DAY) + Duration::hours(8 + k % SLOTS_PER_DAY)
}

/// Seeds people, availability and interviews in every lifecycle state.
pub async fn run(global: &Global, args: &SeedArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.people >= 3, "--people must be at least 3");
    let env = Env::open(global, true).await?;
    let started = Instant::now();
    let seeder = Arc::new(Seeder {
        router: command_api::router(command_api::AppState::new(
            env.store.clone(),
            env.pool.clone(),
            env.verifier().await?,
        )),
        authorization: format!("Bearer {}", env.system_token(DEFAULT_TENANT, "seed").await?),
        failures: AtomicU64::new(0),
        commands: AtomicU64::new(0),
    });
    let mut rng = StdRng::seed_from_u64(args.seed);
    let interviewer_count = (args.people / 3).max(2);
    let mut people = Vec::with_capacity(args.people);
    for i in 0..args.people {
        let first = FIRST[rng.gen_range(0..FIRST.len())];
        let last = LAST[rng.gen_range(0..LAST.len())];
        let role = if i < interviewer_count {
            "interviewer"
        } else {
            "candidate"
        };
        people.push((Uuid::new_v4(), json!({
            "name": format!("{first} {last}"),
            "email": format!("{}.{}.{i}@example.com", first.to_lowercase(), last.to_lowercase()),
            "roles": [role],
            "timezone": ZONES[rng.gen_range(0..ZONES.len())],
        })));
    }
    // Worker w drives the interviews k ≡ w (mod workers) and draws their people from
    // group w only, so concurrent commands never contend for the same streams.
    let workers = args
        .concurrency
        .max(1)
        .min(interviewer_count)
        .min(args.people - interviewer_count);
    let per_group = (args.interviews as i64).div_euclid(workers as i64) + 1;
    // Each group's interviews and their alternatives (reschedules) in their own hours.
    let total_days = (2 * per_group + SLOTS_PER_DAY - 1) / SLOTS_PER_DAY + 1;
    let today = Utc::now().date_naive();
    let base_date = today - Duration::days(total_days * 3 / 10);
    let base = Utc.from_utc_datetime(&base_date.and_hms_opt(0, 0, 0).context("midnight")?);

    // People, concurrently.
    run_all(
        &seeder,
        args.concurrency,
        people
            .iter()
            .map(|(id, body)| {
                let mut body = body.clone();
                body["id"] = json!(id);
                ("/people".to_owned(), body)
            })
            .collect(),
    )
    .await;

    let interviewers: Vec<Uuid> = people[..interviewer_count]
        .iter()
        .map(|(id, _)| *id)
        .collect();
    let candidates: Vec<Uuid> = people[interviewer_count..]
        .iter()
        .map(|(id, _)| *id)
        .collect();

    // Some interviewers declare working hours for the whole calendar.
    let mut availability = Vec::new();
    for id in interviewers.iter().filter(|_| rng.gen_bool(0.4)) {
        let windows: Vec<Value> = (0..total_days)
            .map(|d| json!({"start": base + Duration::days(d) + Duration::hours(7), "end": base + Duration::days(d) + Duration::hours(21)}))
            .collect();
        for chunk in windows.chunks(500) {
            availability.push((format!("/people/{id}/availability"), json!({"add": chunk})));
        }
    }
    run_all(&seeder, args.concurrency, availability).await;

    // Interviews: each worker drives its share through the lifecycle, in order.
    let now = Utc::now();
    let group = |people: &[Uuid], w: usize| -> Vec<Uuid> {
        people.iter().skip(w).step_by(workers).copied().collect()
    };
    let plans: Vec<InterviewPlan> = (0..args.interviews as i64)
        .map(|k| {
            let w = k as usize % workers;
            let (pool, cands) = (group(&interviewers, w), group(&candidates, w));
            let size = rng.gen_range(1..=3.min(pool.len()));
            let mut panel: Vec<Uuid> = pool.choose_multiple(&mut rng, size).copied().collect();
            panel.sort();
            InterviewPlan {
                id: Uuid::new_v4(),
                candidate: cands[(k as usize / workers) % cands.len()],
                panel,
                position: POSITIONS[rng.gen_range(0..POSITIONS.len())],
                kind: KINDS[rng.gen_range(0..KINDS.len())],
                // Groups share no people, so their interviews may overlap in time; within a
                // group every interview has its own hour.
                starts_at: slot(base, k / workers as i64),
                alternative: slot(base, per_group + k / workers as i64),
                fate: rng.gen_range(0..100),
                seed: rng.r#gen(),
            }
        })
        .collect();
    let ids: Vec<Uuid> = plans.iter().map(|p| p.id).collect();
    let plans = Arc::new(plans);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let seeder = seeder.clone();
        let plans = plans.clone();
        let step = workers;
        tasks.spawn(async move {
            for plan in plans.iter().skip(w).step_by(step) {
                plan.drive(&seeder, now).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}

    let elapsed = started.elapsed();
    let commands = seeder.commands.load(Ordering::Relaxed);
    let failures = seeder.failures.load(Ordering::Relaxed);
    println!(
        "seeded {} people ({} interviewers) and {} interviews: {commands} commands in {:.1}s ({:.0}/s), {failures} refused",
        args.people,
        interviewer_count,
        args.interviews,
        elapsed.as_secs_f64(),
        commands as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    if let Some(path) = &args.ids_out {
        let doc = json!({"people": people.iter().map(|(id, _)| id).collect::<Vec<_>>(), "interviewers": interviewers, "candidates": candidates, "interviews": ids});
        std::fs::write(path, doc.to_string())
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    anyhow::ensure!(failures == 0, "{failures} seed commands were refused");
    Ok(())
}

async fn run_all(seeder: &Arc<Seeder>, concurrency: usize, jobs: Vec<(String, Value)>) {
    use futures::StreamExt;
    futures::stream::iter(jobs)
        .for_each_concurrent(concurrency.max(1), |(path, body)| {
            let seeder = seeder.clone();
            async move {
                seeder.post(&path, body).await;
            }
        })
        .await;
}

struct InterviewPlan {
    id: Uuid,
    candidate: Uuid,
    panel: Vec<Uuid>,
    position: &'static str,
    kind: &'static str,
    starts_at: DateTime<Utc>,
    alternative: DateTime<Utc>,
    fate: u32,
    seed: u64,
}

impl InterviewPlan {
    async fn drive(&self, s: &Seeder, now: DateTime<Utc>) {
        let id = self.id;
        let scheduled = s
            .post(
                "/interviews",
                json!({
                    "id": id, "candidateId": self.candidate, "interviewerIds": self.panel,
                    "position": self.position, "kind": self.kind, "startsAt": self.starts_at,
                    "durationMinutes": 45, "location": "Room 4.2",
                }),
            )
            .await;
        if scheduled.is_none() {
            return;
        }
        let path = |c: &str| format!("/interviews/{id}/{c}");
        if self.starts_at > now {
            match self.fate {
                0..=9 => {
                    s.post(&path("cancel"), json!({"reason": "position filled"}))
                        .await;
                }
                10..=19 => {
                    s.post(
                        &path("reschedule"),
                        json!({"startsAt": self.alternative, "reason": "panel conflict"}),
                    )
                    .await;
                }
                _ => {}
            }
            return;
        }
        match self.fate {
            0..=9 => {
                s.post(&path("cancel"), json!({"reason": "candidate withdrew"}))
                    .await;
            }
            10..=19 => {
                s.post(&path("no-show"), json!({"reason": "did not join"}))
                    .await;
            }
            20..=24 => {
                s.post(
                    &path("reschedule"),
                    json!({"startsAt": self.alternative, "reason": "candidate asked"}),
                )
                .await;
            }
            _ => {
                let mut rng = StdRng::seed_from_u64(self.seed);
                s.post(&path("start"), json!({})).await;
                let speakers: Vec<Uuid> = std::iter::once(self.candidate)
                    .chain(self.panel.iter().copied())
                    .collect();
                let segments: Vec<Value> = (0..rng.gen_range(3..10))
                    .map(|i| {
                        json!({
                            "speakerId": speakers[i % speakers.len()],
                            "startMs": i * 20_000, "endMs": i * 20_000 + 15_000,
                            "text": LINES[rng.gen_range(0..LINES.len())],
                        })
                    })
                    .collect();
                s.post(&path("transcript"), json!({"segments": segments}))
                    .await;
                s.post(&path("complete"), json!({})).await;
                for interviewer in &self.panel {
                    if rng.gen_bool(0.85) {
                        let competencies: Vec<Value> = COMPETENCIES
                            .choose_multiple(&mut rng, 2)
                            .map(|c| json!({"name": c, "score": rng.gen_range(1..=5)}))
                            .collect();
                        s.post(&path("feedback"), json!({"interviewerId": interviewer, "rating": rng.gen_range(1..=4), "competencies": competencies, "notes": "seeded"})).await;
                    }
                }
                if rng.gen_bool(0.75) {
                    let outcome = ["advance", "reject", "hire", "hold"][rng.gen_range(0..4)];
                    s.post(&path("decision"), json!({"outcome": outcome, "decidedBy": self.panel[0], "reason": "panel consensus"})).await;
                }
            }
        }
    }
}
