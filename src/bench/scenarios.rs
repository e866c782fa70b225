//! The HTTP scenarios: commands, queries, lag.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::driver::{AfterCommand, Client, Nothing, Transport, calendar_base};
use super::stats::{Stats, Summary, Window};
use super::{BenchArgs, Target};

/// Upper bound of commands one client sends in one phase.
const MAX_COMMANDS_PER_CLIENT: u64 = 5_000_000;
/// Upper bound of queries one client sends in one phase.
const MAX_QUERIES_PER_CLIENT: u64 = 5_000_000;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn transport(target: &Target) -> Transport {
    Transport::Http {
        http: target.http.clone(),
        base: target.command_url.clone(),
    }
}

/// Creates and sets up `n` clients concurrently.
async fn clients(
    target: &Target,
    n: usize,
    pacer: Option<Duration>,
    after: Arc<dyn AfterCommand>,
    max_commands: u64,
) -> anyhow::Result<Vec<Client>> {
    let mut set = JoinSet::new();
    for i in 0..n {
        let mut c = Client::new(
            transport(target),
            Window::unmeasured(),
            pacer,
            after.clone(),
            max_commands,
        );
        set.spawn(async move { c.setup(i).await.map(|()| c) });
    }
    let mut out = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        out.push(r.context("a client panicked")??);
    }
    Ok(out)
}

