//! The database layer: connections, embedded migrations, the schema gate and every query.
//! Nothing here prints or prompts.

pub mod adopt;
pub mod audit;
pub mod import;
pub mod items;
pub mod models;
pub mod schema;
pub mod users;

use std::collections::BTreeSet;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{Error, Result};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Advisory-lock key that serialises `migrate` runs ("stackctl" in ASCII, truncated).
const MIGRATION_LOCK_KEY: i64 = 0x737461636b63746c;
/// Transaction-level lock key that serialises user writes that can clash on
/// email or username (the unique constraints are case-sensitive, our rule is not).
pub const USER_IDENTITY_LOCK_KEY: i64 = 0x737461636b757372;

#[diesel::declare_sql_function]
extern "SQL" {
    #[sql_name = "lower"]
    fn lower_text(x: Text) -> Text;
}

pub fn connect(url: &str) -> Result<PgConnection> {
    let conn = PgConnection::establish(url).map_err(Error::from)?;
    Ok(conn)
}

/// One embedded migration.
#[derive(Debug, Clone)]
pub struct EmbeddedMigration {
    pub version: String,
    pub name: String,
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
        })
        .collect())
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    version: String,
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
}

pub fn table_exists(conn: &mut PgConnection, name: &str) -> Result<bool> {
    let row: Exists = diesel::sql_query("SELECT to_regclass($1) IS NOT NULL AS exists")
        .bind::<Text, _>(name)
        .get_result(conn)?;
    Ok(row.exists)
}

