//! Read model `schedules`: each person's availability, kept merged and disjoint exactly as
//! the domain's `Schedule` keeps it, and their bookings.
//!
//! A batch loads the owners and windows of the people it touches, replays the batch's
//! events through `domain::schedule::evolve` on top of the stored windows, and rewrites
//! the windows of the people whose availability changed.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use domain::schedule::{Schedule, ScheduleEvent, evolve};
use futures::future::BoxFuture;
use infra::RecordedEvent;
use sqlx::PgConnection;
use tracing::instrument;
use uuid::Uuid;

use crate::support::{Step, aggregate_events, aggregate_ids, decode, next_version};
use crate::{Projection, ProjectionError};

/// The `schedules` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Schedules;

impl Projection for Schedules {
    fn name(&self) -> &'static str {
        "schedules"
    }

    fn ddl(&self) -> &'static str {
        include_str!("sql/schedules.sql")
    }

    /// 2: every table keyed by tenant first.
    fn ddl_version(&self) -> i32 {
        2
    }

    fn tables(&self) -> &'static [&'static str] {
        &["schedule_owners", "availability_windows", "bookings"]
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(conn, events))
    }

    /// Every person with a schedule event in the batch (a redelivery too: an extra notice
    /// only costs a cache miss).
    fn changed_schedules(&self, events: &[RecordedEvent]) -> Vec<(domain::Tenant, Uuid)> {
        aggregate_ids::<ScheduleEvent>(events)
    }
}

/// A person's schedule while a batch is folded.
#[derive(Default)]
struct Owner {
    version: u64,
    declared: bool,
    /// The stored windows were loaded and replayed into `schedule`.
    schedule: Option<Schedule>,
    availability_changed: bool,
}

type Slot = Option<(DateTime<Utc>, DateTime<Utc>)>;

#[instrument(name = "projection.apply", skip_all, fields(projection = "schedules", events = events.len()))]
async fn apply(conn: &mut PgConnection, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
    for group in aggregate_events::<ScheduleEvent>(events)? {
        let mut ours = Vec::with_capacity(group.events.len());
        for (id, event) in group.events {
            ours.push((id, event, decode::<ScheduleEvent>(event)?));
        }
        apply_tenant(conn, group.tenant, &group.ids, &ours).await?;
    }
    Ok(())
}

/// One tenant's events of the batch (`people`: their distinct person ids, sorted).
async fn apply_tenant(
    conn: &mut PgConnection,
    tenant: &str,
    people: &[Uuid],
    ours: &[(Uuid, &RecordedEvent, ScheduleEvent)],
) -> Result<(), ProjectionError> {
    let mut owners: HashMap<Uuid, Owner> = people.iter().map(|p| (*p, Owner::default())).collect();
    let stored: Vec<(Uuid, bool, i64)> = sqlx::query_as(
        "SELECT r.* FROM unnest($1::uuid[]) AS k(key) CROSS JOIN LATERAL (
             SELECT person_id, declared_availability, version FROM schedule_owners
             WHERE tenant = $2 AND person_id = k.key LIMIT 1) AS r",
    )
    .bind(people)
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    for (id, declared, version) in stored {
        if let Some(o) = owners.get_mut(&id) {
            o.declared = declared;
            o.version = version as u64;
        }
    }
    load_windows(conn, tenant, ours, &mut owners).await?;

    let mut bookings: BTreeMap<(Uuid, Uuid), Slot> = BTreeMap::new();
    for (person, event, decoded) in ours {
        let Some(owner) = owners.get_mut(person) else {
            continue;
        };
        if next_version(event, owner.version)? == Step::Applied {
            continue;
        }
        owner.version = event.version;
        match decoded {
            ScheduleEvent::AvailabilityAdded { .. } | ScheduleEvent::AvailabilityRemoved { .. } => {
                if matches!(decoded, ScheduleEvent::AvailabilityAdded { .. })
                    && decoded.range().is_some()
                {
                    owner.declared = true;
                }
                if let Some(schedule) = owner.schedule.take() {
                    owner.schedule = Some(evolve(schedule, decoded));
                }
                owner.availability_changed = true;
            }
            ScheduleEvent::SlotBooked {
                interview_id,
                start,
                end,
            } => {
                // As the domain does: an empty interval changes nothing but the version.
                if decoded.range().is_some() {
                    bookings.insert((*person, *interview_id), Some((*start, *end)));
                }
            }
            ScheduleEvent::SlotReleased { interview_id, .. } => {
                if decoded.range().is_some() {
                    bookings.insert((*person, *interview_id), None);
                }
            }
        }
    }
    save(conn, tenant, &owners, &bookings).await
}

