//! stackctl's own migrations: the embedded list, what the database has applied, where it
//! stands against them (`SchemaState`), the checksums of the SQL they were applied from,
//! and applying or reverting the transactional ones (`concurrent.rs` runs the others).

use std::collections::BTreeSet;

use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{Error, Result};
use crate::layout::Layout;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// One embedded migration.
#[derive(Debug, Clone)]
pub struct EmbeddedMigration {
    pub version: String,
    pub name: String,
    /// `run_in_transaction = false` in its metadata.toml: its statements build indexes
    /// concurrently, so stackctl runs them one at a time outside any transaction
    /// (`concurrent.rs`) instead of in the migration lock's transaction.
    pub concurrent: bool,
}

pub fn embedded_migrations() -> Result<Vec<EmbeddedMigration>> {
    let mut list = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|e| Error::failure(format!("embedded migrations are unreadable: {e}")))?;
    list.sort_by(|a, b| a.name().version().cmp(&b.name().version()));
    Ok(list
        .iter()
        .map(|m| EmbeddedMigration {
            version: m.name().version().to_string(),
            name: m.name().to_string(),
            concurrent: !m.metadata().run_in_transaction(),
        })
        .collect())
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The recorded versions in one statement, which fails if the record table is not in the
/// schema `stackctl` (missing, or not yet moved there: `applied_versions` then finds it).
pub fn read_applied(conn: &mut PgConnection) -> QueryResult<BTreeSet<String>> {
    let rows: Vec<VersionRow> = diesel::sql_query(
        "SELECT version::text AS version FROM stackctl.__diesel_schema_migrations",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.version).collect())
}

/// Versions recorded as applied, wherever the record is, read without creating anything.
pub fn applied_versions(conn: &mut PgConnection) -> Result<BTreeSet<String>> {
    let Some(record) = super::own::find(conn, "__diesel_schema_migrations")? else {
        return Ok(BTreeSet::new());
    };
    let rows: Vec<VersionRow> =
        diesel::sql_query(format!("SELECT version::text AS version FROM {record}")).load(conn)?;
    Ok(rows.into_iter().map(|r| r.version).collect())
}

/// Where the database stands against this binary's migrations.
#[derive(Debug)]
pub struct SchemaState {
    pub embedded: Vec<EmbeddedMigration>,
    pub applied: BTreeSet<String>,
}

impl SchemaState {
    pub fn read(conn: &mut PgConnection) -> Result<Self> {
        Ok(SchemaState {
            embedded: embedded_migrations()?,
            applied: applied_versions(conn)?,
        })
    }
    /// The state of the layout the database has (`chosen`: `--layout`), in the gate's
    /// one read: the StackWizard migrations, or on the Simple DB layout `audit_only`.
    pub fn read_layout(conn: &mut PgConnection, chosen: Option<Layout>) -> Result<(Layout, Self)> {
        let facts = super::layout::read(conn, chosen)?;
        Ok(match crate::layout::resolve(facts.found, chosen)? {
            Layout::StackWizard => (
                Layout::StackWizard,
                SchemaState {
                    embedded: embedded_migrations()?,
                    applied: facts.applied,
                },
            ),
            Layout::Simple => (Layout::Simple, Self::audit_only(facts.audit)?),
        })
    }
    /// The Simple DB layout's state: stackctl's one migration there is its audit trail
    /// (the application's Alembic owns the rest), applied when the table exists.
    pub fn audit_only(audit: bool) -> Result<Self> {
        let embedded: Vec<EmbeddedMigration> = embedded_migrations()?
            .into_iter()
            .filter(|m| m.name.ends_with("_audit_trail"))
            .collect();
        let applied = if audit {
            embedded.iter().map(|m| m.version.clone()).collect()
        } else {
            BTreeSet::new()
        };
        Ok(SchemaState { embedded, applied })
    }
    pub fn pending(&self) -> Vec<&EmbeddedMigration> {
        self.embedded
            .iter()
            .filter(|m| !self.applied.contains(&m.version))
            .collect()
    }
    /// Applied versions this binary does not know: a newer stackctl migrated the database.
    pub fn unknown(&self) -> Vec<&String> {
        self.applied
            .iter()
            .filter(|v| !self.embedded.iter().any(|m| &m.version == *v))
            .collect()
    }
    pub fn describe(&self) -> String {
        let (p, u) = (self.pending().len(), self.unknown().len());
        match (p, u) {
            (0, 0) => "up to date".into(),
            (p, 0) => format!("{p} pending migration(s)"),
            (_, u) => format!("{u} migration(s) newer than this stackctl"),
        }
    }
}

