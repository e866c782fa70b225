//! `rm.transcript_segments` and full-text search over them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ReadModel, ReadModelError, sql};
use crate::viewer::Viewer;

/// One transcript segment.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SegmentRow {
    /// The interview.
    pub interview_id: Uuid,
    /// 1-based order within the interview.
    pub seq: i32,
    /// Who spoke.
    pub speaker_id: Uuid,
    /// Offset of the first word.
    pub start_ms: i64,
    /// Offset after the last word.
    pub end_ms: i64,
    /// What was said.
    pub text: String,
}

/// A segment matching a search, with its rank.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HitRow {
    /// The segment.
    #[sqlx(flatten)]
    pub segment: SegmentRow,
    /// `ts_rank` of the segment for the query (a PostgreSQL `real`).
    pub rank: f32,
}

/// Where a page of hits starts: strictly after `(rank DESC, interview_id, seq)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitCursor {
    /// Rank of the last hit seen, exactly as PostgreSQL computed it.
    pub rank: f32,
    /// Its interview.
    pub interview_id: Uuid,
    /// Its segment.
    pub seq: i32,
}

const SEGMENT_COLUMNS: &str = "interview_id, seq, speaker_id, start_ms, end_ms, text";

impl ReadModel {
    /// Up to `limit` segments of one interview after segment `after_seq`, in order.
    pub async fn transcript_page(
        &self,
        viewer: &Viewer,
        interview_id: Uuid,
        after_seq: Option<i32>,
        limit: i64,
    ) -> Result<Vec<SegmentRow>, ReadModelError> {
        let sql_text = format!(
            "SELECT {SEGMENT_COLUMNS} FROM rm.transcript_segments \
             WHERE tenant = $4 AND interview_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let mut tx = self.reader(viewer, "transcript_page").await?;
        sqlx::query_as(&sql_text)
            .bind(interview_id)
            .bind(after_seq.unwrap_or(0))
            .bind(limit)
            .bind(viewer.tenant.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(sql("transcript_page"))
    }

    /// Up to `limit` segments matching the web-search style `query`, best rank first.
    pub async fn search_transcripts(
        &self,
        viewer: &Viewer,
        query: &str,
        after: Option<&HitCursor>,
        limit: i64,
    ) -> Result<Vec<HitRow>, ReadModelError> {
        let sql_text = format!(
            "SELECT * FROM ( \
               SELECT {SEGMENT_COLUMNS}, ts_rank(s.tsv, q) AS rank \
               FROM rm.transcript_segments s, websearch_to_tsquery('english', $1) q \
               WHERE s.tenant = $6 AND s.tsv @@ q \
             ) hits \
             WHERE $2::real IS NULL OR rank < $2::real \
                OR (rank = $2::real AND (interview_id, seq) > ($3::uuid, $4::integer)) \
             ORDER BY rank DESC, interview_id, seq LIMIT $5"
        );
        let mut tx = self.reader(viewer, "search_transcripts").await?;
        sqlx::query_as(&sql_text)
            .bind(query)
            .bind(after.map(|c| c.rank))
            .bind(after.map(|c| c.interview_id))
            .bind(after.map(|c| c.seq))
            .bind(limit)
            .bind(viewer.tenant.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(sql("search_transcripts"))
    }
}
