//! The SQL of the interviews read model: one statement per table and batch.

use std::collections::HashMap;

use sqlx::PgConnection;
use uuid::Uuid;

use super::fold::{Changes, InterviewRow};
use crate::ProjectionError;
use crate::support::array_literal;

/// The current rows of `ids`, looked up key by key (`LATERAL … LIMIT 1`, as in the other
/// projections' loads): `id = ANY($1)` was planned as a scan of the whole table while it
/// held a few thousand rows, about 1 ms a batch.
pub(super) async fn load(
    conn: &mut PgConnection,
    tenant: &str,
    ids: &[Uuid],
) -> Result<Vec<InterviewRow>, ProjectionError> {
    Ok(sqlx::query_as::<_, InterviewRow>(
        "SELECT r.* FROM unnest($1::uuid[]) AS k(key) CROSS JOIN LATERAL (
             SELECT id, candidate_id, interviewer_ids, position, kind, status, starts_at,
                    ends_at, duration_minutes, location, started_at, completed_at,
                    actual_duration_seconds, cancellation_reason, no_show_reason,
                    decision_outcome, decided_by, decision_reason, decided_at,
                    transcript_segments, version, created_at, updated_at
             FROM interviews WHERE tenant = $2 AND id = k.key LIMIT 1) AS r",
    )
    .bind(ids)
    .bind(tenant)
    .fetch_all(conn)
    .await?)
}

/// Writes the changed interview rows and the batch's feedback, scores and segments.
pub(super) async fn save(
    conn: &mut PgConnection,
    tenant: &str,
    rows: &HashMap<Uuid, InterviewRow>,
    changes: &Changes,
) -> Result<(), ProjectionError> {
    let mut changed = changes.changed.clone();
    changed.sort_unstable();
    changed.dedup();
    let changed: Vec<&InterviewRow> = changed.iter().filter_map(|id| rows.get(id)).collect();
    upsert_interviews(conn, tenant, &changed).await?;
    upsert_feedback(conn, tenant, changes).await?;
    insert_segments(conn, tenant, changes).await?;
    Ok(())
}

async fn upsert_interviews(
    conn: &mut PgConnection,
    tenant: &str,
    rows: &[&InterviewRow],
) -> Result<(), ProjectionError> {
    if rows.is_empty() {
        return Ok(());
    }
    macro_rules! col {
        ($f:ident) => {
            rows.iter().map(|r| r.$f.clone()).collect::<Vec<_>>()
        };
    }
    sqlx::query(
        "INSERT INTO interviews (tenant, id, candidate_id, interviewer_ids, position, kind, status,
             starts_at, ends_at, duration_minutes, location, started_at, completed_at,
             actual_duration_seconds, cancellation_reason, no_show_reason, decision_outcome,
             decided_by, decision_reason, decided_at, transcript_segments, version,
             created_at, updated_at)
         SELECT $24, id, candidate_id, interviewer_ids::uuid[], position, kind, status,
             starts_at, ends_at, duration_minutes, location, started_at, completed_at,
             actual_duration_seconds, cancellation_reason, no_show_reason, decision_outcome,
             decided_by, decision_reason, decided_at, transcript_segments, version,
             created_at, updated_at
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
             $7::timestamptz[], $8::timestamptz[], $9::int4[], $10::text[], $11::timestamptz[],
             $12::timestamptz[], $13::int8[], $14::text[], $15::text[], $16::text[],
             $17::uuid[], $18::text[], $19::timestamptz[], $20::int4[], $21::int8[],
             $22::timestamptz[], $23::timestamptz[])
           AS t(id, candidate_id, interviewer_ids, position, kind, status,
             starts_at, ends_at, duration_minutes, location, started_at, completed_at,
             actual_duration_seconds, cancellation_reason, no_show_reason, decision_outcome,
             decided_by, decision_reason, decided_at, transcript_segments, version,
             created_at, updated_at)
         ON CONFLICT (tenant, id) DO UPDATE SET
             candidate_id = EXCLUDED.candidate_id, interviewer_ids = EXCLUDED.interviewer_ids,
             position = EXCLUDED.position, kind = EXCLUDED.kind, status = EXCLUDED.status,
             starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
             duration_minutes = EXCLUDED.duration_minutes, location = EXCLUDED.location,
             started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at,
             actual_duration_seconds = EXCLUDED.actual_duration_seconds,
             cancellation_reason = EXCLUDED.cancellation_reason,
             no_show_reason = EXCLUDED.no_show_reason,
             decision_outcome = EXCLUDED.decision_outcome, decided_by = EXCLUDED.decided_by,
             decision_reason = EXCLUDED.decision_reason, decided_at = EXCLUDED.decided_at,
             transcript_segments = EXCLUDED.transcript_segments, version = EXCLUDED.version,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(col!(id))
    .bind(col!(candidate_id))
    .bind(
        rows.iter()
            .map(|r| array_literal(&r.interviewer_ids))
            .collect::<Vec<_>>(),
    )
    .bind(col!(position))
    .bind(col!(kind))
    .bind(col!(status))
    .bind(col!(starts_at))
    .bind(col!(ends_at))
    .bind(col!(duration_minutes))
    .bind(col!(location))
    .bind(col!(started_at))
    .bind(col!(completed_at))
    .bind(col!(actual_duration_seconds))
    .bind(col!(cancellation_reason))
    .bind(col!(no_show_reason))
    .bind(col!(decision_outcome))
    .bind(col!(decided_by))
    .bind(col!(decision_reason))
    .bind(col!(decided_at))
    .bind(col!(transcript_segments))
    .bind(col!(version))
    .bind(col!(created_at))
    .bind(col!(updated_at))
    .bind(tenant)
    .execute(conn)
    .await?;
    Ok(())
}

