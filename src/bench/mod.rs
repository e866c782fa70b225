//! `bench`: load generators for the command API, the query API, projection lag, the
//! physical ceilings of the same PostgreSQL, and rebuilds.
//!
//! Every request targets 127.0.0.1 only; every loop is bounded in count and in time.

pub mod baseline;
pub mod driver;
pub mod rebuild;
pub mod scenarios;
pub mod stats;
pub mod verify;

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

use crate::cli::Global;
use stats::round;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Realistic command mix over REST.
    Commands,
    /// GraphQL reads, one operation at a time.
    Queries,
    /// Time from a command's answer to its effect being readable, at a fixed rate.
    Lag,
    /// Physical ceilings of the PostgreSQL with sqlx directly.
    Baseline,
    /// Replay of seeded events into fresh read models.
    Rebuild,
    /// The cost of verifying one bearer token, in this process.
    Verify,
    /// Everything, with ratios to the baselines.
    All,
}

/// `bench …`
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The scenario.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Measured seconds (per phase).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Warm-up seconds before each measured phase.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Commands per second of the `lag` scenario (spread over the clients).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Events the `rebuild` scenario seeds and replays (default: 10,000 per second of --duration).
    #[arg(long)]
    pub rebuild_events: Option<u64>,
    /// One JSON object on stdout instead of tables.
    #[arg(long)]
    pub json: bool,
    /// The bearer token to send (default: one minted with the built-in key of the
    /// database, an `admin` of the default tenant).
    #[arg(long, env = "IL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Start `serve` as a child process on a fresh database (dropped at the end).
    #[arg(long, conflicts_with_all = ["command_url", "query_url"])]
    pub spawn: bool,
    /// A running command API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub command_url: String,
    /// A running query API.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    pub query_url: String,
}

/// What the scenarios run against.
pub struct Target {
    /// Command API base URL.
    pub command_url: String,
    /// Query API base URL.
    pub query_url: String,
    /// The database of the read models (and of the PostgreSQL event store).
    pub database_url: String,
    /// Whether the event store is EventStoreDB (`esdb://`).
    pub esdb: bool,
    /// HTTP client, keep-alive, no proxy.
    pub http: reqwest::Client,
}

/// The HTTP client of every request: keep-alive, no proxy, and a bearer token on each
/// request (verification is part of what is measured): `token` when given, else one of
/// the built-in key in `database_url` (an `admin` of the default tenant, subject `bench`).
async fn client(
    args: &BenchArgs,
    database_url: &str,
    token: Option<&str>,
) -> anyhow::Result<reqwest::Client> {
    let token = match token {
        Some(t) => t.to_owned(),
        None => {
            let settings = infra::db::PoolSettings {
                max_connections: 1,
                ..infra::db::PoolSettings::default()
            };
            let pool = infra::db::connect(database_url, settings)
                .await
                .context("DATABASE_URL (for the bench's token)")?;
            let token = crate::app::system_token(&pool, domain::DEFAULT_TENANT, "bench").await;
            pool.close().await;
            token?
        }
    };
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .context("the token is not a header value")?;
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.clients.max(8) * 2)
        .tcp_nodelay(true)
        .default_headers(headers)
        .build()
        .context("cannot build the HTTP client")
}

/// Runs a bench command line.
pub async fn run(global: &Global, args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=1024).contains(&args.clients),
        "--clients must be 1..1024"
    );
    anyhow::ensure!(
        args.duration > 0.0 && args.duration <= 3600.0,
        "--duration must be in (0, 3600]"
    );
    anyhow::ensure!(
        (0.0..=600.0).contains(&args.warmup),
        "--warmup must be in [0, 600]"
    );
    anyhow::ensure!(
        args.rate > 0.0 && args.rate <= 100_000.0,
        "--rate must be in (0, 100000]"
    );
    let esdb = global
        .eventstore_url
        .as_deref()
        .is_some_and(|u| u.starts_with("esdb"));
    let mut spawned = None;
    let target = if args.spawn {
        let s = Spawned::start(global).await?;
        let http = client(args, &s.database_url, args.token.as_deref()).await?;
        let t = Target {
            command_url: s.command_url.clone(),
            query_url: s.query_url.clone(),
            database_url: s.database_url.clone(),
            esdb,
            http,
        };
        spawned = Some(s);
        t
    } else {
        let http = client(args, &global.database_url, args.token.as_deref()).await?;
        Target {
            command_url: loopback(&args.command_url, "--command-url")?,
            query_url: loopback(&args.query_url, "--query-url")?,
            database_url: global.database_url.clone(),
            esdb,
            http,
        }
    };
    let result = run_scenarios(global, args, &target).await;
    let rss = match spawned {
        Some(s) => s.stop(global).await,
        None => None,
    };
    let mut doc = result?;
    if let Some(kib) = rss {
        let mib = kib as f64 / 1024.0;
        doc["serve_peak_rss_mib"] = json!(round(mib));
        if !args.json {
            println!("serve peak RSS: {mib:.1} MiB");
        }
    }
    if args.json {
        println!("{doc}");
    }
    Ok(())
}