/// Runs every client until its window ends; returns them with their figures.
async fn drive(clients: Vec<Client>, window: Window) -> anyhow::Result<Vec<Client>> {
    let mut set = JoinSet::new();
    for mut c in clients {
        c.window = window;
        set.spawn(async move {
            c.run().await;
            c
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.context("a client panicked")?);
    }
    Ok(out)
}

/// `commands`: the realistic mix, each client on its own people and slots.
pub async fn commands(args: &BenchArgs, target: &Target) -> anyhow::Result<Summary> {
    let cs = clients(
        target,
        args.clients,
        None,
        Arc::new(Nothing),
        MAX_COMMANDS_PER_CLIENT,
    )
    .await?;
    let window = Window::starting_now(secs(args.warmup), secs(args.duration));
    let cs = drive(cs, window).await?;
    let mut total = Stats::new();
    for c in &cs {
        total.merge(&c.stats);
    }
    anyhow::ensure!(total.ok() > 0, "no command succeeded: {:?}", total.classes);
    Ok(total.summary(window.seconds()))
}

/// A GraphQL request; `Ok(true)` when answered without errors.
async fn graphql(
    target: &Target,
    query: &str,
    variables: &Value,
    min_position: Option<&str>,
) -> anyhow::Result<(u16, bool, Vec<u8>)> {
    let mut req = target
        .http
        .post(format!("{}/graphql", target.query_url))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(p) = min_position {
        req = req.header("x-min-position", p);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    let body = r.bytes().await?.to_vec();
    let ok = status == 200 && body.starts_with(b"{\"data\"") && !contains(&body, b"\"errors\"");
    Ok((status, ok, body))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

const INTERVIEW: &str = "query($id: UUID!) { interview(id: $id) { id status kind startsAt endsAt candidate { id name email } interviewers { id name email } } }";
const PAGE: &str = "query { interviews(first: 20) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id status startsAt candidate { id name } interviewers { id name } } } } }";
const AVAILABILITY: &str = "query($ids: [UUID!]!, $from: DateTime!, $to: DateTime!) { availability(personIds: $ids, from: $from, to: $to, durationMinutes: 60) { start end } }";
const DAILY: &str = "query($from: Date!, $to: Date!) { analytics { dailyInterviews(from: $from, to: $to) { date scheduled completed cancelled noShow avgDurationMinutes } } }";

/// `queries`: seeds a little data through commands, then runs each operation alone.
pub async fn queries(
    args: &BenchArgs,
    target: &Target,
) -> anyhow::Result<Vec<(&'static str, Summary)>> {
    // Seed: up to 8 clients, 12 interviews each, through the whole lifecycle.
    let seeders = clients(
        target,
        args.clients.clamp(1, 8),
        None,
        Arc::new(Nothing),
        6 + 12 * 10,
    )
    .await?;
    let seeded = drive(seeders, Window::unmeasured()).await?;
    let interviews: Vec<Uuid> = seeded
        .iter()
        .flat_map(|c| c.interviews.iter().copied())
        .collect();
    anyhow::ensure!(!interviews.is_empty(), "seeding interviews failed");
    // Triples of people: two interviewers (one with declared availability) and a candidate.
    let triples: Vec<Vec<Uuid>> = seeded
        .iter()
        .filter(|c| c.people.len() >= 5)
        .map(|c| vec![c.people[0], c.people[2], c.people[4]])
        .collect();
    anyhow::ensure!(!triples.is_empty(), "seeding people failed");
    // Wait until the projections show everything seeded.
    for c in &seeded {
        if let Some(p) = &c.last_position {
            let (_, ok, body) = graphql(target, "{ projections { name } }", &json!({}), Some(p))
                .await
                .context("waiting for the projections failed")?;
            anyhow::ensure!(
                ok,
                "waiting for the projections failed: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    let base = calendar_base();
    let interviews = Arc::new(interviews);
    let triples = Arc::new(triples);
    let mut out = Vec::new();
    for op in [
        "interview",
        "interviews_page",
        "availability",
        "daily_interviews",
    ] {
        let window = Window::starting_now(secs(args.warmup), secs(args.duration));
        let mut set = JoinSet::new();
        for client in 0..args.clients {
            let target = Target {
                command_url: target.command_url.clone(),
                query_url: target.query_url.clone(),
                database_url: String::new(),
                esdb: target.esdb,
                http: target.http.clone(),
            };
            let (interviews, triples) = (interviews.clone(), triples.clone());
            set.spawn(async move {
                let mut stats = Stats::new();
                let mut i = client as u64 * 7919;
                let mut sent = 0u64;
                while !window.over() && sent < MAX_QUERIES_PER_CLIENT {
                    sent += 1;
                    i += 1;
                    let (query, vars) = match op {
                        "interview" => (
                            INTERVIEW,
                            json!({"id": interviews[(i as usize) % interviews.len()]}),
                        ),
                        "interviews_page" => (PAGE, json!({})),
                        "availability" => {
                            let from = base + chrono::Duration::days(7 * (i as i64 % 4));
                            (
                                AVAILABILITY,
                                json!({
                                    "ids": triples[(i as usize) % triples.len()],
                                    "from": from, "to": from + chrono::Duration::days(7),
                                }),
                            )
                        }
                        _ => {
                            let from = base.date_naive();
                            (
                                DAILY,
                                json!({"from": from, "to": from + chrono::Duration::days(29)}),
                            )
                        }
                    };
                    let started = Instant::now();
                    let measured = window.measures(started);
                    match graphql(&target, query, &vars, None).await {
                        Ok((status, ok, _)) if measured => {
                            let class = if ok {
                                "2xx"
                            } else if status == 200 {
                                "graphql_error"
                            } else {
                                super::stats::class_of(status)
                            };
                            stats.record(class, started.elapsed());
                        }
                        Err(_) if measured => stats.count("error"),
                        _ => {}
                    }
                }
                stats
            });
        }
        let mut total = Stats::new();
        while let Some(r) = set.join_next().await {
            total.merge(&r.context("a query client panicked")?);
        }
        anyhow::ensure!(
            total.ok() > 0,
            "no {op} query succeeded: {:?}",
            total.classes
        );
        out.push((op, total.summary(window.seconds())));
    }
    Ok(out)
}

/// Lag figures.
pub struct LagResult {
    /// Command answer → readable, per command.
    pub lag: Summary,
    /// Commands per second actually sent in the window.
    pub achieved_rate: f64,
}

/// Probes each committed position with `X-Min-Position`.
struct Probe {
    target: Arc<Target>,
    stats: Arc<Mutex<Stats>>,
    permits: Arc<Semaphore>,
    /// Every `every`-th 2xx answer is probed.
    every: u64,
    seen: std::sync::atomic::AtomicU64,
}

/// Probes per second aimed at: enough for a p99 over a 10 s window (1,000 samples), few
/// enough that the probes' own reads do not load the system they measure.
const PROBES_PER_SECOND: f64 = 100.0;

/// Probes in flight at most.
const PROBES: u32 = 512;

impl AfterCommand for Probe {
    fn committed(&self, position: String, at: Instant) {
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !n.is_multiple_of(self.every) {
            return;
        }
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            if let Ok(mut s) = self.stats.lock() {
                s.count("probe_skipped");
            }
            return;
        };
        let (target, stats) = (self.target.clone(), self.stats.clone());
        tokio::spawn(async move {
            let r = graphql(
                &target,
                "{ projections { name } }",
                &json!({}),
                Some(&position),
            )
            .await;
            let elapsed = at.elapsed();
            if let Ok(mut s) = stats.lock() {
                match r {
                    Ok((_, true, _)) => s.record("2xx", elapsed),
                    Ok((_, false, body)) if contains(&body, b"CONSISTENCY_TIMEOUT") => {
                        s.count("consistency_timeout")
                    }
                    Ok((status, false, _)) => s.count(&format!("probe_{status}")),
                    Err(_) => s.count("error"),
                }
            }
            drop(permit);
        });
    }
}

/// Time each paced client has per command in `lag`.
const LAG_BUDGET: Duration = Duration::from_millis(100);
/// Paced clients in `lag` at most.
const MAX_LAG_CLIENTS: usize = 400;

/// `lag`: commands at a fixed rate; a sample of the 2xx answers (about 100 a second) is
/// each followed by a read that waits for it.
pub async fn lag(args: &BenchArgs, target: &Target) -> anyhow::Result<LagResult> {
    // Enough paced clients that each has LAG_BUDGET per command: the rate holds as long
    // as commands answer within it, instead of one slow answer delaying a client's next
    // command (a closed loop at 32 clients cannot reach 1,000/s with 32 ms answers).
    let n = args
        .clients
        .max((args.rate * LAG_BUDGET.as_secs_f64()).ceil() as usize)
        .min(MAX_LAG_CLIENTS)
        .min(args.rate.ceil().max(1.0) as usize)
        .max(1);
    let interval = Duration::from_secs_f64(n as f64 / args.rate);
    let probe = Arc::new(Probe {
        target: Arc::new(Target {
            command_url: target.command_url.clone(),
            query_url: target.query_url.clone(),
            database_url: String::new(),
            esdb: target.esdb,
            http: target.http.clone(),
        }),
        stats: Arc::new(Mutex::new(Stats::new())),
        permits: Arc::new(Semaphore::new(PROBES as usize)),
        every: (args.rate / PROBES_PER_SECOND).ceil().max(1.0) as u64,
        seen: std::sync::atomic::AtomicU64::new(0),
    });
    let cs = clients(
        target,
        n,
        Some(interval),
        probe.clone(),
        MAX_COMMANDS_PER_CLIENT,
    )
    .await?;
    let window = Window::starting_now(secs(args.warmup), secs(args.duration));
    let cs = drive(cs, window).await?;
    // Let the probes in flight finish (each waits at most the server's timeout).
    let _ = tokio::time::timeout(Duration::from_secs(15), probe.permits.acquire_many(PROBES)).await;
    let mut commands = Stats::new();
    for c in &cs {
        commands.merge(&c.stats);
    }
    let lag = probe
        .stats
        .lock()
        .map_err(|_| anyhow::anyhow!("lag figures poisoned"))?
        .clone();
    anyhow::ensure!(lag.ok() > 0, "no lag probe succeeded: {:?}", lag.classes);
    Ok(LagResult {
        lag: lag.summary(window.seconds()),
        achieved_rate: commands.total() as f64 / window.seconds(),
    })
}
