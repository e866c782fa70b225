//! The SQL of the analytics read model: facts upserted, aggregates incremented.

use sqlx::PgConnection;
use uuid::Uuid;

use super::facts::{Deltas, Fact};
use crate::ProjectionError;
use crate::support::array_literal;

/// The current facts of `ids`.
pub(super) async fn load(
    conn: &mut PgConnection,
    tenant: &str,
    ids: &[Uuid],
) -> Result<Vec<Fact>, ProjectionError> {
    Ok(sqlx::query_as::<_, Fact>(
        "SELECT r.* FROM unnest($1::uuid[]) AS k(key) CROSS JOIN LATERAL (
             SELECT id, position, status, starts_at, scheduled_minutes, interviewer_ids,
                    completed_at, actual_duration_seconds, decision_outcome, decided_at, version
             FROM analytics_interviews WHERE tenant = $2 AND id = k.key LIMIT 1) AS r",
    )
    .bind(ids)
    .bind(tenant)
    .fetch_all(conn)
    .await?)
}

/// Writes the changed facts and adds the deltas to the aggregates.
pub(super) async fn save(
    conn: &mut PgConnection,
    tenant: &str,
    facts: &[&Fact],
    deltas: &Deltas,
) -> Result<(), ProjectionError> {
    if !facts.is_empty() {
        upsert_facts(conn, tenant, facts).await?;
    }
    if !deltas.daily.is_empty() {
        let d: Vec<_> = deltas.daily.iter().collect();
        sqlx::query(
            "INSERT INTO analytics_daily AS a (tenant, date, scheduled, completed, cancelled, no_show,
                 completed_duration_seconds_sum)
             SELECT $7, * FROM UNNEST($1::date[], $2::int4[], $3::int4[], $4::int4[],
                 $5::int4[], $6::int8[])
             ON CONFLICT (tenant, date) DO UPDATE SET
                 scheduled = a.scheduled + EXCLUDED.scheduled,
                 completed = a.completed + EXCLUDED.completed,
                 cancelled = a.cancelled + EXCLUDED.cancelled,
                 no_show = a.no_show + EXCLUDED.no_show,
                 completed_duration_seconds_sum =
                     a.completed_duration_seconds_sum + EXCLUDED.completed_duration_seconds_sum",
        )
        .bind(d.iter().map(|(k, _)| **k).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, v)| v.scheduled).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, v)| v.completed).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, v)| v.cancelled).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, v)| v.no_show).collect::<Vec<_>>())
        .bind(d.iter().map(|(_, v)| v.duration_sum).collect::<Vec<_>>())
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    }
    if !deltas.hourly.is_empty() {
        let h: Vec<_> = deltas.hourly.iter().collect();
        sqlx::query(
            "INSERT INTO analytics_hourly AS a (tenant, hour, interviews, completed)
             SELECT $4, * FROM UNNEST($1::int4[], $2::int4[], $3::int4[])
             ON CONFLICT (tenant, hour) DO UPDATE SET
                 interviews = a.interviews + EXCLUDED.interviews,
                 completed = a.completed + EXCLUDED.completed",
        )
        .bind(h.iter().map(|(k, _)| **k).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, v)| v.interviews).collect::<Vec<_>>())
        .bind(h.iter().map(|(_, v)| v.completed).collect::<Vec<_>>())
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    }
    if !deltas.funnel.is_empty() {
        let f: Vec<_> = deltas.funnel.iter().collect();
        sqlx::query(
            "INSERT INTO analytics_funnel AS a (tenant, position, total, completed, advanced, hired,
                 rejected, held)
             SELECT $8, * FROM UNNEST($1::text[], $2::int4[], $3::int4[], $4::int4[],
                 $5::int4[], $6::int4[], $7::int4[])
             ON CONFLICT (tenant, position) DO UPDATE SET
                 total = a.total + EXCLUDED.total, completed = a.completed + EXCLUDED.completed,
                 advanced = a.advanced + EXCLUDED.advanced, hired = a.hired + EXCLUDED.hired,
                 rejected = a.rejected + EXCLUDED.rejected, held = a.held + EXCLUDED.held",
        )
        .bind(f.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
        .bind(f.iter().map(|(_, v)| v.total).collect::<Vec<_>>())
        .bind(f.iter().map(|(_, v)| v.completed).collect::<Vec<_>>())
        .bind(f.iter().map(|(_, v)| v.advanced).collect::<Vec<_>>())
        .bind(f.iter().map(|(_, v)| v.hired).collect::<Vec<_>>())
        .bind(f.iter().map(|(_, v)| v.rejected).collect::<Vec<_>>())
        .bind(f.iter().map(|(_, v)| v.held).collect::<Vec<_>>())
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    }
    if !deltas.competencies.is_empty() {
        let c: Vec<_> = deltas.competencies.iter().collect();
        sqlx::query(
            "INSERT INTO analytics_competencies AS a (tenant, position, name, score_sum, count)
             SELECT $5, * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int4[])
             ON CONFLICT (tenant, position, name) DO UPDATE SET
                 score_sum = a.score_sum + EXCLUDED.score_sum, count = a.count + EXCLUDED.count",
        )
        .bind(c.iter().map(|((p, _), _)| p.as_str()).collect::<Vec<_>>())
        .bind(c.iter().map(|((_, n), _)| n.as_str()).collect::<Vec<_>>())
        .bind(c.iter().map(|(_, (sum, _))| *sum).collect::<Vec<_>>())
        .bind(c.iter().map(|(_, (_, n))| *n).collect::<Vec<_>>())
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn upsert_facts(
    conn: &mut PgConnection,
    tenant: &str,
    facts: &[&Fact],
) -> Result<(), ProjectionError> {
    macro_rules! col {
        ($f:ident) => {
            facts.iter().map(|r| r.$f.clone()).collect::<Vec<_>>()
        };
    }
    sqlx::query(
        "INSERT INTO analytics_interviews (tenant, id, position, status, starts_at, scheduled_minutes,
             interviewer_ids, completed_at, actual_duration_seconds, decision_outcome,
             decided_at, version)
         SELECT $12, id, position, status, starts_at, scheduled_minutes, interviewer_ids::uuid[],
             completed_at, actual_duration_seconds, decision_outcome, decided_at, version
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::int4[],
             $6::text[], $7::timestamptz[], $8::int8[], $9::text[], $10::timestamptz[],
             $11::int8[])
           AS t(id, position, status, starts_at, scheduled_minutes, interviewer_ids,
             completed_at, actual_duration_seconds, decision_outcome, decided_at, version)
         ON CONFLICT (tenant, id) DO UPDATE SET
             position = EXCLUDED.position, status = EXCLUDED.status,
             starts_at = EXCLUDED.starts_at, scheduled_minutes = EXCLUDED.scheduled_minutes,
             interviewer_ids = EXCLUDED.interviewer_ids, completed_at = EXCLUDED.completed_at,
             actual_duration_seconds = EXCLUDED.actual_duration_seconds,
             decision_outcome = EXCLUDED.decision_outcome, decided_at = EXCLUDED.decided_at,
             version = EXCLUDED.version",
    )
    .bind(col!(id))
    .bind(col!(position))
    .bind(col!(status))
    .bind(col!(starts_at))
    .bind(col!(scheduled_minutes))
    .bind(
        facts
            .iter()
            .map(|f| array_literal(&f.interviewer_ids))
            .collect::<Vec<_>>(),
    )
    .bind(col!(completed_at))
    .bind(col!(actual_duration_seconds))
    .bind(col!(decision_outcome))
    .bind(col!(decided_at))
    .bind(col!(version))
    .bind(tenant)
    .execute(conn)
    .await?;
    Ok(())
}
