//! The GraphQL schema of API.md §3: the `Query` and `Subscription` roots and the types
//! they return.

pub mod access;
mod analytics;
mod connection;
mod enums;
mod guard;
mod history;
mod interview;
mod interviews;
mod people;
mod prefetch;
mod projections;
mod review;
mod scalars;
mod schedule;
mod subscription;
mod transcript;

use async_graphql::{Context, EmptyMutation, Object, Schema};
use uuid::Uuid;

pub use access::Caller;
pub use analytics::Analytics;
pub use enums::{
    DecisionOutcome, InterviewKind, InterviewOrder, InterviewStatus, ProjectionState, Role,
};
pub use guard::Limits;
pub use interview::Interview;
pub use interviews::{InterviewConnection, InterviewFilterInput};
pub use people::{Person, PersonConnection};
pub use projections::ProjectionStatus;
pub use scalars::{Date, DateTime};
pub use schedule::{Schedule, TimeSlot};
pub use subscription::Subscription;
pub use transcript::TranscriptHitConnection;

use crate::context::QueryContext;
use crate::error::{QueryError, QueryResult};
use crate::loaders::Loaders;
use crate::viewer::Viewer;
use access::Field;
use connection::charged;

/// The schema type served.
pub type QuerySchema = Schema<Query, EmptyMutation, Subscription>;

/// Builds the schema on `ctx`. Requests should carry their own [`Viewer`] and
/// [`Loaders`] for it (`request.data(viewer.clone()).data(ctx.loaders(&viewer))`);
/// without them, resolvers fall back to the `default` tenant's viewer and a shared set of
/// its loaders (loaders cache nothing, so sharing is only less batching, never staleness).
pub fn schema(ctx: QueryContext) -> QuerySchema {
    let limits = ctx.limits();
    let fallback = Viewer::default_tenant();
    Schema::build(Query, EmptyMutation, Subscription)
        .data(ctx.loaders(&fallback))
        .data(fallback)
        .data(ctx)
        .extension(guard::Guard(limits))
        .finish()
}

/// The schema in SDL, as served (no database needed).
pub fn sdl() -> String {
    Schema::build(Query, EmptyMutation, Subscription)
        .finish()
        .sdl()
}

/// The context of this request.
pub(crate) fn query_ctx<'a>(ctx: &Context<'a>) -> &'a QueryContext {
    // Always present: `schema()` puts it into the schema data.
    ctx.data_unchecked::<QueryContext>()
}

/// The DataLoaders of this request (or the schema's shared ones).
pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> &'a Loaders {
    ctx.data_unchecked::<Loaders>()
}

/// Whom this request reads for: the request's [`Viewer`] (or the schema's fallback, the
/// `default` tenant's). Every read passes it on whole.
pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    // Always present: `schema()` puts a fallback into the schema data.
    ctx.data_unchecked::<Viewer>()
}

/// The root of every query.
pub struct Query;

#[Object]
impl Query {
    /// One interview; null when there is none with that id.
    async fn interview(&self, ctx: &Context<'_>, id: Uuid) -> QueryResult<Option<Interview>> {
        let row = loaders(ctx).interview(id).await?;
        access::interview(ctx, Field::Interview, row.as_ref())?;
        Ok(row.map(Interview::from))
    }

