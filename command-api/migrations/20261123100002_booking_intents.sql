-- On an event store without multi-stream transactions, a command that books several
-- schedules records its intent first and deletes it when the interview stream has been
-- written (or the bookings undone). An intent that outlives its command (a crash between
-- the steps) is reconciled by the recovery task: each participant's booking is made to
-- match the interview as it stands (released when the interview never appeared).
CREATE TABLE IF NOT EXISTS booking_intents (
    id            uuid PRIMARY KEY,
    interview_id  uuid NOT NULL,
    person_ids    uuid[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS booking_intents_created_idx ON booking_intents (created_at);
