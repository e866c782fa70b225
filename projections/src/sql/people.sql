-- Projection "people". Unqualified names: created in the schema the runtime selects.
-- Every read-model table leads with the tenant (the stream name's): ids are unique within
-- a tenant only, since clients may choose them.
CREATE TABLE IF NOT EXISTS people (
    tenant      text NOT NULL,
    id          uuid NOT NULL,
    name        text NOT NULL,
    email       text,
    roles       text[] NOT NULL,            -- 'candidate' | 'interviewer'
    timezone    text,
    version     bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS people_name_idx ON people (tenant, lower(name), id);
CREATE INDEX IF NOT EXISTS people_roles_idx ON people USING gin (roles);
