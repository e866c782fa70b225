//! Command headers (`X-Correlation-Id`, `Idempotency-Key`, `If-Match`) and the verified
//! caller, as one [`CommandMeta`].

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use chrono::Utc;
use uuid::Uuid;

use crate::auth::Caller;
use crate::command::CommandMeta;
use crate::error::ApiError;

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

/// Parses the command headers of `caller`'s request. `X-Actor` is not read: the actor
/// is the verified caller. The idempotency key is kept per tenant and subject, so two
/// callers' keys never meet (nor the event ids derived from them).
pub fn parse(headers: &HeaderMap, caller: &Caller) -> Result<CommandMeta, ApiError> {
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
        Some(k) => Some(format!(
            "{}\u{1f}{}\u{1f}{k}",
            caller.tenant, caller.principal.subject
        )),
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
        actor: caller.actor(),
        scope: caller.scope,
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
        // Every command route is behind `auth::authenticate`; a handler without its
        // caller is a wiring bug, answered like a missing token rather than run.
        let Some(caller) = parts.extensions.get::<Caller>() else {
            return Err(ApiError::Unauthorized {
                code: "invalid_request",
                description: "a bearer token is required",
                missing: true,
            });
        };
        parse(&parts.headers, caller).map(Meta)
    }
}
