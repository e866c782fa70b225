//! The JSON body extractor: content type, size, syntax and shape errors become problems.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use domain::FieldError;

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON request body, with the raw bytes kept for idempotency hashing.
#[derive(Debug)]
pub struct ApiJson<T> {
    /// The parsed body.
    pub value: T,
    /// The bytes as received.
    pub raw: bytes::Bytes,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared_len.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(ApiError::PayloadTooLarge);
        }
        let raw = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                if is_length_limit(&e) {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::Malformed(format!("could not read the body: {e}"))
                }
            })?;
        let is_json = |ct: &str| ct == "application/json" || ct.ends_with("+json");
        let blank = raw.iter().all(u8::is_ascii_whitespace);
        let empty_object = || serde_json::Value::Object(Default::default());
        // A command without arguments may come without a body.
        let value: serde_json::Value = match content_type.as_deref() {
            Some(ct) if is_json(ct) && blank => empty_object(),
            Some(ct) if is_json(ct) => serde_json::from_slice(&raw)
                .map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))?,
            None | Some("") if blank => empty_object(),
            _ => return Err(ApiError::UnsupportedMediaType),
        };
        if !value.is_object() {
            return Err(ApiError::Malformed("the body must be a JSON object".into()));
        }
        // JSON can spell U+0000 (`\u0000`); no stored text can hold it (PostgreSQL text
        // and jsonb refuse it). Refused here, once, for every field of every command.
        if raw.windows(6).any(|w| w == b"\\u0000")
            && let Some(field) = nul_at(&value, String::new())
        {
            return Err(ApiError::Validation(vec![FieldError::new(
                field,
                "must not contain the NUL character (U+0000)".to_owned(),
            )]));
        }
        let value = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            ApiError::Validation(vec![FieldError::new(field, e.into_inner().to_string())])
        })?;
        Ok(ApiJson { value, raw })
    }
}

/// The path (`a.b[2]`) of the first string, or object key, holding U+0000.
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_at(v, here)
            }
        }),
        _ => None,
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}
