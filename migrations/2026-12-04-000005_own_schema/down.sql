-- stackctl's tables back into the schema public, as before this migration.
ALTER TABLE IF EXISTS stackctl.__diesel_schema_migrations SET SCHEMA public;
ALTER TABLE IF EXISTS stackctl.stackctl_lock SET SCHEMA public;
ALTER TABLE IF EXISTS stackctl.stackctl_migration_checksums SET SCHEMA public;
ALTER TABLE IF EXISTS stackctl.stackctl_audit SET SCHEMA public;
DROP SCHEMA IF EXISTS stackctl;
