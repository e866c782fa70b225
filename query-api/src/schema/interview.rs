//! The `Interview` type.

use std::sync::Arc;

use async_graphql::{Context, Object};
use uuid::Uuid;

use super::access::{self, Field};
use super::connection::{charged, decode_after, encode_cursor, page_size, split_page};
use super::enums::{InterviewKind, InterviewStatus, Stored};
use super::history::{self, HistoryEntry, InterviewSnapshot};
use super::people::{Person, load_people, load_person};
use super::prefetch::Prefetch;
use super::review::{Decision, Feedback};
use super::scalars::DateTime;
use super::transcript::{TranscriptConnection, TranscriptEdge, TranscriptSegment};
use super::{loaders, query_ctx, viewer};
use crate::error::QueryResult;
use crate::read_model::InterviewRow;

const TRANSCRIPT_CURSOR: &str = "transcript";

/// An interview as the read model has it, with whatever its list prefetched.
#[derive(Debug, Clone)]
pub struct Interview {
    row: InterviewRow,
    pre: Arc<Prefetch>,
}

impl From<InterviewRow> for Interview {
    fn from(row: InterviewRow) -> Self {
        Interview {
            row,
            pre: Arc::default(),
        }
    }
}

impl Interview {
    /// An interview of a list whose related rows were loaded ahead.
    pub(crate) fn prefetched(row: InterviewRow, pre: Arc<Prefetch>) -> Self {
        Interview { row, pre }
    }
}

/// Clamps a stored 64-bit count into GraphQL's 32-bit `Int`.
pub(crate) fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

#[Object]
impl Interview {
    /// The interview's id.
    async fn id(&self) -> Uuid {
        self.row.id
    }

    /// Where it is in its lifecycle.
    async fn status(&self) -> QueryResult<InterviewStatus> {
        Ok(InterviewStatus::from_stored(&self.row.status)?)
    }

    /// What sort of interview it is.
    async fn kind(&self) -> QueryResult<InterviewKind> {
        Ok(InterviewKind::from_stored(&self.row.kind)?)
    }

    /// The position hired for.
    async fn position(&self) -> &str {
        &self.row.position
    }

    /// Current start.
    async fn starts_at(&self) -> DateTime {
        self.row.starts_at.into()
    }

    /// Current end (exclusive).
    async fn ends_at(&self) -> DateTime {
        self.row.ends_at.into()
    }

    /// Scheduled length in minutes.
    async fn duration_minutes(&self) -> i32 {
        self.row.duration_minutes
    }

    /// Room or link.
    async fn location(&self) -> Option<&str> {
        self.row.location.as_deref()
    }

    /// The candidate.
    async fn candidate(&self, ctx: &Context<'_>) -> QueryResult<Person> {
        match self.pre.person(self.row.candidate_id) {
            Some(row) => Ok(Person(row.clone())),
            None => load_person(loaders(ctx), self.row.candidate_id).await,
        }
    }

    /// The panel, in the order it was given.
    async fn interviewers(&self, ctx: &Context<'_>) -> QueryResult<Vec<Person>> {
        let ids = &self.row.interviewer_ids;
        let ahead: Option<Vec<Person>> = ids
            .iter()
            .map(|id| self.pre.person(*id).cloned().map(Person))
            .collect();
        match ahead {
            Some(people) => Ok(people),
            None => load_people(loaders(ctx), ids).await,
        }
    }

    /// When the session began.
    async fn started_at(&self) -> Option<DateTime> {
        self.row.started_at.map(DateTime)
    }

    /// When the session ended.
    async fn completed_at(&self) -> Option<DateTime> {
        self.row.completed_at.map(DateTime)
    }

    /// Actual length of the session, once completed.
    async fn actual_duration_seconds(&self) -> Option<i32> {
        self.row.actual_duration_seconds.map(int)
    }

    /// Why it was cancelled.
    async fn cancellation_reason(&self) -> Option<&str> {
        self.row.cancellation_reason.as_deref()
    }

    /// The panel's feedback, oldest first.
    async fn feedback(&self, ctx: &Context<'_>) -> QueryResult<Vec<Feedback>> {
        let rows = match self.pre.feedback(self.row.id) {
            Some(rows) => rows.to_vec(),
            None => loaders(ctx)
                .feedback
                .load_one(self.row.id)
                .await?
                .unwrap_or_default(),
        };
        access::feedback(ctx, &self.row, &rows)?;
        Ok(rows
            .into_iter()
            .map(|row| Feedback::new(row, self.pre.clone()))
            .collect())
    }

    /// The hiring decision, once made.
    async fn decision(&self, ctx: &Context<'_>) -> QueryResult<Option<Decision>> {
        access::interview(ctx, Field::Decision, Some(&self.row))?;
        Decision::from_row(&self.row)
    }

    /// The transcript in spoken order, paged.
    #[graphql(complexity = "1 + charged(first, 100).saturating_mul(child_complexity)")]
    async fn transcript(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> QueryResult<TranscriptConnection> {
        access::interview(ctx, Field::Transcript, Some(&self.row))?;
        let limit = page_size(first, 100)?;
        let after_seq: Option<i32> = decode_after(TRANSCRIPT_CURSOR, after.as_deref())?;
        let rows = query_ctx(ctx)
            .read_model()
            .transcript_page(viewer(ctx), self.row.id, after_seq, limit + 1)
            .await?;
        let (rows, has_next_page) = split_page(rows, limit);
        let edges = rows
            .into_iter()
            .map(|row| TranscriptEdge {
                cursor: encode_cursor(TRANSCRIPT_CURSOR, &row.seq),
                node: TranscriptSegment::from(row),
            })
            .collect();
        Ok(TranscriptConnection::new(edges, has_next_page))
    }

    /// Events applied to this interview.
    async fn version(&self) -> i32 {
        int(self.row.version)
    }

    /// Last change.
    async fn updated_at(&self) -> DateTime {
        self.row.updated_at.into()
    }

    /// The interview's own stream, oldest first: the audit trail.
    async fn history(&self, ctx: &Context<'_>) -> QueryResult<Vec<HistoryEntry>> {
        access::interview(ctx, Field::History, Some(&self.row))?;
        history::history(query_ctx(ctx).store(), viewer(ctx), self.row.id).await
    }

    /// The interview as it stood at `at`, rebuilt from its events; null if it did not exist yet.
    async fn as_of(
        &self,
        ctx: &Context<'_>,
        at: DateTime,
    ) -> QueryResult<Option<InterviewSnapshot>> {
        access::interview(ctx, Field::AsOf, Some(&self.row))?;
        history::as_of(query_ctx(ctx).store(), viewer(ctx), self.row.id, at.0).await
    }
}
