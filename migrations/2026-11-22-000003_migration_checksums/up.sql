-- stackctl's record of the SQL each migration was applied from (sha256 of its up.sql), so
-- `status --check` can tell when a database was migrated from SQL other than this binary's.
CREATE TABLE IF NOT EXISTS stackctl_migration_checksums (
    version     TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
