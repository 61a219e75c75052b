//! Running a concurrent migration's steps, each its own autocommit transaction: an index
//! that exists and is valid is left alone, one an interrupted build left invalid is
//! dropped and built again; and recording the migration once every step ran.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Nullable, Text};

use super::steps::{index_built, indexes_of, steps};
use crate::db::EmbeddedMigration;
use crate::error::{Error, Result};

/// How long to wait between looks at another backend's build of one of our indexes.
const POLL: std::time::Duration = std::time::Duration::from_millis(200);

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Indexes of this migration on `public.users`/`public.items` that are not valid.
pub fn invalid_indexes(conn: &mut PgConnection, version: &str) -> Result<Vec<String>> {
    let names: Vec<String> = indexes_of(version).iter().map(|n| n.to_string()).collect();
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE i.indrelid IN (to_regclass('public.users'), to_regclass('public.items')) \
           AND NOT i.indisvalid AND c.relname = ANY($1) ORDER BY 1",
    )
    .bind::<Array<Text>, _>(&names)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Indexes of this migration that a build would make and that do not exist: an import
/// dropped them for its load and was stopped before it built them again. (An index that
/// needs an operator class is not missing: where the class was not there when the
/// migration ran, the index was skipped, and a later `CREATE EXTENSION` does not make a
/// routine `migrate` build it; nor is an optional step's.)
pub fn missing_indexes(conn: &mut PgConnection, version: &str) -> Result<Vec<String>> {
    let sql = crate::db::migration_sql(version).unwrap_or_default();
    let mut out = Vec::new();
    for step in steps(sql) {
        let Some(name) = index_built(step.sql) else {
            continue;
        };
        if step.optional || step.needs.is_some() {
            continue;
        }
        if index_validity(conn, name)?.is_none() {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct Validity {
    #[diesel(sql_type = Nullable<Bool>)]
    valid: Option<bool>,
}

/// Whether the index exists in `public` (and then whether it is valid).
fn index_validity(conn: &mut PgConnection, name: &str) -> Result<Option<bool>> {
    let row: Validity = diesel::sql_query(
        "SELECT (SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)) AS valid",
    )
    .bind::<Text, _>(format!("public.{name}"))
    .get_result(conn)?;
    Ok(row.valid)
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

/// Whether another backend is building this index right now (a run killed before its
/// statement ended leaves its backend building until the statement is done).
fn being_built(conn: &mut PgConnection, name: &str) -> Result<bool> {
    let row: Flag = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_progress_create_index \
                        WHERE index_relid = to_regclass($1) AND pid <> pg_backend_pid()) AS flag",
    )
    .bind::<Text, _>(format!("public.{name}"))
    .get_result(conn)?;
    Ok(row.flag)
}

fn opclass_visible(conn: &mut PgConnection, opclass: &str) -> Result<bool> {
    let row: Flag = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_opclass WHERE opcname = $1 AND pg_opclass_is_visible(oid)) AS flag",
    )
    .bind::<Text, _>(opclass)
    .get_result(conn)?;
    Ok(row.flag)
}

/// A statement of ours must not run inside a transaction: refuse rather than fail half-way.
pub(super) fn outside_transactions(conn: &mut PgConnection) -> Result<()> {
    let depth = AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .flatten();
    if depth.is_some() {
        return Err(Error::failure(
            "a concurrent index build was started inside a transaction",
        ));
    }
    Ok(())
}

/// Run the steps of concurrent migration `m`: build (or rebuild) its indexes. The caller
/// holds the build lock; `note` hears what was skipped or repaired.
pub fn build(conn: &mut PgConnection, m: &EmbeddedMigration, note: &dyn Fn(String)) -> Result<()> {
    run_steps(conn, m, None, note)
}

/// `build`, for the steps that build one of `names` only (no extension is created).
pub(super) fn build_only(
    conn: &mut PgConnection,
    m: &EmbeddedMigration,
    names: &[&str],
    note: &dyn Fn(String),
) -> Result<()> {
    run_steps(conn, m, Some(names), note)
}

fn run_steps(
    conn: &mut PgConnection,
    m: &EmbeddedMigration,
    only: Option<&[&str]>,
    note: &dyn Fn(String),
) -> Result<()> {
    outside_transactions(conn)?;
    let sql = crate::db::migration_sql(&m.version)
        .ok_or_else(|| Error::failure(format!("the SQL of {} is not embedded", m.name)))?;
    for step in steps(sql) {
        if let Some(only) = only {
            if !index_built(step.sql).is_some_and(|name| only.contains(&name)) {
                continue;
            }
        }
        if let Some(opclass) = step.needs {
            if !opclass_visible(conn, opclass)? {
                if let Some(name) = index_built(step.sql) {
                    note(format!(
                        "{name} not built: operator class {opclass} is not available here"
                    ));
                }
                continue;
            }
        }
        if let Some(name) = index_built(step.sql) {
            if !make_way(conn, name, note)? {
                continue;
            }
        }
        match conn.batch_execute(step.sql) {
            Ok(()) => {}
            Err(e) if step.optional => note(format!(
                "skipped `{}`: {}",
                step.sql,
                Error::from(e).message
            )),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Before building index `name`: false when it exists and is valid (nothing to do);
/// otherwise whatever an interrupted build left is gone and the build may start.
fn make_way(conn: &mut PgConnection, name: &str, note: &dyn Fn(String)) -> Result<bool> {
    let mut waited = false;
    loop {
        match index_validity(conn, name)? {
            None => return Ok(true),
            Some(true) => return Ok(false),
            Some(false) if being_built(conn, name)? => {
                if !waited {
                    note(format!(
                        "waiting for another backend still building {name} (a run that was stopped)"
                    ));
                    waited = true;
                }
                std::thread::sleep(POLL);
            }
            Some(false) => {
                note(format!(
                    "dropping {name}: an interrupted concurrent build left it invalid; building it again"
                ));
                conn.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS public.{name}"))?;
                return Ok(true);
            }
        }
    }
}

/// Record concurrent migration `m` as applied (with its checksum), in one short transaction.
pub fn record(conn: &mut PgConnection, m: &EmbeddedMigration) -> Result<()> {
    conn.transaction::<_, Error, _>(|conn| {
        diesel::sql_query(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(&m.version)
        .execute(conn)?;
        crate::db::record_checksums(conn)
    })
}

/// Revert concurrent migration `m`: its down.sql one statement at a time, then the record.
pub fn revert(conn: &mut PgConnection, m: &EmbeddedMigration) -> Result<()> {
    outside_transactions(conn)?;
    let sql = crate::db::concurrent_down_sql(&m.version)
        .ok_or_else(|| Error::failure(format!("the down.sql of {} is not embedded", m.name)))?;
    for step in steps(sql) {
        conn.batch_execute(step.sql)?;
    }
    unrecord(conn, m)
}

/// Remove concurrent migration `m`'s record: it is no longer applied.
pub(super) fn unrecord(conn: &mut PgConnection, m: &EmbeddedMigration) -> Result<()> {
    diesel::sql_query("DELETE FROM __diesel_schema_migrations WHERE version = $1")
        .bind::<Text, _>(&m.version)
        .execute(conn)?;
    Ok(())
}
