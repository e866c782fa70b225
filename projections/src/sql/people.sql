-- Projection "people". Unqualified names: created in the schema the runtime selects.
CREATE TABLE IF NOT EXISTS people (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    email       text,
    roles       text[] NOT NULL,            -- 'candidate' | 'interviewer'
    timezone    text,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS people_name_idx ON people (lower(name), id);
CREATE INDEX IF NOT EXISTS people_roles_idx ON people USING gin (roles);
