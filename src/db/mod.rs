//! The database layer: connections, embedded migrations, the schema gate and every query.
//! Nothing here prints or prompts.

pub mod adopt;
pub mod anonymize;
pub mod audit;
pub mod concurrent;
pub mod copy;
pub mod counts;
pub mod drift;
pub mod import;
pub mod items;
pub mod layout;
pub mod locks;
pub mod migrations;
pub mod models;
pub mod own;
pub mod personal;
pub mod schema;
pub mod schema_stackctl;
pub mod server;
pub mod shape;
pub mod simple;
pub mod snapshot;
pub mod users;

pub use locks::lock_user_identities;
pub use migrations::*;
pub use server::{current_database, server_version};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::error::{Error, Result};
use crate::layout::Layout;

#[diesel::declare_sql_function]
extern "SQL" {
    #[sql_name = "lower"]
    fn lower_text(x: Text) -> Text;
}

/// Connect. Diesel's prepared-statement cache is off: it names statements
/// (`__diesel_stmt_N`) that live as long as the server connection, and behind a
/// transaction-pooling PgBouncer that connection is shared with other clients, whose
/// statements of the same name then collide. Uncached statements are sent unnamed and die
/// with their query; a one-shot command gains next to nothing from the cache anyway.
pub fn connect(url: &str) -> Result<PgConnection> {
    let mut conn = PgConnection::establish(url).map_err(Error::from)?;
    conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
    Ok(conn)
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

pub fn table_exists(conn: &mut PgConnection, name: &str) -> Result<bool> {
    let row: Exists = diesel::sql_query("SELECT to_regclass($1) IS NOT NULL AS exists")
        .bind::<Text, _>(name)
        .get_result(conn)?;
    Ok(row.exists)
}

/// The schema gate, which also tells the layout (`chosen`: `--layout` / `STACKCTL_LAYOUT`)
/// and whether stackctl's audit table is there, from the same read. On the StackWizard
/// layout data commands run only on a database at exactly our version; the Simple DB
/// layout's tables belong to the application's Alembic, so only their presence is asked.
pub fn gate(conn: &mut PgConnection, chosen: Option<Layout>) -> Result<(Layout, bool)> {
    gate_on(layout::read(conn, chosen)?, chosen)
}

/// `gate` on facts already read (the embedded instance's connection read them on the way).
pub fn gate_on(facts: layout::Facts, chosen: Option<Layout>) -> Result<(Layout, bool)> {
    match crate::layout::resolve(facts.found, chosen)? {
        Layout::StackWizard => {
            check_ready(&SchemaState {
                embedded: embedded_migrations()?,
                applied: facts.applied,
            })?;
            Ok((Layout::StackWizard, true))
        }
        Layout::Simple if facts.found == crate::layout::Found::Empty => Err(Error::schema(
            "the database has no users table for the simple layout",
        )
        .with_hint("stackctl migrate --layout simple creates the Simple DB schema")),
        // An older stackctl's audit trail in public: writes would go unaudited until it
        // is moved where this one writes it.
        Layout::Simple if facts.legacy_audit && !facts.audit => Err(Error::schema(
            "stackctl's audit trail is still in the schema public, where an older stackctl made it",
        )
        .with_hint("run stackctl migrate: it moves the audit trail into the schema stackctl")),
        Layout::Simple => Ok((Layout::Simple, facts.audit)),
    }
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