async fn run_scenarios(
    global: &Global,
    args: &BenchArgs,
    target: &Target,
) -> anyhow::Result<Value> {
    let mut doc = json!({});
    let want = |s: Scenario| args.scenario == s || args.scenario == Scenario::All;
    let say = |line: String| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    say(format!(
        "bench {:?}: clients={} duration={}s warmup={}s store={}",
        args.scenario,
        args.clients,
        args.duration,
        args.warmup,
        if target.esdb {
            "eventstoredb"
        } else {
            "postgres"
        }
    ));
    if want(Scenario::Commands) {
        let r = scenarios::commands(args, target).await?;
        say(format!(
            "commands: {:.0}/s p50={:.2}ms p95={:.2}ms p99={:.2}ms max={:.2}ms [{}]",
            r.throughput,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.max_ms,
            r.classes_line()
        ));
        doc["commands"] = r.json();
    }
    if want(Scenario::Queries) {
        let ops = scenarios::queries(args, target).await?;
        let mut all = serde_json::Map::new();
        for (name, r) in &ops {
            say(format!(
                "query {name:<18} {:.0}/s p50={:.2}ms p95={:.2}ms p99={:.2}ms max={:.2}ms [{}]",
                r.throughput,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.max_ms,
                r.classes_line()
            ));
            all.insert((*name).to_owned(), r.json());
        }
        let first = &ops[0].1;
        doc["queries"] = json!({
            "throughput": round(first.throughput),
            "p50_ms": round(first.p50_ms),
            "p99_ms": round(first.p99_ms),
            "operations": all,
        });
    }
    if want(Scenario::Lag) {
        let r = scenarios::lag(args, target).await?;
        say(format!(
            "lag at {:.0} commands/s (achieved {:.0}/s): p50={:.2}ms p99={:.2}ms max={:.2}ms [{}]",
            args.rate,
            r.achieved_rate,
            r.lag.p50_ms,
            r.lag.p99_ms,
            r.lag.max_ms,
            r.lag.classes_line()
        ));
        doc["lag"] = json!({
            "rate": round(args.rate),
            "achieved_rate": round(r.achieved_rate),
            "p50_ms": round(r.lag.p50_ms),
            "p99_ms": round(r.lag.p99_ms),
            "max_ms": round(r.lag.max_ms),
            "status": r.lag.classes,
        });
    }
    if want(Scenario::Baseline) {
        let b = baseline::run(&target.database_url, args).await?;
        say(format!(
            "baseline: insert {:.0} tx/s (p99 {:.2}ms), batched {:.0} rows/s, select {:.0}/s",
            b.insert_tps, b.insert_p99_ms, b.batch_rows_per_s, b.select_tps
        ));
        doc["baseline"] = json!({
            "insert_tps": round(b.insert_tps),
            "insert_p99_ms": round(b.insert_p99_ms),
            "batch_rows_per_s": round(b.batch_rows_per_s),
            "select_tps": round(b.select_tps),
        });
    }
    if want(Scenario::Rebuild) {
        let events = args
            .rebuild_events
            .unwrap_or((args.duration * 10_000.0).max(1000.0) as u64);
        let r = rebuild::run(global, events, &say).await?;
        say(format!(
            "rebuild: {} events in {:.2}s = {:.0} events/s (seeded at {:.0} events/s)",
            r.events, r.seconds, r.events_per_s, r.insert_rows_per_s
        ));
        doc["rebuild"] = json!({
            "events": r.events,
            "seconds": round(r.seconds),
            "events_per_s": round(r.events_per_s),
        });
    }
    if want(Scenario::Verify) {
        let v = verify::run(&target.database_url, args.duration.min(3.0)).await?;
        say(format!(
            "verify: {:.0} tokens/s on one core = {:.2} µs per request",
            v.per_second, v.micros
        ));
        let l = verify::layers(&target.database_url, args.duration.min(3.0)).await?;
        say(format!(
            "authorization layer: {:.2} µs per command, {:.2} µs per query",
            l.command_micros, l.query_micros
        ));
        doc["verify"] = json!({
            "per_second": round(v.per_second),
            "micros": round(v.micros),
            "command_layer_micros": round(l.command_micros),
            "query_layer_micros": round(l.query_micros),
        });
    }
    if args.scenario == Scenario::All && !args.json {
        print_table(&doc);
    }
    Ok(doc)
}

