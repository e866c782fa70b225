//! Read model `people`: one row per registered person.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::person::PersonEvent;
use futures::future::BoxFuture;
use infra::RecordedEvent;
use sqlx::PgConnection;
use tracing::instrument;
use uuid::Uuid;

use crate::support::{
    AggregateEvents, Step, aggregate_events, aggregate_ids, array_literal, decode, next_version,
    version_i64,
};
use crate::{Projection, ProjectionError};

/// The `people` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct People;

impl Projection for People {
    fn name(&self) -> &'static str {
        "people"
    }

    fn ddl(&self) -> &'static str {
        include_str!("sql/people.sql")
    }

    /// 2: every table keyed by tenant first.
    fn ddl_version(&self) -> i32 {
        2
    }

    fn tables(&self) -> &'static [&'static str] {
        &["people"]
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(conn, events))
    }

    /// Every person with an event in the batch (a redelivery too: an extra notice only
    /// costs a cache miss).
    fn changed_people(&self, events: &[RecordedEvent]) -> Vec<(domain::Tenant, Uuid)> {
        aggregate_ids::<PersonEvent>(events)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct PersonRow {
    id: Uuid,
    name: String,
    email: Option<String>,
    roles: Vec<String>,
    timezone: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[instrument(name = "projection.apply", skip_all, fields(projection = "people", events = events.len()))]
async fn apply(conn: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
    for group in aggregate_events::<PersonEvent>(events)? {
        apply_tenant(conn, group).await?;
    }
    Ok(())
}

/// One tenant's events of the batch.
async fn apply_tenant(
    conn: &mut PgConnection,
    group: AggregateEvents<'_>,
) -> Result<(), ProjectionError> {
    let AggregateEvents {
        tenant,
        events: ours,
        ids,
    } = group;
    let mut rows: HashMap<Uuid, PersonRow> = sqlx::query_as::<_, PersonRow>(
        "SELECT r.* FROM unnest($1::uuid[]) AS k(key) CROSS JOIN LATERAL (
             SELECT id, name, email, roles, timezone, version, created_at, updated_at
             FROM people WHERE tenant = $2 AND id = k.key LIMIT 1) AS r",
    )
    .bind(&ids)
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.id, r))
    .collect();

    let mut changed = Vec::new();
    for (id, event) in ours {
        let current = rows.get(&id).map_or(0, |r| r.version as u64);
        if next_version(event, current)? == Step::Applied {
            continue;
        }
        let at = event.metadata.occurred_at;
        let version = version_i64(event)?;
        match (decode::<PersonEvent>(event)?, rows.get_mut(&id)) {
            (
                PersonEvent::PersonRegistered {
                    person_id: _,
                    name,
                    email,
                    roles,
                    timezone,
                },
                None,
            ) => {
                rows.insert(
                    id,
                    PersonRow {
                        id,
                        name,
                        email,
                        roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
                        timezone,
                        version,
                        created_at: at,
                        updated_at: at,
                    },
                );
            }
            (
                PersonEvent::PersonDetailsChanged {
                    name,
                    email,
                    timezone,
                },
                Some(row),
            ) => {
                if let Some(name) = name {
                    row.name = name;
                }
                if email.is_some() {
                    row.email = email;
                }
                if timezone.is_some() {
                    row.timezone = timezone;
                }
                row.version = version;
                row.updated_at = at;
            }
            (PersonEvent::PersonRegistered { .. }, Some(_)) => {
                return Err(ProjectionError::poison(event, "person already registered"));
            }
            (PersonEvent::PersonDetailsChanged { .. }, None) => {
                return Err(ProjectionError::poison(event, "person not registered"));
            }
        }
        changed.push(id);
    }
    changed.sort_unstable();
    changed.dedup();
    let rows: Vec<&PersonRow> = changed.iter().filter_map(|id| rows.get(id)).collect();
    upsert(conn, tenant, &rows).await
}

async fn upsert(
    conn: &mut PgConnection,
    tenant: &str,
    rows: &[&PersonRow],
) -> Result<(), ProjectionError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO people (tenant, id, name, email, roles, timezone, version, created_at,
             updated_at)
         SELECT $9, id, name, email, roles::text[], timezone, version, created_at, updated_at
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[],
                     $7::timestamptz[], $8::timestamptz[])
              AS t(id, name, email, roles, timezone, version, created_at, updated_at)
         ON CONFLICT (tenant, id) DO UPDATE SET
             name = EXCLUDED.name, email = EXCLUDED.email, roles = EXCLUDED.roles,
             timezone = EXCLUDED.timezone, version = EXCLUDED.version,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.email.as_deref()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| array_literal(&r.roles))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.timezone.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.version).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .bind(tenant)
    .execute(conn)
    .await?;
    Ok(())
}