/// Refuse a database a newer stackctl migrated (exit 6).
pub fn refuse_unknown(state: &SchemaState) -> Result<()> {
    let unknown = state.unknown();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::schema(format!(
        "the database has migrations this stackctl does not know: {}",
        unknown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .with_hint("upgrade stackctl to the version that migrated this database"))
}

/// The schema gate on a state already read.
pub fn check_ready(state: &SchemaState) -> Result<()> {
    refuse_unknown(state)?;
    let pending = state.pending();
    if !pending.is_empty() {
        return Err(Error::schema(format!(
            "the database schema is not ready: {} pending migration(s)",
            pending.len()
        ))
        .with_hint("run stackctl migrate"));
    }
    Ok(())
}

/// Each migration's up.sql as embedded, by version: what `status --check` compares the
/// recorded checksums with. A unit test keeps it in step with `migrations/`.
const MIGRATION_SQL: &[(&str, &str)] = &[
    (
        "20261122000001",
        include_str!("../../migrations/2026-11-22-000001_initial_schema/up.sql"),
    ),
    (
        "20261122000002",
        include_str!("../../migrations/2026-11-22-000002_audit_trail/up.sql"),
    ),
    (
        "20261122000003",
        include_str!("../../migrations/2026-11-22-000003_migration_checksums/up.sql"),
    ),
    (
        "20261124000004",
        include_str!("../../migrations/2026-11-24-000004_query_indexes/up.sql"),
    ),
    (
        "20261204000005",
        include_str!("../../migrations/2026-12-04-000005_own_schema/up.sql"),
    ),
    (
        "20261204000006",
        include_str!("../../migrations/2026-12-04-000006_column_defaults/up.sql"),
    ),
];

/// The down.sql of each concurrent migration, which stackctl runs itself statement by
/// statement (Diesel would send it as one implicit transaction).
const CONCURRENT_DOWN_SQL: &[(&str, &str)] = &[(
    "20261124000004",
    include_str!("../../migrations/2026-11-24-000004_query_indexes/down.sql"),
)];

/// A concurrent migration's embedded down.sql.
pub fn concurrent_down_sql(version: &str) -> Option<&'static str> {
    CONCURRENT_DOWN_SQL
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, sql)| *sql)
}

/// A migration's embedded up.sql.
pub fn migration_sql(version: &str) -> Option<&'static str> {
    MIGRATION_SQL
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, sql)| *sql)
}

/// sha256 of a migration's embedded up.sql.
pub fn embedded_checksum(version: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    MIGRATION_SQL
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, sql)| {
            Sha256::digest(sql.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
}

#[derive(QueryableByName)]
struct ChecksumRow {
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Text)]
    sha256: String,
}

/// Record the embedded checksum of every applied migration that has none yet (when the
/// checksum table exists). Called after stackctl applies migrations.
pub fn record_checksums(conn: &mut PgConnection) -> Result<()> {
    let Some(table) = super::own::find(conn, "stackctl_migration_checksums")? else {
        return Ok(());
    };
    for version in applied_versions(conn)? {
        if let Some(sum) = embedded_checksum(&version) {
            diesel::sql_query(format!(
                "INSERT INTO {table} (version, sha256) VALUES ($1, $2) \
                 ON CONFLICT (version) DO NOTHING"
            ))
            .bind::<Text, _>(&version)
            .bind::<Text, _>(&sum)
            .execute(conn)?;
        }
    }
    Ok(())
}

/// Applied migrations whose recorded checksum differs from this binary's SQL:
/// (version, recorded, embedded).
pub fn checksum_drift(conn: &mut PgConnection) -> Result<Option<Vec<(String, String, String)>>> {
    let Some(table) = super::own::find(conn, "stackctl_migration_checksums")? else {
        return Ok(None);
    };
    let rows: Vec<ChecksumRow> = diesel::sql_query(format!(
        "SELECT version, sha256 FROM {table} ORDER BY version"
    ))
    .load(conn)?;
    Ok(Some(
        rows.into_iter()
            .filter_map(|r| {
                let embedded = embedded_checksum(&r.version)?;
                (embedded != r.sha256).then_some((r.version, r.sha256, embedded))
            })
            .collect(),
    ))
}

