-- The projector runtime's own tables. Read-model tables live in schema `rm` and are
-- created by each projection's DDL (see src/sql), so a rebuild can create them anew in
-- a shadow schema and swap them in.
CREATE SCHEMA IF NOT EXISTS rm;

-- One row per projection: its checkpoint and state. The checkpoint moves in the same
-- transaction as the read-model writes of a batch.
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name            text PRIMARY KEY,
    position_major  bigint,                 -- NULL: nothing applied yet
    position_minor  bigint,
    state           text NOT NULL,          -- catching_up | live | rebuilding | failed | stopped
    lag_events      bigint NOT NULL DEFAULT 0,
    events_applied  bigint NOT NULL DEFAULT 0,
    last_error      text,
    ddl_version     integer NOT NULL DEFAULT 1,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
