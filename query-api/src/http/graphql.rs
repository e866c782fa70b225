//! `/graphql` and `/graphql/ws`.

use async_graphql::ServerError;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{RawQuery, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::{AppState, auth};
use crate::consistency::{MIN_POSITION_HEADER, parse_min_position, wait_for_position};
use crate::error::{coded, codes};
use crate::read_model::{Answer, ResponseCache};
use crate::schema::Caller;
use crate::viewer::Viewer;

/// The response cache's key: the body, for this caller's tenant, roles and person (what
/// the access rules look at), so that nobody is served an answer made for another.
fn cache_key(caller: &Caller, body: &Bytes) -> Bytes {
    let p = &caller.principal;
    let mut key = Vec::with_capacity(body.len() + 128);
    key.extend_from_slice(caller.tenant.as_str().as_bytes());
    key.push(b'\n');
    for (i, role) in p.roles.iter().enumerate() {
        if i > 0 {
            key.push(b',');
        }
        key.extend_from_slice(role.as_str().as_bytes());
    }
    key.push(b'\n');
    if let Some(person) = p.person {
        key.extend_from_slice(
            person
                .as_hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .as_bytes(),
        );
    }
    key.push(b'\n');
    key.extend_from_slice(body);
    Bytes::from(key)
}

/// The GraphQL request `request` made for `viewer`: its viewer and loaders in the data.
fn for_viewer(
    state: &AppState,
    viewer: &Viewer,
    request: async_graphql::Request,
) -> async_graphql::Request {
    request.data(viewer.clone()).data(state.ctx.loaders(viewer))
}

/// A single GraphQL request as a JSON body.
pub async fn graphql_post(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Always there: the middleware refuses unauthenticated requests before this.
    let Some(Extension(caller)) = caller else {
        return auth::refusal(&infra::auth::AuthError::Missing);
    };
    let viewer = Viewer::of(caller.tenant.clone());
    let body = match body {
        Ok(b) => b,
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            let limit = state.limits.max_body_bytes;
            return refuse(
                &state,
                StatusCode::PAYLOAD_TOO_LARGE,
                coded(
                    codes::PAYLOAD_TOO_LARGE,
                    format!("request body is larger than {limit} bytes"),
                ),
            );
        }
        Err(e) => {
            return refuse(
                &state,
                StatusCode::BAD_REQUEST,
                coded(codes::BAD_REQUEST, format!("cannot read request body: {e}")),
            );
        }
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            coded(
                codes::BAD_REQUEST,
                "batched requests are not supported: send one operation per request",
            ),
        );
    }
    // An answer kept whole needs neither parsing nor executing: look for one first, once
    // the position asked for is reached (the cache is as fresh as the rows then).
    let responses = state
        .ctx
        .read_model()
        .cache()
        .map(|c| c.responses())
        .filter(|r| r.is_on());
    let started = Instant::now();
    if let Some(responses) = responses {
        if let Err(refused) = wait(&state, &headers).await {
            return answer(&state, None, started, refused);
        }
        if let Some(hit) = responses.get(&viewer.tenant, &cache_key(&caller, &body)) {
            state.metrics.observe(
                hit.operation.as_deref(),
                started.elapsed().as_secs_f64(),
                [],
            );
            let mut response = Response::new(axum::body::Body::from(hit.body.clone()));
            *response.status_mut() = hit.status;
            *response.headers_mut() = hit.headers.clone();
            return response;
        }
    }
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => match responses {
            Some(responses) => {
                let key = cache_key(&caller, &body);
                let request = request.data(caller);
                execute_and_keep(&state, &viewer, responses, key, request, started).await
            }
            None => execute(&state, &viewer, &headers, request.data(caller)).await,
        },
        Err(e) => refuse(
            &state,
            StatusCode::BAD_REQUEST,
            coded(
                codes::BAD_REQUEST,
                format!("body is not a GraphQL request ({{\"query\": …}}): {e}"),
            ),
        ),
    }
}

/// A query in the URL: `?query=…&operationName=…&variables=…`.
pub async fn graphql_get(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    // Always there: the middleware refuses unauthenticated requests before this.
    let Some(Extension(caller)) = caller else {
        return auth::refusal(&infra::auth::AuthError::Missing);
    };
    let viewer = Viewer::of(caller.tenant.clone());
    match async_graphql::http::parse_query_string(query.as_deref().unwrap_or("")) {
        Ok(request) => execute(&state, &viewer, &headers, request.data(caller)).await,
        Err(e) => refuse(
            &state,
            StatusCode::BAD_REQUEST,
            coded(
                codes::BAD_REQUEST,
                format!("not a GraphQL GET request: {e}"),
            ),
        ),
    }
}

