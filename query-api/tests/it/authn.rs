//! Authentication of the query API: 401 before any GraphQL parsing over HTTP, and the
//! subscription socket's `connection_init`, closed when its token expires.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response};
use domain::interview::{InterviewCommand, InterviewKind};
use futures::{SinkExt, StreamExt};
use infra::auth::{AuthSettings, Role, Verifier};
use query_api::{AppState, HttpLimits};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::ServiceExt;

use crate::harness::{TestApp, TestDb, bearer, spawn};
use crate::world::{Spec, t};

async fn send(app: &TestApp, request: Request<Body>) -> Response<Body> {
    query_api::router(app.state.clone())
        .oneshot(request)
        .await
        .expect("router answers")
}

/// Checks a 401: problem+json, and a challenge naming `error` (none: no `error=`).
#[track_caller]
fn assert_challenge(response: &Response<Body>, error: Option<&str>, case: &str) {
    assert_eq!(response.status(), 401, "{case}");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{case}"
    );
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer realm=\"interview-ledger\""),
        "{case}: {challenge}"
    );
    match error {
        Some(code) => {
            assert!(
                challenge.contains(&format!("error=\"{code}\""))
                    && challenge.contains("error_description=\""),
                "{case}: {challenge}"
            )
        }
        None => assert!(!challenge.contains("error="), "{case}: {challenge}"),
    }
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused_before_the_body_is_parsed() {
    let mut app = spawn().await;
    // A token of another deployment's built-in key.
    let other = TestDb::fresh().await;
    let other_pool = infra::db::connect(&other.url, infra::db::PoolSettings::default())
        .await
        .expect("connect");
    infra::auth::migrate(&other_pool).await.expect("migrate");
    let foreign_verifier = Verifier::new(AuthSettings::default(), other_pool.clone())
        .await
        .expect("verifier");
    let foreign = bearer(
        &foreign_verifier,
        &[Role::Admin],
        None,
        Duration::from_secs(3600),
    );
    drop(foreign_verifier);
    other_pool.close().await;
    other.drop_database().await.expect("drop");
    // An expired one: this deployment's key, checked without leeway.
    let strict = Verifier::new(
        AuthSettings {
            leeway: Duration::ZERO,
            ..AuthSettings::default()
        },
        app.pool.clone(),
    )
    .await
    .expect("verifier");
    let expired = bearer(&strict, &[Role::Admin], None, Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.state = AppState::new(app.ctx.clone(), HttpLimits::default(), strict);

    let cases: [(Option<&str>, Option<&str>); 7] = [
        (None, None),
        (Some("Bearer"), Some("invalid_request")),
        (Some("Basic dXNlcjpwYXNz"), Some("invalid_request")),
        (Some("Bearer not.a.jwt"), Some("invalid_token")),
        (Some("Bearer garbage"), Some("invalid_token")),
        (Some(&foreign), Some("invalid_token")),
        (Some(&expired), Some("invalid_token")),
    ];
    for (authorization, error) in cases {
        // Not even a GraphQL body: the refusal comes first.
        for body in ["{not json", "{\"query\": \"{ projections { name } }\"}"] {
            let mut request = Request::post("/graphql").header("content-type", "application/json");
            if let Some(a) = authorization {
                request = request.header("authorization", a);
            }
            let response = send(&app, request.body(Body::from(body)).expect("request")).await;
            let case = format!("{authorization:?} {body}");
            assert_challenge(&response, error, &case);
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            let problem: Value = serde_json::from_slice(&bytes).expect("problem json");
            assert_eq!(problem["status"], 401, "{case}");
            assert!(
                problem["type"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("/unauthorized"),
                "{problem}"
            );
        }
        let mut request = Request::get("/graphql?query=%7B__typename%7D");
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        let response = send(&app, request.body(Body::empty()).expect("request")).await;
        assert_challenge(&response, error, "GET");
    }
    // The probes, the metrics and GraphiQL's page stay open; a valid token passes.
    for open in ["/", "/health/live", "/health/ready", "/metrics"] {
        let response = send(
            &app,
            Request::get(open).body(Body::empty()).expect("request"),
        )
        .await;
        assert_eq!(response.status(), 200, "{open}");
    }
    let (status, body) = app.post(json!({ "query": "{ __typename }" }), &[]).await;
    assert_eq!(
        (status.as_u16(), &body["data"]["__typename"]),
        (200, &json!("Query"))
    );
    app.stop().await;
}

/// Serves the router on a socket; its address.
async fn serve(app: &TestApp) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = query_api::router(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/graphql/ws` with `protocol`, and `authorization` on the upgrade if given.
async fn connect(
    addr: std::net::SocketAddr,
    protocol: &str,
    authorization: Option<&str>,
) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().expect("value"));
    if let Some(a) = authorization {
        request
            .headers_mut()
            .insert("authorization", a.parse().expect("value"));
    }
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    socket
}

async fn send_json(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("send");
}

/// The next message that is not a ping or pong: text as JSON, or a close as its code.
async fn next(socket: &mut Socket) -> Result<Value, u16> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                return Ok(serde_json::from_str(text.as_str()).expect("json"));
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(frame.map_or(1005, |f| u16::from(f.code)));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(1006),
        }
    }
}

#[tokio::test]
async fn a_subscription_socket_authenticates_in_connection_init() {
    let mut app = spawn().await;
    let w = &mut app.world;
    let cand = w
        .person("Socket Candidate", &[domain::Role::Candidate])
        .await;
    let ivr = w
        .person("Socket Interviewer", &[domain::Role::Interviewer])
        .await;
    let other = w
        .person("Other Interviewer", &[domain::Role::Interviewer])
        .await;
    let spec = |panel, starts_at| Spec {
        candidate: cand,
        panel,
        position: "Ops",
        kind: InterviewKind::Technical,
        starts_at,
        minutes: 30,
    };
    let mine = w.schedule(spec(vec![ivr], "2027-06-01T09:00:00Z")).await;
    let theirs = w.schedule(spec(vec![other], "2027-06-02T09:00:00Z")).await;
    app.settle().await;
    let addr = serve(&app).await;
    let token = app.bearer(&[Role::Interviewer], Some(ivr));

    // No token, and a bad one: refused with 4401 and 4403.
    let mut socket = connect(addr, "graphql-transport-ws", None).await;
    send_json(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(next(&mut socket).await, Err(4401));
    let mut socket = connect(addr, "graphql-transport-ws", None).await;
    send_json(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not.a.jwt" } }),
    )
    .await;
    assert_eq!(next(&mut socket).await, Err(4403));
    // The older protocol hears why first.
    let mut socket = connect(addr, "graphql-ws", None).await;
    send_json(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    let error = next(&mut socket).await.expect("connection_error");
    assert_eq!(error["type"], "connection_error", "{error}");
    // A bad header on the upgrade is a 401 before any socket.
    let refused = tokio_tungstenite::connect_async({
        let mut r = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .expect("request");
        r.headers_mut()
            .insert("authorization", "Bearer nope".parse().expect("value"));
        r
    })
    .await;
    assert!(refused.is_err(), "upgrade refused");

    // With a token: acknowledged, and only the interviews of its panel are delivered.
    for (key, upgrade) in [
        ("Authorization", None),
        ("token", None),
        ("", Some(token.as_str())),
    ] {
        let mut socket = connect(addr, "graphql-transport-ws", upgrade).await;
        let payload = match key {
            "" => json!({}),
            "token" => json!({ "token": token.trim_start_matches("Bearer ") }),
            k => json!({ k: token }),
        };
        send_json(
            &mut socket,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await;
        assert_eq!(
            next(&mut socket).await.expect("ack")["type"],
            "connection_ack",
            "{key}"
        );
        if key != "Authorization" {
            continue;
        }
        send_json(
            &mut socket,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { interviewChanged { id } }" } }),
        )
        .await;
        while app.ctx.notices().receiver_count() < 1 {
            tokio::task::yield_now().await;
        }
        let cancel = |reason: &str| InterviewCommand::Cancel {
            reason: reason.into(),
        };
        app.world.act(theirs, cancel("not on its panel")).await;
        app.world
            .act(
                mine,
                InterviewCommand::Reschedule {
                    starts_at: t("2027-06-01T13:00:00Z"),
                    duration_minutes: None,
                    reason: None,
                },
            )
            .await;
        let item = next(&mut socket).await.expect("next");
        assert_eq!(item["type"], "next", "{item}");
        assert_eq!(
            item["payload"]["data"]["interviewChanged"]["id"],
            json!(mine),
            "the change off its panel is not delivered: {item}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_subscription_socket_is_closed_when_its_token_expires() {
    let app = spawn().await;
    let addr = serve(&app).await;
    let token = bearer(&app.verifier, &[Role::Admin], None, Duration::from_secs(2));
    let mut socket = connect(addr, "graphql-transport-ws", None).await;
    let started = Instant::now();
    send_json(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": token } }),
    )
    .await;
    assert_eq!(
        next(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { projectionStatus { name } }" } }),
    )
    .await;
    let closed = loop {
        match next(&mut socket).await {
            Ok(_) => continue,
            Err(code) => break code,
        }
    };
    assert_eq!(closed, 4403);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed at expiry: {:?}",
        started.elapsed()
    );
    app.stop().await;
}
