-- Projection "interviews": interviews, feedback, competency scores, decisions, transcripts.
CREATE TABLE IF NOT EXISTS interviews (
    tenant                   text NOT NULL,         -- from the stream name
    id                       uuid NOT NULL,
    candidate_id             uuid NOT NULL,
    interviewer_ids          uuid[] NOT NULL,        -- panel, in the order given
    position                 text NOT NULL,
    kind                     text NOT NULL,          -- lower_snake, e.g. 'phone_screen'
    status                   text NOT NULL,          -- scheduled | in_progress | completed | cancelled | no_show
    starts_at                timestamptz NOT NULL,
    ends_at                  timestamptz NOT NULL,
    duration_minutes         integer NOT NULL,       -- scheduled length
    location                 text,
    started_at               timestamptz,
    completed_at             timestamptz,
    actual_duration_seconds  bigint,
    cancellation_reason      text,
    no_show_reason           text,
    decision_outcome         text,                   -- advance | reject | hire | hold
    decided_by               uuid,
    decision_reason          text,
    decided_at               timestamptz,
    transcript_segments      integer NOT NULL DEFAULT 0,
    version                  bigint NOT NULL,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS interviews_starts_idx ON interviews (tenant, starts_at, id);
CREATE INDEX IF NOT EXISTS interviews_candidate_idx ON interviews (tenant, candidate_id, starts_at, id);
CREATE INDEX IF NOT EXISTS interviews_panel_idx ON interviews USING gin (interviewer_ids);
CREATE INDEX IF NOT EXISTS interviews_status_idx ON interviews (tenant, status, starts_at, id);

CREATE TABLE IF NOT EXISTS feedback (
    tenant          text NOT NULL,
    interview_id    uuid NOT NULL,
    interviewer_id  uuid NOT NULL,
    rating          integer NOT NULL,
    notes           text,
    submitted_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant, interview_id, interviewer_id)
);

CREATE TABLE IF NOT EXISTS competency_scores (
    tenant          text NOT NULL,
    interview_id    uuid NOT NULL,
    interviewer_id  uuid NOT NULL,
    ordinal         integer NOT NULL,               -- order within the feedback
    name            text NOT NULL,
    score           integer NOT NULL,
    PRIMARY KEY (tenant, interview_id, interviewer_id, ordinal)
);

CREATE TABLE IF NOT EXISTS transcript_segments (
    tenant          text NOT NULL,
    interview_id  uuid NOT NULL,
    seq           integer NOT NULL,                 -- 1-based order within the interview
    speaker_id    uuid NOT NULL,
    start_ms      bigint NOT NULL,
    end_ms        bigint NOT NULL,
    text          text NOT NULL,
    tsv           tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    PRIMARY KEY (tenant, interview_id, seq)
);
CREATE INDEX IF NOT EXISTS transcript_tsv_idx ON transcript_segments USING gin (tsv);
