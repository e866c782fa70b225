//! Command headers: `X-Actor`, `X-Correlation-Id`, `Idempotency-Key`, `If-Match`.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use chrono::Utc;
use uuid::Uuid;

use crate::command::{Actor, CommandMeta};
use crate::error::ApiError;
use domain::Tenant;

/// Longest accepted idempotency key.
pub const MAX_KEY_LEN: usize = 255;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ApiError::BadHeader(format!("{name} must be visible ASCII"))),
    }
}

/// Parses the command headers.
pub fn parse(headers: &HeaderMap) -> Result<CommandMeta, ApiError> {
    let actor = match header(headers, "x-actor")? {
        Some(a) if !a.is_empty() => {
            if a.chars().count() > 200 {
                return Err(ApiError::BadHeader(
                    "X-Actor is limited to 200 characters".into(),
                ));
            }
            a.to_owned()
        }
        _ => "anonymous".to_owned(),
    };
    let correlation_id = match header(headers, "x-correlation-id")? {
        Some(c) if !c.is_empty() => Uuid::parse_str(c)
            .map_err(|_| ApiError::BadHeader("X-Correlation-Id must be a UUID".into()))?,
        _ => Uuid::now_v7(),
    };
    let idempotency_key = match header(headers, "idempotency-key")? {
        None => None,
        Some("") => {
            return Err(ApiError::BadHeader(
                "Idempotency-Key must not be empty".into(),
            ));
        }
        Some(k) if k.len() > MAX_KEY_LEN => {
            return Err(ApiError::BadHeader(format!(
                "Idempotency-Key is limited to {MAX_KEY_LEN} characters"
            )));
        }
        Some(k) => Some(k.to_owned()),
    };
    let if_match = match header(headers, "if-match")? {
        None => None,
        Some(v) => {
            let v = v.strip_prefix("W/").unwrap_or(v).trim_matches('"');
            Some(v.parse::<u64>().map_err(|_| {
                ApiError::BadHeader("If-Match must be a version in quotes, e.g. \"3\"".into())
            })?)
        }
    };
    Ok(CommandMeta {
        actor: Actor::system(&actor, Tenant::default_tenant()),
        correlation_id,
        command_id: Uuid::now_v7(),
        idempotency_key,
        if_match,
        now: Utc::now(),
    })
}

/// Extractor of [`CommandMeta`].
pub struct Meta(pub CommandMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse(&parts.headers).map(Meta)
    }
}
