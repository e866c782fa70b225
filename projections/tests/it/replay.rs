//! Replay equals live: a seeded random history applied while the projector runs, then
//! full rebuilds, must give identical tables.

use chrono::Duration;
use domain::Role;
use domain::interview::{DecisionOutcome, InterviewKind, InterviewStatus};
use projections::ProjectionState;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::harness::{Env, assert_same_tables, fast_settings};
use crate::world::{World, at};

/// Ids in creation order, so that a seed picks the same targets every run.
#[derive(Default)]
pub struct Ids {
    people: Vec<Uuid>,
    interviews: Vec<Uuid>,
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.gen_range(0..items.len())])
}

fn with_status(w: &World, ids: &Ids, status: InterviewStatus) -> Vec<Uuid> {
    ids.interviews
        .iter()
        .copied()
        .filter(|i| w.interviews[i].status == status)
        .collect()
}

fn with_role(w: &World, ids: &Ids, role: Role) -> Vec<Uuid> {
    ids.people
        .iter()
        .copied()
        .filter(|p| w.people[p].has_role(role))
        .collect()
}

/// Applies random commands until `n` of them succeeded.
pub async fn random_history(w: &mut World, ids: &mut Ids, rng: &mut StdRng, n: usize) {
    const POSITIONS: [&str; 4] = ["Backend", "Frontend", "Data", "SRE"];
    const COMPETENCIES: [&str; 4] = ["coding", "design", "communication", "testing"];
    let mut ok = 0;
    while ok < n {
        let roll = if ids.people.len() < 12 {
            0
        } else {
            rng.gen_range(0..100)
        };
        let done = match roll {
            0..=2 => {
                let roles: &[Role] = match rng.gen_range(0..5) {
                    0 | 1 => &[Role::Candidate],
                    2 | 3 => &[Role::Interviewer],
                    _ => &[Role::Candidate, Role::Interviewer],
                };
                ids.people.push(w.register(roles).await);
                true
            }
            3..=5 => match pick(rng, &ids.people) {
                Some(p) => {
                    w.rename(p, &format!("Renamed {}", rng.gen_range(0..1000)))
                        .await;
                    true
                }
                None => false,
            },
            6..=12 => match pick(rng, &ids.people) {
                Some(p) => {
                    let start = at(rng.gen_range(0..20), rng.gen_range(6..10));
                    let window = (start, start + Duration::hours(rng.gen_range(4..15)));
                    let hole = (start + Duration::hours(1), start + Duration::hours(2));
                    if rng.gen_bool(0.3) {
                        w.availability(p, &[], &[hole]).await;
                    } else {
                        w.availability(p, &[window], &[]).await;
                    }
                    true
                }
                None => false,
            },
            13..=44 => {
                let candidates = with_role(w, ids, Role::Candidate);
                let interviewers = with_role(w, ids, Role::Interviewer);
                let Some(cand) = pick(rng, &candidates) else {
                    continue;
                };
                let mut panel = Vec::new();
                for _ in 0..rng.gen_range(1..4) {
                    if let Some(i) = pick(rng, &interviewers)
                        && i != cand
                        && !panel.contains(&i)
                    {
                        panel.push(i);
                    }
                }
                let kind = InterviewKind::ALL[rng.gen_range(0..InterviewKind::ALL.len())];
                let start = at(rng.gen_range(0..20), rng.gen_range(6..20))
                    + Duration::minutes(15 * rng.gen_range(0..4));
                let minutes = [30, 45, 60, 90][rng.gen_range(0..4)];
                let position = POSITIONS[rng.gen_range(0..4)];
                match w
                    .schedule(cand, &panel, position, kind, start, minutes)
                    .await
                {
                    Ok(id) => {
                        ids.interviews.push(id);
                        true
                    }
                    Err(_) => false,
                }
            }
            45..=52 => match pick(rng, &with_status(w, ids, InterviewStatus::Scheduled)) {
                Some(i) => {
                    let start = at(rng.gen_range(0..20), rng.gen_range(6..20));
                    w.reschedule(i, start, [30, 60][rng.gen_range(0..2)])
                        .await
                        .is_ok()
                }
                None => false,
            },
            53..=56 => match pick(rng, &with_status(w, ids, InterviewStatus::Scheduled)) {
                Some(i) => w.cancel(i).await.is_ok(),
                None => false,
            },
            57..=59 => match pick(rng, &with_status(w, ids, InterviewStatus::Scheduled)) {
                Some(i) => w.no_show(i).await.is_ok(),
                None => false,
            },
            60..=69 => match pick(rng, &with_status(w, ids, InterviewStatus::Scheduled)) {
                Some(i) => {
                    let starts = w.interviews[&i].starts_at;
                    w.start(i, starts + Duration::minutes(rng.gen_range(0..5)))
                        .await
                        .is_ok()
                }
                None => false,
            },
            70..=76 => match pick(rng, &with_status(w, ids, InterviewStatus::InProgress)) {
                Some(i) => {
                    let speaker = w.interviews[&i].candidate_id;
                    let texts = [
                        "I designed the cache",
                        "We sharded by tenant",
                        "Latency fell",
                    ];
                    let n = rng.gen_range(1..4);
                    w.transcript(i, speaker, &texts[..n]).await.is_ok()
                }
                None => false,
            },
            77..=84 => match pick(rng, &with_status(w, ids, InterviewStatus::InProgress)) {
                Some(i) => {
                    let started = w.interviews[&i].started_at.unwrap_or(w.now);
                    w.complete(i, started + Duration::minutes(rng.gen_range(10..90)))
                        .await
                        .is_ok()
                }
                None => false,
            },
            85..=93 => match pick(rng, &with_status(w, ids, InterviewStatus::Completed)) {
                Some(i) => {
                    let iv = &w.interviews[&i];
                    let waiting: Vec<Uuid> = iv
                        .interviewer_ids
                        .iter()
                        .copied()
                        .filter(|p| !iv.feedback_by.contains(p))
                        .collect();
                    match pick(rng, &waiting) {
                        Some(by) => {
                            let k = rng.gen_range(0..4);
                            let scores: Vec<(&str, i64)> = COMPETENCIES[..k]
                                .iter()
                                .map(|c| (*c, rng.gen_range(1..6)))
                                .collect();
                            w.feedback(i, by, rng.gen_range(1..5), &scores)
                                .await
                                .is_ok()
                        }
                        None => false,
                    }
                }
                None => false,
            },
            _ => {
                let undecided: Vec<Uuid> = with_status(w, ids, InterviewStatus::Completed)
                    .into_iter()
                    .filter(|i| w.interviews[i].decision.is_none())
                    .collect();
                match pick(rng, &undecided) {
                    Some(i) => {
                        let outcome = DecisionOutcome::ALL[rng.gen_range(0..4)];
                        let by = w.interviews[&i].interviewer_ids[0];
                        w.decide(i, outcome, by).await.is_ok()
                    }
                    None => false,
                }
            }
        };
        ok += usize::from(done);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_from_zero_gives_the_same_tables_as_the_live_run() {
    let env = Env::new().await;
    let running = env.start(fast_settings());
    let mut w = env.world();
    let mut ids = Ids::default();
    let mut rng = StdRng::seed_from_u64(20_271_123);
    random_history(&mut w, &mut ids, &mut rng, 2_000).await;
    env.drain().await;
    let live = env.dump_all().await;
    assert!(
        live["interviews"].len() > 200,
        "the history schedules interviews"
    );
    assert!(live["transcript_segments"].len() > 50 && live["feedback"].len() > 50);

    let report = env.rebuild().await;
    let head = env.store_head().await;
    assert_eq!(report.position, head);
    assert_same_tables(&live, &env.dump_all().await);

    // A rebuild while commands keep coming: the runner carries on from the swapped-in
    // checkpoint, and what it builds equals another replay.
    let (store, pool) = (env.store.clone(), env.pool.clone());
    let rebuild = tokio::spawn(async move {
        projections::rebuild(&store, &pool, &projections::all(), |_| {}).await
    });
    random_history(&mut w, &mut ids, &mut rng, 300).await;
    rebuild
        .await
        .expect("rebuild task")
        .expect("rebuild under load");
    env.drain().await;
    let live = env.dump_all().await;
    env.rebuild().await;
    assert_same_tables(&live, &env.dump_all().await);
    env.wait_status("every projection live", |rows| {
        rows.iter()
            .all(|r| r.state == ProjectionState::Live && r.last_error.is_none())
    })
    .await;
    running.stop().await;
    env.finish().await;
}
