//! `InterviewConnection`, `InterviewFilter` and keyset paging over interviews.

use async_graphql::{InputObject, Object, SimpleObject};
use uuid::Uuid;

use super::connection::{PageInfo, decode_after, encode_cursor, page_size, split_page};
use super::enums::{InterviewKind, InterviewOrder, InterviewStatus};
use super::interview::{Interview, int};
use super::prefetch::{Prefetch, Wants};
use super::scalars::DateTime;
use crate::error::QueryResult;
use crate::read_model::{InterviewCursor, InterviewFilter, ReadModel, SortOrder};
use crate::viewer::Viewer;

/// Which interviews to list; every given field narrows the list (AND).
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "InterviewFilter")]
pub struct InterviewFilterInput {
    /// Status is one of these.
    pub status: Option<Vec<InterviewStatus>>,
    /// Kind is one of these.
    pub kind: Option<Vec<InterviewKind>>,
    /// This candidate.
    pub candidate_id: Option<Uuid>,
    /// This person sits on the panel.
    pub interviewer_id: Option<Uuid>,
    /// Exactly this position.
    pub position: Option<String>,
    /// Starts at or after this instant.
    pub starts_from: Option<DateTime>,
    /// Starts before this instant.
    pub starts_before: Option<DateTime>,
}

impl InterviewFilterInput {
    /// The read model's filter.
    pub(crate) fn into_filter(self) -> InterviewFilter {
        InterviewFilter {
            statuses: self
                .status
                .map(|v| v.into_iter().map(|s| s.as_str().to_owned()).collect()),
            kinds: self
                .kind
                .map(|v| v.into_iter().map(|k| k.as_str().to_owned()).collect()),
            candidate_id: self.candidate_id,
            interviewer_id: self.interviewer_id,
            participant_id: None,
            position: self.position,
            starts_from: self.starts_from.map(|t| t.0),
            starts_before: self.starts_before.map(|t| t.0),
        }
    }
}

/// One interview of a page.
#[derive(SimpleObject)]
pub struct InterviewEdge {
    /// Pass as `after` to continue after this interview.
    cursor: String,
    /// The interview.
    node: Interview,
}

/// A page of interviews.
pub struct InterviewConnection {
    edges: Vec<InterviewEdge>,
    has_next_page: bool,
    read_model: ReadModel,
    viewer: Viewer,
    filter: InterviewFilter,
}

/// Cursors are tied to the order they were made in: an ascending cursor means nothing
/// to a descending list.
fn cursor_kind(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "interviews-asc",
        SortOrder::Desc => "interviews-desc",
    }
}

impl InterviewConnection {
    /// Loads the page after `after`, and ahead what `wants` says its interviews need;
    /// `totalCount` is counted only when asked for.
    pub(crate) async fn load(
        read_model: &ReadModel,
        viewer: &Viewer,
        filter: InterviewFilter,
        order: InterviewOrder,
        first: Option<i32>,
        after: Option<&str>,
        wants: Wants,
    ) -> QueryResult<Self> {
        let limit = page_size(first, 20)?;
        let order = match order {
            InterviewOrder::StartsAtAsc => SortOrder::Asc,
            InterviewOrder::StartsAtDesc => SortOrder::Desc,
        };
        let kind = cursor_kind(order);
        let after: Option<InterviewCursor> = decode_after(kind, after)?;
        let rows = read_model
            .interviews_page(viewer, &filter, order, after.as_ref(), limit + 1)
            .await?;
        let (rows, has_next_page) = split_page(rows, limit);
        let pre = Prefetch::load(read_model, viewer, &rows, wants).await?;
        let edges = rows
            .into_iter()
            .map(|row| InterviewEdge {
                cursor: encode_cursor(
                    kind,
                    &InterviewCursor {
                        starts_at: row.starts_at,
                        id: row.id,
                    },
                ),
                node: Interview::prefetched(row, pre.clone()),
            })
            .collect();
        Ok(InterviewConnection {
            edges,
            has_next_page,
            read_model: read_model.clone(),
            viewer: viewer.clone(),
            filter,
        })
    }
}

#[Object]
impl InterviewConnection {
    /// The interviews of this page.
    async fn edges(&self) -> &[InterviewEdge] {
        &self.edges
    }

    /// Where this page ends.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            end_cursor: self.edges.last().map(|e| e.cursor.clone()),
        }
    }

    /// Every interview matching the filter, across all pages.
    async fn total_count(&self) -> QueryResult<i32> {
        Ok(int(self
            .read_model
            .interviews_count(&self.viewer, &self.filter)
            .await?))
    }
}
