-- The event log. `position` is unique and grows with insertion; `transaction_id` is the
-- inserting transaction, so readers can order by (transaction_id, position) and never
-- pass a transaction that is still running (see ARCHITECTURE.md, "The event store").
CREATE TABLE events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text NOT NULL,
    version         bigint NOT NULL CHECK (version > 0),
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

CREATE INDEX events_global_order_idx ON events (transaction_id, position);
