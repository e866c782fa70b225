//! Transcripts: an interview's segments, and full-text search over all of them.

use std::collections::HashMap;

use async_graphql::{Context, Lookahead, Object, SimpleObject};
use uuid::Uuid;

use super::connection::{PageInfo, decode_after, encode_cursor, page_size, split_page};
use super::interview::{Interview, int};
use super::loaders;
use super::prefetch::{Prefetch, Wants};
use crate::error::{QueryError, QueryResult};
use crate::read_model::{HitCursor, ReadModel, SegmentRow};
use crate::viewer::Viewer;

const HIT_CURSOR: &str = "transcript-hits";
/// Longest search query accepted.
const MAX_QUERY_CHARS: usize = 500;

/// One utterance; times in milliseconds from the start of the session.
#[derive(SimpleObject, Debug, Clone)]
pub struct TranscriptSegment {
    /// Who spoke.
    pub speaker_id: Uuid,
    /// Offset of the first word.
    pub start_ms: i32,
    /// Offset after the last word.
    pub end_ms: i32,
    /// What was said.
    pub text: String,
}

impl From<SegmentRow> for TranscriptSegment {
    fn from(row: SegmentRow) -> Self {
        TranscriptSegment {
            speaker_id: row.speaker_id,
            start_ms: int(row.start_ms),
            end_ms: int(row.end_ms),
            text: row.text,
        }
    }
}

/// One segment of a transcript page.
#[derive(SimpleObject)]
pub struct TranscriptEdge {
    /// Pass as `after` to continue after this segment.
    pub cursor: String,
    /// The segment.
    pub node: TranscriptSegment,
}

/// A page of one interview's transcript.
#[derive(SimpleObject)]
pub struct TranscriptConnection {
    /// The segments of this page.
    edges: Vec<TranscriptEdge>,
    /// Where this page ends.
    page_info: PageInfo,
}

impl TranscriptConnection {
    /// A page of `edges`.
    pub(crate) fn new(edges: Vec<TranscriptEdge>, has_next_page: bool) -> Self {
        let end_cursor = edges.last().map(|e| e.cursor.clone());
        TranscriptConnection {
            edges,
            page_info: PageInfo {
                has_next_page,
                end_cursor,
            },
        }
    }
}

/// What the selection under the hits asks for.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HitWants {
    interview: bool,
    below: Wants,
}

impl HitWants {
    /// Reads the selection of a `TranscriptHitConnection`.
    pub(crate) fn of(connection: &Lookahead<'_>) -> Self {
        let interview = connection.field("edges").field("node").field("interview");
        HitWants {
            interview: interview.exists(),
            below: Wants::of(&interview),
        }
    }
}

/// A segment matching a search.
pub struct TranscriptHit {
    interview_id: Uuid,
    interview: Option<Interview>,
    segment: TranscriptSegment,
    rank: f32,
}

#[Object]
impl TranscriptHit {
    /// The interview the segment belongs to.
    async fn interview(&self, ctx: &Context<'_>) -> QueryResult<Interview> {
        if let Some(iv) = &self.interview {
            return Ok(iv.clone());
        }
        let row = loaders(ctx).interview(self.interview_id).await?;
        row.map(Interview::from).ok_or_else(|| {
            QueryError::NotFound(format!(
                "interview {} is not in the read model yet",
                self.interview_id
            ))
        })
    }

    /// The matching segment.
    async fn segment(&self) -> &TranscriptSegment {
        &self.segment
    }

    /// Relevance (`ts_rank`); higher is better.
    async fn rank(&self) -> f64 {
        f64::from(self.rank)
    }
}

/// One hit of a search page.
#[derive(SimpleObject)]
pub struct TranscriptHitEdge {
    /// Pass as `after` to continue after this hit.
    cursor: String,
    /// The hit.
    node: TranscriptHit,
}

/// A page of search hits, best first.
#[derive(SimpleObject)]
pub struct TranscriptHitConnection {
    /// The hits of this page.
    edges: Vec<TranscriptHitEdge>,
    /// Where this page ends.
    page_info: PageInfo,
}

impl TranscriptHitConnection {
    /// Runs the search and loads the page after `after`.
    pub(crate) async fn search(
        read_model: &ReadModel,
        viewer: &Viewer,
        query: &str,
        first: Option<i32>,
        after: Option<String>,
        wants: HitWants,
    ) -> QueryResult<Self> {
        let query = query.trim();
        if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::bad_input(format!(
                "query must be 1..{MAX_QUERY_CHARS} characters"
            )));
        }
        let limit = page_size(first, 20)?;
        let after: Option<HitCursor> = decode_after(HIT_CURSOR, after.as_deref())?;
        let rows = read_model
            .search_transcripts(viewer, query, after.as_ref(), limit + 1)
            .await?;
        let (rows, has_next_page) = split_page(rows, limit);
        let mut interviews = HashMap::new();
        if wants.interview && !rows.is_empty() {
            let ids: Vec<Uuid> = rows.iter().map(|h| h.segment.interview_id).collect();
            let found = read_model.interviews_by_ids(viewer, &ids).await?;
            let pre = Prefetch::load(read_model, viewer, &found, wants.below).await?;
            interviews = found
                .into_iter()
                .map(|row| (row.id, Interview::prefetched(row, pre.clone())))
                .collect();
        }
        let edges: Vec<TranscriptHitEdge> = rows
            .into_iter()
            .map(|hit| TranscriptHitEdge {
                cursor: encode_cursor(
                    HIT_CURSOR,
                    &HitCursor {
                        rank: hit.rank,
                        interview_id: hit.segment.interview_id,
                        seq: hit.segment.seq,
                    },
                ),
                node: TranscriptHit {
                    interview_id: hit.segment.interview_id,
                    interview: interviews.get(&hit.segment.interview_id).cloned(),
                    rank: hit.rank,
                    segment: hit.segment.into(),
                },
            })
            .collect();
        let end_cursor = edges.last().map(|e| e.cursor.clone());
        Ok(TranscriptHitConnection {
            edges,
            page_info: PageInfo {
                has_next_page,
                end_cursor,
            },
        })
    }
}