/// Loads the stored windows of everyone whose availability the batch changes and replays
/// them into a domain `Schedule` (they are already merged, so adding them back one by one
/// rebuilds exactly the stored set).
async fn load_windows(
    conn: &mut PgConnection,
    tenant: &str,
    ours: &[(Uuid, &RecordedEvent, ScheduleEvent)],
    owners: &mut HashMap<Uuid, Owner>,
) -> Result<(), ProjectionError> {
    let mut ids: Vec<Uuid> = ours
        .iter()
        .filter(|(.., e)| {
            matches!(
                e,
                ScheduleEvent::AvailabilityAdded { .. } | ScheduleEvent::AvailabilityRemoved { .. }
            )
        })
        .map(|(id, ..)| *id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for id in &ids {
        if let Some(o) = owners.get_mut(id) {
            o.schedule = Some(Schedule::default());
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    let windows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT person_id, start_at, end_at FROM availability_windows
         WHERE tenant = $2 AND person_id = ANY($1) ORDER BY person_id, start_at",
    )
    .bind(&ids)
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    for (id, start, end) in windows {
        if let Some(o) = owners.get_mut(&id)
            && let Some(schedule) = o.schedule.take()
        {
            o.schedule = Some(evolve(
                schedule,
                &ScheduleEvent::AvailabilityAdded { start, end },
            ));
        }
    }
    Ok(())
}

async fn save(
    conn: &mut PgConnection,
    tenant: &str,
    owners: &HashMap<Uuid, Owner>,
    bookings: &BTreeMap<(Uuid, Uuid), Slot>,
) -> Result<(), ProjectionError> {
    let mut ids: Vec<Uuid> = owners.keys().copied().collect();
    ids.sort_unstable();
    let declared: Vec<bool> = ids.iter().map(|id| owners[id].declared).collect();
    let versions: Vec<i64> = ids.iter().map(|id| owners[id].version as i64).collect();
    sqlx::query(
        "INSERT INTO schedule_owners (tenant, person_id, declared_availability, version)
         SELECT $4, * FROM UNNEST($1::uuid[], $2::bool[], $3::int8[])
         ON CONFLICT (tenant, person_id) DO UPDATE SET
             declared_availability = EXCLUDED.declared_availability, version = EXCLUDED.version",
    )
    .bind(&ids)
    .bind(&declared)
    .bind(&versions)
    .bind(tenant)
    .execute(&mut *conn)
    .await?;

    let rewritten: Vec<Uuid> = ids
        .iter()
        .copied()
        .filter(|id| owners[id].availability_changed)
        .collect();
    if !rewritten.is_empty() {
        sqlx::query("DELETE FROM availability_windows WHERE tenant = $2 AND person_id = ANY($1)")
            .bind(&rewritten)
            .bind(tenant)
            .execute(&mut *conn)
            .await?;
        let (mut who, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        for id in &rewritten {
            if let Some(schedule) = &owners[id].schedule {
                for w in schedule.availability() {
                    who.push(*id);
                    starts.push(w.start());
                    ends.push(w.end());
                }
            }
        }
        if !who.is_empty() {
            sqlx::query(
                "INSERT INTO availability_windows (tenant, person_id, start_at, end_at)
                 SELECT $4, * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::timestamptz[])",
            )
            .bind(&who)
            .bind(&starts)
            .bind(&ends)
            .bind(tenant)
            .execute(&mut *conn)
            .await?;
        }
    }
    save_bookings(conn, tenant, bookings).await
}

async fn save_bookings(
    conn: &mut PgConnection,
    tenant: &str,
    bookings: &BTreeMap<(Uuid, Uuid), Slot>,
) -> Result<(), ProjectionError> {
    let (mut who, mut interviews, mut starts, mut ends) = (vec![], vec![], vec![], vec![]);
    let (mut gone_who, mut gone_interviews) = (vec![], vec![]);
    for ((person, interview), slot) in bookings {
        match slot {
            Some((start, end)) => {
                who.push(*person);
                interviews.push(*interview);
                starts.push(*start);
                ends.push(*end);
            }
            None => {
                gone_who.push(*person);
                gone_interviews.push(*interview);
            }
        }
    }
    if !gone_who.is_empty() {
        sqlx::query(
            "DELETE FROM bookings b USING UNNEST($1::uuid[], $2::uuid[]) AS g(person_id, interview_id)
             WHERE b.tenant = $3 AND b.person_id = g.person_id AND b.interview_id = g.interview_id",
        )
        .bind(&gone_who)
        .bind(&gone_interviews)
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    }
    if !who.is_empty() {
        sqlx::query(
            "INSERT INTO bookings (tenant, person_id, interview_id, start_at, end_at)
             SELECT $5, * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[],
                 $4::timestamptz[])
             ON CONFLICT (tenant, person_id, interview_id) DO UPDATE SET
                 start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at",
        )
        .bind(&who)
        .bind(&interviews)
        .bind(&starts)
        .bind(&ends)
        .bind(tenant)
        .execute(conn)
        .await?;
    }
    Ok(())
}
