//! Tenants: the tenant of a row is its stream's; the same ids in two tenants' streams
//! make two sets of rows that never touch, analytics included; the read role sees one
//! tenant's rows at a time; a database of the old shape is rebuilt in the new one.

use std::collections::BTreeMap;

use domain::interview::{DecisionOutcome, InterviewKind};
use domain::tenant::parse_stream;
use domain::{Role, Tenant};
use infra::{EventStore, ExpectedVersion, Metadata, NewEvent};
use sqlx::Connection;
use uuid::Uuid;

use crate::harness::Env;
use crate::world::{World, at};

const PREFIXES: [&str; 3] = ["person-", "schedule-", "interview-"];

/// Every event stored so far, appended again into `tenant`'s stream of the same
/// aggregate and id (as a tenant whose client chose the same ids would).
async fn copy_into(env: &Env, tenant: &str) {
    let tenant = Tenant::parse(tenant).expect("slug");
    type Row = (String, String, serde_json::Value, serde_json::Value);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT stream_id, event_type, data, metadata FROM events ORDER BY position",
    )
    .fetch_all(&env.pool)
    .await
    .expect("events");
    for (stream, event_type, data, metadata) in rows {
        let Some((prefix, id)) = PREFIXES
            .iter()
            .find_map(|p| parse_stream(p, &stream).map(|r| (*p, r.expect("a valid stream").1)))
        else {
            continue;
        };
        let metadata: Metadata = serde_json::from_value(metadata).expect("metadata");
        let event = NewEvent {
            event_id: Uuid::new_v4(),
            event_type,
            data,
            metadata,
        };
        env.store
            .append(
                &tenant.stream(prefix, id),
                ExpectedVersion::Any,
                vec![event],
            )
            .await
            .expect("append");
    }
}

/// A week of one tenant: people, availability, interviews held, cancelled, decided,
/// with feedback and a transcript; returns (candidate, interviewer, interviews).
async fn week(w: &mut World) -> (Uuid, Uuid, Vec<Uuid>) {
    let cand = w.register(&[Role::Candidate]).await;
    let ann = w.register(&[Role::Interviewer]).await;
    w.availability(ann, &[(at(1, 8), at(2, 18))], &[]).await;
    let held = w
        .schedule(
            cand,
            &[ann],
            "Data",
            InterviewKind::Technical,
            at(1, 10),
            60,
        )
        .await
        .expect("schedule");
    let later = w
        .schedule(cand, &[ann], "Data", InterviewKind::Final, at(2, 14), 30)
        .await
        .expect("schedule");
    w.start(held, at(1, 10)).await.expect("start");
    w.transcript(held, ann, &["tell me about tenants"])
        .await
        .expect("transcript");
    w.complete(held, at(1, 11)).await.expect("complete");
    w.feedback(held, ann, 3, &[("sql", 4)])
        .await
        .expect("feedback");
    w.decide(held, DecisionOutcome::Hire, ann)
        .await
        .expect("decide");
    (cand, ann, vec![held, later])
}

