//! The whole server on a socket: endpoints, WebSocket upgrade, graceful shutdown.

use std::time::Duration;

use query_api::{QueryApi, Settings};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::spawn;

#[tokio::test]
async fn the_server_serves_graphql_graphiql_health_metrics_and_websockets_then_stops() {
    let app = spawn().await;
    let store = app.ctx.store().clone();
    let mut settings = Settings::new(
        "127.0.0.1:0".parse().expect("addr"),
        app.pool.clone(),
        store,
        app.verifier.clone(),
    );
    settings.min_position_timeout = Duration::from_millis(300);
    let api = QueryApi::build(settings).await.expect("build");
    let port = api.port();
    assert_ne!(port, 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                app.admin.parse().expect("header value"),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .expect("client");

    let body: Value = client
        .post(format!("{base}/graphql"))
        .json(
            &json!({ "query": "query Status { projections { name } }", "operationName": "Status" }),
        )
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(
        body["data"]["projections"].as_array().map(Vec::len),
        Some(4),
        "{body}"
    );
    let get = client
        .get(format!("{base}/graphql?query=%7B__typename%7D"))
        .send()
        .await
        .expect("get");
    assert_eq!(get.status(), 200);
    let page = client
        .get(format!("{base}/"))
        .send()
        .await
        .expect("graphiql")
        .text()
        .await
        .expect("html");
    assert!(page.to_lowercase().contains("graphiql"));
    assert_eq!(
        client
            .get(format!("{base}/health/live"))
            .send()
            .await
            .expect("live")
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .expect("ready")
            .status(),
        200
    );
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("graphql_requests_total{operation=\"Status\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("graphql_request_duration_seconds_bucket{operation=\"Status\""),
        "{metrics}"
    );

    // A graphql-transport-ws handshake.
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let upgrade = format!(
        "GET /graphql/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    );
    socket.write_all(upgrade.as_bytes()).await.expect("write");
    let mut buf = [0u8; 512];
    let n = socket.read(&mut buf).await.expect("read");
    let head = String::from_utf8_lossy(&buf[..n]).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-protocol: graphql-transport-ws"),
        "{head}"
    );

    // Stopping closes the open subscription socket too.
    let _ = stop.send(());
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops in time");
    assert!(result.expect("task").is_ok());
    drop(socket);
    app.stop().await;
}
