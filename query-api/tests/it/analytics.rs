//! `analytics`.

use serde_json::json;

use crate::harness::{code, spawn};
use crate::scenario::hiring;

#[tokio::test]
async fn analytics_count_the_hiring_week() {
    let mut app = spawn().await;
    let h = hiring(&mut app).await;
    let query = r#"{ analytics {
        daily: dailyInterviews(from: "2027-02-28", to: "2027-03-04") { date scheduled completed cancelled noShow avgDurationMinutes }
        week: completionRate(from: "2027-03-01T00:00:00Z", to: "2027-03-04T00:00:00Z")
        third: completionRate(from: "2027-03-03T00:00:00Z", to: "2027-03-04T00:00:00Z")
        none: completionRate(from: "2027-03-03T09:00:00Z", to: "2027-03-03T10:00:00Z")
        interviewerLoad(from: "2027-03-01T00:00:00Z", to: "2027-03-04T00:00:00Z") { interviewer { id name } interviews bookedMinutes }
        all: funnel { total completed advanced hired rejected held medianHoursToDecision }
        backend: funnel(position: "Backend Engineer") { total completed hired rejected medianHoursToDecision }
        nobody: funnel(position: "Chef") { total completed medianHoursToDecision }
        competencyScores { name averageScore count }
        frontendScores: competencyScores(position: "Frontend Engineer") { name }
        hourOfDay { hour interviews completed }
    } }"#;
    let a = app.data(query, json!({})).await["analytics"].clone();

    assert_eq!(
        a["daily"],
        json!([
            { "date": "2027-02-28", "scheduled": 0, "completed": 0, "cancelled": 0, "noShow": 0, "avgDurationMinutes": null },
            { "date": "2027-03-01", "scheduled": 2, "completed": 1, "cancelled": 1, "noShow": 0, "avgDurationMinutes": 55.0 },
            { "date": "2027-03-02", "scheduled": 1, "completed": 1, "cancelled": 0, "noShow": 0, "avgDurationMinutes": 50.0 },
            { "date": "2027-03-03", "scheduled": 2, "completed": 0, "cancelled": 0, "noShow": 1, "avgDurationMinutes": null },
            { "date": "2027-03-04", "scheduled": 0, "completed": 0, "cancelled": 0, "noShow": 0, "avgDurationMinutes": null },
        ])
    );
    assert_eq!(a["week"], 0.5);
    assert_eq!(a["third"], 0.0);
    assert_eq!(a["none"], json!(null));
    assert_eq!(
        a["interviewerLoad"],
        json!([
            { "interviewer": { "id": h.bob, "name": "Bob Stone" }, "interviews": 3, "bookedMinutes": 180 },
            { "interviewer": { "id": h.carol, "name": "Carol White" }, "interviews": 2, "bookedMinutes": 120 },
        ])
    );
    assert_eq!(
        a["all"],
        json!({ "total": 5, "completed": 2, "advanced": 0, "hired": 1, "rejected": 1, "held": 0, "medianHoursToDecision": 3.0 })
    );
    assert_eq!(
        a["backend"],
        json!({ "total": 3, "completed": 1, "hired": 1, "rejected": 0, "medianHoursToDecision": 2.0 })
    );
    assert_eq!(
        a["nobody"],
        json!({ "total": 0, "completed": 0, "medianHoursToDecision": null })
    );
    assert_eq!(
        a["competencyScores"],
        json!([{ "name": "Coding", "averageScore": 4.5, "count": 2 }, { "name": "Communication", "averageScore": 3.0, "count": 1 }])
    );
    assert_eq!(a["frontendScores"], json!([]));
    let hours = a["hourOfDay"].as_array().expect("hours");
    assert_eq!(hours.len(), 24);
    assert!(hours.iter().enumerate().all(|(i, h)| h["hour"] == i));
    assert_eq!(
        hours[9],
        json!({ "hour": 9, "interviews": 2, "completed": 1 })
    );
    assert_eq!(
        hours[16],
        json!({ "hour": 16, "interviews": 1, "completed": 1 })
    );
    assert_eq!(
        hours[11]["interviews"], 1,
        "the reschedule moved the no-show to 11:00"
    );
    assert_eq!(hours[10]["interviews"], 0);
    app.stop().await;
}

#[tokio::test]
async fn analytics_refuse_bad_ranges() {
    let app = spawn().await;
    for query in [
        r#"{ analytics { dailyInterviews(from: "2027-01-01", to: "2028-01-02") { date } } }"#,
        r#"{ analytics { dailyInterviews(from: "2027-01-02", to: "2027-01-01") { date } } }"#,
        r#"{ analytics { completionRate(from: "2027-01-02T00:00:00Z", to: "2027-01-01T00:00:00Z") } }"#,
    ] {
        let errors = app.errors(query, json!({})).await;
        assert_eq!(code(&errors[0]), "BAD_USER_INPUT", "{query}: {errors:?}");
    }
    let days = app
        .data(
            r#"{ analytics { dailyInterviews(from: "2027-01-01", to: "2027-12-31") { date } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        days["analytics"]["dailyInterviews"]
            .as_array()
            .map(Vec::len),
        Some(365)
    );
    let errors = app
        .errors(
            r#"{ analytics { dailyInterviews(from: "2027-13-01", to: "2027-12-31") { date } } }"#,
            json!({}),
        )
        .await;
    assert_ne!(code(&errors[0]), "INTERNAL_SERVER_ERROR", "{errors:?}");
    app.stop().await;
}
