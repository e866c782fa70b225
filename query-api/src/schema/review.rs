//! `Feedback`, `CompetencyScore` and `Decision`.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};
use uuid::Uuid;

use super::enums::{DecisionOutcome, Stored};
use super::loaders;
use super::people::{Person, load_person};
use super::prefetch::Prefetch;
use super::scalars::DateTime;
use crate::error::QueryResult;
use crate::read_model::{FeedbackRow, InterviewRow};

/// One panel member's feedback.
pub struct Feedback {
    row: FeedbackRow,
    pre: Arc<Prefetch>,
}

impl Feedback {
    /// A feedback, with what its interview's list prefetched.
    pub(crate) fn new(row: FeedbackRow, pre: Arc<Prefetch>) -> Self {
        Feedback { row, pre }
    }
}

#[Object]
impl Feedback {
    /// Who gave it.
    async fn interviewer(&self, ctx: &Context<'_>) -> QueryResult<Person> {
        match self.pre.person(self.row.interviewer_id) {
            Some(row) => Ok(Person(row.clone())),
            None => load_person(loaders(ctx), self.row.interviewer_id).await,
        }
    }

    /// Overall rating, 1..4.
    async fn rating(&self) -> i32 {
        self.row.rating
    }

    /// Scores per competency, in the order given.
    async fn competencies(&self, ctx: &Context<'_>) -> QueryResult<Vec<CompetencyScore>> {
        let key = (self.row.interview_id, self.row.interviewer_id);
        let rows = match self.pre.scores(key) {
            Some(rows) => rows.to_vec(),
            None => loaders(ctx)
                .competencies
                .load_one(key)
                .await?
                .unwrap_or_default(),
        };
        Ok(rows
            .into_iter()
            .map(|r| CompetencyScore {
                name: r.name,
                score: r.score,
            })
            .collect())
    }

    /// Free notes.
    async fn notes(&self) -> Option<&str> {
        self.row.notes.as_deref()
    }

    /// When it was submitted.
    async fn submitted_at(&self) -> DateTime {
        self.row.submitted_at.into()
    }
}

/// One competency's score.
#[derive(SimpleObject, Debug, Clone)]
pub struct CompetencyScore {
    /// Competency name.
    pub name: String,
    /// Score, 1..5.
    pub score: i32,
}

/// The hiring decision taken after an interview.
#[derive(SimpleObject, Debug, Clone)]
pub struct Decision {
    /// The outcome.
    pub outcome: DecisionOutcome,
    /// Who decided.
    pub decided_by: Uuid,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub decided_at: DateTime,
}

impl Decision {
    /// The decision stored on an interview row, if any.
    pub(crate) fn from_row(row: &InterviewRow) -> QueryResult<Option<Decision>> {
        let (Some(outcome), Some(decided_by)) = (&row.decision_outcome, row.decided_by) else {
            return Ok(None);
        };
        Ok(Some(Decision {
            outcome: DecisionOutcome::from_stored(outcome)?,
            decided_by,
            reason: row.decision_reason.clone(),
            decided_at: row.decided_at.unwrap_or(row.updated_at).into(),
        }))
    }
}
