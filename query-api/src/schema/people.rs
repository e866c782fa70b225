//! `Person`, `PersonConnection` and the person lookups other types share.

use async_graphql::{Context, Object, SimpleObject};
use uuid::Uuid;

use super::access::{self, Field};
use super::connection::{PageInfo, charged, decode_after, encode_cursor, page_size, split_page};
use super::enums::{InterviewOrder, InterviewStatus, Role, Stored};
use super::interview::int;
use super::interviews::InterviewConnection;
use super::prefetch::Wants;
use super::{query_ctx, viewer};
use crate::error::{QueryError, QueryResult};
use crate::loaders::Loaders;
use crate::read_model::{InterviewFilter, PersonCursor, PersonRow, ReadModel};
use crate::viewer::Viewer;

const CURSOR: &str = "people";
/// Longest `search` accepted.
const MAX_SEARCH_CHARS: usize = 200;

/// A person as the read model has them.
#[derive(Debug, Clone)]
pub struct Person(pub PersonRow);

impl From<PersonRow> for Person {
    fn from(row: PersonRow) -> Self {
        Person(row)
    }
}

/// The person `id`, which another record points at, through the request's loader.
pub(crate) async fn load_person(loaders: &Loaders, id: Uuid) -> QueryResult<Person> {
    loaders
        .person(id)
        .await?
        .map(Person)
        .ok_or_else(|| missing(id))
}

/// The people `ids`, in that order, in one batch.
pub(crate) async fn load_people(loaders: &Loaders, ids: &[Uuid]) -> QueryResult<Vec<Person>> {
    let mut found = loaders.people(ids).await?;
    ids.iter()
        .map(|id| found.remove(id).map(Person).ok_or_else(|| missing(*id)))
        .collect()
}

fn missing(id: Uuid) -> QueryError {
    QueryError::NotFound(format!(
        "person {id} is not in the read model yet; retry with X-Min-Position"
    ))
}

#[Object]
impl Person {
    /// The person's id.
    async fn id(&self) -> Uuid {
        self.0.id
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Contact email.
    async fn email(&self, ctx: &Context<'_>) -> QueryResult<Option<&str>> {
        access::person(ctx, Field::Email, self.0.id)?;
        Ok(self.0.email.as_deref())
    }

    /// Roles held.
    async fn roles(&self) -> QueryResult<Vec<Role>> {
        let roles: Result<Vec<Role>, _> =
            self.0.roles.iter().map(|r| Role::from_stored(r)).collect();
        Ok(roles?)
    }

    /// IANA timezone name.
    async fn timezone(&self) -> Option<&str> {
        self.0.timezone.as_deref()
    }

    /// Events applied to this person.
    async fn version(&self) -> i32 {
        int(self.0.version)
    }

    /// Interviews this person takes part in (as candidate or on the panel), earliest first.
    #[graphql(complexity = "1 + charged(first, 20).saturating_mul(child_complexity)")]
    async fn interviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        status: Option<InterviewStatus>,
    ) -> QueryResult<InterviewConnection> {
        let filter = InterviewFilter {
            participant_id: Some(self.0.id),
            statuses: status.map(|s| vec![s.as_str().to_owned()]),
            ..InterviewFilter::default()
        };
        let filter = access::scoped(ctx, Field::PersonInterviews, filter)?;
        InterviewConnection::load(
            query_ctx(ctx).read_model(),
            viewer(ctx),
            filter,
            InterviewOrder::StartsAtAsc,
            first,
            after.as_deref(),
            Wants::of_connection(&ctx.look_ahead()),
        )
        .await
    }
}

/// One person of a page.
#[derive(SimpleObject)]
pub struct PersonEdge {
    /// Pass as `after` to continue after this person.
    cursor: String,
    /// The person.
    node: Person,
}

/// A page of people by name.
pub struct PersonConnection {
    edges: Vec<PersonEdge>,
    has_next_page: bool,
    read_model: ReadModel,
    viewer: Viewer,
    role: Option<Role>,
    search: Option<String>,
}

impl PersonConnection {
    /// Loads the page after `after`.
    pub(crate) async fn load(
        read_model: &ReadModel,
        viewer: &Viewer,
        role: Option<Role>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> QueryResult<Self> {
        let limit = page_size(first, 20)?;
        let after: Option<PersonCursor> = decode_after(CURSOR, after.as_deref())?;
        let search = search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if search
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
        {
            return Err(QueryError::bad_input(format!(
                "search may be at most {MAX_SEARCH_CHARS} characters"
            )));
        }
        let role_str = role.map(Role::as_str);
        let rows = read_model
            .people_page(
                viewer,
                role_str,
                search.as_deref(),
                after.as_ref(),
                limit + 1,
            )
            .await?;
        let (rows, has_next_page) = split_page(rows, limit);
        let edges = rows
            .into_iter()
            .map(|row| PersonEdge {
                cursor: encode_cursor(
                    CURSOR,
                    &PersonCursor {
                        key: row.sort_key.clone(),
                        id: row.id,
                    },
                ),
                node: Person(row),
            })
            .collect();
        Ok(PersonConnection {
            edges,
            has_next_page,
            read_model: read_model.clone(),
            viewer: viewer.clone(),
            role,
            search,
        })
    }
}

#[Object]
impl PersonConnection {
    /// The people of this page.
    async fn edges(&self) -> &[PersonEdge] {
        &self.edges
    }

    /// Where this page ends.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            end_cursor: self.edges.last().map(|e| e.cursor.clone()),
        }
    }

    /// Every person matching the role and search, across all pages.
    async fn total_count(&self) -> QueryResult<i32> {
        let n = self
            .read_model
            .people_count(
                &self.viewer,
                self.role.map(Role::as_str),
                self.search.as_deref(),
            )
            .await?;
        Ok(int(n))
    }
}
