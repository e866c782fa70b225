//! `rm.people`: who someone is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ReadModel, ReadModelError, like_escape, read_through, sql};
use crate::viewer::Viewer;

/// One row of `rm.people`, plus the key people are sorted by.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonRow {
    /// The person's id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Contact email.
    pub email: Option<String>,
    /// Roles, lower_snake.
    pub roles: Vec<String>,
    /// Timezone name.
    pub timezone: Option<String>,
    /// Events applied.
    pub version: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// `lower(name)` as PostgreSQL computes it: the keyset cursor's first part.
    pub sort_key: String,
}

/// Where a page of people starts: strictly after this `(lower(name), id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonCursor {
    /// `lower(name)` of the last person seen.
    pub key: String,
    /// Its id.
    pub id: Uuid,
}

const COLUMNS: &str =
    "id, name, email, roles, timezone, version, updated_at, lower(name) AS sort_key";

/// `WHERE` shared by the page and its count: `$1` the tenant, `$2` role (or NULL), `$3`
/// ILIKE pattern (or NULL).
const FILTER: &str = "tenant = $1 AND ($2::text IS NULL OR roles @> ARRAY[$2::text]) \
     AND ($3::text IS NULL OR name ILIKE $3::text)";

fn pattern(search: Option<&str>) -> Option<String> {
    search.map(|s| format!("%{}%", like_escape(s)))
}

impl ReadModel {
    /// The people with these ids (missing ids are simply absent): those in the cache
    /// from memory, the others in one statement, which then go into the cache.
    pub async fn people_by_ids(
        &self,
        viewer: &Viewer,
        ids: &[Uuid],
    ) -> Result<Vec<PersonRow>, ReadModelError> {
        let Some(cache) = self.cache() else {
            return self.select_people(viewer, ids).await;
        };
        let tenant = &viewer.tenant;
        read_through(
            cache.lookup_people(tenant, ids),
            async |missing| self.select_people(viewer, missing).await,
            |ticket, rows| cache.fill_people(ticket, tenant, rows),
        )
        .await
    }

    async fn select_people(
        &self,
        viewer: &Viewer,
        ids: &[Uuid],
    ) -> Result<Vec<PersonRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "people_by_ids").await?;
        let sql_text =
            format!("SELECT {COLUMNS} FROM rm.people WHERE tenant = $2 AND id = ANY($1)");
        sqlx::query_as(&sql_text)
            .bind(ids)
            .bind(viewer.tenant.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(sql("people_by_ids"))
    }

    /// Up to `limit` people with `role` whose name contains `search`, by `(lower(name), id)`.
    pub async fn people_page(
        &self,
        viewer: &Viewer,
        role: Option<&str>,
        search: Option<&str>,
        after: Option<&PersonCursor>,
        limit: i64,
    ) -> Result<Vec<PersonRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "people_page").await?;
        let sql_text = format!(
            "SELECT {COLUMNS} FROM rm.people WHERE {FILTER} \
             AND ($4::text IS NULL OR (lower(name), id) > ($4::text, $5::uuid)) \
             ORDER BY lower(name), id LIMIT $6"
        );
        sqlx::query_as(&sql_text)
            .bind(viewer.tenant.as_str())
            .bind(role)
            .bind(pattern(search))
            .bind(after.map(|c| c.key.as_str()))
            .bind(after.map(|c| c.id))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(sql("people_page"))
    }

    /// How many people match `role` and `search`.
    pub async fn people_count(
        &self,
        viewer: &Viewer,
        role: Option<&str>,
        search: Option<&str>,
    ) -> Result<i64, ReadModelError> {
        let mut tx = self.reader(viewer, "people_count").await?;
        let sql_text = format!("SELECT count(*) FROM rm.people WHERE {FILTER}");
        sqlx::query_scalar(&sql_text)
            .bind(viewer.tenant.as_str())
            .bind(role)
            .bind(pattern(search))
            .fetch_one(&mut *tx)
            .await
            .map_err(sql("people_count"))
    }
}
