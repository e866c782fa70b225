//! `Analytics`: aggregates read from the analytics projection's tables.

use std::collections::HashMap;

use async_graphql::{Context, Object, SimpleObject};
use uuid::Uuid;

use super::interview::int;
use super::people::{Person, load_person};
use super::scalars::{Date, DateTime};
use super::{loaders, query_ctx, viewer};
use crate::error::{QueryError, QueryResult};
use crate::read_model::PersonRow;

/// Most days `dailyInterviews` answers for (API.md §3.1).
const MAX_DAYS: i64 = 366;

/// Aggregates over interviews.
pub struct Analytics;

/// Number of dates in `[from, to]` the complexity budget charges.
fn days_charged(from: Date, to: Date) -> usize {
    ((to.0 - from.0).num_days() + 1).clamp(1, MAX_DAYS) as usize
}

/// Counts of one date.
#[derive(SimpleObject, Debug, Clone)]
pub struct DailyInterviewStats {
    /// The UTC date.
    pub date: Date,
    /// Every interview starting that day, whatever its status.
    pub scheduled: i32,
    /// Completed ones.
    pub completed: i32,
    /// Cancelled ones.
    pub cancelled: i32,
    /// No-shows.
    pub no_show: i32,
    /// Mean actual duration of the completed ones; null if none.
    pub avg_duration_minutes: Option<f64>,
}

/// One interviewer's load.
pub struct InterviewerLoad {
    interviewer_id: Uuid,
    interviewer: Option<Person>,
    interviews: i32,
    booked_minutes: i32,
}

#[Object]
impl InterviewerLoad {
    /// The interviewer.
    async fn interviewer(&self, ctx: &Context<'_>) -> QueryResult<Person> {
        match &self.interviewer {
            Some(p) => Ok(p.clone()),
            None => load_person(loaders(ctx), self.interviewer_id).await,
        }
    }

    /// Interviews neither cancelled nor no-show in the range.
    async fn interviews(&self) -> i32 {
        self.interviews
    }

    /// Their summed scheduled minutes.
    async fn booked_minutes(&self) -> i32 {
        self.booked_minutes
    }
}

/// Interviews by outcome.
#[derive(SimpleObject, Debug, Clone)]
pub struct Funnel {
    /// Interviews.
    pub total: i32,
    /// Completed ones.
    pub completed: i32,
    /// Decided `advance`.
    pub advanced: i32,
    /// Decided `hire`.
    pub hired: i32,
    /// Decided `reject`.
    pub rejected: i32,
    /// Decided `hold`.
    pub held: i32,
    /// Median hours from completion to decision.
    pub median_hours_to_decision: Option<f64>,
}

/// Mean score of one competency.
#[derive(SimpleObject, Debug, Clone)]
pub struct CompetencyStat {
    /// Competency name.
    pub name: String,
    /// Mean score.
    pub average_score: f64,
    /// Number of scores.
    pub count: i32,
}

/// Counts of one UTC hour of day.
#[derive(SimpleObject, Debug, Clone)]
pub struct HourStat {
    /// 0..23.
    pub hour: i32,
    /// Interviews starting in that hour.
    pub interviews: i32,
    /// Completed ones.
    pub completed: i32,
}

fn check_dates(from: Date, to: Date) -> QueryResult<()> {
    let days = (to.0 - from.0).num_days() + 1;
    if days < 1 {
        return Err(QueryError::bad_input("from must not be after to"));
    }
    if days > MAX_DAYS {
        return Err(QueryError::bad_input(format!(
            "from..to may span at most {MAX_DAYS} days, got {days}"
        )));
    }
    Ok(())
}

fn check_instants(from: DateTime, to: DateTime) -> QueryResult<()> {
    if from.0 >= to.0 {
        return Err(QueryError::bad_input("from must be before to"));
    }
    Ok(())
}

