-- stackctl's own tables move out of the application's schema into a schema of their own,
-- so that the application's Alembic (which compares the schema public) never proposes to
-- drop them. Moving a table keeps its rows, indexes, sequence and grants. The migration
-- record is among them: stackctl runs its migrations with search_path = stackctl, public.
-- A role that may not create a schema leaves them in public; `stackctl migrate` moves
-- them once a role that may runs it.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'stackctl')
     OR has_database_privilege(current_database(), 'CREATE') THEN
    CREATE SCHEMA IF NOT EXISTS stackctl;
    ALTER TABLE IF EXISTS public.stackctl_audit SET SCHEMA stackctl;
    ALTER TABLE IF EXISTS public.stackctl_migration_checksums SET SCHEMA stackctl;
    ALTER TABLE IF EXISTS public.stackctl_lock SET SCHEMA stackctl;
    ALTER TABLE IF EXISTS public.__diesel_schema_migrations SET SCHEMA stackctl;
  END IF;
END
$$;
