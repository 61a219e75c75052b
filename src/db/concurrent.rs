//! Migrations that build indexes concurrently (`run_in_transaction = false`).
//!
//! `CREATE INDEX CONCURRENTLY` cannot run in a transaction block, and PostgreSQL runs a
//! query string of several statements as one implicit transaction, so such a migration is
//! run here one statement at a time, each its own autocommit transaction, on a connection
//! that is in no transaction of ours, while `locks::with_build_lock` keeps other migrate
//! runs out. Every step is idempotent: an index that exists and is valid is left alone, one
//! left invalid by a failed or interrupted build (`pg_index.indisvalid = false`) is dropped
//! and built again. The migration is recorded as applied only after its last step, so a run
//! that dies part-way leaves it pending, and the next `migrate` finishes it.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Nullable, Text};

use super::{EmbeddedMigration, SchemaState};
use crate::error::{Error, Result};

/// How long to wait between looks at another backend's build of one of our indexes.
const POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// One statement of a concurrent migration's SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<'a> {
    /// The statement, without its semicolon.
    pub sql: &'a str,
    /// `-- optional` above it: a failure is reported and the migration goes on.
    pub optional: bool,
    /// `-- needs: OPCLASS` above it: it runs only where that operator class is visible
    /// (an extension the previous, optional, step could not create).
    pub needs: Option<&'a str>,
}

/// The statements of a migration file, in order, with the markers of the comment lines
/// above each. A statement ends at a line that ends with `;`.
pub fn steps(sql: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    let (mut optional, mut needs) = (false, None);
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        let here = offset;
        offset += line.len();
        let text = line.trim();
        if start.is_none() {
            if text.is_empty() {
                continue;
            }
            if let Some(comment) = text.strip_prefix("--") {
                let comment = comment.trim();
                if comment == "optional" {
                    optional = true;
                } else if let Some(opclass) = comment.strip_prefix("needs:") {
                    needs = Some(opclass.trim());
                }
                continue;
            }
            start = Some(here + (line.len() - line.trim_start().len()));
        }
        if let (Some(from), true) = (start, text.ends_with(';')) {
            let end = here + line.trim_end().len() - 1;
            out.push(Step {
                sql: sql[from..end].trim_end(),
                optional,
                needs,
            });
            (optional, needs, start) = (false, None, None);
        }
    }
    out
}

/// The index a `CREATE INDEX CONCURRENTLY IF NOT EXISTS name ON ...` step builds.
pub fn index_built(step: &str) -> Option<&str> {
    let rest = step.strip_prefix("CREATE INDEX CONCURRENTLY IF NOT EXISTS ")?;
    let name = rest.split_whitespace().next()?;
    rest[name.len()..]
        .trim_start()
        .starts_with("ON ")
        .then_some(name)
}

/// The indexes a concurrent migration builds.
pub fn indexes_of(version: &str) -> Vec<&'static str> {
    super::migration_sql(version)
        .map(|sql| {
            steps(sql)
                .iter()
                .filter_map(|s| index_built(s.sql))
                .collect()
        })
        .unwrap_or_default()
}

/// What a migrate run has left to do once its transactional migrations are applied.
#[derive(Debug, Clone)]
pub enum Next {
    /// Nothing: every migration is applied and every index of ours is valid.
    Done,
    /// This concurrent migration is the first pending one.
    Build(EmbeddedMigration),
    /// This concurrent migration is applied, but an index of it is invalid (a later
    /// failed `REINDEX CONCURRENTLY`, say): build it again.
    Repair(EmbeddedMigration),
}

/// What comes next, judged in the caller's transaction (the migration lock's).
pub fn next(conn: &mut PgConnection) -> Result<Next> {
    let state = SchemaState::read(conn)?;
    if let Some(first) = state.pending().first() {
        return Ok(if first.concurrent {
            Next::Build((*first).clone())
        } else {
            // A transactional migration after a concurrent one another run is building.
            Next::Done
        });
    }
    for m in state.embedded.iter().filter(|m| m.concurrent) {
        if !invalid_indexes(conn, &m.version)?.is_empty() {
            return Ok(Next::Repair(m.clone()));
        }
    }
    Ok(Next::Done)
}

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
fn outside_transactions(conn: &mut PgConnection) -> Result<()> {
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
    outside_transactions(conn)?;
    let sql = super::migration_sql(&m.version)
        .ok_or_else(|| Error::failure(format!("the SQL of {} is not embedded", m.name)))?;
    for step in steps(sql) {
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
        super::record_checksums(conn)
    })
}

