//! Rebuild throughput: `cargo test -p projections --release --test it -- --ignored --nocapture`
//! (`BENCH_EVENTS` events, default 200 000, bulk-loaded, then one full rebuild).

use std::collections::HashMap;
use std::time::Instant;

use chrono::Duration;
use domain::interview::{
    self, CompetencyScore, DecisionOutcome, InterviewCommand, InterviewKind, ParticipantFacts,
    TranscriptSegment,
};
use domain::person::{self, PersonCommand};
use domain::schedule::{self, ScheduleCommand};
use domain::{DomainEvent, Role, TimeRange};
use infra::Metadata;
use serde_json::Value;
use uuid::Uuid;

use crate::harness::Env;
use crate::world::at;

/// Rows for the `events` table, versions counted per stream.
#[derive(Default)]
struct Log {
    versions: HashMap<String, i64>,
    rows: Vec<(String, i64, Uuid, String, Value, Value)>,
}

impl Log {
    fn push<E: DomainEvent>(&mut self, stream: String, events: &[E]) {
        let meta = serde_json::to_value(Metadata::anonymous()).expect("metadata");
        for e in events {
            let v = self.versions.entry(stream.clone()).or_default();
            *v += 1;
            self.rows.push((
                stream.clone(),
                *v,
                Uuid::new_v4(),
                e.event_type().into(),
                e.to_data(),
                meta.clone(),
            ));
        }
    }
}

fn generate(target: usize) -> Log {
    let mut log = Log::default();
    let mut people = Vec::new();
    for i in 0..2_000 {
        let id = Uuid::new_v4();
        let roles = if i % 2 == 0 {
            vec![Role::Candidate]
        } else {
            vec![Role::Interviewer]
        };
        let events = person::decide(
            &None,
            PersonCommand::Register {
                person_id: id,
                name: format!("P{i}"),
                email: None,
                roles: roles.clone(),
                timezone: None,
            },
        )
        .expect("register");
        log.push(person::stream_id(id), &events);
        people.push((id, roles));
    }
    let mut schedules: HashMap<Uuid, schedule::Schedule> = HashMap::new();
    let mut k = 0i64;
    while log.rows.len() < target {
        k += 1;
        let cand = &people[(2 * k as usize) % people.len()];
        let panel: Vec<&(Uuid, Vec<Role>)> = (0..2)
            .map(|j| &people[(2 * (k as usize + j * 7) + 1) % people.len()])
            .collect();
        let id = Uuid::new_v4();
        let facts = |p: &(Uuid, Vec<Role>)| ParticipantFacts {
            id: p.0,
            roles: Some(p.1.clone()),
        };
        let start = at(0, 0) + Duration::hours(k);
        let mut state = None;
        let run = |log: &mut Log, state: &mut Option<interview::Interview>, cmd| {
            let events = interview::decide(state, cmd).expect("interview command");
            *state = events.iter().fold(state.take(), interview::evolve);
            log.push(interview::stream_id(id), &events);
        };
        run(
            &mut log,
            &mut state,
            InterviewCommand::Schedule {
                interview_id: id,
                candidate: facts(cand),
                interviewers: panel.iter().map(|p| facts(p)).collect(),
                position: format!("Position {}", k % 5),
                kind: InterviewKind::Technical,
                starts_at: start,
                duration_minutes: 60,
                location: None,
            },
        );
        let mut book = |log: &mut Log, range: TimeRange| {
            for p in std::iter::once(cand.0).chain(panel.iter().map(|p| p.0)) {
                let s = schedules.remove(&p).unwrap_or_default();
                let events = schedule::decide(
                    &s,
                    ScheduleCommand::Book {
                        person_id: p,
                        interview_id: id,
                        range,
                    },
                )
                .expect("book");
                schedules.insert(p, events.iter().fold(s, schedule::evolve));
                log.push(schedule::stream_id(p), &events);
            }
        };
        book(
            &mut log,
            TimeRange::new(start, start + Duration::minutes(60)).expect("range"),
        );
        if k % 4 == 0 {
            let moved = start + Duration::minutes(30);
            run(
                &mut log,
                &mut state,
                InterviewCommand::Reschedule {
                    starts_at: moved,
                    duration_minutes: Some(30),
                    reason: None,
                },
            );
            book(
                &mut log,
                TimeRange::new(moved, moved + Duration::minutes(30)).expect("range"),
            );
        }
        if k % 10 == 0 {
            run(
                &mut log,
                &mut state,
                InterviewCommand::Cancel {
                    reason: "no".into(),
                },
            );
            continue;
        }
        run(&mut log, &mut state, InterviewCommand::Start { at: start });
        let segments = (0..3)
            .map(|i| TranscriptSegment {
                speaker_id: cand.0,
                start_ms: i * 1000,
                end_ms: i * 1000 + 500,
                text: "we sharded the cache by tenant".into(),
            })
            .collect();
        run(
            &mut log,
            &mut state,
            InterviewCommand::RecordTranscript { segments },
        );
        run(
            &mut log,
            &mut state,
            InterviewCommand::Complete {
                at: start + Duration::minutes(45),
            },
        );
        for p in &panel {
            let competencies = vec![
                CompetencyScore {
                    name: "coding".into(),
                    score: 4,
                },
                CompetencyScore {
                    name: "design".into(),
                    score: 3,
                },
            ];
            run(
                &mut log,
                &mut state,
                InterviewCommand::SubmitFeedback {
                    interviewer_id: p.0,
                    rating: 3,
                    competencies,
                    notes: None,
                },
            );
        }
        run(
            &mut log,
            &mut state,
            InterviewCommand::MakeDecision {
                outcome: DecisionOutcome::Advance,
                decided_by: panel[0].0,
                reason: None,
            },
        );
    }
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release with --ignored"]
async fn rebuild_throughput() {
    let target: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let env = Env::new().await;
    let log = generate(target);
    for chunk in log.rows.chunks(10_000) {
        sqlx::query(
            "INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[])",
        )
        .bind(chunk.iter().map(|r| r.0.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.2).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.3.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.4.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.5.clone()).collect::<Vec<_>>())
        .execute(&env.pool)
        .await
        .expect("load events");
    }
    let started = Instant::now();
    let mut after = None;
    let mut n = 0;
    loop {
        let page = infra::EventStore::read_all(&env.store, after, projections::rebuild::PAGE_SIZE)
            .await
            .expect("read");
        let Some(last) = page.last() else { break };
        after = Some(last.position);
        n += page.len();
    }
    eprintln!(
        "reading {n} events alone: {:.0} events/s",
        n as f64 / started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let running = env.start(projections::Settings::default());
    env.drain().await;
    running.stop().await;
    eprintln!(
        "live projector catching up from zero (batches of 500): {:.0} events/s",
        n as f64 / started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let report = env.rebuild().await;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "rebuild of {} events: {:.2}s, {:.0} events/s",
        report.events,
        secs,
        report.events as f64 / secs
    );
    for which in ["people", "interviews", "schedules", "analytics"] {
        let one = projections::by_names(&[which.to_owned()]).expect("known");
        let started = Instant::now();
        projections::rebuild(&env.store, &env.pool, &one, |_| {})
            .await
            .expect("rebuild");
        eprintln!(
            "  {which} alone: {:.0} events/s",
            report.events as f64 / started.elapsed().as_secs_f64()
        );
    }
    env.finish().await;
}