/// Each table's rows of `tenant`, without the tenant column, as sorted JSON.
async fn rows_of(env: &Env, tenant: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for p in projections::all() {
        for t in p.tables() {
            let rows: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT (to_jsonb(t) - 'tenant')::text AS j FROM rm.{t} t \
                 WHERE tenant = $1 ORDER BY j"
            ))
            .bind(tenant)
            .fetch_all(&env.pool)
            .await
            .expect("rows");
            out.insert((*t).to_owned(), rows);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_ids_in_two_tenants_make_two_sets_of_rows_that_never_touch() {
    let env = Env::new().await;
    let mut w = env.world();
    let (_, _, interviews) = week(&mut w).await;
    copy_into(&env, "acme").await;
    env.project().await;

    let home = rows_of(&env, "default").await;
    let acme = rows_of(&env, "acme").await;
    for (table, rows) in &home {
        assert!(!rows.is_empty(), "{table} has rows of the default tenant");
    }
    assert_eq!(home, acme, "the same events give the same rows, per tenant");
    let stray: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rm.interviews WHERE tenant NOT IN ('default', 'acme')",
    )
    .fetch_one(&env.pool)
    .await
    .expect("count");
    assert_eq!(stray, 0);

    // One tenant moves on: the other's rows, analytics included, stay as they were.
    w.cancel(interviews[1]).await.expect("cancel");
    env.project().await;
    assert_eq!(rows_of(&env, "acme").await, acme, "acme did not change");
    let status = |tenant: &'static str| {
        let pool = env.pool.clone();
        let id = interviews[1];
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT status FROM rm.interviews WHERE tenant = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("status")
        }
    };
    assert_eq!(status("default").await, "cancelled");
    assert_eq!(status("acme").await, "scheduled");
    let cancelled: Vec<(String, i32)> = sqlx::query_as(
        "SELECT tenant, sum(cancelled)::int4 FROM rm.analytics_daily GROUP BY tenant ORDER BY tenant",
    )
    .fetch_all(&env.pool)
    .await
    .expect("daily");
    assert_eq!(
        cancelled,
        vec![("acme".to_owned(), 0), ("default".to_owned(), 1)]
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_with_a_prefix_but_no_valid_tenant_and_id_is_poison() {
    let env = Env::new().await;
    let mut w = env.world();
    w.register(&[Role::Candidate]).await;
    let event: NewEvent = {
        let row: (String, serde_json::Value, serde_json::Value) =
            sqlx::query_as("SELECT event_type, data, metadata FROM events LIMIT 1")
                .fetch_one(&env.pool)
                .await
                .expect("event");
        NewEvent {
            event_id: Uuid::new_v4(),
            event_type: row.0,
            data: row.1,
            metadata: serde_json::from_value(row.2).expect("metadata"),
        }
    };
    let bad = format!("person-Acme.{}", Uuid::new_v4());
    env.store
        .append(&bad, ExpectedVersion::Any, vec![event])
        .await
        .expect("append");
    let running = env.start(crate::harness::fast_settings());
    // It parks the stream; the projection goes on.
    env.drain().await;
    let parked = projections::parked::parked(&env.pool)
        .await
        .expect("parked");
    assert!(
        parked
            .iter()
            .any(|p| p.projection == "people" && p.stream_id == bad),
        "{parked:?}"
    );
    running.stop().await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_role_sees_only_the_tenant_of_its_transaction_in_every_table() {
    let env = Env::new().await;
    let mut w = env.world();
    week(&mut w).await;
    copy_into(&env, "acme").await;
    env.project().await;
    // Some rows of `default` only, so the two tenants differ in number too.
    w.register(&[Role::Candidate]).await;
    env.project().await;

    let mut conn = env.pool.acquire().await.expect("connection");
    for p in projections::all() {
        for table in p.tables() {
            let (home, acme): (i64, i64) = sqlx::query_as(&format!(
                "SELECT count(*) FILTER (WHERE tenant = 'default'), \
                        count(*) FILTER (WHERE tenant = 'acme') FROM rm.{table}"
            ))
            .fetch_one(&mut *conn)
            .await
            .expect("counts");
            assert!(acme > 0, "{table} has acme rows to hide");
            for (tenant, expected) in [(Some("acme"), acme), (Some("default"), home), (None, 0)] {
                let mut tx = conn.begin().await.expect("begin");
                sqlx::query("SET LOCAL ROLE interview_ledger_reader")
                    .execute(&mut *tx)
                    .await
                    .expect("role");
                if let Some(tenant) = tenant {
                    sqlx::query("SELECT set_config('app.tenant', $1, true)")
                        .bind(tenant)
                        .execute(&mut *tx)
                        .await
                        .expect("tenant");
                }
                // Deliberately unfiltered.
                let (seen, others): (i64, i64) = sqlx::query_as(&format!(
                    "SELECT count(*), count(*) FILTER (WHERE tenant IS DISTINCT FROM $1) \
                     FROM rm.{table}"
                ))
                .bind(tenant)
                .fetch_one(&mut *tx)
                .await
                .expect("select as reader");
                assert_eq!((seen, others), (expected, 0), "{table} as {tenant:?}");
                tx.rollback().await.expect("rollback");
            }
        }
    }
    // The reader writes nothing.
    let mut tx = conn.begin().await.expect("begin");
    sqlx::raw_sql("SET LOCAL ROLE interview_ledger_reader; SET LOCAL app.tenant = 'acme'")
        .execute(&mut *tx)
        .await
        .expect("role");
    let denied = sqlx::query("DELETE FROM rm.people").execute(&mut *tx).await;
    assert!(denied.is_err(), "the read role cannot delete");
    drop(tx);

    // The policy reads the tenant once per statement (a scalar subquery), and a policy
    // of the earlier per-row form is brought to it by the next `prepare`.
    let quals = || async {
        sqlx::query_as::<_, (String, String)>(
            "SELECT tablename::text, qual FROM pg_policies \
             WHERE schemaname = 'rm' AND policyname = 'tenant_isolation' ORDER BY 1",
        )
        .fetch_all(&env.pool)
        .await
        .expect("policies")
    };
    let once = |qual: &str| qual.contains("SELECT current_setting('app.tenant'");
    let before = quals().await;
    assert!(!before.is_empty());
    assert!(before.iter().all(|(_, q)| once(q)), "{before:?}");
    sqlx::query(
        "ALTER POLICY tenant_isolation ON rm.people \
         USING (tenant = current_setting('app.tenant', true))",
    )
    .execute(&env.pool)
    .await
    .expect("old form");
    assert!(quals().await.iter().any(|(_, q)| !once(q)));
    projections::prepare(&env.pool).await.expect("prepare");
    assert_eq!(quals().await, before);
    drop(conn);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_the_old_shape_is_rebuilt_in_the_new_one_from_the_log() {
    let env = Env::new().await;
    let mut w = env.world();
    week(&mut w).await;
    env.project().await;
    let before = env.dump_all().await;

    // The tables of before tenants: no tenant column, keyed by id alone, checkpoints at
    // the head and of DDL version 1.
    let mut conn = env.pool.acquire().await.expect("connection");
    for p in projections::all() {
        for t in p.tables() {
            sqlx::raw_sql(&format!(
                "ALTER TABLE rm.{t} DROP COLUMN tenant CASCADE; \
                 ALTER TABLE rm.{t} DISABLE ROW LEVEL SECURITY"
            ))
            .execute(&mut *conn)
            .await
            .expect("old shape");
        }
    }
    sqlx::query("UPDATE projection_checkpoints SET ddl_version = 1")
        .execute(&mut *conn)
        .await
        .expect("old version");
    drop(conn);

    projections::prepare(&env.pool)
        .await
        .expect("prepare again");
    let rows = projections::status(&env.pool).await.expect("status");
    assert!(
        rows.iter().all(|r| r.checkpoint.is_none()),
        "every checkpoint back at the start: {rows:?}"
    );
    let tenant_columns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns \
         WHERE table_schema = 'rm' AND column_name = 'tenant'",
    )
    .fetch_one(&env.pool)
    .await
    .expect("columns");
    assert_eq!(tenant_columns as usize, before.len());
    env.project().await;
    assert_eq!(env.dump_all().await, before, "rebuilt from the log");
    env.finish().await;
}
