//! The database's second wall between tenants: the query API reads the read models as
//! role [`READER_ROLE`], with the tenant of the request in setting [`TENANT_SETTING`] for
//! the transaction, and row-level security shows that role only that tenant's rows. A
//! query that forgets its `WHERE tenant = …` still leaks nothing.
//!
//! - [`READER_ROLE`]: `NOLOGIN NOBYPASSRLS`, `SELECT` on every read-model table and on
//!   the checkpoints and parked streams (not tenant data), `USAGE` on schema `rm`. Roles are cluster-wide:
//!   it is created once for every database of the server, idempotently, tolerating
//!   another database's setup creating it at the same moment. The user the services
//!   connect as is made a member, so that it may `SET LOCAL ROLE` to it.
//! - On every table of every projection: RLS enabled and forced, policy
//!   `tenant_isolation` (`tenant = (SELECT current_setting('app.tenant', true))`, for the
//!   reader; the subquery makes it one evaluation per statement instead of one per row),
//!   and policy `projector_writes` (every row, for the role that created the tables,
//!   which the projector writes as; a superuser passes RLS anyway).

/// The role the query API reads as.
pub const READER_ROLE: &str = "interview_ledger_reader";

/// The setting that names the tenant of a reading transaction.
pub const TENANT_SETTING: &str = "app.tenant";

/// Creates [`READER_ROLE`] unless it exists, makes the current user a member of it, and
/// lets it read the checkpoints and schema `rm`.
pub(crate) fn role_sql(read_schema: &str) -> String {
    format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER_ROLE}') THEN
             BEGIN
               CREATE ROLE {READER_ROLE} NOLOGIN NOBYPASSRLS;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END;
           END IF;
           IF NOT pg_has_role(current_user, '{READER_ROLE}', 'MEMBER') THEN
             BEGIN
               GRANT {READER_ROLE} TO CURRENT_USER;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END;
           END IF;
         END $$;
         GRANT USAGE ON SCHEMA \"{read_schema}\" TO {READER_ROLE};
         GRANT SELECT ON projection_checkpoints TO {READER_ROLE};
         GRANT SELECT ON projection_parked TO {READER_ROLE};\n"
    )
}

/// Row-level security on `table` (unqualified: in the schema of the caller's
/// `search_path`), idempotent.
pub(crate) fn table_sql(table: &str) -> String {
    format!(
        "GRANT SELECT ON \"{table}\" TO {READER_ROLE};
         DO $$ BEGIN
           -- ALTER TABLE locks the table: only when there is something to change.
           IF NOT EXISTS (SELECT 1 FROM pg_class
                          WHERE oid = '\"{table}\"'::regclass
                          AND relrowsecurity AND relforcerowsecurity) THEN
             ALTER TABLE \"{table}\" ENABLE ROW LEVEL SECURITY;
             ALTER TABLE \"{table}\" FORCE ROW LEVEL SECURITY;
           END IF;
           -- The setting in a scalar subquery: evaluated once per statement (an InitPlan
           -- the planner can use as an index key), not once per row.
           IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = current_schema()
                          AND tablename = '{table}' AND policyname = 'tenant_isolation') THEN
             CREATE POLICY tenant_isolation ON \"{table}\" AS PERMISSIVE FOR SELECT
               TO {READER_ROLE} USING (tenant = (SELECT current_setting('{TENANT_SETTING}', true)));
           ELSIF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = current_schema()
                          AND tablename = '{table}' AND policyname = 'tenant_isolation'
                          AND qual LIKE '%SELECT current_setting%') THEN
             -- Made by an earlier version, with the per-row form.
             ALTER POLICY tenant_isolation ON \"{table}\"
               USING (tenant = (SELECT current_setting('{TENANT_SETTING}', true)));
           END IF;
           IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = current_schema()
                          AND tablename = '{table}' AND policyname = 'projector_writes') THEN
             CREATE POLICY projector_writes ON \"{table}\" AS PERMISSIVE FOR ALL
               TO CURRENT_USER USING (true) WITH CHECK (true);
           END IF;
         END $$;\n"
    )
}
