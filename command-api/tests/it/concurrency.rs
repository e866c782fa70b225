use std::sync::Arc;

use futures::future::join_all;
use serde_json::json;

use crate::harness::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_overlapping_bookings_yield_exactly_one() {
    let app = Arc::new(TestApp::new().await);
    let interviewer = app.interviewer().await;
    let mut candidates = Vec::new();
    for _ in 0..20 {
        candidates.push(app.candidate().await);
    }
    let attempts = candidates.iter().enumerate().map(|(i, c)| {
        let app = app.clone();
        let c = *c;
        async move {
            let start = format!("2027-03-01T10:{:02}:00Z", i);
            app.schedule(c, &[interviewer], &start, 60).await
        }
    });
    let replies = join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let conflicts = replies
        .iter()
        .filter(|r| {
            r.status == 409
                && r.body["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("booking-conflict"))
        })
        .count();
    assert_eq!(
        (created, conflicts),
        (1, 19),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.body.clone()))
            .collect::<Vec<_>>()
    );
    let schedule = app.stream(&format!("schedule-{interviewer}")).await;
    assert_eq!(schedule.len(), 1, "exactly one booking");
    let booked = app
        .all_events()
        .await
        .iter()
        .filter(|(_, t)| t == "SlotBooked")
        .count();
    assert_eq!(
        booked, 2,
        "the winner's candidate and interviewer, nothing else"
    );
    if let Ok(app) = Arc::try_unwrap(app) {
        app.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_reschedules_with_one_if_match_yield_exactly_one() {
    let app = Arc::new(TestApp::new().await);
    let cand = app.candidate().await;
    let i1 = app.interviewer().await;
    let (id, ..) = app
        .schedule(cand, &[i1], "2027-03-01T10:00:00Z", 60)
        .await
        .expect_ok(201);
    let attempts = (0..50).map(|i| {
        let app = app.clone();
        async move {
            let start = format!("2027-03-{:02}T10:00:00Z", 2 + i % 25);
            app.post_with(
                &format!("/interviews/{id}/reschedule"),
                json!({"startsAt": start}),
                &[("if-match", "\"1\"")],
            )
            .await
        }
    });
    let replies = join_all(attempts).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 412).count();
    assert_eq!(
        (ok, refused),
        (1, 49),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.body.clone()))
            .collect::<Vec<_>>()
    );
    let versions: Vec<u64> = app
        .stream(&format!("interview-{id}"))
        .await
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, [1, 2], "versions contiguous");
    for p in [cand, i1] {
        let types: Vec<String> = app.event_types(&format!("schedule-{p}")).await;
        assert_eq!(types, ["SlotBooked", "SlotReleased", "SlotBooked"]);
    }
    if let Ok(app) = Arc::try_unwrap(app) {
        app.drop_db().await;
    }
}
