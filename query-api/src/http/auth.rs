//! Authentication: every route but the probes, `/metrics` and the GraphiQL page needs
//! `Authorization: Bearer <JWT>`, checked here before anything reads the body. The
//! verified [`Caller`] goes into the request's extensions, and from there into the
//! GraphQL request data, where [`crate::schema::access`] decides what it may read.
//!
//! A WebSocket (`/graphql/ws`) may come without the header (browsers cannot send one):
//! it authenticates with the `connection_init` payload (`{"Authorization": "Bearer …"}`,
//! or `authorization`, or `token`) and is closed when its token expires.

use std::time::Duration;

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::Tenant;
use futures::{SinkExt, Stream, StreamExt};
use infra::auth::{self, AuthError, Verifier};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::AppState;
use crate::context::QueryContext;
use crate::schema::{Caller, QuerySchema};
use crate::viewer::Viewer;

/// The realm of the `WWW-Authenticate` challenge.
pub const REALM: &str = "interview-ledger";
/// The base of every problem `type`.
const PROBLEM_BASE: &str = "https://interview-ledger.dev/problems/";
/// The subscription endpoint, which may authenticate inside the socket instead.
pub(crate) const WS_PATH: &str = "/graphql/ws";
/// How long a new socket may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Routes anyone may call without a token: probes, the metrics scrape, GraphiQL's page.
pub fn is_public(method: &Method, path: &str) -> bool {
    let read = method == Method::GET || method == Method::HEAD;
    path.starts_with("/health/") || path == "/metrics" || (path == "/" && read)
}

/// Verifies `token` and reads its tenant.
pub(crate) async fn caller_of(verifier: &Verifier, token: &str) -> Result<Caller, AuthError> {
    let principal = verifier.verify_shared(token).await?;
    let tenant = Tenant::parse(&principal.tenant).map_err(|_| AuthError::InvalidClaim("tenant"))?;
    Ok(Caller { principal, tenant })
}

/// Authenticates every non-public request before its handler: 401 (or 503 when keys
/// cannot be had) without a valid token, else a [`Caller`] in the extensions. A
/// WebSocket upgrade without the header passes: it authenticates in `connection_init`.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if is_public(request.method(), path) {
        return next.run(request).await;
    }
    let value = request.headers().get(header::AUTHORIZATION).cloned();
    if value.is_none() && path == WS_PATH {
        return next.run(request).await;
    }
    let verified = match value.as_ref().map(HeaderValue::to_str).transpose() {
        Err(_) => Err(AuthError::MalformedHeader),
        Ok(value) => match auth::bearer_token(value) {
            Ok(token) => caller_of(&state.verifier, token).await,
            Err(e) => Err(e),
        },
    };
    match verified {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(e) => refusal(&e),
    }
}

/// RFC 9457 problem details.
#[derive(Serialize)]
struct Problem {
    #[serde(rename = "type")]
    problem_type: String,
    title: &'static str,
    status: u16,
    detail: &'static str,
}

