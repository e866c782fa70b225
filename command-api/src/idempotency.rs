//! Durable idempotency keys: the first answer of a keyed command is stored with a hash
//! of the request; a retry gets it again, another request under the key is refused.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::error::ApiError;

/// A claim older than this is taken over (its request died); event ids derived from the
/// key make a second run append nothing new.
const STALE_CLAIM: Duration = Duration::from_secs(30);
/// How long a request waits for a concurrent one with the same key.
const WAIT_FOR_CONCURRENT: Duration = Duration::from_secs(10);

/// A stored key: request hash, answer status and body (once answered), stale claim.
type StoredKey = (String, Option<i16>, Option<Vec<u8>>, bool);

/// Outcome of looking a key up.
pub enum Claim {
    /// This request runs the command and must [`record`] its answer.
    Owned,
    /// The stored first answer.
    Replay(Response),
}

/// Hash of what identifies a request: method, path and body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

fn db(e: sqlx::Error) -> ApiError {
    ApiError::Unavailable(format!("idempotency store: {e}"))
}

/// Claims `key` for this request, or finds the first answer.
pub async fn claim(pool: &PgPool, key: &str, hash: &str) -> Result<Claim, ApiError> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(5);
    loop {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (key, request_hash) VALUES ($1, $2)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(hash)
        .execute(pool)
        .await
        .map_err(db)?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Owned);
        }
        let row: Option<StoredKey> = sqlx::query_as(
            "SELECT request_hash, status, body, created_at < now() - make_interval(secs => $2)
             FROM idempotency_keys WHERE key = $1",
        )
        .bind(key)
        .bind(STALE_CLAIM.as_secs_f64())
        .fetch_optional(pool)
        .await
        .map_err(db)?;
        let Some((stored_hash, status, body, stale)) = row else {
            continue;
        };
        if stored_hash != hash {
            return Err(ApiError::IdempotencyKeyReused);
        }
        if let (Some(status), Some(body)) = (status, body) {
            return Ok(Claim::Replay(replay(status, body)));
        }
        if stale {
            let took = sqlx::query(
                "UPDATE idempotency_keys SET created_at = now()
                 WHERE key = $1 AND status IS NULL
                   AND created_at < now() - make_interval(secs => $2)",
            )
            .bind(key)
            .bind(STALE_CLAIM.as_secs_f64())
            .execute(pool)
            .await
            .map_err(db)?;
            if took.rows_affected() == 1 {
                return Ok(Claim::Owned);
            }
        }
        if started.elapsed() > WAIT_FOR_CONCURRENT {
            return Err(ApiError::Unavailable(
                "a request with this Idempotency-Key is still running; retry later".into(),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(100));
    }
}

fn replay(status: i16, body: Vec<u8>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Stores the answer of an owned key; a 5xx answer releases the claim instead, so the
/// client's retry runs the command again.
pub async fn record(
    pool: &PgPool,
    key: &str,
    status: StatusCode,
    body: &[u8],
) -> Result<(), ApiError> {
    if status.is_server_error() {
        sqlx::query("DELETE FROM idempotency_keys WHERE key = $1 AND status IS NULL")
            .bind(key)
            .execute(pool)
            .await
            .map_err(db)?;
        return Ok(());
    }
    sqlx::query(
        "UPDATE idempotency_keys SET status = $2, body = $3, completed_at = now() WHERE key = $1",
    )
    .bind(key)
    .bind(status.as_u16() as i16)
    .bind(body)
    .execute(pool)
    .await
    .map_err(db)?;
    Ok(())
}

/// Deletes answers older than `keep` (at least 24 hours by contract).
pub async fn purge(pool: &PgPool, keep: Duration) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
    )
    .bind(keep.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}
