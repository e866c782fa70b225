//! The errors a GraphQL request can end with, each with its `extensions.code`.

use std::sync::Arc;

use async_graphql::ServerError;
use infra::{Position, StoreError};

use crate::read_model::ReadModelError;

/// Values of `extensions.code` on GraphQL errors.
pub mod codes {
    /// An argument, header or cursor is not acceptable.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// The request is not a single GraphQL request (e.g. a batch, or not JSON).
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// The query text does not parse.
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The query does not fit the schema.
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// The query is nested deeper than allowed.
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    /// The query would resolve more fields than allowed.
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    /// The query ran longer than allowed.
    pub const QUERY_TIMEOUT: &str = "QUERY_TIMEOUT";
    /// The request body is larger than allowed.
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// The projections did not reach `X-Min-Position` in time.
    pub const CONSISTENCY_TIMEOUT: &str = "CONSISTENCY_TIMEOUT";
    /// A referenced record is not in the read model (yet).
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// The caller's roles do not allow this field (docs/API.md §5).
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// The caller sent too many requests; `extensions.retryAfter` says how many seconds
    /// to wait (the HTTP answer is a 429 with `Retry-After`).
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// The database or the event store cannot answer right now (unreachable, or a
    /// statement cancelled by its time bound); retrying later may succeed. The message
    /// says nothing more (the cause is logged).
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    /// Something failed on our side; the details are in the server log.
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
}

/// Why a resolver or the request around it failed.
///
/// Resolvers return `Result<_, QueryError>`; async-graphql keeps the error as the
/// source of the GraphQL error, and [`finish`] turns it into `extensions.code` (and an
/// opaque message, logged once, for internal failures). `Clone` because async-graphql
/// asks it of resolver errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    /// The client sent something unusable; the message says what.
    #[error("{0}")]
    BadInput(String),
    /// `X-Min-Position` was not reached in time.
    #[error("the read models did not reach position {position} within {waited_ms} ms; retry later")]
    ConsistencyTimeout {
        /// The position asked for.
        position: Position,
        /// How long the request waited.
        waited_ms: u128,
    },
    /// A record that another one points at is missing from the read model.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not read this field; the message says why, without data.
    #[error("{0}")]
    Forbidden(String),
    /// A read-model query failed (shared by every caller of a DataLoader batch).
    #[error(transparent)]
    ReadModel(Arc<ReadModelError>),
    /// The event store failed.
    #[error(transparent)]
    Store(Arc<StoreError>),
}

impl From<ReadModelError> for QueryError {
    fn from(e: ReadModelError) -> Self {
        QueryError::ReadModel(Arc::new(e))
    }
}

impl From<Arc<ReadModelError>> for QueryError {
    fn from(e: Arc<ReadModelError>) -> Self {
        QueryError::ReadModel(e)
    }
}

impl From<StoreError> for QueryError {
    fn from(e: StoreError) -> Self {
        QueryError::Store(Arc::new(e))
    }
}

const OPAQUE: &str = "internal error; see the server log";
const UNAVAILABLE: &str = "the service cannot answer right now; retry later";

/// Whether a database failure is one of availability, not of the query: the server is
/// unreachable or going away, the pool is exhausted, or the server cancelled the
/// statement (`statement_timeout`, 57014) or ended an idle transaction (25P03).
fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08") || c.starts_with("57P") || c == "57014" || c == "25P03"
        }),
        _ => false,
    }
}

impl QueryError {
    /// A [`QueryError::BadInput`] with this message.
    pub fn bad_input(message: impl Into<String>) -> Self {
        QueryError::BadInput(message.into())
    }

    /// The `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::BadInput(_) => codes::BAD_USER_INPUT,
            QueryError::ConsistencyTimeout { .. } => codes::CONSISTENCY_TIMEOUT,
            QueryError::NotFound(_) => codes::NOT_FOUND,
            QueryError::Forbidden(_) => codes::FORBIDDEN,
            QueryError::ReadModel(e) => match &**e {
                ReadModelError::Sql { source, .. } if unavailable(source) => {
                    codes::SERVICE_UNAVAILABLE
                }
                _ => codes::INTERNAL_SERVER_ERROR,
            },
            QueryError::Store(e) => match &**e {
                StoreError::Unavailable(_) => codes::SERVICE_UNAVAILABLE,
                _ => codes::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn is_internal(&self) -> bool {
        matches!(
            self.code(),
            codes::INTERNAL_SERVER_ERROR | codes::SERVICE_UNAVAILABLE
        )
    }

    /// This error as a response-level GraphQL error (outside any resolver).
    pub fn into_server_error(self) -> ServerError {
        let mut error = ServerError::new(self.to_string(), None);
        error.source = Some(Arc::new(self));
        finish(&mut error);
        error
    }
}

/// Gives an error leaving the server its `extensions.code`, and hides (after logging)
/// the details of internal failures. Errors from our resolvers carry a [`QueryError`]
/// source; the rest come from async-graphql itself, which offers no error types to
/// match: an argument or variable that does not parse (a malformed UUID, say) fails
/// inside a field, anything else before execution (an unknown operation name).
pub fn finish(error: &mut ServerError) {
    if has_code(error) {
        return;
    }
    let known = error
        .source::<QueryError>()
        .map(|e| (e.code(), e.is_internal().then(|| e.to_string())));
    let code = if let Some((code, internal)) = known {
        if let Some(detail) = internal {
            if code == codes::SERVICE_UNAVAILABLE {
                tracing::warn!(error = %detail, path = ?error.path, "query unavailable");
                error.message = UNAVAILABLE.to_owned();
            } else {
                tracing::error!(error = %detail, path = ?error.path, "query failed");
                error.message = OPAQUE.to_owned();
            }
        }
        code
    } else if error.message.starts_with("Failed to parse")
        || error.message.starts_with("Invalid value")
    {
        codes::BAD_USER_INPUT
    } else if error.path.is_empty() {
        codes::GRAPHQL_VALIDATION_FAILED
    } else {
        tracing::error!(message = %error.message, path = ?error.path, "query failed");
        error.message = OPAQUE.to_owned();
        codes::INTERNAL_SERVER_ERROR
    };
    set_code(error, code);
}

/// A response-level GraphQL error with `extensions.code`.
pub fn coded(code: &'static str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    set_code(&mut error, code);
    error
}

/// Sets `extensions.code` on `error`, keeping any other extensions.
pub fn set_code(error: &mut ServerError, code: &'static str) {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
}

/// Whether `error` already carries a code.
pub fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some())
}

/// Results of resolvers.
pub type QueryResult<T> = Result<T, QueryError>;
