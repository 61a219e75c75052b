//! Where stackctl's own tables are. Migration 000005 moves them (the migration record,
//! the checksums, the audit trail, the lock row) into the schema `stackctl`, out of the
//! application's `public`, which its Alembic compares. A database an older stackctl
//! migrated has them in `public` until `migrate` moves them: what reads the record before
//! that (the gate, `migrate` itself) asks here.
//!
//! Migrations run with `search_path = stackctl, public` for their transaction (Diesel's
//! harness names its record table unqualified), and so does every statement on the audit
//! trail (`schema_stackctl.rs` names it unqualified). The schema `stackctl` exists only
//! once 000005 is applied, so before that every object a migration creates lands in
//! `public`; migrations after 000005 name the application's schema explicitly. A role that
//! may not create a schema leaves stackctl's tables in `public` (000005 skips the move);
//! `move_home` moves them at the end of a later `migrate` run by a role that may.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::error::Result;

/// The schema of stackctl's own tables.
pub const SCHEMA: &str = "stackctl";

/// The qualified name of stackctl's table `name`: in the schema `stackctl` where it is,
/// else in `public` (a database not yet moved); `None` where it is in neither.
pub fn find(conn: &mut PgConnection, name: &str) -> Result<Option<String>> {
    // Read from the catalog, which needs no privilege on the schema (`to_regclass` would
    // fail for a role without USAGE on it, and its refusal then needs this answer).
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        schema: Option<String>,
    }
    let row: Found = diesel::sql_query(
        "SELECT (SELECT n.nspname::text FROM pg_class c \
                   JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE c.relname = $1 AND n.nspname IN ('stackctl', 'public') \
                  ORDER BY n.nspname = 'stackctl' DESC LIMIT 1) AS schema",
    )
    .bind::<diesel::sql_types::Text, _>(name)
    .get_result(conn)?;
    Ok(row.schema.map(|schema| format!("{schema}.{name}")))
}

/// Where a table of stackctl's is created when it is missing: the schema `stackctl` once
/// it exists (000005 applied), else `public`, where 000005 will find it.
pub fn home(conn: &mut PgConnection, name: &str) -> Result<String> {
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let row: Exists = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'stackctl') AS exists",
    )
    .get_result(conn)?;
    Ok(format!(
        "{}.{name}",
        if row.exists { SCHEMA } else { "public" }
    ))
}

/// For the rest of the caller's transaction, the search path stackctl's own tables are
/// found through (wherever they are) beside the application's in `public`.
pub fn search_path(conn: &mut PgConnection) -> Result<()> {
    conn.batch_execute("SET LOCAL search_path = stackctl, public")?;
    Ok(())
}

/// Where stackctl's tables are still in `public` (000005 applied by a role that could not
/// create the schema) and this role may now create it: move them, as 000005 does (its SQL
/// is idempotent). True when something moved.
pub fn move_home(conn: &mut PgConnection) -> Result<bool> {
    if find(conn, "__diesel_schema_migrations")?.as_deref()
        != Some("public.__diesel_schema_migrations")
    {
        return Ok(false);
    }
    let sql = super::migration_sql(MOVE_VERSION).unwrap_or_default();
    conn.transaction::<_, crate::error::Error, _>(|conn| {
        conn.batch_execute(sql)?;
        Ok(())
    })?;
    Ok(find(conn, "__diesel_schema_migrations")?.as_deref()
        == Some("stackctl.__diesel_schema_migrations"))
}

/// The migration that moves stackctl's tables into their schema.
pub const MOVE_VERSION: &str = "20261204000005";

/// The schema stackctl's tables are in now: `stackctl`, or `public` where they have not
/// been moved (yet).
pub fn schema_in_use(conn: &mut PgConnection) -> Result<&'static str> {
    Ok(match find(conn, "__diesel_schema_migrations")? {
        Some(record) if record.starts_with("public.") => "public",
        _ => SCHEMA,
    })
}
