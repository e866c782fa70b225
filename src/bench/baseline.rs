//! Physical ceilings of the same PostgreSQL, with sqlx directly: durable single-row insert
//! transactions, batched multi-row inserts, primary-key SELECTs. Each client keeps one
//! connection for the whole phase (no pool round trips).

use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::BenchArgs;
use super::stats::{Stats, Window};

/// Rows per batched INSERT.
const BATCH: usize = 100;
/// Statements one client sends in one phase, at most.
const MAX_STATEMENTS: u64 = 10_000_000;

/// The ceilings.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Single-row durable insert transactions per second.
    pub insert_tps: f64,
    /// Their p99.
    pub insert_p99_ms: f64,
    /// Rows per second inserted 100 per statement.
    pub batch_rows_per_s: f64,
    /// Primary-key SELECTs per second.
    pub select_tps: f64,
}

const DATA: &str = r#"{"interviewId":"0190c5a4-7f7e-7c3b-9d51-6f7a2f1d2c3e","candidateId":"0190c5a4-7f7e-7c3b-9d51-6f7a2f1d2c3f","interviewerIds":["0190c5a4-7f7e-7c3b-9d51-6f7a2f1d2c40"],"position":"Backend Engineer","kind":"technical","startsAt":"2031-01-06T09:00:00Z","endsAt":"2031-01-06T09:45:00Z","location":"Room 4.2"}"#;
const META: &str = r#"{"eventId":"0190c5a4-7f7e-7c3b-9d51-6f7a2f1d2c41","correlationId":"0190c5a4-7f7e-7c3b-9d51-6f7a2f1d2c42","causationId":null,"actor":"bench","occurredAt":"2026-11-23T20:00:00Z","schemaVersion":1}"#;

#[derive(Clone, Copy)]
enum Phase {
    Insert,
    Batch,
    Select,
}

/// Runs the three phases on a fresh events-like table in `database_url`, then drops it.
pub async fn run(database_url: &str, args: &BenchArgs) -> anyhow::Result<Baseline> {
    let pool = PgPoolOptions::new()
        .max_connections(args.clients as u32 + 1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect(database_url)
        .await
        .context("baseline: cannot connect to the database")?;
    let table = format!("bench_baseline_{}", Uuid::new_v4().simple());
    pool.execute(
        format!(
            "CREATE TABLE {table} (
                position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
                stream_id text NOT NULL, version bigint NOT NULL, event_id uuid NOT NULL UNIQUE,
                event_type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL,
                UNIQUE (stream_id, version))"
        )
        .as_str(),
    )
    .await
    .context("baseline: cannot create the table")?;
    let result = phases(&pool, &table, args).await;
    let _ = pool
        .execute(format!("DROP TABLE IF EXISTS {table}").as_str())
        .await;
    pool.close().await;
    result
}

async fn phases(pool: &PgPool, table: &str, args: &BenchArgs) -> anyhow::Result<Baseline> {
    let (insert, insert_stats) = phase(pool, table, args, Phase::Insert, 0).await?;
    let (batch, _) = phase(pool, table, args, Phase::Batch, 0).await?;
    let (max,): (Option<i64>,) = sqlx::query_as(&format!("SELECT max(position) FROM {table}"))
        .fetch_one(pool)
        .await?;
    let (select, _) = phase(pool, table, args, Phase::Select, max.unwrap_or(1).max(1)).await?;
    Ok(Baseline {
        insert_tps: insert,
        insert_p99_ms: insert_stats.ms(0.99),
        batch_rows_per_s: batch * BATCH as f64,
        select_tps: select,
    })
}

/// One phase: statements per second (measured) and their latencies.
async fn phase(
    pool: &PgPool,
    table: &str,
    args: &BenchArgs,
    kind: Phase,
    max_position: i64,
) -> anyhow::Result<(f64, Stats)> {
    let window = Window::starting_now(
        Duration::from_secs_f64(args.warmup),
        Duration::from_secs_f64(args.duration),
    );
    let insert = format!(
        "INSERT INTO {table} (stream_id, version, event_id, event_type, data, metadata) VALUES ($1, 1, $2, 'InterviewScheduled', $3::jsonb, $4::jsonb)"
    );
    let batch = format!(
        "INSERT INTO {table} (stream_id, version, event_id, event_type, data, metadata) SELECT s, 1, e, 'InterviewScheduled', $3::jsonb, $4::jsonb FROM UNNEST($1::text[], $2::uuid[]) AS x(s, e)"
    );
    let select = format!("SELECT data FROM {table} WHERE position = $1");
    let mut set = JoinSet::new();
    for client in 0..args.clients {
        let pool = pool.clone();
        let (insert, batch, select) = (insert.clone(), batch.clone(), select.clone());
        set.spawn(async move {
            let mut conn = pool.acquire().await?;
            let mut stats = Stats::new();
            let mut rng = StdRng::seed_from_u64(client as u64);
            let mut n = 0u64;
            while !window.over() && n < MAX_STATEMENTS {
                n += 1;
                let started = Instant::now();
                let r = match kind {
                    Phase::Insert => sqlx::query(&insert)
                        .bind(format!("interview-{}", Uuid::new_v4()))
                        .bind(Uuid::new_v4())
                        .bind(DATA)
                        .bind(META)
                        .execute(&mut *conn)
                        .await
                        .map(|_| ()),
                    Phase::Batch => {
                        let streams: Vec<String> = (0..BATCH)
                            .map(|_| format!("interview-{}", Uuid::new_v4()))
                            .collect();
                        let ids: Vec<Uuid> = (0..BATCH).map(|_| Uuid::new_v4()).collect();
                        sqlx::query(&batch)
                            .bind(streams)
                            .bind(ids)
                            .bind(DATA)
                            .bind(META)
                            .execute(&mut *conn)
                            .await
                            .map(|_| ())
                    }
                    Phase::Select => sqlx::query(&select)
                        .bind(rng.gen_range(1..=max_position))
                        .fetch_optional(&mut *conn)
                        .await
                        .map(|_| ()),
                };
                if window.measures(started) {
                    match r {
                        Ok(()) => stats.record("2xx", started.elapsed()),
                        Err(_) => stats.count("error"),
                    }
                }
            }
            anyhow::Ok(stats)
        });
    }
    let mut total = Stats::new();
    while let Some(r) = set.join_next().await {
        total.merge(&r.context("a baseline client panicked")??);
    }
    anyhow::ensure!(
        total.ok() > 0,
        "baseline: no statement succeeded: {:?}",
        total.classes
    );
    Ok((total.ok() as f64 / window.seconds(), total))
}
