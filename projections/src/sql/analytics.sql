-- Projection "analytics": per-interview facts plus aggregates kept up to date incrementally,
-- every table per tenant.
-- A reschedule moves an interview between days/hours; status changes move counts between columns.
CREATE TABLE IF NOT EXISTS analytics_interviews (
    tenant                   text NOT NULL,
    id                       uuid NOT NULL,
    position                 text NOT NULL,
    status                   text NOT NULL,
    starts_at                timestamptz NOT NULL,
    scheduled_minutes        integer NOT NULL,
    interviewer_ids          uuid[] NOT NULL,
    completed_at             timestamptz,
    actual_duration_seconds  bigint,
    decision_outcome         text,
    decided_at               timestamptz,
    version                  bigint NOT NULL DEFAULT 0,  -- the stream version the fact reflects
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS analytics_interviews_starts_idx ON analytics_interviews (tenant, starts_at);
CREATE INDEX IF NOT EXISTS analytics_interviews_position_idx ON analytics_interviews (tenant, position);

-- One row per UTC date of starts_at that ever had an interview.
CREATE TABLE IF NOT EXISTS analytics_daily (
    tenant                          text NOT NULL,
    date                            date NOT NULL,
    scheduled                       integer NOT NULL DEFAULT 0,  -- every interview on that date
    completed                       integer NOT NULL DEFAULT 0,
    cancelled                       integer NOT NULL DEFAULT 0,
    no_show                         integer NOT NULL DEFAULT 0,
    completed_duration_seconds_sum  bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, date)
);

-- 24 rows per tenant at most: hour of starts_at in UTC.
CREATE TABLE IF NOT EXISTS analytics_hourly (
    tenant      text NOT NULL,
    hour        integer NOT NULL,
    interviews  integer NOT NULL DEFAULT 0,
    completed   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, hour)
);

-- Funnel per position ('' never used: the all-positions funnel is the sum).
CREATE TABLE IF NOT EXISTS analytics_funnel (
    tenant     text NOT NULL,
    position   text NOT NULL,
    total      integer NOT NULL DEFAULT 0,
    completed  integer NOT NULL DEFAULT 0,
    advanced   integer NOT NULL DEFAULT 0,
    hired      integer NOT NULL DEFAULT 0,
    rejected   integer NOT NULL DEFAULT 0,
    held       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, position)
);

-- Competency score sums per position and competency name.
CREATE TABLE IF NOT EXISTS analytics_competencies (
    tenant     text NOT NULL,
    position   text NOT NULL,
    name       text NOT NULL,
    score_sum  bigint NOT NULL DEFAULT 0,
    count      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, position, name)
);