/// Subscriptions over `graphql-transport-ws` (and the older `graphql-ws`), for the
/// caller of the upgrade request's header or of the `connection_init` payload: the whole
/// connection reads for that caller's tenant.
pub async fn graphql_ws(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    let ctx = state.ctx.clone();
    let shutdown = state.shutdown.clone();
    let verifier = state.verifier.clone();
    let limiter = state.limiter.clone();
    let caller = caller.map(|Extension(c)| c);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            auth::serve_socket(
                socket, schema, protocol, ctx, caller, verifier, limiter, shutdown,
            )
        })
}

/// Waits for `X-Min-Position` if sent, then runs the request within the query timeout.
#[tracing::instrument(name = "query_api.graphql", skip_all, fields(operation = request.operation_name.as_deref().unwrap_or("anonymous")))]
async fn execute(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> Response {
    let started = Instant::now();
    let operation = request.operation_name.clone();
    if let Err(refused) = wait(state, headers).await {
        return answer(state, operation.as_deref(), started, refused);
    }
    let response = run(state, for_viewer(state, viewer, request)).await;
    answer(state, operation.as_deref(), started, response)
}

/// Like [`execute`] once `X-Min-Position` was waited for, keeping the answer in
/// `responses` under `body` if it may be kept ([`crate::read_model::ResponseCache`]).
async fn execute_and_keep(
    state: &AppState,
    viewer: &Viewer,
    responses: &ResponseCache,
    body: Bytes,
    request: async_graphql::Request,
    started: Instant,
) -> Response {
    let operation = request.operation_name.clone();
    let Some(ticket) = responses.ticket() else {
        let response = run(state, for_viewer(state, viewer, request)).await;
        return answer(state, operation.as_deref(), started, response);
    };
    let (loaders, reads) = state.ctx.loaders(viewer).tracking_reads();
    let response = run(state, request.data(viewer.clone()).data(loaders)).await;
    let deps = match response.errors.is_empty() {
        true => reads.tracked(),
        false => None,
    };
    let http = answer(state, operation.as_deref(), started, response);
    let Some(deps) = deps else {
        return http;
    };
    let (parts, body_out) = http.into_parts();
    // The body of a GraphQL answer is one buffer already: this only takes it out.
    let Ok(bytes) = axum::body::to_bytes(body_out, usize::MAX).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot buffer the answer",
        )
            .into_response();
    };
    responses.put(
        ticket,
        &viewer.tenant,
        body,
        deps,
        Answer {
            status: parts.status,
            headers: parts.headers.clone(),
            body: bytes.clone(),
            operation,
        },
    );
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Counts the request and turns its answer into the HTTP response.
fn answer(
    state: &AppState,
    operation: Option<&str>,
    started: Instant,
    response: async_graphql::Response,
) -> Response {
    let elapsed = started.elapsed().as_secs_f64();
    state
        .metrics
        .observe(operation, elapsed, response.errors.iter().map(error_code));
    GraphQLResponse::from(response).into_response()
}

/// Waits for `X-Min-Position` if sent; the error answer if it is malformed or not reached.
async fn wait(state: &AppState, headers: &HeaderMap) -> Result<(), async_graphql::Response> {
    let Some(value) = headers.get(MIN_POSITION_HEADER) else {
        return Ok(());
    };
    let waited = match parse_min_position(value.as_bytes()) {
        Ok(target) => {
            wait_for_position(
                state.ctx.read_model(),
                state.ctx.notices(),
                target,
                state.limits.min_position_timeout,
            )
            .await
        }
        Err(e) => Err(e),
    };
    waited.map_err(|e| async_graphql::Response::from_errors(vec![e.into_server_error()]))
}

/// Runs `request` (which carries its loaders) within the query timeout.
async fn run(state: &AppState, request: async_graphql::Request) -> async_graphql::Response {
    let mut request = request;
    state.docs.prepare(&mut request);
    let timeout = state.limits.query_timeout;
    match tokio::time::timeout(timeout, state.schema.execute(request)).await {
        Ok(response) => response,
        Err(_) => async_graphql::Response::from_errors(vec![coded(
            codes::QUERY_TIMEOUT,
            format!(
                "the query did not finish within {} ms; ask for less",
                timeout.as_millis()
            ),
        )]),
    }
}

/// Answers a request refused before execution, in the GraphQL response shape.
fn refuse(state: &AppState, status: StatusCode, error: ServerError) -> Response {
    state.metrics.observe(None, 0.0, [error_code(&error)]);
    let body = async_graphql::Response::from_errors(vec![error]);
    (status, GraphQLResponse::from(body)).into_response()
}

/// The `extensions.code` of an error leaving the server.
fn error_code(error: &ServerError) -> &str {
    match error.extensions.as_ref().and_then(|x| x.get("code")) {
        Some(async_graphql::Value::String(code)) => code,
        _ => codes::INTERNAL_SERVER_ERROR,
    }
}