#[Object]
impl Analytics {
    /// One row per date of `[from, to]` inclusive, zeros included; at most 366 days.
    #[graphql(complexity = "1 + days_charged(from, to).saturating_mul(child_complexity)")]
    async fn daily_interviews(
        &self,
        ctx: &Context<'_>,
        from: Date,
        to: Date,
    ) -> QueryResult<Vec<DailyInterviewStats>> {
        check_dates(from, to)?;
        let rows = query_ctx(ctx)
            .read_model()
            .daily(viewer(ctx), from.0, to.0)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| DailyInterviewStats {
                date: Date(r.date),
                scheduled: int(r.scheduled),
                completed: int(r.completed),
                cancelled: int(r.cancelled),
                no_show: int(r.no_show),
                avg_duration_minutes: (r.completed > 0)
                    .then(|| r.completed_duration_seconds_sum as f64 / r.completed as f64 / 60.0),
            })
            .collect())
    }

    /// completed / (completed + cancelled + noShow) of interviews starting in `[from, to)`;
    /// null when none of them ended.
    async fn completion_rate(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
    ) -> QueryResult<Option<f64>> {
        check_instants(from, to)?;
        let (completed, cancelled, no_show) = query_ctx(ctx)
            .read_model()
            .outcome_counts(viewer(ctx), from.0, to.0)
            .await?;
        let ended = completed + cancelled + no_show;
        Ok((ended > 0).then(|| completed as f64 / ended as f64))
    }

    /// Interviewers with at least one live interview starting in `[from, to)`, busiest first.
    async fn interviewer_load(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
    ) -> QueryResult<Vec<InterviewerLoad>> {
        check_instants(from, to)?;
        let read_model = query_ctx(ctx).read_model();
        let rows = read_model
            .interviewer_load(viewer(ctx), from.0, to.0)
            .await?;
        // Everyone in one statement rather than one load per row.
        let mut people: HashMap<Uuid, PersonRow> = HashMap::new();
        if ctx.look_ahead().field("interviewer").exists() && !rows.is_empty() {
            let ids: Vec<Uuid> = rows.iter().map(|r| r.interviewer_id).collect();
            people = read_model
                .people_by_ids(viewer(ctx), &ids)
                .await?
                .into_iter()
                .map(|p| (p.id, p))
                .collect();
        }
        Ok(rows
            .into_iter()
            .map(|r| InterviewerLoad {
                interviewer_id: r.interviewer_id,
                interviewer: people.remove(&r.interviewer_id).map(Person),
                interviews: int(r.interviews),
                booked_minutes: int(r.booked_minutes),
            })
            .collect())
    }

    /// Interviews of `position` (or all) by outcome.
    async fn funnel(&self, ctx: &Context<'_>, position: Option<String>) -> QueryResult<Funnel> {
        let r = query_ctx(ctx)
            .read_model()
            .funnel(viewer(ctx), position.as_deref())
            .await?;
        Ok(Funnel {
            total: int(r.total),
            completed: int(r.completed),
            advanced: int(r.advanced),
            hired: int(r.hired),
            rejected: int(r.rejected),
            held: int(r.held),
            median_hours_to_decision: r.median_hours,
        })
    }

    /// Mean feedback score per competency name, sorted by name.
    async fn competency_scores(
        &self,
        ctx: &Context<'_>,
        position: Option<String>,
    ) -> QueryResult<Vec<CompetencyStat>> {
        let rows = query_ctx(ctx)
            .read_model()
            .competency_stats(viewer(ctx), position.as_deref())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| CompetencyStat {
                name: r.name,
                average_score: r.average,
                count: int(r.count),
            })
            .collect())
    }

    /// 24 rows: interviews by UTC hour of their start.
    #[graphql(complexity = "1 + 24usize.saturating_mul(child_complexity)")]
    async fn hour_of_day(&self, ctx: &Context<'_>) -> QueryResult<Vec<HourStat>> {
        let rows = query_ctx(ctx).read_model().hour_of_day(viewer(ctx)).await?;
        Ok(rows
            .into_iter()
            .map(|r| HourStat {
                hour: r.hour,
                interviews: int(r.interviews),
                completed: int(r.completed),
            })
            .collect())
    }
}
