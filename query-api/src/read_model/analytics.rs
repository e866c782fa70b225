//! The `rm.analytics_*` tables kept by the analytics projection.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{ReadModel, ReadModelError, sql};
use crate::viewer::Viewer;

/// Counts of one UTC date (zeros for a date without interviews).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DailyRow {
    /// The date.
    pub date: NaiveDate,
    /// Every interview starting that day, whatever its status.
    pub scheduled: i64,
    /// Completed ones.
    pub completed: i64,
    /// Cancelled ones.
    pub cancelled: i64,
    /// No-shows.
    pub no_show: i64,
    /// Sum of the completed ones' actual durations.
    pub completed_duration_seconds_sum: i64,
}

/// One interviewer's load in a range.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoadRow {
    /// The interviewer.
    pub interviewer_id: Uuid,
    /// Interviews neither cancelled nor no-show.
    pub interviews: i64,
    /// Their summed scheduled minutes.
    pub booked_minutes: i64,
}

/// The funnel of one position or of all.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FunnelRow {
    /// Interviews.
    pub total: i64,
    /// Completed ones.
    pub completed: i64,
    /// Decided `advance`.
    pub advanced: i64,
    /// Decided `hire`.
    pub hired: i64,
    /// Decided `reject`.
    pub rejected: i64,
    /// Decided `hold`.
    pub held: i64,
    /// Median of decided_at − completed_at, in hours.
    pub median_hours: Option<f64>,
}

/// Mean score of one competency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CompetencyStatRow {
    /// Competency name.
    pub name: String,
    /// Mean score.
    pub average: f64,
    /// Number of scores.
    pub count: i64,
}

/// Counts of one UTC hour of day.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HourRow {
    /// 0..23.
    pub hour: i32,
    /// Interviews starting in that hour.
    pub interviews: i64,
    /// Completed ones.
    pub completed: i64,
}

impl ReadModel {
    /// One row per date of `[from, to]`, zeros included.
    pub async fn daily(
        &self,
        viewer: &Viewer,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "analytics_daily").await?;
        sqlx::query_as(
            "SELECT d::date AS date, \
                    coalesce(a.scheduled, 0)::bigint AS scheduled, \
                    coalesce(a.completed, 0)::bigint AS completed, \
                    coalesce(a.cancelled, 0)::bigint AS cancelled, \
                    coalesce(a.no_show, 0)::bigint AS no_show, \
                    coalesce(a.completed_duration_seconds_sum, 0)::bigint \
                      AS completed_duration_seconds_sum \
             FROM generate_series($1::date, $2::date, interval '1 day') AS d \
             LEFT JOIN rm.analytics_daily a ON a.tenant = $3 AND a.date = d::date \
             ORDER BY d",
        )
        .bind(from)
        .bind(to)
        .bind(viewer.tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(sql("analytics_daily"))
    }

    /// `(completed, cancelled, no_show)` among interviews starting in `[from, to)`.
    pub async fn outcome_counts(
        &self,
        viewer: &Viewer,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(i64, i64, i64), ReadModelError> {
        let mut tx = self.reader(viewer, "analytics_outcomes").await?;
        sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'completed'), \
                    count(*) FILTER (WHERE status = 'cancelled'), \
                    count(*) FILTER (WHERE status = 'no_show') \
             FROM rm.analytics_interviews WHERE tenant = $3 AND starts_at >= $1 AND starts_at < $2",
        )
        .bind(from)
        .bind(to)
        .bind(viewer.tenant.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(sql("analytics_outcomes"))
    }

    /// Load per interviewer over interviews starting in `[from, to)`, busiest first.
    pub async fn interviewer_load(
        &self,
        viewer: &Viewer,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LoadRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "analytics_load").await?;
        sqlx::query_as(
            "SELECT p.interviewer_id, count(*)::bigint AS interviews, \
                    coalesce(sum(a.scheduled_minutes), 0)::bigint AS booked_minutes \
             FROM rm.analytics_interviews a, unnest(a.interviewer_ids) AS p(interviewer_id) \
             WHERE a.tenant = $3 AND a.starts_at >= $1 AND a.starts_at < $2 \
               AND a.status NOT IN ('cancelled', 'no_show') \
             GROUP BY p.interviewer_id \
             ORDER BY interviews DESC, booked_minutes DESC, p.interviewer_id",
        )
        .bind(from)
        .bind(to)
        .bind(viewer.tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(sql("analytics_load"))
    }

    /// The funnel of `position`, or of every position.
    pub async fn funnel(
        &self,
        viewer: &Viewer,
        position: Option<&str>,
    ) -> Result<FunnelRow, ReadModelError> {
        let mut tx = self.reader(viewer, "analytics_funnel").await?;
        sqlx::query_as(
            "SELECT coalesce(sum(total), 0)::bigint AS total, \
                    coalesce(sum(completed), 0)::bigint AS completed, \
                    coalesce(sum(advanced), 0)::bigint AS advanced, \
                    coalesce(sum(hired), 0)::bigint AS hired, \
                    coalesce(sum(rejected), 0)::bigint AS rejected, \
                    coalesce(sum(held), 0)::bigint AS held, \
                    (SELECT percentile_cont(0.5) WITHIN GROUP ( \
                              ORDER BY extract(epoch FROM i.decided_at - i.completed_at)::float8 \
                                       / 3600.0) \
                       FROM rm.analytics_interviews i \
                      WHERE i.tenant = $2 AND i.decided_at IS NOT NULL AND i.completed_at IS NOT NULL \
                        AND ($1::text IS NULL OR i.position = $1::text)) AS median_hours \
             FROM rm.analytics_funnel WHERE tenant = $2 AND ($1::text IS NULL OR position = $1::text)",
        )
        .bind(position)
        .bind(viewer.tenant.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(sql("analytics_funnel"))
    }

    /// Mean score per competency name, by name.
    pub async fn competency_stats(
        &self,
        viewer: &Viewer,
        position: Option<&str>,
    ) -> Result<Vec<CompetencyStatRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "analytics_competencies").await?;
        sqlx::query_as(
            "SELECT name, sum(score_sum)::float8 / sum(count) AS average, \
                    sum(count)::bigint AS count \
             FROM rm.analytics_competencies \
             WHERE tenant = $2 AND ($1::text IS NULL OR position = $1::text) \
             GROUP BY name HAVING sum(count) > 0 ORDER BY name",
        )
        .bind(position)
        .bind(viewer.tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(sql("analytics_competencies"))
    }

    /// 24 rows, one per UTC hour.
    pub async fn hour_of_day(&self, viewer: &Viewer) -> Result<Vec<HourRow>, ReadModelError> {
        let mut tx = self.reader(viewer, "analytics_hourly").await?;
        sqlx::query_as(
            "SELECT h AS hour, coalesce(a.interviews, 0)::bigint AS interviews, \
                    coalesce(a.completed, 0)::bigint AS completed \
             FROM generate_series(0, 23) AS h LEFT JOIN rm.analytics_hourly a \
               ON a.tenant = $1 AND a.hour = h \
             ORDER BY h",
        )
        .bind(viewer.tenant.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(sql("analytics_hourly"))
    }
}
