//! `schedule` and `availability`.

use domain::Role;
use domain::interview::InterviewKind;
use serde_json::json;

use crate::harness::{code, spawn};
use crate::world::Spec;

const SCHEDULE: &str = r#"query($p: UUID!, $from: DateTime!, $to: DateTime!) {
    schedule(personId: $p, from: $from, to: $to) {
        personId availability { start end } bookings { interviewId start end } free { start end } } }"#;

const AVAILABILITY: &str = r#"query($ids: [UUID!]!, $from: DateTime!, $to: DateTime!, $d: Int!, $limit: Int) {
    availability(personIds: $ids, from: $from, to: $to, durationMinutes: $d, limit: $limit) { start end } }"#;

fn slots(v: &[(&str, &str)]) -> serde_json::Value {
    json!(v.iter().map(|(a, b)| json!({ "start": format!("2027-03-{a}:00Z"), "end": format!("2027-03-{b}:00Z") })).collect::<Vec<_>>())
}

#[tokio::test]
async fn schedules_and_common_availability_follow_windows_and_bookings() {
    let mut app = spawn().await;
    let w = &mut app.world;
    let pia = w.person("Pia", &[Role::Candidate]).await;
    let quentin = w.person("Quentin", &[Role::Interviewer]).await;
    let rita = w.person("Rita", &[Role::Interviewer]).await;
    let sam = w.person("Sam", &[Role::Candidate]).await;
    w.availability(
        pia,
        &[
            ("2027-03-01T08:00:00Z", "2027-03-01T12:00:00Z"),
            ("2027-03-01T13:00:00Z", "2027-03-01T18:00:00Z"),
            ("2027-03-02T10:00:00Z", "2027-03-02T11:00:00Z"),
        ],
        &[],
    )
    .await;
    w.availability(
        pia,
        &[],
        &[("2027-03-01T16:00:00Z", "2027-03-01T17:00:00Z")],
    )
    .await;
    w.availability(
        quentin,
        &[
            ("2027-03-01T09:00:00Z", "2027-03-01T17:00:00Z"),
            ("2027-03-02T09:00:00Z", "2027-03-02T12:00:00Z"),
        ],
        &[],
    )
    .await;
    let booked = w
        .schedule(Spec {
            candidate: pia,
            panel: vec![quentin],
            position: "PM",
            kind: InterviewKind::Onsite,
            starts_at: "2027-03-01T10:00:00Z",
            minutes: 60,
        })
        .await;
    let rita_booked = w
        .schedule(Spec {
            candidate: sam,
            panel: vec![rita],
            position: "PM",
            kind: InterviewKind::Onsite,
            starts_at: "2027-03-01T14:00:00Z",
            minutes: 30,
        })
        .await;
    app.settle().await;

    let day = json!({ "from": "2027-03-01T00:00:00Z", "to": "2027-03-02T00:00:00Z" });
    let data = app
        .data(
            SCHEDULE,
            json!({ "p": pia, "from": day["from"], "to": day["to"] }),
        )
        .await;
    let s = &data["schedule"];
    assert_eq!(s["personId"], json!(pia));
    assert_eq!(
        s["availability"],
        slots(&[
            ("01T08:00", "01T12:00"),
            ("01T13:00", "01T16:00"),
            ("01T17:00", "01T18:00")
        ])
    );
    assert_eq!(
        s["bookings"],
        json!([{ "interviewId": booked, "start": "2027-03-01T10:00:00Z", "end": "2027-03-01T11:00:00Z" }])
    );
    assert_eq!(
        s["free"],
        slots(&[
            ("01T08:00", "01T10:00"),
            ("01T11:00", "01T12:00"),
            ("01T13:00", "01T16:00"),
            ("01T17:00", "01T18:00")
        ])
    );

    // Never declared availability: free is the range minus bookings.
    let data = app
        .data(
            SCHEDULE,
            json!({ "p": rita, "from": "2027-03-01T12:00:00Z", "to": "2027-03-01T18:00:00Z" }),
        )
        .await;
    assert_eq!(data["schedule"]["availability"], json!([]));
    assert_eq!(
        data["schedule"]["bookings"][0]["interviewId"],
        json!(rita_booked)
    );
    assert_eq!(
        data["schedule"]["free"],
        slots(&[("01T12:00", "01T14:00"), ("01T14:30", "01T18:00")])
    );

    let all = json!([pia, quentin, rita]);
    let found = |d: i32, limit: Option<i32>, to: &str| {
        let app = &app;
        let vars =
            json!({ "ids": all, "from": "2027-03-01T00:00:00Z", "to": to, "d": d, "limit": limit });
        async move { app.data(AVAILABILITY, vars).await["availability"].clone() }
    };
    assert_eq!(
        found(60, None, "2027-03-02T00:00:00Z").await,
        slots(&[
            ("01T09:00", "01T10:00"),
            ("01T11:00", "01T12:00"),
            ("01T13:00", "01T14:00"),
            ("01T14:30", "01T16:00")
        ])
    );
    assert_eq!(
        found(61, None, "2027-03-02T00:00:00Z").await,
        slots(&[("01T14:30", "01T16:00")])
    );
    assert_eq!(
        found(60, Some(2), "2027-03-02T00:00:00Z").await,
        slots(&[("01T09:00", "01T10:00"), ("01T11:00", "01T12:00")])
    );
    assert_eq!(
        found(60, None, "2027-03-03T00:00:00Z")
            .await
            .as_array()
            .map(|a| a.last().cloned()),
        Some(Some(
            json!({ "start": "2027-03-02T10:00:00Z", "end": "2027-03-02T11:00:00Z" })
        ))
    );
    // Rita and Sam never declared availability: all the range but their bookings.
    let vars = json!({ "ids": [rita, sam, rita], "from": "2027-03-01T12:00:00Z", "to": "2027-03-01T18:00:00Z", "d": 30 });
    assert_eq!(
        app.data(AVAILABILITY, vars).await["availability"],
        slots(&[("01T12:00", "01T14:00"), ("01T14:30", "01T18:00")])
    );

    for (vars, what) in [
        (
            json!({ "ids": all, "from": "2027-03-01T00:00:00Z", "to": "2027-04-02T00:00:00Z", "d": 30 }),
            "over 31 days",
        ),
        (
            json!({ "ids": all, "from": "2027-03-02T00:00:00Z", "to": "2027-03-01T00:00:00Z", "d": 30 }),
            "inverted range",
        ),
        (
            json!({ "ids": [], "from": "2027-03-01T00:00:00Z", "to": "2027-03-02T00:00:00Z", "d": 30 }),
            "nobody",
        ),
        (
            json!({ "ids": all, "from": "2027-03-01T00:00:00Z", "to": "2027-03-02T00:00:00Z", "d": 0 }),
            "zero minutes",
        ),
        (
            json!({ "ids": all, "from": "2027-03-01T00:00:00Z", "to": "2027-03-02T00:00:00Z", "d": 30, "limit": 0 }),
            "limit 0",
        ),
    ] {
        let errors = app.errors(AVAILABILITY, vars).await;
        assert_eq!(code(&errors[0]), "BAD_USER_INPUT", "{what}: {errors:?}");
    }
    app.stop().await;
}