/// Versions recorded as applied, read without creating anything.
pub fn applied_versions(conn: &mut PgConnection) -> Result<BTreeSet<String>> {
    if !table_exists(conn, "__diesel_schema_migrations")? {
        return Ok(BTreeSet::new());
    }
    let rows: Vec<VersionRow> =
        diesel::sql_query("SELECT version::text AS version FROM __diesel_schema_migrations")
            .load(conn)?;
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

/// The schema gate: data commands run only on a database at exactly our version.
pub fn ensure_ready(conn: &mut PgConnection) -> Result<()> {
    check_ready(&SchemaState::read(conn)?)
}

/// The schema gate on a state already read.
pub fn check_ready(state: &SchemaState) -> Result<()> {
    let unknown = state.unknown();
    if !unknown.is_empty() {
        return Err(Error::schema(format!(
            "the database has migrations this stackctl does not know: {}",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("upgrade stackctl to the version that migrated this database"));
    }
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
];

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
    if !table_exists(conn, "public.stackctl_migration_checksums")? {
        return Ok(());
    }
    for version in applied_versions(conn)? {
        if let Some(sum) = embedded_checksum(&version) {
            diesel::sql_query(
                "INSERT INTO stackctl_migration_checksums (version, sha256) VALUES ($1, $2) \
                 ON CONFLICT (version) DO NOTHING",
            )
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
    if !table_exists(conn, "public.stackctl_migration_checksums")? {
        return Ok(None);
    }
    let rows: Vec<ChecksumRow> = diesel::sql_query(
        "SELECT version, sha256 FROM stackctl_migration_checksums ORDER BY version",
    )
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

/// Run `f` in a transaction that is always rolled back (a dry run): its value, or its error.
pub fn rolled_back<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    let mut kept = None;
    let outcome = conn.transaction::<(), Error, _>(|conn| {
        kept = Some(f(conn)?);
        Err(Error::failure("dry run: rolled back"))
    });
    match (kept, outcome) {
        (Some(value), _) => Ok(value),
        (None, Err(e)) => Err(e),
        (None, Ok(())) => unreachable!("the closure never returns Ok"),
    }
}

/// The migration lock's row in table mode: who holds it, since when.
#[derive(QueryableByName)]
struct LockRow {
    #[diesel(sql_type = Text)]
    holder: String,
    #[diesel(sql_type = Text)]
    since: String,
}

/// Hold the migration lock for the duration of `f`, in the given mode. `Auto` takes the
/// session advisory lock and checks in `pg_locks` that this session really holds it; behind
/// a transaction-pooling PgBouncer it does not, and the table lock is used instead.
pub fn with_migration_lock_mode<T>(
    conn: &mut PgConnection,
    mode: crate::cli::LockMode,
    timeout: std::time::Duration,
    note: &dyn Fn(&str),
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    use crate::cli::LockMode;
    let use_table = match mode {
        LockMode::Table => true,
        LockMode::Advisory | LockMode::Auto => {
            conn.batch_execute(&format!(
                "SET lock_timeout = {}; SELECT pg_advisory_lock({MIGRATION_LOCK_KEY}); SET lock_timeout = 0",
                timeout.as_millis()
            ))
            .map_err(|e| {
                let e = Error::from(e);
                if e.message.contains("lock timeout") {
                    Error::conflict("another migrate run holds the migration lock")
                        .with_hint("wait for it, or raise --lock-timeout")
                } else {
                    e
                }
            })?;
            #[derive(QueryableByName)]
            struct Held {
                #[diesel(sql_type = BigInt)]
                n: i64,
            }
            if mode == LockMode::Advisory {
                return holding_advisory_lock(conn, f);
            }
            let held: Held = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND pid = pg_backend_pid() AND classid = {} AND objid = {}",
                (MIGRATION_LOCK_KEY >> 32) as u32,
                (MIGRATION_LOCK_KEY & 0xffff_ffff) as u32
            ))
            .get_result(conn)?;
            if held.n == 0 {
                note("the advisory lock is not held on this session (a transaction pooler?); using the stackctl_lock table");
                let _ =
                    conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
                true
            } else {
                false
            }
        }
    };
    if !use_table {
        return holding_advisory_lock(conn, f);
    }
    let holder = {
        let a = audit::Actor::current();
        format!("{}@{} pid {}", a.os_user, a.hostname, std::process::id())
    };
    // Two first runs may race to create the table: the loser's error is harmless.
    if conn
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS stackctl_lock (name TEXT PRIMARY KEY, holder TEXT NOT NULL, \
             acquired_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .is_err()
    {
        conn.batch_execute("SELECT 1 FROM stackctl_lock LIMIT 0")?;
    }
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let got: Vec<LockRow> = diesel::sql_query(
            "INSERT INTO stackctl_lock (name, holder) VALUES ('migrate', $1) ON CONFLICT (name) DO NOTHING \
             RETURNING holder, acquired_at::text AS since",
        )
        .bind::<Text, _>(&holder)
        .load(conn)?;
        if !got.is_empty() {
            break;
        }
        if std::time::Instant::now() >= deadline {
            let who: Vec<LockRow> = diesel::sql_query(
                "SELECT holder, acquired_at::text AS since FROM stackctl_lock WHERE name = 'migrate'",
            )
            .load(conn)?;
            let by = who.first().map_or("another run".to_string(), |w| {
                format!("{} since {}", w.holder, w.since)
            });
            return Err(Error::conflict(format!("the migration lock is held by {by}")).with_hint(
                "wait and retry; if that process is gone: DELETE FROM stackctl_lock WHERE name = 'migrate'",
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let result = f(conn);
    let release =
        diesel::sql_query("DELETE FROM stackctl_lock WHERE name = 'migrate' AND holder = $1")
            .bind::<Text, _>(&holder)
            .execute(conn);
    let value = result?;
    release?;
    Ok(value)
}

/// Hold the session-level migration lock for the duration of `f`.
pub fn with_migration_lock<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
    holding_advisory_lock(conn, f)
}

/// Run `f` with the session advisory lock already taken, then release it.
fn holding_advisory_lock<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    let result = f(conn);
    let unlock = conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
    let value = result?;
    unlock?;
    Ok(value)
}

/// Apply every pending migration and record their checksums; returns the names applied.
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<String>> {
    let applied: Vec<String> = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| migration_error("applying migrations failed", e))?
        .iter()
        .map(|v| v.to_string())
        .collect();
    record_checksums(conn)?;
    let embedded = embedded_migrations()?;
    Ok(applied
        .iter()
        .map(|v| {
            embedded
                .iter()
                .find(|m| &m.version == v)
                .map_or(v.clone(), |m| m.name.clone())
        })
        .collect())
}

/// Revert the newest applied migration; returns its name.
pub fn revert_last(conn: &mut PgConnection) -> Result<String> {
    let v = conn
        .revert_last_migration(MIGRATIONS)
        .map_err(|e| migration_error("reverting the migration failed", e))?;
    let v = v.to_string();
    let embedded = embedded_migrations()?;
    Ok(embedded
        .iter()
        .find(|m| m.version == v)
        .map_or(v, |m| m.name.clone()))
}

fn migration_error(what: &str, e: Box<dyn std::error::Error + Send + Sync>) -> Error {
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

pub fn server_version(conn: &mut PgConnection) -> Result<String> {
    let row: TextRow =
        diesel::sql_query("SELECT current_setting('server_version') AS value").get_result(conn)?;
    Ok(row.value)
}

pub fn current_database(conn: &mut PgConnection) -> Result<String> {
    let row: TextRow =
        diesel::sql_query("SELECT current_database()::text AS value").get_result(conn)?;
    Ok(row.value)
}

/// Row count of a table we know exists (`users` or `items`).
pub fn count_rows(conn: &mut PgConnection, table: &str) -> Result<i64> {
    let table = match table {
        "users" => "users",
        "items" => "items",
        other => return Err(Error::failure(format!("no such table {other}"))),
    };
    let row: Count =
        diesel::sql_query(format!("SELECT count(*) AS count FROM {table}")).get_result(conn)?;
    Ok(row.count)
}

/// Take the transaction-level lock that serialises identity changes to users.
pub fn lock_user_identities(conn: &mut PgConnection) -> Result<()> {
    conn.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({USER_IDENTITY_LOCK_KEY})"
    ))?;
    Ok(())
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
    }
}