/// Revert concurrent migration `m`: its down.sql one statement at a time, then the record.
pub fn revert(conn: &mut PgConnection, m: &EmbeddedMigration) -> Result<()> {
    outside_transactions(conn)?;
    let sql = super::concurrent_down_sql(&m.version)
        .ok_or_else(|| Error::failure(format!("the down.sql of {} is not embedded", m.name)))?;
    for step in steps(sql) {
        conn.batch_execute(step.sql)?;
    }
    unrecord(conn, m)
}

/// Remove concurrent migration `m`'s record: it is no longer applied.
fn unrecord(conn: &mut PgConnection, m: &EmbeddedMigration) -> Result<()> {
    diesel::sql_query("DELETE FROM __diesel_schema_migrations WHERE version = $1")
        .bind::<Text, _>(&m.version)
        .execute(conn)?;
    Ok(())
}

/// How a migrate run keeps others out, and where its guard connection goes.
#[derive(Debug, Clone)]
pub struct LockSpec<'a> {
    pub mode: super::locks::LockMode,
    pub timeout: std::time::Duration,
    /// The URL `conn` was opened with: the build lock's guard connects there too.
    pub url: &'a str,
}

/// What a run applied or reverted, in order.
#[derive(Debug, Default)]
pub struct Applied {
    pub names: Vec<String>,
    /// Those among `names` whose statements run concurrently, outside any transaction:
    /// a dry run records or unrecords them in its rolled-back transaction but runs none
    /// of their statements, which could not be rolled back.
    pub concurrent: Vec<String>,
}

/// Apply every pending migration. `segment` runs in one transaction under the migration
/// lock, applies the transactional migrations that are pending up to the first concurrent
/// one and returns their names and what comes next (`next`, asked in that transaction);
/// a concurrent migration is then built under the build lock, whose holder asks again what
/// is pending, so concurrent runs build and record it once. Segments and builds alternate
/// until nothing is left. A dry run does it all in one transaction that is rolled back.
pub fn apply_all(
    conn: &mut PgConnection,
    lock: &LockSpec,
    dry_run: bool,
    mut segment: impl FnMut(&mut PgConnection) -> Result<(Vec<String>, Next)>,
    note: &dyn Fn(String),
) -> Result<Applied> {
    // Each round applies a migration or finds nothing left; the bound only stops a
    // repair that never takes.
    let rounds = super::embedded_migrations()?.len() * 2 + 1;
    let mut out = Applied::default();
    if dry_run {
        return super::locks::with_migration_lock(conn, lock.mode, lock.timeout, |conn| {
            super::rolled_back(conn, |conn| {
                for _ in 0..rounds {
                    let (names, then) = segment(conn)?;
                    out.names.extend(names);
                    match then {
                        Next::Done => break,
                        Next::Build(m) => {
                            record(conn, &m)?;
                            out.concurrent.push(m.name.clone());
                            out.names.push(m.name);
                        }
                        Next::Repair(m) => {
                            out.concurrent.push(m.name.clone());
                            out.names.push(m.name);
                            break;
                        }
                    }
                }
                Ok(out)
            })
        });
    }
    for _ in 0..rounds {
        let (names, then) =
            super::locks::with_migration_lock(conn, lock.mode, lock.timeout, &mut segment)?;
        out.names.extend(names);
        if let Next::Done = then {
            return Ok(out);
        }
        let built =
            super::locks::with_build_lock(conn, lock.url, lock.mode, lock.timeout, |conn| {
                // Asked again under the lock: another run may have built it meanwhile.
                match next(conn)? {
                    Next::Build(m) => {
                        build(conn, &m, note)?;
                        record(conn, &m)?;
                        Ok(Some(m.name))
                    }
                    Next::Repair(m) => {
                        build(conn, &m, note)?;
                        Ok(None)
                    }
                    Next::Done => Ok(None),
                }
            })?;
        out.concurrent.extend(built.clone());
        out.names.extend(built);
    }
    Err(Error::failure(
        "indexes stay invalid after being built again; see the server's log",
    ))
}

