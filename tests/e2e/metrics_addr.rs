//! `METRICS_ADDR`: `/metrics` on a listener of its own, for the whole process, and off
//! the API ports; without it, on each API port as before.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::harness::{Server, Store, command, drop_database, fresh_database_url, token};

/// `serve` with `--metrics-addr` on a free port: the server, the metrics URL and the
/// projector's base URL.
fn start_with_metrics_addr(database_url: &str) -> (Server, String, String) {
    let store = Store::Postgres;
    let mut child = command(database_url, &store)
        .args([
            "serve",
            "--command-api-addr",
            "127.0.0.1:0",
            "--query-api-addr",
            "127.0.0.1:0",
            "--projector-addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut command_url, mut query_url, mut metrics_url, mut projector_url) =
        (None, None, None, None);
    while command_url.is_none()
        || query_url.is_none()
        || metrics_url.is_none()
        || projector_url.is_none()
    {
        let line = lines
            .next()
            .expect("serve printed its addresses")
            .expect("line");
        if let Some(url) = line.strip_prefix("command API listening on ") {
            command_url = Some(url.to_owned());
        } else if let Some(url) = line.strip_prefix("query API listening on ") {
            query_url = Some(url.to_owned());
        } else if let Some(url) = line.strip_prefix("metrics listening on ") {
            metrics_url = Some(url.to_owned());
        } else if let Some(url) = line.strip_prefix("projector health on ") {
            projector_url = url.strip_suffix("/health/live").map(str::to_owned);
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let token = token(database_url, &store, &["--role", "admin"]);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header value"),
    );
    let server = Server {
        child,
        command_url: command_url.unwrap_or_default(),
        query_url: query_url.unwrap_or_default(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .default_headers(headers)
            .build()
            .expect("client"),
    };
    (
        server,
        metrics_url.unwrap_or_default(),
        projector_url.unwrap_or_default(),
    )
}

/// GET `url` without a token: the status and the body.
async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_metrics_address_the_whole_process_is_scraped_there_and_nowhere_else() {
    // Arrange: a command and a query, so that both APIs have counted something.
    let url = fresh_database_url();
    let (mut s, metrics_url, projector_url) = start_with_metrics_addr(&url);
    let (_, position) = s.ok(s
        .post("/people", json!({"name": "M", "roles": ["candidate"]}))
        .await);
    let answer = s
        .graphql("{ projections { name } }", json!({}), Some(&position))
        .await;
    assert!(answer["errors"].is_null(), "{answer}");

    // Act
    let (status, text) = get(&metrics_url).await;

    // Assert: every part's series, once, with the figures set at render time.
    assert_eq!(status, 200, "{text}");
    for series in [
        "command_api_requests_total{route=\"/people\",status=\"201\"} 1",
        "command_api_streams_remembered 1",
        "graphql_requests_total{operation=\"anonymous\"} 1",
        "read_model_cache_on ",
        "projection_events_applied_total{projection=",
    ] {
        assert!(text.contains(series), "{series} in {text}");
    }
    assert_eq!(
        text.matches("# TYPE command_api_requests_total counter")
            .count(),
        1,
        "{text}"
    );
    // Neither API port serves it any more, nor the projector's.
    for base in [&s.command_url, &s.query_url, &projector_url] {
        let (status, body) = get(&format!("{base}/metrics")).await;
        assert_eq!(status, 404, "{base}/metrics: {body}");
    }
    // The metrics listener answers /metrics and the liveness probe, nothing else.
    let base = metrics_url
        .strip_suffix("/metrics")
        .expect("the URL of /metrics");
    assert_eq!(get(&format!("{base}/health/live")).await.0, 200);
    for path in ["/graphql", "/people", "/openapi.json", "/", "/metrics/x"] {
        assert_eq!(get(&format!("{base}{path}")).await.0, 404, "{path}");
    }
    let post = reqwest::Client::new()
        .post(&metrics_url)
        .send()
        .await
        .expect("post");
    assert_eq!(post.status().as_u16(), 405);

    s.terminate();
    drop_database(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_metrics_address_each_api_port_serves_metrics_as_before() {
    let url = fresh_database_url();
    let mut s = Server::start(&url, Store::Postgres);

    for base in [&s.command_url, &s.query_url] {
        let (status, text) = get(&format!("{base}/metrics")).await;
        assert_eq!(status, 200, "{base}/metrics: {text}");
        assert!(text.contains("projection_state{"), "{base}: {text}");
    }

    s.terminate();
    drop_database(&url).await;
}
