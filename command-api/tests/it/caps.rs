//! Stream caps: transcript segments per interview and availability windows per person,
//! decided by the aggregates (so on either event store), answered 422 `rule-violated`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::interview::limits::{MAX_SEGMENTS, MAX_TRANSCRIPT_SEGMENTS};
use domain::schedule::{MAX_AVAILABILITY_WINDOWS, MAX_WINDOWS_PER_CALL};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::TestApp;

fn segments(speaker: Uuid, n: usize) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({"speakerId": speaker, "startMs": i * 10, "endMs": i * 10 + 5, "text": "w"}))
        .collect();
    json!({ "segments": list })
}

/// Fills an interview's transcript to the cap, then asks for one more.
async fn a_full_transcript_refuses_one_more_segment(app: &TestApp) {
    let cand = app.candidate().await;
    let ivr = app.interviewer().await;
    let (id, _, _) = app
        .schedule(cand, &[ivr], "2027-05-03T10:00:00Z", 60)
        .await
        .expect_ok(201);
    app.post(&format!("/interviews/{id}/start"), json!({}))
        .await
        .expect_ok(200);
    let path = format!("/interviews/{id}/transcript");
    for _ in 0..MAX_TRANSCRIPT_SEGMENTS / MAX_SEGMENTS {
        app.post(&path, segments(ivr, MAX_SEGMENTS))
            .await
            .expect_ok(200);
    }

    let refused = app.post(&path, segments(cand, 1)).await;

    refused.expect_problem(422, "rule-violated");
    assert_eq!(refused.body["rule"], "transcript-segment-limit");
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("at most 10000"), "{detail}");
    // The interview goes on: it can still be completed.
    app.post(&format!("/interviews/{id}/complete"), json!({}))
        .await
        .expect_ok(200);
}

#[tokio::test]
async fn an_interview_takes_ten_thousand_transcript_segments_and_refuses_more() {
    let app = TestApp::new().await;
    a_full_transcript_refuses_one_more_segment(&app).await;
    app.drop_db().await;
    if let Some(app) =
        TestApp::esdb("an_interview_takes_ten_thousand_transcript_segments_and_refuses_more").await
    {
        a_full_transcript_refuses_one_more_segment(&app).await;
        app.drop_db().await;
    }
}

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 1, 9, 0, 0)
        .single()
        .expect("valid")
        + Duration::days(n)
}

/// `count` one-hour windows, one a day from day `first`.
fn daily_windows(first: i64, count: usize) -> Value {
    let list: Vec<Value> = (first..first + i64::try_from(count).expect("small"))
        .map(|d| json!({"start": day(d), "end": day(d) + Duration::hours(1)}))
        .collect();
    json!({ "add": list })
}

#[tokio::test]
async fn a_person_takes_a_thousand_availability_windows_and_refuses_more() {
    let app = TestApp::new().await;
    let id = app.interviewer().await;
    let path = format!("/people/{id}/availability");
    let calls = MAX_AVAILABILITY_WINDOWS / MAX_WINDOWS_PER_CALL;
    for call in 0..calls {
        let first = i64::try_from(call * MAX_WINDOWS_PER_CALL).expect("small");
        app.post(&path, daily_windows(first, MAX_WINDOWS_PER_CALL))
            .await
            .expect_ok(200);
    }
    let next = i64::try_from(MAX_AVAILABILITY_WINDOWS).expect("small");

    let refused = app.post(&path, daily_windows(next, 1)).await;

    refused.expect_problem(422, "rule-violated");
    assert_eq!(refused.body["rule"], "availability-window-limit");
    // Widening a window adds none, so it is still taken; so is removing one.
    let widen = json!({"add": [{"start": day(0), "end": day(0) + Duration::hours(2)}]});
    app.post(&path, widen).await.expect_ok(200);
    let remove = json!({"remove": [{"start": day(1), "end": day(1) + Duration::hours(1)}]});
    app.post(&path, remove).await.expect_ok(200);
    app.post(&path, daily_windows(next, 1)).await.expect_ok(200);
    app.drop_db().await;
}