async fn upsert_feedback(
    conn: &mut PgConnection,
    tenant: &str,
    changes: &Changes,
) -> Result<(), ProjectionError> {
    if changes.feedback.is_empty() {
        return Ok(());
    }
    // One upsert must not touch a key twice; the domain allows one feedback per
    // interviewer, and should a second one be stored, the later wins.
    let mut feedback: HashMap<(Uuid, Uuid), _> = HashMap::new();
    for f in &changes.feedback {
        feedback.insert((f.interview_id, f.interviewer_id), f);
    }
    let f: Vec<_> = feedback.into_values().collect();
    sqlx::query(
        "INSERT INTO feedback (tenant, interview_id, interviewer_id, rating, notes, submitted_at)
         SELECT $6, * FROM UNNEST($1::uuid[], $2::uuid[], $3::int4[], $4::text[],
             $5::timestamptz[])
         ON CONFLICT (tenant, interview_id, interviewer_id) DO UPDATE SET
             rating = EXCLUDED.rating, notes = EXCLUDED.notes,
             submitted_at = EXCLUDED.submitted_at",
    )
    .bind(f.iter().map(|r| r.interview_id).collect::<Vec<_>>())
    .bind(f.iter().map(|r| r.interviewer_id).collect::<Vec<_>>())
    .bind(f.iter().map(|r| r.rating).collect::<Vec<_>>())
    .bind(f.iter().map(|r| r.notes.as_deref()).collect::<Vec<_>>())
    .bind(f.iter().map(|r| r.submitted_at).collect::<Vec<_>>())
    .bind(tenant)
    .execute(&mut *conn)
    .await?;
    if changes.scores.is_empty() {
        return Ok(());
    }
    let mut scores: HashMap<(Uuid, Uuid, i32), _> = HashMap::new();
    for s in &changes.scores {
        scores.insert((s.interview_id, s.interviewer_id, s.ordinal), s);
    }
    let s: Vec<_> = scores.into_values().collect();
    sqlx::query(
        "INSERT INTO competency_scores (tenant, interview_id, interviewer_id, ordinal, name,
             score)
         SELECT $6, * FROM UNNEST($1::uuid[], $2::uuid[], $3::int4[], $4::text[], $5::int4[])
         ON CONFLICT (tenant, interview_id, interviewer_id, ordinal) DO UPDATE SET
             name = EXCLUDED.name, score = EXCLUDED.score",
    )
    .bind(s.iter().map(|r| r.interview_id).collect::<Vec<_>>())
    .bind(s.iter().map(|r| r.interviewer_id).collect::<Vec<_>>())
    .bind(s.iter().map(|r| r.ordinal).collect::<Vec<_>>())
    .bind(s.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
    .bind(s.iter().map(|r| r.score).collect::<Vec<_>>())
    .bind(tenant)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_segments(
    conn: &mut PgConnection,
    tenant: &str,
    changes: &Changes,
) -> Result<(), ProjectionError> {
    let s = &changes.segments;
    if s.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO transcript_segments (tenant, interview_id, seq, speaker_id, start_ms,
             end_ms, text)
         SELECT $7, * FROM UNNEST($1::uuid[], $2::int4[], $3::uuid[], $4::int8[], $5::int8[],
             $6::text[])
         ON CONFLICT (tenant, interview_id, seq) DO UPDATE SET
             speaker_id = EXCLUDED.speaker_id, start_ms = EXCLUDED.start_ms,
             end_ms = EXCLUDED.end_ms, text = EXCLUDED.text",
    )
    .bind(s.iter().map(|r| r.interview_id).collect::<Vec<_>>())
    .bind(s.iter().map(|r| r.seq).collect::<Vec<_>>())
    .bind(s.iter().map(|r| r.speaker_id).collect::<Vec<_>>())
    .bind(s.iter().map(|r| r.start_ms).collect::<Vec<_>>())
    .bind(s.iter().map(|r| r.end_ms).collect::<Vec<_>>())
    .bind(s.iter().map(|r| r.text.as_str()).collect::<Vec<_>>())
    .bind(tenant)
    .execute(conn)
    .await?;
    Ok(())
}