/// Revert the newest `steps` applied migrations, newest first: consecutive transactional
/// ones in one transaction under the migration lock (`segment` reverts up to the number
/// it is given and returns their names), each concurrent one under the build lock. A dry
/// run does it all in one transaction that is rolled back.
pub fn revert_all(
    conn: &mut PgConnection,
    lock: &LockSpec,
    steps: usize,
    dry_run: bool,
    mut segment: impl FnMut(&mut PgConnection, usize) -> Result<Vec<String>>,
) -> Result<Applied> {
    let mut out = Applied::default();
    if dry_run {
        return super::locks::with_migration_lock(conn, lock.mode, lock.timeout, |conn| {
            super::rolled_back(conn, |conn| {
                while out.names.len() < steps {
                    match super::newest_applied(conn)? {
                        None => break,
                        Some(m) if m.concurrent => {
                            unrecord(conn, &m)?;
                            out.concurrent.push(m.name.clone());
                            out.names.push(m.name);
                        }
                        Some(_) => {
                            let names = segment(conn, steps - out.names.len())?;
                            if names.is_empty() {
                                break;
                            }
                            out.names.extend(names);
                        }
                    }
                }
                Ok(out)
            })
        });
    }
    while out.names.len() < steps {
        let Some(newest) = super::newest_applied(conn)? else {
            break;
        };
        let names = if newest.concurrent {
            super::locks::with_build_lock(conn, lock.url, lock.mode, lock.timeout, |conn| {
                // Asked again under the lock: another run may have reverted it.
                match super::newest_applied(conn)? {
                    Some(m) if m.version == newest.version => {
                        revert(conn, &m)?;
                        Ok(vec![m.name])
                    }
                    _ => Ok(Vec::new()),
                }
            })?
        } else {
            let left = steps - out.names.len();
            super::locks::with_migration_lock(conn, lock.mode, lock.timeout, |conn| {
                segment(conn, left)
            })?
        };
        if names.is_empty() {
            break;
        }
        if newest.concurrent {
            out.concurrent.extend(names.clone());
        }
        out.names.extend(names);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_split_statements_and_keep_their_markers() {
        let sql = "-- a header\n\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x);\n\
                   -- why\n-- optional\nCREATE EXTENSION IF NOT EXISTS pg_trgm;\n\
                   -- needs: gin_trgm_ops\nCREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t\n  USING gin (x gin_trgm_ops);\n";
        let s = steps(sql);
        assert_eq!(
            s,
            [
                Step {
                    sql: "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x)",
                    optional: false,
                    needs: None
                },
                Step {
                    sql: "CREATE EXTENSION IF NOT EXISTS pg_trgm",
                    optional: true,
                    needs: None
                },
                Step {
                    sql: "CREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t\n  USING gin (x gin_trgm_ops)",
                    optional: false,
                    needs: Some("gin_trgm_ops")
                },
            ]
        );
        assert_eq!(index_built(s[0].sql), Some("a"));
        assert_eq!(index_built(s[1].sql), None);
        assert_eq!(index_built(s[2].sql), Some("b"));
    }

    #[test]
    fn the_query_index_migration_builds_only_indexes_of_its_own() {
        let names = indexes_of("20261124000004");
        assert_eq!(names.len(), 7, "{names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("stackctl_")),
            "{names:?}"
        );
        // Every statement is one this module knows how to run again safely.
        let sql = super::super::migration_sql("20261124000004").unwrap();
        for step in steps(sql) {
            assert!(
                index_built(step.sql).is_some() || step.optional,
                "{}",
                step.sql
            );
        }
        // The down.sql drops exactly those indexes.
        let down = super::super::concurrent_down_sql("20261124000004").unwrap();
        let mut dropped: Vec<&str> = steps(down)
            .iter()
            .map(|s| {
                s.sql
                    .strip_prefix("DROP INDEX CONCURRENTLY IF EXISTS ")
                    .unwrap()
            })
            .collect();
        dropped.sort();
        let mut built = names.clone();
        built.sort();
        assert_eq!(dropped, built);
    }
}
