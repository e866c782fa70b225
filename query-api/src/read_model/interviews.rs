//! `rm.interviews`, `rm.feedback`, `rm.competency_scores`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{ReadModel, ReadModelError, read_through, sql};
use crate::viewer::Viewer;

/// One row of `rm.interviews`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InterviewRow {
    /// The interview's id.
    pub id: Uuid,
    /// The candidate.
    pub candidate_id: Uuid,
    /// The panel, in the order given.
    pub interviewer_ids: Vec<Uuid>,
    /// Position hired for.
    pub position: String,
    /// Kind, lower_snake.
    pub kind: String,
    /// Status, lower_snake.
    pub status: String,
    /// Current start.
    pub starts_at: DateTime<Utc>,
    /// Current end.
    pub ends_at: DateTime<Utc>,
    /// Scheduled length.
    pub duration_minutes: i32,
    /// Room or link.
    pub location: Option<String>,
    /// When the session began.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub completed_at: Option<DateTime<Utc>>,
    /// Actual length.
    pub actual_duration_seconds: Option<i64>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// Decision outcome, lower_snake.
    pub decision_outcome: Option<String>,
    /// Who decided.
    pub decided_by: Option<Uuid>,
    /// Why.
    pub decision_reason: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// Events applied.
    pub version: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Which interviews a page or count covers; every `Some` narrows it (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterviewFilter {
    /// Status in this list (lower_snake).
    pub statuses: Option<Vec<String>>,
    /// Kind in this list (lower_snake).
    pub kinds: Option<Vec<String>>,
    /// This candidate.
    pub candidate_id: Option<Uuid>,
    /// This person on the panel.
    pub interviewer_id: Option<Uuid>,
    /// This person as candidate or on the panel.
    pub participant_id: Option<Uuid>,
    /// Exactly this position.
    pub position: Option<String>,
    /// `starts_at >= starts_from`.
    pub starts_from: Option<DateTime<Utc>>,
    /// `starts_at < starts_before`.
    pub starts_before: Option<DateTime<Utc>>,
}

/// Order of an interview page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortOrder {
    /// Earliest first.
    Asc,
    /// Latest first.
    Desc,
}

/// Where a page of interviews starts: strictly after `(starts_at, id)` in the page's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterviewCursor {
    /// Start of the last interview seen.
    pub starts_at: DateTime<Utc>,
    /// Its id.
    pub id: Uuid,
}

/// One row of `rm.feedback`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FeedbackRow {
    /// The interview.
    pub interview_id: Uuid,
    /// Who gave it.
    pub interviewer_id: Uuid,
    /// Overall rating 1..4.
    pub rating: i32,
    /// Free notes.
    pub notes: Option<String>,
    /// When.
    pub submitted_at: DateTime<Utc>,
}

/// One row of `rm.competency_scores`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CompetencyRow {
    /// The interview.
    pub interview_id: Uuid,
    /// Whose feedback.
    pub interviewer_id: Uuid,
    /// Competency name.
    pub name: String,
    /// Score 1..5.
    pub score: i32,
}

const COLUMNS: &str = "id, candidate_id, interviewer_ids, position, kind, status, starts_at, \
     ends_at, duration_minutes, location, started_at, completed_at, actual_duration_seconds, \
     cancellation_reason, decision_outcome, decided_by, decision_reason, decided_at, version, \
     updated_at";

/// Appends ` AND <condition>` for every narrowing part of `filter`.
fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, viewer: &Viewer, filter: &InterviewFilter) {
    qb.push(" WHERE tenant = ")
        .push_bind(viewer.tenant.as_str().to_owned());
    if let Some(statuses) = &filter.statuses {
        qb.push(" AND status = ANY(")
            .push_bind(statuses.clone())
            .push(")");
    }
    if let Some(kinds) = &filter.kinds {
        qb.push(" AND kind = ANY(")
            .push_bind(kinds.clone())
            .push(")");
    }
    if let Some(id) = filter.candidate_id {
        qb.push(" AND candidate_id = ").push_bind(id);
    }
    if let Some(id) = filter.interviewer_id {
        // `@>` rather than `= ANY` so the GIN index on the panel serves it.
        qb.push(" AND interviewer_ids @> ARRAY[")
            .push_bind(id)
            .push("]::uuid[]");
    }
    if let Some(id) = filter.participant_id {
        qb.push(" AND (candidate_id = ")
            .push_bind(id)
            .push(" OR interviewer_ids @> ARRAY[")
            .push_bind(id)
            .push("]::uuid[])");
    }
    if let Some(position) = &filter.position {
        qb.push(" AND position = ").push_bind(position.clone());
    }
    if let Some(from) = filter.starts_from {
        qb.push(" AND starts_at >= ").push_bind(from);
    }
    if let Some(before) = filter.starts_before {
        qb.push(" AND starts_at < ").push_bind(before);
    }
}

