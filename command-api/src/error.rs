//! `ApiError`: every failure a command can answer with, as `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::{Conflict, FieldError};
use serde::Serialize;
use uuid::Uuid;

use crate::command::{self, CommandError};

/// The realm of the `WWW-Authenticate` challenge.
pub const REALM: &str = "interview-ledger";

/// The base of every problem `type`.
pub const PROBLEM_BASE: &str = "https://interview-ledger.dev/problems/";

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or not the expected shape.
    #[error("{0}")]
    Malformed(String),
    /// 401: no valid bearer token (RFC 6750).
    #[error("{description}")]
    Unauthorized {
        /// The RFC 6750 `error` code (`invalid_request`, `invalid_token`).
        code: &'static str,
        /// What is wrong, safe to show.
        description: &'static str,
        /// No credentials were sent at all (the challenge then names no error).
        missing: bool,
    },
    /// 403: the caller's roles do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the target does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// "person" or "interview".
        entity: &'static str,
        /// Its id.
        id: Uuid,
    },
    /// 404: no such endpoint.
    #[error("no such endpoint: {0}")]
    NoRoute(String),
    /// 409: a participant is booked or unavailable.
    #[error("the interval conflicts with existing bookings or availability")]
    BookingConflict(Vec<Conflict>),
    /// 409: creating something that exists.
    #[error("{entity} {id} already exists")]
    AlreadyExists {
        /// "person" or "interview".
        entity: &'static str,
        /// Its id.
        id: Uuid,
    },
    /// 412: `If-Match` did not hold.
    #[error("expected version {expected}, but the {entity} is at version {current}")]
    VersionConflict {
        /// Aggregate kind.
        entity: &'static str,
        /// What the client sent.
        expected: u64,
        /// Where it is.
        current: u64,
    },
    /// 413.
    #[error("request bodies are limited to 1 MiB")]
    PayloadTooLarge,
    /// 415.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422 with field errors.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 422: a lifecycle rule.
    #[error("{message}")]
    RuleViolated {
        /// The rule, kebab-case.
        rule: &'static str,
        /// Human message.
        message: String,
    },
    /// 422: the idempotency key was used with another request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// 400: a header is malformed.
    #[error("{0}")]
    BadHeader(String),
    /// 429: the caller's token bucket is empty (docs/API.md, Limits).
    #[error("too many requests from this caller; retry in {retry_after} s")]
    RateLimited {
        /// Seconds until a request is accepted again (`Retry-After`).
        retry_after: u64,
    },
    /// 503: the event store or database is unreachable, or contention did not resolve.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected store failure (logged, never shown).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// HTTP status.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) | ApiError::BadHeader(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::BookingConflict(_) | ApiError::AlreadyExists { .. } => StatusCode::CONFLICT,
            ApiError::VersionConflict { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_)
            | ApiError::RuleViolated { .. }
            | ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The last segment of the problem `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) | ApiError::BadHeader(_) => "malformed-request",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound { .. } | ApiError::NoRoute(_) => "not-found",
            ApiError::BookingConflict(_) => "booking-conflict",
            ApiError::AlreadyExists { .. } => "already-exists",
            ApiError::VersionConflict { .. } => "version-conflict",
            ApiError::PayloadTooLarge => "payload-too-large",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::Validation(_) => "validation-failed",
            ApiError::RuleViolated { .. } => "rule-violated",
            ApiError::IdempotencyKeyReused => "idempotency-key-reused",
            ApiError::RateLimited { .. } => "rate-limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) | ApiError::BadHeader(_) => "Malformed request",
            ApiError::Unauthorized { .. } => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound { .. } | ApiError::NoRoute(_) => "Not found",
            ApiError::BookingConflict(_) => "Booking conflict",
            ApiError::AlreadyExists { .. } => "Already exists",
            ApiError::VersionConflict { .. } => "Version conflict",
            ApiError::PayloadTooLarge => "Payload too large",
            ApiError::UnsupportedMediaType => "Unsupported media type",
            ApiError::Validation(_) => "Validation failed",
            ApiError::RuleViolated { .. } => "Rule violated",
            ApiError::IdempotencyKeyReused => "Idempotency key reused",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::Internal(_) => "Internal server error",
        }
    }

    /// The problem document.
    pub fn problem(&self) -> Problem {
        let status = self.status_code().as_u16();
        let detail = match self {
            // A 5xx body is opaque (no internal text, no host names); the cause is logged
            // by the middleware.
            ApiError::Internal(_) => "an unexpected error occurred".to_owned(),
            ApiError::Unavailable(_) => {
                "the service cannot answer right now; retry later".to_owned()
            }
            other => other.to_string(),
        };
        let mut problem = Problem {
            problem_type: format!("{PROBLEM_BASE}{}", self.kind()),
            title: self.title().to_owned(),
            status,
            detail,
            errors: None,
            conflicts: None,
            current_version: None,
            rule: None,
        };
        match self {
            ApiError::Validation(errors) => {
                problem.errors = Some(
                    errors
                        .iter()
                        .map(|e| ProblemField {
                            field: e.field.clone(),
                            message: e.message.clone(),
                        })
                        .collect(),
                )
            }
            ApiError::BookingConflict(conflicts) => {
                problem.conflicts = Some(
                    conflicts
                        .iter()
                        .map(|c| ProblemConflict {
                            person_id: c.person_id,
                            start: c.start,
                            end: c.end,
                            interview_id: c.interview_id,
                        })
                        .collect(),
                )
            }
            ApiError::VersionConflict { current, .. } => problem.current_version = Some(*current),
            ApiError::RuleViolated { rule, .. } => problem.rule = Some(rule),
            _ => {}
        }
        problem
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// URI naming the problem; ends with the kind, e.g. `validation-failed`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong here.
    pub detail: String,
    /// Field errors of a `validation-failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemField>>,
    /// Conflicts of a `booking-conflict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<ProblemConflict>>,
    /// The aggregate's version, for a `version-conflict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// The broken rule of a `rule-violated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
}

