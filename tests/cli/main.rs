//! End-to-end tests: the real binary against a real PostgreSQL (see support/).
//! One test binary, so it links once.
#![expect(
    clippy::unwrap_used,
    reason = "a test's harness fails loudly: an unwrap is its assertion"
)]

mod support;

/// The application's real Alembic beside stackctl: adoption in either order, its
/// upgrades and downgrades, and what its autogenerate proposes.
mod alembic;
/// backup create/list/verify/restore, retention, locking, kills.
mod backup;
/// scripts/bench.py at a tiny size.
mod bench;
/// Sixteen concurrent writers leave a consistent database.
mod concurrency;
/// Connections: URL forms, .env, unreachable servers, password redaction.
mod connect;
/// Schema drift: schema diff for each class of hand-made drift and the SQL that undoes it,
/// the schema_drift check, migrate refusing a drifted schema, no drift where there is none.
mod drift;
/// Killed backends, a stopped or silent server, statement timeouts.
mod faults;
/// The backend StackWizard's generator writes, fetched from npm and driven through its API.
mod generated;
/// --help, --version, unknown subcommands.
mod help;
/// Over 200 hostile inputs: right exit code, one error line, nothing changed.
mod hostile;
/// list --all exports, user import and item import.
mod import;
/// item add/list/show/update/delete.
mod item;
/// A server speaking German: the same exit codes and hints as an English one.
mod language;
/// The embedded default: no URL, a private PostgreSQL under the data directory.
mod local;
/// migrate run/status/revert, concurrency, adoption of application schemas, the gate.
mod migrate;
/// status --check, test restores, retention, notify, lock modes, completions, man.
mod ops;
/// A person's data: user export and user erase, both layouts, pooled, least privilege.
mod personal;
/// The statements of single-row commands and first pages use indexes (auto_explain's plans
/// on an analysed fixture): no sequential scan, no sort of a whole table.
mod plans;
/// Least-privilege roles: DML-only (exit 7 and the GRANT), `stackctl grant`, read-only,
/// a non-superuser owner, a role that may not create extensions.
mod privileges;
/// Property tests: accepted values round-trip through the database.
mod props;
/// --dry-run, --if-not-exists, impact previews, reassignment, the audit trail, JSON errors.
mod safety;
/// No password in any output, manifest or command line; hashes never read by listings.
mod secrets;
/// The Simple DB layout: schema, user commands, refusals, SQLAlchemy interplay, backups.
mod simple;
/// status output.
mod status;
/// Stored control sequences: escaped in tables and messages, exact in JSON and CSV.
mod terminal;
/// TLS: verify-full with a test CA, require against a server without TLS.
mod tls;
/// Production topologies: a real PgBouncer (transaction and session pooling) in front of
/// the server, and a real hot standby.
mod topology;
/// user add/list/show/update/deactivate/activate/set-password/delete.
mod user;