/// The answer to a request that is not authenticated: 401 with an RFC 6750 challenge,
/// or 503 (logged, details withheld) when the key source failed.
pub fn refusal(error: &AuthError) -> Response {
    let (status, kind, title) = if error.is_unavailable() {
        tracing::error!(%error, "token verification unavailable");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
    } else {
        (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
    };
    let problem = Problem {
        problem_type: format!("{PROBLEM_BASE}{kind}"),
        title,
        status: status.as_u16(),
        detail: error.description(),
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6750 §3: no error code when the request carried no credentials.
        let challenge = match error {
            AuthError::Missing => format!("Bearer realm=\"{REALM}\""),
            other => format!(
                "Bearer realm=\"{REALM}\", error=\"{}\", error_description=\"{}\"",
                other.rfc6750_code(),
                other.description()
            ),
        };
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
    }
    response
}

/// The token a `connection_init` payload carries: `Authorization` / `authorization`
/// (`Bearer …`) or `token` (with or without `Bearer `). `Ok(None)`: none.
fn token_in(payload: &serde_json::Value) -> Result<Option<String>, AuthError> {
    let field = ["Authorization", "authorization", "token"]
        .into_iter()
        .find_map(|k| payload.get(k).map(|v| (k, v)));
    let Some((key, value)) = field else {
        return Ok(None);
    };
    let text = value.as_str().ok_or(AuthError::MalformedHeader)?;
    let bearer = match key {
        "token" if !text.contains(' ') => format!("Bearer {text}"),
        _ => text.to_owned(),
    };
    auth::bearer_token(Some(&bearer)).map(|t| Some(t.to_owned()))
}

/// Whom a `connection_init` message authenticates: the token of its payload, else the
/// caller of the upgrade request's header.
async fn init_caller(
    message: &[u8],
    upgraded_as: Option<Caller>,
    verifier: &Verifier,
) -> Result<Caller, AuthError> {
    let init: serde_json::Value =
        serde_json::from_slice(message).map_err(|_| AuthError::MalformedHeader)?;
    if init.get("type").and_then(|t| t.as_str()) != Some("connection_init") {
        return Err(AuthError::Missing);
    }
    let payload = init.get("payload").cloned().unwrap_or_default();
    match (token_in(&payload)?, upgraded_as) {
        (Some(token), _) => caller_of(verifier, &token).await,
        (None, Some(caller)) => Ok(caller),
        (None, None) => Err(AuthError::Missing),
    }
}

/// The first text (or binary) message of the socket; `None` if it ends first.
async fn first_message<S>(stream: &mut S) -> Option<Vec<u8>>
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    while let Some(Ok(message)) = stream.next().await {
        match message {
            Message::Text(text) => return Some(text.as_bytes().to_vec()),
            Message::Binary(bytes) => return Some(bytes.to_vec()),
            Message::Close(_) => return None,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    None
}

/// The close code for a refused `connection_init` (graphql-transport-ws): 4401 without
/// credentials, 4403 with unusable ones, 1011 when keys cannot be had.
fn close_code(error: &AuthError) -> u16 {
    match error {
        _ if error.is_unavailable() => 1011,
        AuthError::Missing => 4401,
        _ => 4403,
    }
}

/// Closes the socket with `code`, after a `connection_error` for the older protocol
/// (`graphql-ws`, subscriptions-transport-ws, which has no close codes of its own).
async fn close<S>(sink: &mut S, legacy: bool, code: u16, reason: &'static str)
where
    S: futures::Sink<Message> + Unpin,
{
    if legacy {
        let error =
            serde_json::json!({ "type": "connection_error", "payload": { "message": reason } });
        let _ = sink.send(Message::Text(error.to_string().into())).await;
    }
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// Serves one subscription socket: authenticates its `connection_init` (or takes the
/// caller of its upgrade request), then serves it with the caller in its data until the
/// client leaves, the server stops or the token expires. Each subscription it starts
/// is counted against the caller's rate limit ([`super::rate_limit::subscriptions`]).
#[expect(clippy::too_many_arguments, reason = "one socket's whole setting")]
pub(crate) async fn serve_socket(
    socket: WebSocket,
    schema: QuerySchema,
    protocol: GraphQLProtocol,
    ctx: QueryContext,
    upgraded_as: Option<Caller>,
    verifier: Verifier,
    limiter: Option<std::sync::Arc<infra::rate_limit::SubjectLimiter>>,
    shutdown: CancellationToken,
) {
    let legacy = socket.protocol().is_some_and(|p| *p == "graphql-ws");
    let (mut sink, mut stream) = socket.split();
    let first = tokio::select! {
        _ = shutdown.cancelled() => return,
        first = tokio::time::timeout(INIT_TIMEOUT, first_message(&mut stream)) => first,
    };
    let init = match first {
        Ok(Some(init)) => init,
        Ok(None) => return,
        Err(_) => {
            close(&mut sink, legacy, 4408, "Connection initialisation timeout").await;
            return;
        }
    };
    let caller = match init_caller(&init, upgraded_as, &verifier).await {
        Ok(caller) => caller,
        Err(error) => {
            tracing::debug!(%error, "subscription socket refused");
            close(&mut sink, legacy, close_code(&error), error.description()).await;
            return;
        }
    };
    let left = (caller.principal.expires_at - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    // The whole connection reads for the caller's tenant.
    let viewer = Viewer::of(caller.tenant.clone());
    // async-graphql answers the init itself (its default accepts it): hand it back.
    let replayed =
        futures::stream::once(async move { Ok::<_, axum::Error>(Message::Binary(init.into())) })
            .chain(stream);
    // Answers go through a channel, so that a refused subscription start can be answered
    // beside async-graphql's own messages.
    let (out, answers) = futures::channel::mpsc::channel::<Message>(16);
    let incoming =
        super::rate_limit::subscriptions(replayed, limiter, &caller, legacy, out.clone());
    let mut data = Data::default();
    data.insert(ctx.loaders(&viewer));
    data.insert(viewer);
    data.insert(caller);
    let serve = GraphQLWebSocket::new_with_pair(out, incoming, schema, protocol)
        .with_data(data)
        .serve();
    // Ends once async-graphql is done and every answer queued is written.
    let session = futures::future::join(serve, answers.map(Ok).forward(&mut sink));
    let expired = tokio::select! {
        _ = session => false,
        _ = shutdown.cancelled() => {
            tracing::debug!("closing subscription socket: shutting down");
            false
        }
        _ = tokio::time::sleep(left) => true,
    };
    if expired {
        tracing::debug!("closing subscription socket: its token expired");
        close(&mut sink, legacy, 4403, "Forbidden: the token has expired").await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_init_payload_carries_its_token_under_any_of_three_names() {
        let cases = [
            (
                serde_json::json!({ "Authorization": "Bearer a.b.c" }),
                Ok(Some("a.b.c")),
            ),
            (
                serde_json::json!({ "authorization": "bearer a.b.c" }),
                Ok(Some("a.b.c")),
            ),
            (serde_json::json!({ "token": "a.b.c" }), Ok(Some("a.b.c"))),
            (
                serde_json::json!({ "token": "Bearer a.b.c" }),
                Ok(Some("a.b.c")),
            ),
            (serde_json::json!({}), Ok(None)),
            (serde_json::Value::Null, Ok(None)),
            (
                serde_json::json!({ "Authorization": "Basic x" }),
                Err(AuthError::MalformedHeader),
            ),
            (
                serde_json::json!({ "token": 7 }),
                Err(AuthError::MalformedHeader),
            ),
        ];
        for (payload, expected) in cases {
            let got = token_in(&payload);
            assert_eq!(
                got.as_ref().map(|t| t.as_deref()),
                expected.as_ref().map(|t| *t),
                "{payload}"
            );
        }
    }

    #[tokio::test]
    async fn a_refusal_is_a_401_challenge_or_an_opaque_503() {
        let missing = refusal(&AuthError::Missing);
        assert_eq!(missing.status(), 401);
        assert_eq!(
            missing.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"interview-ledger\""
        );
        let expired = refusal(&AuthError::Expired);
        let challenge = expired.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap_or_default();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let down = refusal(&AuthError::KeySource("connect to 10.0.0.7:5432".into()));
        assert_eq!(down.status(), 503);
        assert!(down.headers().get(header::WWW_AUTHENTICATE).is_none());
        let body = axum::body::to_bytes(down.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("/unavailable") && !text.contains("10.0.0.7"),
            "{text}"
        );
    }

    #[test]
    fn only_probes_metrics_and_the_graphiql_page_are_public() {
        assert!(is_public(&Method::GET, "/"));
        assert!(is_public(&Method::GET, "/health/live"));
        assert!(is_public(&Method::GET, "/metrics"));
        assert!(!is_public(&Method::POST, "/"));
        assert!(!is_public(&Method::POST, "/graphql"));
        assert!(!is_public(&Method::GET, "/graphql"));
        assert!(!is_public(&Method::GET, WS_PATH));
    }
}
