//! Per-subject rate limits of the query API: HTTP requests and subscription starts take
//! tokens from one bucket per (tenant, subject); an empty bucket is a 429 `RATE_LIMITED`
//! with `Retry-After`, or an `error` message for the subscription.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use futures::{SinkExt, StreamExt};
use infra::auth::Role;
use infra::rate_limit::RateLimit;
use query_api::HttpLimits;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::ServiceExt;

use crate::harness::{TestApp, bearer_in, spawn_with};

/// The app serving with buckets of `burst` refilled at `per_second`.
async fn limited(per_second: u32, burst: u32) -> TestApp {
    let mut app = spawn_with(false).await;
    app.set_limits(HttpLimits {
        rate_limit: RateLimit::from_settings(per_second, burst),
        ..HttpLimits::default()
    });
    app
}

/// POSTs `{ __typename }` with `authorization` (if any): status, headers, JSON body.
async fn typename(app: &TestApp, authorization: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::post("/graphql").header("content-type", "application/json");
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    let request = request
        .body(Body::from(json!({ "query": "{ __typename }" }).to_string()))
        .expect("request");
    let response = query_api::router(app.state.clone())
        .oneshot(request)
        .await
        .expect("router answers");
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn a_subject_past_its_burst_is_answered_429_rate_limited_with_retry_after_and_recovers() {
    // Arrange: buckets of two, one token a second.
    let app = limited(1, 2).await;
    let admin = app.admin.clone();

    // Act
    let first = typename(&app, Some(&admin)).await;
    let second = typename(&app, Some(&admin)).await;
    let (status, headers, body) = typename(&app, Some(&admin)).await;

    // Assert
    assert_eq!(first.0, StatusCode::OK, "{}", first.2);
    assert_eq!(second.0, StatusCode::OK, "{}", second.2);
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{body}");
    assert_eq!(error["extensions"]["retryAfter"], 1, "{body}");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    // Unauthenticated while the bucket is empty: 401 first.
    assert_eq!(typename(&app, None).await.0, StatusCode::UNAUTHORIZED);

    // After the wait it says, served again.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let again = typename(&app, Some(&admin)).await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.2);
    app.stop().await;
}

#[tokio::test]
async fn another_subject_and_the_same_subject_of_another_tenant_keep_their_own_buckets() {
    let app = limited(1, 1).await;
    let admin = app.admin.clone();
    let recruiter = app.bearer(&[Role::Recruiter], None);
    // Same subject as the admin (`test-admin`-like, from the roles), another tenant.
    let other_tenant = bearer_in(
        &app.verifier,
        "acme",
        &[Role::Admin],
        None,
        Duration::from_secs(3600),
    );

    assert_eq!(typename(&app, Some(&admin)).await.0, StatusCode::OK);
    assert_eq!(
        typename(&app, Some(&admin)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(typename(&app, Some(&recruiter)).await.0, StatusCode::OK);
    assert_eq!(typename(&app, Some(&other_tenant)).await.0, StatusCode::OK);

    // Probes carry no caller and are not counted.
    for _ in 0..3 {
        let live = Request::get("/health/live").body(Body::empty()).expect("r");
        assert_eq!(app.http_raw(live).await.0, StatusCode::OK);
    }
    app.stop().await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send_json(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("send");
}

/// The next text message as JSON (pings and pongs of the transport skipped).
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(text.as_str()).expect("json");
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("the socket ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn each_subscription_start_takes_a_token_and_a_refused_one_gets_an_error_message() {
    // Arrange: a socket authenticated in `connection_init`, buckets of one.
    let app = limited(1, 1).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = query_api::router(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("value"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    send_json(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": app.admin } }),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    let subscribe = |id: &str| json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription { interviewChanged { id } }" } });

    // Act: two starts at once.
    send_json(&mut socket, subscribe("1")).await;
    send_json(&mut socket, subscribe("2")).await;

    // Assert: the second is refused for its id; the socket stays open.
    let refused = next(&mut socket).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "2", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["retryAfter"], 1,
        "{refused}"
    );
    send_json(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut socket).await["type"], "pong");

    // After the wait, a start is accepted: nothing but the pong answers it.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    send_json(&mut socket, subscribe("3")).await;
    send_json(&mut socket, json!({ "type": "ping" })).await;
    let answer = next(&mut socket).await;
    assert_eq!(answer["type"], "pong", "{answer}");

    // The same bucket serves the caller's HTTP requests: spent by the start above.
    assert_eq!(
        typename(&app, Some(&app.admin)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}
