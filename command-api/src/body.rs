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
        let value = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            ApiError::Validation(vec![FieldError::new(field, e.into_inner().to_string())])
        })?;
        Ok(ApiJson { value, raw })
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
