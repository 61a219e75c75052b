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

/// Hold the session-level migration lock for the duration of `f`.
pub fn with_migration_lock<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
    let result = f(conn);
    let unlock = conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
    let value = result?;
    unlock?;
    Ok(value)
}

/// Apply every pending migration; returns the names applied.
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<String>> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| migration_error("applying migrations failed", e))?;
    let embedded = embedded_migrations()?;
    Ok(applied
        .iter()
        .map(|v| {
            let v = v.to_string();
            embedded
                .iter()
                .find(|m| m.version == v)
                .map_or(v, |m| m.name.clone())
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
