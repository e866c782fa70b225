-- Projection "analytics": per-interview facts plus aggregates kept up to date incrementally.
-- A reschedule moves an interview between days/hours; status changes move counts between columns.
CREATE TABLE IF NOT EXISTS analytics_interviews (
    id                       uuid PRIMARY KEY,
    position                 text NOT NULL,
    status                   text NOT NULL,
    starts_at                timestamptz NOT NULL,
    scheduled_minutes        integer NOT NULL,
    interviewer_ids          uuid[] NOT NULL,
    completed_at             timestamptz,
    actual_duration_seconds  bigint,
    decision_outcome         text,
    decided_at               timestamptz
);
CREATE INDEX IF NOT EXISTS analytics_interviews_starts_idx ON analytics_interviews (starts_at);
CREATE INDEX IF NOT EXISTS analytics_interviews_position_idx ON analytics_interviews (position);

-- One row per UTC date of starts_at that ever had an interview.
CREATE TABLE IF NOT EXISTS analytics_daily (
    date                            date PRIMARY KEY,
    scheduled                       integer NOT NULL DEFAULT 0,  -- every interview on that date
    completed                       integer NOT NULL DEFAULT 0,
    cancelled                       integer NOT NULL DEFAULT 0,
    no_show                         integer NOT NULL DEFAULT 0,
    completed_duration_seconds_sum  bigint  NOT NULL DEFAULT 0
);

-- 24 rows at most: hour of starts_at in UTC.
CREATE TABLE IF NOT EXISTS analytics_hourly (
    hour        integer PRIMARY KEY,
    interviews  integer NOT NULL DEFAULT 0,
    completed   integer NOT NULL DEFAULT 0
);

-- Funnel per position ('' never used: the all-positions funnel is the sum).
CREATE TABLE IF NOT EXISTS analytics_funnel (
    position   text PRIMARY KEY,
    total      integer NOT NULL DEFAULT 0,
    completed  integer NOT NULL DEFAULT 0,
    advanced   integer NOT NULL DEFAULT 0,
    hired      integer NOT NULL DEFAULT 0,
    rejected   integer NOT NULL DEFAULT 0,
    held       integer NOT NULL DEFAULT 0
);

-- Competency score sums per position and competency name.
CREATE TABLE IF NOT EXISTS analytics_competencies (
    position   text NOT NULL,
    name       text NOT NULL,
    score_sum  bigint NOT NULL DEFAULT 0,
    count      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (position, name)
);

-- The stream version each fact reflects, so a redelivered event is recognised and never
-- counted twice in the aggregates.
ALTER TABLE analytics_interviews ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0;