impl ReadModel {
    /// The interviews with these ids (missing ids are simply absent): those in the
    /// cache from memory, the others in one statement, which then go into the cache.
    pub async fn interviews_by_ids(
        &self,
        viewer: &Viewer,
        ids: &[Uuid],
    ) -> Result<Vec<InterviewRow>, ReadModelError> {
        let Some(cache) = self.cache() else {
            return self.select_interviews(viewer, ids).await;
        };
        let tenant = &viewer.tenant;
        read_through(
            cache.lookup_interviews(tenant, ids),
            async |missing| self.select_interviews(viewer, missing).await,
            |ticket, rows| cache.fill_interviews(ticket, tenant, rows),
        )
        .await
    }

    async fn select_interviews(
        &self,
        viewer: &Viewer,
        ids: &[Uuid],
    ) -> Result<Vec<InterviewRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "interviews_by_ids").await?;
        let sql_text =
            format!("SELECT {COLUMNS} FROM rm.interviews WHERE tenant = $2 AND id = ANY($1)");
        sqlx::query_as(&sql_text)
            .bind(ids)
            .bind(viewer.tenant.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(sql("interviews_by_ids"))
    }

    /// Up to `limit` interviews matching `filter`, keyset-paged on `(starts_at, id)`.
    pub async fn interviews_page(
        &self,
        viewer: &Viewer,
        filter: &InterviewFilter,
        order: SortOrder,
        after: Option<&InterviewCursor>,
        limit: i64,
    ) -> Result<Vec<InterviewRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "interviews_page").await?;
        let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM rm.interviews"));
        push_filter(&mut qb, viewer, filter);
        let (cmp, dir) = match order {
            SortOrder::Asc => (">", "ASC"),
            SortOrder::Desc => ("<", "DESC"),
        };
        if let Some(c) = after {
            qb.push(format!(" AND (starts_at, id) {cmp} ("))
                .push_bind(c.starts_at)
                .push(", ")
                .push_bind(c.id)
                .push(")");
        }
        qb.push(format!(" ORDER BY starts_at {dir}, id {dir} LIMIT "))
            .push_bind(limit);
        qb.build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(sql("interviews_page"))
    }

    /// How many interviews match `filter`.
    pub async fn interviews_count(
        &self,
        viewer: &Viewer,
        filter: &InterviewFilter,
    ) -> Result<i64, ReadModelError> {
        let mut tx = self.reader(viewer, "interviews_count").await?;
        let mut qb = QueryBuilder::new("SELECT count(*) FROM rm.interviews");
        push_filter(&mut qb, viewer, filter);
        qb.build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(sql("interviews_count"))
    }

    /// Feedback of these interviews, oldest first.
    pub async fn feedback_for(
        &self,
        viewer: &Viewer,
        interview_ids: &[Uuid],
    ) -> Result<Vec<FeedbackRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "feedback_for").await?;
        sqlx::query_as(
            "SELECT interview_id, interviewer_id, rating, notes, submitted_at \
             FROM rm.feedback WHERE tenant = $2 AND interview_id = ANY($1) \
             ORDER BY submitted_at, interviewer_id",
        )
        .bind(interview_ids)
        .bind(viewer.tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(sql("feedback_for"))
    }

    /// Competency scores of these `(interview, interviewer)` feedbacks, in given order.
    pub async fn competencies_for(
        &self,
        viewer: &Viewer,
        keys: &[(Uuid, Uuid)],
    ) -> Result<Vec<CompetencyRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "competencies_for").await?;
        let (interviews, interviewers): (Vec<Uuid>, Vec<Uuid>) = keys.iter().copied().unzip();
        sqlx::query_as(
            "SELECT c.interview_id, c.interviewer_id, c.name, c.score \
             FROM rm.competency_scores c \
             JOIN unnest($1::uuid[], $2::uuid[]) AS k(interview_id, interviewer_id) \
               ON c.interview_id = k.interview_id AND c.interviewer_id = k.interviewer_id \
             WHERE c.tenant = $3 \
             ORDER BY c.interview_id, c.interviewer_id, c.ordinal",
        )
        .bind(interviews)
        .bind(interviewers)
        .bind(viewer.tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(sql("competencies_for"))
    }
}
