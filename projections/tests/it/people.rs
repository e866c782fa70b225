//! The `people` read model.

use chrono::{DateTime, Utc};
use domain::Role;
use uuid::Uuid;

use crate::harness::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_person_appears_with_roles_and_later_details() {
    let env = Env::new().await;
    let mut w = env.world();
    let alice = w.register(&[Role::Interviewer, Role::Candidate]).await;
    let registered_at = w.now;
    let bob = w.register(&[Role::Interviewer]).await;
    env.project().await;
    w.rename(alice, "Alice Martin").await;
    let renamed_at = w.now;
    env.project().await;

    type Row = (
        String,
        Option<String>,
        Vec<String>,
        Option<String>,
        i64,
        DateTime<Utc>,
        DateTime<Utc>,
    );
    let row: Row = sqlx::query_as(
        "SELECT name, email, roles, timezone, version, created_at, updated_at FROM rm.people WHERE id = $1",
    )
    .bind(alice)
    .fetch_one(&env.pool)
    .await
    .expect("alice");
    assert_eq!(row.0, "Alice Martin");
    assert!(
        row.1
            .as_deref()
            .is_some_and(|e| e.ends_with("@example.com"))
    );
    assert_eq!(row.2, vec!["candidate", "interviewer"]);
    assert_eq!(row.3.as_deref(), Some("UTC"));
    assert_eq!(row.4, 2);
    assert_eq!((row.5, row.6), (registered_at, renamed_at));

    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM rm.people ORDER BY name")
        .fetch_all(&env.pool)
        .await
        .expect("people");
    assert_eq!(ids, vec![alice, bob]);
    env.finish().await;
}