    /// Interviews matching every given filter, keyset-paged.
    #[graphql(complexity = "1 + charged(first, 20).saturating_mul(child_complexity)")]
    async fn interviews(
        &self,
        ctx: &Context<'_>,
        filter: Option<InterviewFilterInput>,
        #[graphql(default_with = "Some(InterviewOrder::StartsAtAsc)")] order_by: Option<
            InterviewOrder,
        >,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> QueryResult<InterviewConnection> {
        let filter = filter.map(|f| f.into_filter()).unwrap_or_default();
        let filter = access::scoped(ctx, Field::Interviews, filter)?;
        InterviewConnection::load(
            query_ctx(ctx).read_model(),
            viewer(ctx),
            filter,
            order_by.unwrap_or_default(),
            first,
            after.as_deref(),
            prefetch::Wants::of_connection(&ctx.look_ahead()),
        )
        .await
    }

    /// One person; null when there is none with that id.
    async fn person(&self, ctx: &Context<'_>, id: Uuid) -> QueryResult<Option<Person>> {
        access::person(ctx, Field::Person, id)?;
        let row = loaders(ctx).person(id).await?;
        Ok(row.map(Person::from))
    }

    /// People by name, optionally with a role and a name containing `search`.
    #[graphql(complexity = "1 + charged(first, 20).saturating_mul(child_complexity)")]
    async fn people(
        &self,
        ctx: &Context<'_>,
        role: Option<Role>,
        search: Option<String>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> QueryResult<PersonConnection> {
        access::require(ctx, Field::People)?;
        PersonConnection::load(
            query_ctx(ctx).read_model(),
            viewer(ctx),
            role,
            search,
            first,
            after,
        )
        .await
    }

    /// A person's availability, bookings and free time within `[from, to)`.
    async fn schedule(
        &self,
        ctx: &Context<'_>,
        person_id: Uuid,
        from: DateTime,
        to: DateTime,
    ) -> QueryResult<Schedule> {
        access::person(ctx, Field::Schedule, person_id)?;
        schedule::schedule(
            query_ctx(ctx).read_model(),
            viewer(ctx),
            person_id,
            from.0,
            to.0,
        )
        .await
    }

    /// Intervals of `[from, to)` at least `durationMinutes` long in which every listed
    /// person is free, by start, at most `limit`.
    #[graphql(complexity = "1 + schedule::charged_limit(limit).saturating_mul(child_complexity)")]
    async fn availability(
        &self,
        ctx: &Context<'_>,
        person_ids: Vec<Uuid>,
        from: DateTime,
        to: DateTime,
        duration_minutes: i32,
        #[graphql(default = 50)] limit: Option<i32>,
    ) -> QueryResult<Vec<TimeSlot>> {
        access::people(ctx, Field::Availability, &person_ids)?;
        let query = schedule::AvailabilityQuery {
            person_ids,
            from: from.0,
            to: to.0,
            duration_minutes,
            limit: limit.unwrap_or(50),
        };
        schedule::availability(query_ctx(ctx).read_model(), viewer(ctx), query).await
    }

    /// Transcript segments matching a web-search style query, best first.
    #[graphql(complexity = "1 + charged(first, 20).saturating_mul(child_complexity)")]
    async fn search_transcripts(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> QueryResult<TranscriptHitConnection> {
        access::require(ctx, Field::SearchTranscripts)?;
        let wants = transcript::HitWants::of(&ctx.look_ahead());
        TranscriptHitConnection::search(
            query_ctx(ctx).read_model(),
            viewer(ctx),
            &query,
            first,
            after,
            wants,
        )
        .await
    }

    /// Aggregates over interviews.
    async fn analytics(&self, ctx: &Context<'_>) -> QueryResult<Analytics> {
        access::require(ctx, Field::Analytics)?;
        Ok(Analytics)
    }

    /// Where each projection stands.
    async fn projections(&self, ctx: &Context<'_>) -> QueryResult<Vec<ProjectionStatus>> {
        access::require(ctx, Field::Projections)?;
        let rows = query_ctx(ctx).read_model().checkpoints().await?;
        rows.into_iter().map(ProjectionStatus::try_from).collect()
    }
}

/// Refuses an empty or inverted `[from, to)`, or one longer than `max_days`.
pub(crate) fn check_range(
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    max_days: i64,
) -> QueryResult<()> {
    if from >= to {
        return Err(QueryError::bad_input("from must be before to"));
    }
    if to - from > chrono::TimeDelta::days(max_days) {
        return Err(QueryError::bad_input(format!(
            "the range from..to may span at most {max_days} days"
        )));
    }
    Ok(())
}