fn num(doc: &Value, path: &[&str]) -> f64 {
    let mut v = doc;
    for p in path {
        v = &v[*p];
    }
    v.as_f64().unwrap_or(0.0)
}

fn print_table(doc: &Value) {
    let rows: Vec<(&str, f64, &str, f64)> = vec![
        (
            "commands/s",
            num(doc, &["commands", "throughput"]),
            "insert_tps",
            num(doc, &["baseline", "insert_tps"]),
        ),
        (
            "commands p99 ms",
            num(doc, &["commands", "p99_ms"]),
            "insert p99 ms",
            num(doc, &["baseline", "insert_p99_ms"]),
        ),
        (
            "interview(id)/s",
            num(doc, &["queries", "throughput"]),
            "select_tps",
            num(doc, &["baseline", "select_tps"]),
        ),
        (
            "interview(id) p99 ms",
            num(doc, &["queries", "p99_ms"]),
            "-",
            0.0,
        ),
        (
            "availability p99 ms",
            num(doc, &["queries", "operations", "availability", "p99_ms"]),
            "-",
            0.0,
        ),
        ("lag p50 ms", num(doc, &["lag", "p50_ms"]), "-", 0.0),
        ("lag p99 ms", num(doc, &["lag", "p99_ms"]), "-", 0.0),
        (
            "rebuild events/s",
            num(doc, &["rebuild", "events_per_s"]),
            "batch_rows_per_s",
            num(doc, &["baseline", "batch_rows_per_s"]),
        ),
    ];
    println!();
    println!(
        "{:<22} {:>12}  {:<18} {:>12} {:>8}",
        "FIGURE", "VALUE", "BASELINE", "VALUE", "RATIO"
    );
    for (name, v, bname, b) in rows {
        let ratio = if b > 0.0 {
            format!("{:.0}%", 100.0 * v / b)
        } else {
            "-".into()
        };
        let bv = if b > 0.0 {
            format!("{b:.1}")
        } else {
            "-".into()
        };
        println!("{name:<22} {v:>12.1}  {bname:<18} {bv:>12} {ratio:>8}");
    }
    // What token verification can account for: its measured cost times the request
    // rates, as a share of the machine's two cores (the whole system shares them).
    let micros = num(doc, &["verify", "micros"]);
    if micros > 0.0 {
        for (what, rate, layer) in [
            (
                "commands",
                num(doc, &["commands", "throughput"]),
                num(doc, &["verify", "command_layer_micros"]),
            ),
            (
                "interview(id)",
                num(doc, &["queries", "throughput"]),
                num(doc, &["verify", "query_layer_micros"]),
            ),
        ] {
            println!(
                "token verification at the {what} rate: {:.2}% of 2 cores ({micros:.2} µs × {rate:.0}/s)",
                100.0 * micros * rate / 2e6
            );
            println!(
                "whole authorization layer at the {what} rate: {:.2}% of 2 cores ({layer:.2} µs × {rate:.0}/s)",
                100.0 * layer * rate / 2e6
            );
        }
    }
}

/// Accepts only `http://127.0.0.1:PORT` (the benchmark never leaves the machine).
fn loopback(url: &str, flag: &str) -> anyhow::Result<String> {
    let url = url.trim_end_matches('/');
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .with_context(|| format!("{flag} must be http://127.0.0.1:PORT, got {url:?}"))?;
    anyhow::ensure!(
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()),
        "{flag} must be http://127.0.0.1:PORT, got {url:?}"
    );
    Ok(url.to_owned())
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let scheme_end = main.find("://").context("DATABASE_URL has no scheme")? + 3;
    let (head, _) = match main[scheme_end..].find('/') {
        Some(i) => main.split_at(scheme_end + i),
        None => (main, ""),
    };
    Ok(match query {
        Some(q) => format!("{head}/{name}?{q}"),
        None => format!("{head}/{name}"),
    })
}

