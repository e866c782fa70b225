//! Per-subject rate limit of the query API: every authenticated HTTP request, and every
//! subscription a socket starts, takes a token from its caller's bucket (tenant, subject;
//! [`infra::rate_limit`]). An HTTP request finding it empty is answered 429 with
//! `Retry-After` and a GraphQL-shaped body (`extensions.code` `RATE_LIMITED`,
//! `extensions.retryAfter` in seconds); a subscription is answered with an `error`
//! message for its id (the socket stays open). Requests without a caller (probes,
//! `/metrics`, GraphiQL's page, an upgrade that authenticates in `connection_init`) are
//! not counted here; unauthenticated ones were refused (401) before this.

use std::sync::Arc;

use async_graphql::ServerError;
use async_graphql_axum::GraphQLResponse;
use axum::extract::ws::Message;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc::Sender;
use futures::{SinkExt, Stream, StreamExt};
use infra::rate_limit::{RetryAfter, SubjectLimiter};
use serde::Deserialize;

use super::AppState;
use crate::error::{coded, codes};
use crate::schema::Caller;

/// The GraphQL error of a refusal: `RATE_LIMITED`, with `retryAfter` (seconds).
fn error(wait: RetryAfter) -> ServerError {
    let secs = wait.secs();
    let mut error = coded(
        codes::RATE_LIMITED,
        format!("too many requests from this caller; retry in {secs} s"),
    );
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("retryAfter", secs);
    error
}

/// The middleware: after `authenticate`, before the handler (and before the body is read).
pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let (Some(limiter), Some(caller)) = (&state.limiter, request.extensions().get::<Caller>())
        && let Err(wait) = limiter.check(caller.tenant.as_str(), &caller.principal.subject)
    {
        let error = error(wait);
        state.metrics.observe(None, 0.0, [codes::RATE_LIMITED]);
        let body = async_graphql::Response::from_errors(vec![error]);
        let mut response =
            (StatusCode::TOO_MANY_REQUESTS, GraphQLResponse::from(body)).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.secs()));
        return response;
    }
    next.run(request).await
}

/// What this module reads of a client message: its type and id.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

/// The client messages of a socket with each subscription start counted against the
/// caller's bucket: a start that finds it empty is taken out of the stream and answered
/// on `out` with an `error` for its id (`graphql-transport-ws`: a list of errors;
/// the older `graphql-ws`: one error), so the operation never starts.
pub(crate) fn subscriptions<S>(
    incoming: S,
    limiter: Option<Arc<SubjectLimiter>>,
    caller: &Caller,
    legacy: bool,
    out: Sender<Message>,
) -> impl Stream<Item = Result<Message, axum::Error>> + Send + Unpin + 'static
where
    S: Stream<Item = Result<Message, axum::Error>> + Send + 'static,
{
    let tenant = caller.tenant.clone();
    let subject = caller.principal.subject.clone();
    incoming
        .filter_map(move |item| {
            let refusal = match (&limiter, &item) {
                (Some(limiter), Ok(Message::Text(text))) => {
                    refused(limiter, tenant.as_str(), &subject, text.as_bytes(), legacy)
                }
                (Some(limiter), Ok(Message::Binary(bytes))) => {
                    refused(limiter, tenant.as_str(), &subject, bytes, legacy)
                }
                _ => None,
            };
            let mut out = out.clone();
            async move {
                match refusal {
                    None => Some(item),
                    Some(answer) => {
                        // The socket is going away if this fails; nothing to tell.
                        let _ = out.send(Message::Text(answer.into())).await;
                        None
                    }
                }
            }
        })
        .boxed()
}

/// The `error` message for `message` if it starts a subscription the bucket refuses.
fn refused(
    limiter: &SubjectLimiter,
    tenant: &str,
    subject: &str,
    message: &[u8],
    legacy: bool,
) -> Option<String> {
    let head: Head = serde_json::from_slice(message).ok()?;
    if head.kind != "subscribe" && head.kind != "start" {
        return None;
    }
    let wait = limiter.check(tenant, subject).err()?;
    let error = serde_json::to_value(error(wait)).ok()?;
    let payload = if legacy {
        error
    } else {
        serde_json::Value::Array(vec![error])
    };
    let answer = serde_json::json!({ "type": "error", "id": head.id, "payload": payload });
    Some(answer.to_string())
}
