-- Drops stackctl's audit trail only; users and items are untouched.
DROP TABLE IF EXISTS stackctl_audit;
