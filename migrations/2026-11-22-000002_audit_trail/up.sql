-- stackctl's own audit trail: one row per successful write, appended in the write's own
-- transaction. It is not part of the application's schema; IF NOT EXISTS lets a restore of
-- an older backup (which leaves this table alone) be migrated again.
CREATE TABLE IF NOT EXISTS stackctl_audit (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    os_user     TEXT NOT NULL,
    db_user     TEXT NOT NULL DEFAULT current_user,
    hostname    TEXT NOT NULL,
    command     TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    summary     JSONB NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_stackctl_audit_at ON stackctl_audit (at);
CREATE INDEX IF NOT EXISTS idx_stackctl_audit_target_id ON stackctl_audit (target_id);
