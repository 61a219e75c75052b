//! Running a concurrent migration's steps, each its own autocommit transaction: an index
//! that exists and is valid is left alone, one an interrupted build left invalid is
//! dropped and built again; and recording the migration once every step ran.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Nullable, Text};

use super::steps::{index_built, indexes_of, steps, table_indexed};
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
        let table = table_indexed(step.sql).unwrap_or_default();
        // Not there: absent, or its name held by another object.
        if matches!(
            index_state(conn, name, table)?,
            IndexState::Missing | IndexState::Taken(_)
        ) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// What stands under an index's name in `public`.
#[derive(Debug, PartialEq, Eq)]
enum IndexState {
    Missing,
    /// Our index, on its table: valid or not (an interrupted concurrent build).
    Index {
        valid: bool,
    },
    /// Another object has the name (a table, a view, an index on another table): the
    /// index cannot be built under it, and `IF NOT EXISTS` would skip it silently.
    Taken(String),
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Nullable<Text>)]
    kind: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    valid: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    on_table: Option<bool>,
}

/// What has the index's name in `public`, checked by `pg_index`: an index, on `table`.
fn index_state(conn: &mut PgConnection, name: &str, table: &str) -> Result<IndexState> {
    let row: Found = diesel::sql_query(
        "SELECT (SELECT CASE c.relkind WHEN 'r' THEN 'a table' WHEN 'p' THEN 'a table' \
                                       WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view' \
                                       WHEN 'S' THEN 'a sequence' WHEN 'f' THEN 'a foreign table' \
                                       WHEN 'c' THEN 'a composite type' ELSE 'an index' END \
                   FROM pg_class c WHERE c.oid = to_regclass($1)) AS kind, \
                (SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)) AS valid, \
                (SELECT i.indrelid = to_regclass($2) FROM pg_index i \
                  WHERE i.indexrelid = to_regclass($1)) AS on_table",
    )
    .bind::<Text, _>(format!("public.{name}"))
    .bind::<Text, _>(format!("public.{table}"))
    .get_result(conn)?;
    Ok(match (row.kind, row.valid, row.on_table) {
        (None, _, _) => IndexState::Missing,
        (Some(_), Some(valid), Some(true)) => IndexState::Index { valid },
        (Some(kind), _, Some(false)) => IndexState::Taken(format!("{kind} on another table")),
        (Some(kind), _, _) => IndexState::Taken(kind),
    })
}

/// The error for a name another object holds: what holds it, and the repair.
fn taken(name: &str, table: &str, what: &str) -> Error {
    Error::schema(format!(
        "the name public.{name} is taken by {what}, so stackctl's index on {table} cannot be built"
    ))
    .with_hint(format!(
        "rename or drop that object (for example ALTER TABLE public.{name} RENAME TO {name}_old, \
         or DROP INDEX for an index), then run `stackctl migrate`"
    ))
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
    let mut first_taken: Option<Error> = None;
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
        let built = index_built(step.sql).zip(table_indexed(step.sql));
        if let Some((name, table)) = built {
            match make_way(conn, name, table, note) {
                Ok(true) => {}
                Ok(false) => continue,
                // The others are still built; the first name taken is reported at the end.
                Err(e) if e.kind == crate::error::Kind::SchemaNotReady => {
                    first_taken.get_or_insert(e);
                    continue;
                }
                Err(e) => return Err(e),
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
        // `IF NOT EXISTS` skips a name something else took meanwhile: check what is there.
        if let Some((name, table)) = built {
            match index_state(conn, name, table)? {
                IndexState::Index { valid: true } => {}
                IndexState::Taken(what) => {
                    first_taken.get_or_insert(taken(name, table, &what));
                }
                other => {
                    return Err(Error::failure(format!(
                        "building {name} on {table} left {other:?}"
                    )))
                }
            }
        }
    }
    match first_taken {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Before building index `name` on `table`: false when it exists there and is valid
/// (nothing to do); an error when another object holds the name; otherwise whatever an
/// interrupted build left is gone and the build may start.
fn make_way(
    conn: &mut PgConnection,
    name: &str,
    table: &str,
    note: &dyn Fn(String),
) -> Result<bool> {
    let mut waited = false;
    loop {
        match index_state(conn, name, table)? {
            IndexState::Missing => return Ok(true),
            IndexState::Index { valid: true } => return Ok(false),
            IndexState::Taken(what) => return Err(taken(name, table, &what)),
            IndexState::Index { valid: false } if being_built(conn, name)? => {
                if !waited {
                    note(format!(
                        "waiting for another backend still building {name} (a run that was stopped)"
                    ));
                    waited = true;
                }
                std::thread::sleep(POLL);
            }
            IndexState::Index { valid: false } => {
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
        let record = crate::db::own::find(conn, "__diesel_schema_migrations")?
            .ok_or_else(|| Error::failure("the migration record is missing"))?;
        diesel::sql_query(format!(
            "INSERT INTO {record} (version) VALUES ($1) ON CONFLICT DO NOTHING"
        ))
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
    let record = crate::db::own::find(conn, "__diesel_schema_migrations")?
        .ok_or_else(|| Error::failure("the migration record is missing"))?;
    diesel::sql_query(format!("DELETE FROM {record} WHERE version = $1"))
        .bind::<Text, _>(&m.version)
        .execute(conn)?;
    Ok(())
}
