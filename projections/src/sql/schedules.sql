-- Projection "schedules": declared availability (merged, disjoint windows) and bookings.
CREATE TABLE IF NOT EXISTS schedule_owners (
    tenant                  text NOT NULL,
    person_id               uuid NOT NULL,
    declared_availability   boolean NOT NULL,       -- ever added a window
    version                 bigint NOT NULL,
    PRIMARY KEY (tenant, person_id)
);

CREATE TABLE IF NOT EXISTS availability_windows (
    tenant                  text NOT NULL,
    person_id   uuid NOT NULL,
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant, person_id, start_at)
);
CREATE INDEX IF NOT EXISTS availability_end_idx ON availability_windows (tenant, person_id, end_at);

CREATE TABLE IF NOT EXISTS bookings (
    tenant                  text NOT NULL,
    person_id     uuid NOT NULL,
    interview_id  uuid NOT NULL,
    start_at      timestamptz NOT NULL,
    end_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant, person_id, interview_id)
);
CREATE INDEX IF NOT EXISTS bookings_range_idx ON bookings (tenant, person_id, start_at, end_at);
