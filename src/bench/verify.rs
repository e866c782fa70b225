//! `bench verify`: what checking a bearer token costs, in this process, with the same
//! verifier and the same kind of token the APIs see under `bench commands` and
//! `bench queries` (the built-in key's HS256). Beside the full run it says how much of
//! the command and query figures the authentication can account for.

use std::time::{Duration, Instant};

use anyhow::Context;
use infra::auth::{AuthSettings, Verifier};

/// Upper bound of verifications (the loop is bounded in count and in time).
const MAX_VERIFICATIONS: u64 = 50_000_000;

/// The measured cost.
pub struct VerifyResult {
    /// Verifications per second on one core.
    pub per_second: f64,
    /// Microseconds per verification.
    pub micros: f64,
}

/// Verifies one token of the built-in key of `database_url` over and over for `seconds`
/// (after a short warm-up) on this task's core.
pub async fn run(database_url: &str, seconds: f64) -> anyhow::Result<VerifyResult> {
    let settings = infra::db::PoolSettings {
        max_connections: 2,
        ..infra::db::PoolSettings::default()
    };
    let pool = infra::db::connect(database_url, settings)
        .await
        .context("DATABASE_URL (for bench verify)")?;
    let token = crate::app::system_token(&pool, domain::DEFAULT_TENANT, "bench").await?;
    let verifier = Verifier::new(AuthSettings::default(), pool.clone())
        .await
        .context("token verifier")?;
    let window = Duration::from_secs_f64(seconds.clamp(0.5, 10.0));
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(200) {
        verifier.verify(&token).await.context("verify")?;
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < window && n < MAX_VERIFICATIONS {
        for _ in 0..256 {
            std::hint::black_box(verifier.verify(std::hint::black_box(&token)).await)
                .context("verify")?;
        }
        n += 256;
    }
    let elapsed = started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(VerifyResult {
        per_second: n as f64 / elapsed,
        micros: elapsed * 1e6 / n as f64,
    })
}
