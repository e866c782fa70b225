//! Look-ahead prefetching for lists of interviews.
//!
//! DataLoaders batch what resolvers ask for within a short window, but async-graphql
//! resolves a long list in several polls, so a page of 100 could still be split into
//! several batches. A list resolver therefore looks at the selection below it and
//! loads, for the whole page at once, the people, feedback and competency scores that
//! will be asked for: one statement per kind whatever the page size. Resolvers use
//! what was prefetched and fall back to the DataLoaders for anything else.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::Lookahead;
use uuid::Uuid;

use crate::error::QueryResult;
use crate::read_model::{CompetencyRow, FeedbackRow, InterviewRow, PersonRow, ReadModel};
use crate::viewer::Viewer;

/// What the selection under an `Interview` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Wants {
    people: bool,
    feedback: bool,
    scores: bool,
}

impl Wants {
    /// Reads the selection of an `Interview` (`node` of an edge, `interview` of a hit).
    pub(crate) fn of(interview: &Lookahead<'_>) -> Self {
        let feedback = interview.field("feedback");
        Wants {
            people: interview.field("candidate").exists()
                || interview.field("interviewers").exists()
                || feedback.field("interviewer").exists(),
            feedback: feedback.exists(),
            scores: feedback.field("competencies").exists(),
        }
    }

    /// Reads the selection of a connection of interviews.
    pub(crate) fn of_connection(connection: &Lookahead<'_>) -> Self {
        Wants::of(&connection.field("edges").field("node"))
    }
}

/// Rows loaded ahead for a list of interviews.
#[derive(Debug, Default)]
pub(crate) struct Prefetch {
    people: HashMap<Uuid, PersonRow>,
    feedback: Option<HashMap<Uuid, Vec<FeedbackRow>>>,
    scores: Option<HashMap<(Uuid, Uuid), Vec<CompetencyRow>>>,
}

impl Prefetch {
    /// Loads what `wants` says for `rows`: at most one statement per kind.
    pub(crate) async fn load(
        read_model: &ReadModel,
        viewer: &Viewer,
        rows: &[InterviewRow],
        wants: Wants,
    ) -> QueryResult<Arc<Prefetch>> {
        let mut pre = Prefetch::default();
        if rows.is_empty() {
            return Ok(Arc::new(pre));
        }
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        if wants.people {
            // Feedback comes from panel members, so the panel covers its interviewers.
            let people: HashSet<Uuid> = rows
                .iter()
                .flat_map(|r| {
                    std::iter::once(r.candidate_id).chain(r.interviewer_ids.iter().copied())
                })
                .collect();
            let people: Vec<Uuid> = people.into_iter().collect();
            pre.people = read_model
                .people_by_ids(viewer, &people)
                .await?
                .into_iter()
                .map(|p| (p.id, p))
                .collect();
        }
        if wants.feedback || wants.scores {
            let mut by_interview: HashMap<Uuid, Vec<FeedbackRow>> =
                ids.iter().map(|id| (*id, Vec::new())).collect();
            for f in read_model.feedback_for(viewer, &ids).await? {
                by_interview.entry(f.interview_id).or_default().push(f);
            }
            if wants.scores {
                let keys: Vec<(Uuid, Uuid)> = by_interview
                    .values()
                    .flatten()
                    .map(|f| (f.interview_id, f.interviewer_id))
                    .collect();
                let mut scores: HashMap<(Uuid, Uuid), Vec<CompetencyRow>> =
                    keys.iter().map(|k| (*k, Vec::new())).collect();
                if !keys.is_empty() {
                    for c in read_model.competencies_for(viewer, &keys).await? {
                        scores
                            .entry((c.interview_id, c.interviewer_id))
                            .or_default()
                            .push(c);
                    }
                }
                pre.scores = Some(scores);
            }
            pre.feedback = Some(by_interview);
        }
        Ok(Arc::new(pre))
    }

    /// A prefetched person.
    pub(crate) fn person(&self, id: Uuid) -> Option<&PersonRow> {
        self.people.get(&id)
    }

    /// The prefetched feedback of an interview, if feedback was prefetched.
    pub(crate) fn feedback(&self, interview: Uuid) -> Option<&[FeedbackRow]> {
        self.feedback
            .as_ref()
            .map(|m| m.get(&interview).map(Vec::as_slice).unwrap_or_default())
    }

    /// The prefetched scores of a feedback, if scores were prefetched.
    pub(crate) fn scores(&self, key: (Uuid, Uuid)) -> Option<&[CompetencyRow]> {
        self.scores
            .as_ref()
            .map(|m| m.get(&key).map(Vec::as_slice).unwrap_or_default())
    }
}
