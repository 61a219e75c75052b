-- What stackctl writes into a column of the application's that it does not know and cannot
-- leave empty (NOT NULL without a server default: the generated StackWizard backend fills
-- users.is_verified and users.login_count in Python), declared once per database with
-- `stackctl schema default TABLE.COLUMN VALUE` so that every operator and cron job writes
-- the same. Created where stackctl's tables are (search_path = stackctl, public).
CREATE TABLE stackctl_column_defaults (
    table_name TEXT NOT NULL,
    column_name TEXT NOT NULL,
    value TEXT NOT NULL,
    declared_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    declared_by TEXT NOT NULL DEFAULT current_user,
    PRIMARY KEY (table_name, column_name)
);
