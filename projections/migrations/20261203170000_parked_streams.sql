-- Streams a projection has parked: the first event of the stream it could not apply
-- (undecodable, or its apply failed for good), and how many later events of that stream
-- it holds back, in order, until an operator retries or skips it. The rest of the log
-- goes on. Rows with `rebuild` belong to a rebuild in progress: they replace the live
-- ones when it swaps its tables in.
CREATE TABLE IF NOT EXISTS projection_parked (
    projection      text NOT NULL,
    rebuild         boolean NOT NULL DEFAULT false,
    stream_id       text NOT NULL,
    version         bigint NOT NULL,        -- the parked event's version in its stream
    position_major  bigint NOT NULL,        -- and its place in the log
    position_minor  bigint NOT NULL,
    event_type      text NOT NULL,
    reason          text NOT NULL,          -- short, without the event's data
    held            bigint NOT NULL DEFAULT 0,  -- later events of the stream held back
    last_version    bigint NOT NULL,        -- the newest of them (`version` when none)
    parked_at       timestamptz NOT NULL DEFAULT now(),
    retried_at      timestamptz,
    PRIMARY KEY (projection, rebuild, stream_id)
);

-- Parked events an operator dropped (`projections skip`), each also recorded as an
-- audit event in the log (`audit_event_id`).
CREATE TABLE IF NOT EXISTS projection_skips (
    id              bigserial PRIMARY KEY,
    projection      text NOT NULL,
    stream_id       text NOT NULL,
    version         bigint NOT NULL,
    position_major  bigint NOT NULL,
    position_minor  bigint NOT NULL,
    event_type      text NOT NULL,
    error           text NOT NULL,          -- why it was parked
    reason          text NOT NULL,          -- why the operator skipped it
    actor           text NOT NULL,
    audit_event_id  uuid NOT NULL,
    skipped_at      timestamptz NOT NULL DEFAULT now()
);