/// Drops a database the benchmark created (connected to `postgres` on the same server).
pub async fn drop_database(url: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    anyhow::ensure!(
        name.starts_with("il_bench_")
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "refusing to drop {name:?}"
    );
    let admin = with_database(url, "postgres")?;
    let mut c = sqlx::PgConnection::connect(&admin)
        .await
        .context("cannot connect to drop the benchmark database")?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut c)
        .await
        .with_context(|| format!("cannot drop database {name}"))?;
    Ok(())
}

/// The per-subject rate limits of a spawned `serve` (per second and burst): far above
/// what the benchmark sends, so it measures the system, limiter included, not the limit.
const BENCH_RATE_LIMIT: &str = "1000000";

/// A `serve` child on a fresh database.
struct Spawned {
    child: tokio::process::Child,
    command_url: String,
    query_url: String,
    database_url: String,
    database: String,
}

impl Spawned {
    async fn start(global: &Global) -> anyhow::Result<Spawned> {
        let database = format!("il_bench_{}", Uuid::new_v4().simple());
        let database_url = with_database(&global.database_url, &database)?;
        let exe = std::env::current_exe().context("cannot find the current executable")?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.env("DATABASE_URL", &database_url)
            // Any other listener of serve on a free port too (ignored where unknown).
            .env("PROJECTOR_ADDR", "127.0.0.1:0")
            .env_remove("METRICS_ADDR")
            // The benchmark's few subjects send far more than any one real caller: the
            // limiter still runs on every request, but never refuses one.
            .env("RATE_LIMIT_COMMANDS_PER_SECOND", BENCH_RATE_LIMIT)
            .env("RATE_LIMIT_COMMANDS_BURST", BENCH_RATE_LIMIT)
            .env("RATE_LIMIT_QUERIES_PER_SECOND", BENCH_RATE_LIMIT)
            .env("RATE_LIMIT_QUERIES_BURST", BENCH_RATE_LIMIT)
            .args([
                "serve",
                "--command-api-addr",
                "127.0.0.1:0",
                "--query-api-addr",
                "127.0.0.1:0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "warn");
        }
        let mut child = cmd.spawn().context("cannot start serve")?;
        let stdout = child.stdout.take().context("serve has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut command_url, mut query_url) = (None, None);
        let read = async {
            while command_url.is_none() || query_url.is_none() {
                let Some(line) = lines.next_line().await? else {
                    anyhow::bail!("serve exited before it listened");
                };
                if let Some(url) = line.strip_prefix("command API listening on ") {
                    command_url = Some(loopback(url.trim(), "serve's command API")?);
                } else if let Some(url) = line.strip_prefix("query API listening on ") {
                    query_url = Some(loopback(url.trim(), "serve's query API")?);
                }
            }
            Ok(())
        };
        let started = tokio::time::timeout(Duration::from_secs(120), read).await;
        let spawned = |child, command_url: Option<String>, query_url: Option<String>| Spawned {
            child,
            command_url: command_url.unwrap_or_default(),
            query_url: query_url.unwrap_or_default(),
            database_url: database_url.clone(),
            database: database.clone(),
        };
        match started {
            Ok(Ok(())) => {
                // Keep draining stdout so the child never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                Ok(spawned(child, command_url, query_url))
            }
            Ok(Err(e)) => {
                spawned(child, None, None).stop(global).await;
                Err(e)
            }
            Err(_) => {
                spawned(child, None, None).stop(global).await;
                anyhow::bail!("serve did not listen within 120 s")
            }
        }
    }

    /// Stops the child (SIGTERM, then kill), drops its database; its peak RSS in KiB.
    async fn stop(mut self, global: &Global) -> Option<u64> {
        let pid = self.child.id();
        let rss = pid.and_then(peak_rss_kib);
        if let Some(pid) = pid {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        if let Err(e) = drop_database(&global.database_url, &self.database).await {
            eprintln!("warning: {e:#}");
        }
        rss
    }
}

/// VmHWM of a process (Linux), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
