-- Drops stackctl's migration checksums only.
DROP TABLE IF EXISTS stackctl_migration_checksums;
