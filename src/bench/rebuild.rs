//! `rebuild`: seeds realistic events into a fresh PostgreSQL event store, then times
//! `projections::rebuild` of every projection.
//!
//! A template is made through the command API's own router (the same decide/append path
//! as HTTP), then copied with every UUID replaced per copy (people, interviews, event ids),
//! in multi-row inserts of whole copies, until the wanted number of events is stored.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use uuid::Uuid;

use super::driver::{Client, Nothing, Transport};
use super::stats::Window;
use super::with_database;
use crate::app::Env;
use crate::cli::Global;

/// Events per INSERT (rounded to whole copies of the template).
const ROWS_PER_INSERT: usize = 2000;
/// Concurrent inserters.
const INSERTERS: usize = 4;

/// Rebuild figures.
#[derive(Debug, Clone)]
pub struct RebuildResult {
    /// Events replayed.
    pub events: u64,
    /// Seconds the rebuild took.
    pub seconds: f64,
    /// Events per second replayed.
    pub events_per_s: f64,
    /// Rows per second the seeding inserted.
    pub insert_rows_per_s: f64,
}

type Row = (String, i64, Uuid, String, String, String);

/// Seeds about `events` events into a fresh database next to DATABASE_URL, rebuilds every
/// projection from them, drops the database.
pub async fn run(
    global: &Global,
    events: u64,
    say: impl Fn(String),
) -> anyhow::Result<RebuildResult> {
    anyhow::ensure!(
        (1..=50_000_000).contains(&events),
        "--rebuild-events must be 1..50000000"
    );
    let name = format!("il_bench_{}", Uuid::new_v4().simple());
    let url = with_database(&global.database_url, &name)?;
    let mut g = global.clone();
    g.database_url = url;
    g.eventstore_url = None;
    g.database_max_connections = 8;
    let result = seed_and_rebuild(&g, events, &say).await;
    if let Err(e) = super::drop_database(&global.database_url, &name).await {
        say(format!("warning: {e:#}"));
    }
    result
}

async fn seed_and_rebuild(
    g: &Global,
    events: u64,
    say: &impl Fn(String),
) -> anyhow::Result<RebuildResult> {
    let env = Env::open(g, true).await?;
    let router = command_api::router(command_api::AppState::new(
        env.store.clone(),
        env.pool.clone(),
        env.verifier().await?,
    ));
    let token = env.system_token(domain::DEFAULT_TENANT, "bench").await?;
    // The template: one client's interviewers and 30 interviews through their lifecycles.
    let mut client = Client::new(
        Transport::Local { router, token },
        Window::unmeasured(),
        None,
        Arc::new(Nothing),
        6 + 30 * 10,
    );
    client.setup(0).await?;
    client.run().await;
    let template: Vec<Row> = sqlx::query_as(
        "SELECT stream_id, version, event_id, event_type, data::text, metadata::text FROM events ORDER BY transaction_id, position",
    )
    .fetch_all(&env.pool)
    .await
    .context("cannot read the template events")?;
    anyhow::ensure!(!template.is_empty(), "the template has no events");
    let copies = (events as usize).div_ceil(template.len()).saturating_sub(1);
    say(format!(
        "rebuild: seeding {} events ({} copies of a {}-event template)",
        template.len() * (copies + 1),
        copies,
        template.len()
    ));
    let per_insert = (ROWS_PER_INSERT / template.len()).max(1);
    let template = Arc::new(template);
    let started = Instant::now();
    let batches: Vec<usize> = (0..copies)
        .step_by(per_insert)
        .map(|from| per_insert.min(copies - from))
        .collect();
    let pool = env.pool.clone();
    let results: Vec<anyhow::Result<u64>> = futures::stream::iter(batches)
        .map(|n| {
            let (pool, template) = (pool.clone(), template.clone());
            async move {
                let rows = tokio::task::spawn_blocking(move || copy(&template, n))
                    .await
                    .context("copying the template panicked")?;
                insert(&pool, rows).await
            }
        })
        .buffer_unordered(INSERTERS)
        .collect()
        .await;
    let mut inserted = 0;
    for r in results {
        inserted += r?;
    }
    let insert_rows_per_s = inserted as f64 / started.elapsed().as_secs_f64().max(1e-9);
    sqlx::query("VACUUM ANALYZE events")
        .execute(&env.pool)
        .await
        .context("VACUUM ANALYZE events")?;

    let report = projections::rebuild(
        &env.store,
        &env.pool,
        &projections::all(),
        |_: projections::Progress| {},
    )
    .await
    .context("rebuild failed")?;
    env.pool.close().await;
    let seconds = report.elapsed.as_secs_f64().max(1e-9);
    Ok(RebuildResult {
        events: report.events,
        seconds,
        events_per_s: report.events as f64 / seconds,
        insert_rows_per_s,
    })
}

/// `n` copies of the template, each with its own UUIDs.
fn copy(template: &[Row], n: usize) -> Vec<Row> {
    let mut out = Vec::with_capacity(template.len() * n);
    for _ in 0..n {
        let mut map = HashMap::new();
        for (stream, version, id, kind, data, meta) in template {
            let id = remap(&id.to_string(), &mut map);
            out.push((
                remap(stream, &mut map),
                *version,
                Uuid::parse_str(&id).unwrap_or_else(|_| Uuid::new_v4()),
                kind.clone(),
                remap(data, &mut map),
                remap(meta, &mut map),
            ));
        }
    }
    out
}

/// `text` with every hyphenated UUID replaced by its image in `map` (new ones made up).
fn remap(text: &str, map: &mut HashMap<String, String>) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 36 <= b.len() {
        if is_uuid(&b[i..i + 36]) {
            out.push_str(&text[copied..i]);
            let old = &text[i..i + 36];
            let new = map
                .entry(old.to_owned())
                .or_insert_with(|| Uuid::new_v4().to_string());
            out.push_str(new);
            i += 36;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn is_uuid(s: &[u8]) -> bool {
    s.iter().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => *c == b'-',
        _ => c.is_ascii_hexdigit(),
    })
}

async fn insert(pool: &sqlx::PgPool, rows: Vec<Row>) -> anyhow::Result<u64> {
    let n = rows.len();
    let mut streams = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    let mut data = Vec::with_capacity(n);
    let mut meta = Vec::with_capacity(n);
    for (s, v, e, k, d, m) in rows {
        streams.push(s);
        versions.push(v);
        ids.push(e);
        kinds.push(k);
        data.push(d);
        meta.push(m);
    }
    let done = sqlx::query(
        "INSERT INTO events (stream_id, version, event_id, event_type, data, metadata)
         SELECT s, v, e, t, d::jsonb, m::jsonb
         FROM UNNEST($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::text[])
              WITH ORDINALITY AS x(s, v, e, t, d, m, o)
         ORDER BY o",
    )
    .bind(streams)
    .bind(versions)
    .bind(ids)
    .bind(kinds)
    .bind(data)
    .bind(meta)
    .execute(pool)
    .await
    .context("inserting seeded events failed")?;
    Ok(done.rows_affected())
}