/// Apply pending migrations in version order, each in a savepoint of the caller's
/// transaction, up to the first concurrent one (which `concurrent::build` applies outside
/// any transaction), and record their checksums; returns the names applied.
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<String>> {
    super::own::search_path(conn)?;
    if conn
        .pending_migrations(MIGRATIONS)
        .is_ok_and(|p| !p.is_empty())
    {
        super::server::ensure_writable(conn)?;
    }
    let mut pending = conn
        .pending_migrations(MIGRATIONS)
        .map_err(|e| migration_error("reading the applied migrations failed", e))?;
    pending.sort_by(|a, b| a.name().version().cmp(&b.name().version()));
    let mut applied = Vec::new();
    for m in pending {
        if !m.metadata().run_in_transaction() {
            break;
        }
        conn.run_migration(&*m)
            .map_err(|e| migration_error("applying migrations failed", e))?;
        applied.push(m.name().to_string());
    }
    record_checksums(conn)?;
    Ok(applied)
}

/// The newest applied migration this binary knows, if any.
pub fn newest_applied(conn: &mut PgConnection) -> Result<Option<EmbeddedMigration>> {
    let applied = applied_versions(conn)?;
    Ok(embedded_migrations()?
        .into_iter()
        .rev()
        .find(|m| applied.contains(&m.version)))
}

/// Revert the newest applied migration in the caller's transaction; returns its name.
/// A concurrent migration is reverted by `concurrent::revert` instead.
pub fn revert_last(conn: &mut PgConnection) -> Result<String> {
    let newest = newest_applied(conn)?
        .ok_or_else(|| Error::failure("no migration is applied; nothing to revert"))?;
    if newest.concurrent {
        return Err(Error::failure(format!(
            "{} builds its indexes concurrently and is reverted outside a transaction",
            newest.name
        )));
    }
    let migrations = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|e| Error::failure(format!("embedded migrations are unreadable: {e}")))?;
    let m = migrations
        .iter()
        .find(|m| m.name().version().to_string() == newest.version)
        .ok_or_else(|| Error::failure(format!("{} is not embedded", newest.name)))?;
    super::own::search_path(conn)?;
    super::server::ensure_writable(conn)?;
    conn.revert_migration(&**m)
        .map_err(|e| migration_error("reverting the migration failed", e))?;
    Ok(newest.name)
}

fn migration_error(what: &str, e: Box<dyn std::error::Error + Send + Sync>) -> Error {
    // diesel_migrations keeps the statement's own error inside a type it does not export
    // (RunMigrationsError, with no source()): a read-only server is therefore refused
    // before the harness runs (`server::ensure_writable`), not read from this error.
    match e.downcast::<diesel::result::Error>() {
        Ok(d) => {
            let err = Error::from(*d);
            if err.kind == crate::error::Kind::Failure {
                Error::failure(format!("{what}: {}", err.message))
            } else {
                err
            }
        }
        Err(e) => Error::failure(format!("{what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_migration_has_its_sql_for_checksums() {
        let embedded = embedded_migrations().unwrap();
        assert_eq!(embedded.len(), MIGRATION_SQL.len());
        for m in &embedded {
            let sum = embedded_checksum(&m.version);
            assert!(sum.is_some_and(|s| s.len() == 64), "{}", m.name);
        }
        for (v, sql) in MIGRATION_SQL {
            let m = embedded.iter().find(|m| m.version == *v).unwrap();
            let path = format!(
                "{}/migrations/{}/up.sql",
                env!("CARGO_MANIFEST_DIR"),
                m.name
            );
            assert_eq!(std::fs::read_to_string(path).unwrap(), *sql);
        }
        // stackctl runs a concurrent migration's down.sql itself, so it embeds that too.
        for m in embedded.iter().filter(|m| m.concurrent) {
            let path = format!(
                "{}/migrations/{}/down.sql",
                env!("CARGO_MANIFEST_DIR"),
                m.name
            );
            assert_eq!(
                concurrent_down_sql(&m.version),
                Some(std::fs::read_to_string(path).unwrap().as_str()),
                "{}",
                m.name
            );
        }
        assert_eq!(
            embedded.iter().filter(|m| m.concurrent).count(),
            CONCURRENT_DOWN_SQL.len()
        );
    }
}