/// One invalid field.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProblemField {
    /// JSON path of the field, e.g. `interviewerIds[1]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// One booking that stands in the way.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProblemConflict {
    /// The participant.
    pub person_id: Uuid,
    /// Start of the overlapped booking (or of the requested interval).
    pub start: DateTime<Utc>,
    /// Its end.
    pub end: DateTime<Utc>,
    /// The interview holding the overlapped booking; absent for missing availability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interview_id: Option<Uuid>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::Unauthorized {
            code,
            description,
            missing,
        } = &self
        {
            // RFC 6750 §3: no error code when the request carried no credentials.
            let challenge = if *missing {
                format!("Bearer realm=\"{REALM}\"")
            } else {
                format!(
                    "Bearer realm=\"{REALM}\", error=\"{code}\", error_description=\"{description}\""
                )
            };
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        if let ApiError::RateLimited { retry_after } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if let ApiError::Internal(cause) | ApiError::Unavailable(cause) = &self {
            // Logged once by the tracing middleware, which sees this extension.
            response.extensions_mut().insert(LoggedCause(cause.clone()));
        }
        response
    }
}

/// The hidden cause of a 5xx, for the logging middleware.
#[derive(Debug, Clone)]
pub struct LoggedCause(pub String);

impl From<domain::Error> for ApiError {
    fn from(e: domain::Error) -> Self {
        match e {
            domain::Error::Validation(errors) => ApiError::Validation(errors),
            domain::Error::NotFound { entity, id } => ApiError::NotFound { entity, id },
            domain::Error::AlreadyExists { entity, id } => ApiError::AlreadyExists { entity, id },
            domain::Error::BookingConflict(c) => ApiError::BookingConflict(c),
            domain::Error::RuleViolated { rule, message } => ApiError::RuleViolated {
                rule: rule.as_str(),
                message,
            },
        }
    }
}

impl From<infra::StoreError> for ApiError {
    fn from(e: infra::StoreError) -> Self {
        match e {
            infra::StoreError::Unavailable(m) => ApiError::Unavailable(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Refused(refusal) => refusal.into(),
            CommandError::Conflict(command::Conflict::IfMatch {
                entity,
                expected,
                current,
            }) => ApiError::VersionConflict {
                entity,
                expected,
                current,
            },
            CommandError::Conflict(contended @ command::Conflict::Contended { .. }) => {
                ApiError::Unavailable(contended.to_string())
            }
            CommandError::Store(e) => e.into(),
        }
    }
}
