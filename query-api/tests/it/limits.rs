//! Refusals (API.md §3.2): depth, complexity, page sizes, malformed requests.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::harness::{code, spawn};

fn fields(n: usize) -> String {
    (0..n)
        .map(|i| format!("f{i}: id"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn queries_deeper_than_twelve_levels_are_refused_before_running() {
    let app = spawn().await;
    let twelve = "{ interviews(first: 1) { edges { node { candidate { interviews(first: 1) { edges { node { candidate { interviews(first: 1) { edges { node { id } } } } } } } } } } } }";
    assert!(app.execute(twelve, json!({})).await.get("errors").is_none());
    let thirteen = "{ interviews(first: 1) { edges { node { candidate { interviews(first: 1) { edges { node { candidate { interviews(first: 1) { edges { node { candidate { id } } } } } } } } } } } } }";
    let before = app.ctx.read_model().statements();
    let errors = app.errors(thirteen, json!({})).await;
    assert_eq!(code(&errors[0]), "QUERY_TOO_DEEP");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("13 levels"),
        "{errors:?}"
    );
    assert_eq!(
        app.ctx.read_model().statements(),
        before,
        "nothing was executed"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_complexity_budget_admits_five_thousand_resolutions_and_no_more() {
    let app = spawn().await;
    // 1 + 100 × (edges + node + 47 fields) = 4,901 resolutions.
    let admitted = format!(
        "{{ interviews(first: 100) {{ edges {{ node {{ {} }} }} }} }}",
        fields(47)
    );
    assert!(
        app.execute(&admitted, json!({}))
            .await
            .get("errors")
            .is_none()
    );
    // 1 + 100 × (edges + node + 48 fields) = 5,001.
    let refused = format!(
        "{{ interviews(first: 100) {{ edges {{ node {{ {} }} }} }} }}",
        fields(48)
    );
    let errors = app.errors(&refused, json!({})).await;
    assert_eq!(code(&errors[0]), "QUERY_TOO_COMPLEX", "{errors:?}");
    // The page size is charged from variables too.
    let nested = "query($n: Int) { interviews(first: $n) { edges { node { transcript(first: $n) { edges { node { text } } } } } } }";
    let errors = app.errors(nested, json!({ "n": 100 })).await;
    assert_eq!(code(&errors[0]), "QUERY_TOO_COMPLEX");
    assert!(
        app.execute(nested, json!({ "n": 10 }))
            .await
            .get("errors")
            .is_none()
    );
    // A year of days, 24 hours and a panel fit.
    let wide = r#"{ analytics { dailyInterviews(from: "2027-01-01", to: "2027-12-31") { date scheduled completed cancelled noShow avgDurationMinutes } hourOfDay { hour interviews completed } } }"#;
    assert!(app.execute(wide, json!({})).await.get("errors").is_none());
    app.stop().await;
}

#[tokio::test]
async fn page_sizes_outside_one_to_a_hundred_are_clear_errors() {
    let app = spawn().await;
    for (query, first) in [
        ("query($f: Int) { interviews(first: $f) { totalCount } }", 0),
        (
            "query($f: Int) { interviews(first: $f) { totalCount } }",
            101,
        ),
        (
            "query($f: Int) { searchTranscripts(query: \"x\", first: $f) { pageInfo { hasNextPage } } }",
            0,
        ),
        ("query($f: Int) { people(first: $f) { totalCount } }", -5),
    ] {
        let errors = app.errors(query, json!({ "f": first })).await;
        assert_eq!(code(&errors[0]), "BAD_USER_INPUT", "{query} {first}");
        let message = errors[0]["message"].as_str().unwrap_or("");
        assert!(
            message.contains("first must be between 1 and 100"),
            "{message}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_query_over_its_time_budget_is_stopped_with_a_coded_error() {
    let mut app = spawn().await;
    app.set_limits(query_api::HttpLimits {
        query_timeout: std::time::Duration::from_millis(300),
        ..query_api::HttpLimits::default()
    });
    // Someone holds the table, so the read blocks past the budget.
    let mut blocker = app.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE rm.people IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .expect("lock");
    let (status, body) = app
        .post(json!({ "query": "{ people { totalCount } }" }), &[])
        .await;
    blocker.rollback().await.expect("release");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&body["errors"][0]), "QUERY_TIMEOUT", "{body}");
    app.stop().await;
}

#[tokio::test]
async fn malformed_requests_are_graphql_errors_never_500() {
    let app = spawn().await;
    let batch =
        json!([{ "query": "{ projections { name } }" }, { "query": "{ projections { name } }" }]);
    let (status, body) = app.post(batch, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body["errors"][0]), "BAD_REQUEST", "{body}");

    let huge = json!({ "query": format!("{{ projections {{ name }} }} #{}", "x".repeat(2 * 1024 * 1024)) });
    let (status, body) = app.post(huge, &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(&body["errors"][0]), "PAYLOAD_TOO_LARGE", "{body}");

    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .expect("request");
    let (status, text) = app.http(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("BAD_REQUEST"), "{text}");

    let (status, body) = app
        .post(json!({ "query": "{ projections { name " }), &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(code(&body["errors"][0]), "GRAPHQL_PARSE_FAILED", "{body}");
    let (_, body) = app.post(json!({ "query": "{ nope }" }), &[]).await;
    assert_eq!(
        code(&body["errors"][0]),
        "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    let (_, body) = app
        .post(json!({ "query": "{ interview(id: \"123\") { id } }" }), &[])
        .await;
    assert_eq!(code(&body["errors"][0]), "BAD_USER_INPUT", "{body}");

    let request = Request::get("/graphql?query=%7B%20projections%20%7B%20name%20%7D%20%7D")
        .body(Body::empty())
        .expect("request");
    let (status, text) = app.http(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("\"projections\""), "{text}");
    app.stop().await;
}

/// graphql-js's `getIntrospectionQuery()`, as GraphiQL sends it: 13 levels deep.
const INTROSPECTION: &str = r#"query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}"#;

#[tokio::test]
async fn the_introspection_query_of_graphiql_is_exempt_from_the_depth_limit_only_alone() {
    let app = spawn().await;
    let response = app.execute(INTROSPECTION, json!({})).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    assert!(
        response["data"]["__schema"]["types"]
            .as_array()
            .is_some_and(|t| t.len() > 40)
    );
    // Mixed with a real field, the depth limit applies again.
    let mixed = INTROSPECTION.replacen("__schema {", "projections { name } __schema {", 1);
    let errors = app.errors(&mixed, json!({})).await;
    assert_eq!(code(&errors[0]), "QUERY_TOO_DEEP");
    app.stop().await;
}

/// U+0000 in any string argument, literal or variable, is a `BAD_USER_INPUT` before
/// anything runs, never an `INTERNAL_SERVER_ERROR` from the database (which cannot hold
/// it): the four arguments a fuzzer found, and a nested filter field.
#[tokio::test]
async fn a_nul_character_in_any_argument_is_bad_user_input() {
    let app = spawn().await;
    let cases = [
        (
            "query($s: String!) { people(search: $s) { totalCount } }",
            json!({"s": "a\u{0}b"}),
        ),
        (
            "query($p: String!) { interviews(filter: {position: $p}) { totalCount } }",
            json!({"p": "x\u{0}"}),
        ),
        (
            "query($p: String) { analytics { funnel(position: $p) { total } } }",
            json!({"p": "\u{0}"}),
        ),
        (
            "query($q: String!) { searchTranscripts(query: $q) { edges { cursor } } }",
            json!({"q": "q\u{0}"}),
        ),
        (
            "{ people(search: \"a\\u0000b\") { totalCount } }",
            json!({}),
        ),
        (
            "{ interviews(filter: {position: \"\\u0000\"}) { totalCount } }",
            json!({}),
        ),
        (
            "{ searchTranscripts(query: \"x\\u0000\") { edges { cursor } } }",
            json!({}),
        ),
    ];
    for (query, variables) in cases {
        let (status, body) = app
            .post(json!({ "query": query, "variables": variables }), &[])
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        let errors = body["errors"].as_array().expect("errors");
        assert_eq!(code(&errors[0]), "BAD_USER_INPUT", "{query}: {body}");
        assert!(
            !body.to_string().contains("INTERNAL_SERVER_ERROR"),
            "{query}: {body}"
        );
    }
    // Ordinary strings still work.
    let (_, body) = app
        .post(
            json!({ "query": "{ people(search: \"ada\") { totalCount } }" }),
            &[],
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    app.stop().await;
}
