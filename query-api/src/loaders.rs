//! DataLoaders: batch the per-object reads of one request into one statement per kind,
//! so a page of interviews with people, feedback and scores costs a fixed number of
//! round trips whatever its size.
//!
//! They cache nothing ([`NoCache`]): one batch serves the loads of one moment, so a
//! loader can live as long as a WebSocket connection without serving stale rows. Rows by
//! id do come from the read model's [`RowCache`](crate::read_model::RowCache) when it
//! holds them, which the notifications keep fresh; [`Loaders::interview`],
//! [`Loaders::person`] and [`Loaders::people`] look there first, so a request whose
//! rows are all held does not wait out a loader's batching delay.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader, NoCache};
use uuid::Uuid;

use crate::read_model::{
    CompetencyRow, Dep, FeedbackRow, InterviewRow, PersonRow, ReadModel, ReadModelError, Reads,
};
use crate::viewer::Viewer;

/// The loaders of one request (or one WebSocket connection): they read for its
/// [`Viewer`] only.
#[derive(Clone)]
pub struct Loaders {
    read_model: ReadModel,
    viewer: Viewer,
    /// The rows read by id through [`Loaders::interview`], [`Loaders::person`] and
    /// [`Loaders::people`], when asked to keep track ([`Loaders::tracking_reads`]).
    reads: Option<Arc<Reads>>,
    /// `rm.people` by id.
    pub people: Arc<DataLoader<PersonLoader, NoCache>>,
    /// `rm.interviews` by id.
    pub interviews: Arc<DataLoader<InterviewLoader, NoCache>>,
    /// `rm.feedback` by interview id.
    pub feedback: Arc<DataLoader<FeedbackLoader, NoCache>>,
    /// `rm.competency_scores` by (interview id, interviewer id).
    pub competencies: Arc<DataLoader<CompetencyLoader, NoCache>>,
}

impl Loaders {
    /// Fresh loaders reading through `read_model` for `viewer`.
    pub fn new(read_model: &ReadModel, viewer: &Viewer) -> Self {
        let rm = || (read_model.clone(), viewer.clone());
        Loaders {
            read_model: read_model.clone(),
            viewer: viewer.clone(),
            reads: None,
            people: Arc::new(DataLoader::new(PersonLoader(rm()), tokio::spawn)),
            interviews: Arc::new(DataLoader::new(InterviewLoader(rm()), tokio::spawn)),
            feedback: Arc::new(DataLoader::new(FeedbackLoader(rm()), tokio::spawn)),
            competencies: Arc::new(DataLoader::new(CompetencyLoader(rm()), tokio::spawn)),
        }
    }

    /// Whom they read for.
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }

    /// These loaders, keeping track of what is read (for one request's answer to be
    /// kept in the response cache), and the record.
    pub fn tracking_reads(mut self) -> (Self, Arc<Reads>) {
        let reads = Arc::new(Reads::default());
        self.reads = Some(reads.clone());
        (self, reads)
    }

    fn note(&self, deps: impl IntoIterator<Item = Dep>) {
        if let Some(r) = &self.reads {
            r.record(deps);
        }
    }

    /// The record of reads, if kept.
    pub fn reads(&self) -> Option<&Reads> {
        self.reads.as_deref()
    }

    /// The interview `id`: from the row cache if held, else through the loader.
    pub async fn interview(&self, id: Uuid) -> Result<Option<InterviewRow>, Arc<ReadModelError>> {
        self.note([Dep::Interview(id)]);
        if let Some(row) = self
            .read_model
            .cache()
            .and_then(|c| c.interview(&self.viewer.tenant, id))
        {
            return Ok(Some(row));
        }
        self.interviews.load_one(id).await
    }

    /// The person `id`: from the row cache if held, else through the loader.
    pub async fn person(&self, id: Uuid) -> Result<Option<PersonRow>, Arc<ReadModelError>> {
        self.note([Dep::Person(id)]);
        if let Some(mut rows) = self
            .read_model
            .cache()
            .and_then(|c| c.people(&self.viewer.tenant, &[id]))
        {
            return Ok(rows.pop());
        }
        self.people.load_one(id).await
    }

    /// The people `ids` that exist: from the row cache if it holds them all, else
    /// through the loader.
    pub async fn people(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, PersonRow>, Arc<ReadModelError>> {
        self.note(ids.iter().copied().map(Dep::Person));
        if let Some(rows) = self
            .read_model
            .cache()
            .and_then(|c| c.people(&self.viewer.tenant, ids))
        {
            return Ok(rows.into_iter().map(|r| (r.id, r)).collect());
        }
        self.people.load_many(ids.iter().copied()).await
    }
}

type Batch<K, V> = Result<HashMap<K, V>, Arc<ReadModelError>>;

/// Loads people by id.
pub struct PersonLoader((ReadModel, Viewer));

impl Loader<Uuid> for PersonLoader {
    type Value = PersonRow;
    type Error = Arc<ReadModelError>;

    async fn load(&self, keys: &[Uuid]) -> Batch<Uuid, PersonRow> {
        let rows = self.0.0.people_by_ids(&self.0.1, keys).await?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

/// Loads interviews by id.
pub struct InterviewLoader((ReadModel, Viewer));

impl Loader<Uuid> for InterviewLoader {
    type Value = InterviewRow;
    type Error = Arc<ReadModelError>;

    async fn load(&self, keys: &[Uuid]) -> Batch<Uuid, InterviewRow> {
        let rows = self.0.0.interviews_by_ids(&self.0.1, keys).await?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

/// Loads the feedback of interviews; every key gets a list, empty when none.
pub struct FeedbackLoader((ReadModel, Viewer));

impl Loader<Uuid> for FeedbackLoader {
    type Value = Vec<FeedbackRow>;
    type Error = Arc<ReadModelError>;

    async fn load(&self, keys: &[Uuid]) -> Batch<Uuid, Vec<FeedbackRow>> {
        let mut out: HashMap<Uuid, Vec<FeedbackRow>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in self.0.0.feedback_for(&self.0.1, keys).await? {
            out.entry(row.interview_id).or_default().push(row);
        }
        Ok(out)
    }
}

/// Loads the competency scores of feedbacks; every key gets a list, empty when none.
pub struct CompetencyLoader((ReadModel, Viewer));

impl Loader<(Uuid, Uuid)> for CompetencyLoader {
    type Value = Vec<CompetencyRow>;
    type Error = Arc<ReadModelError>;

    async fn load(&self, keys: &[(Uuid, Uuid)]) -> Batch<(Uuid, Uuid), Vec<CompetencyRow>> {
        let mut out: HashMap<(Uuid, Uuid), Vec<CompetencyRow>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in self.0.0.competencies_for(&self.0.1, keys).await? {
            out.entry((row.interview_id, row.interviewer_id))
                .or_default()
                .push(row);
        }
        Ok(out)
    }
}
