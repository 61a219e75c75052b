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
//!
//! `steps.rs` reads a migration file into statements, `build.rs` runs them; here the
//! runs alternate transactional segments and builds under their locks.

mod build;
mod steps;
mod takedown;

use build::unrecord;
pub use build::{build, invalid_indexes, missing_indexes, record, revert};
pub use steps::{index_built, indexes_of, indexes_on, steps, Step};
pub use takedown::{assess, rebuild, take_down, Assessment};

use diesel::prelude::*;

use super::{EmbeddedMigration, SchemaState};
use crate::error::{Error, Result};

/// What a migrate run has left to do once its transactional migrations are applied.
#[derive(Debug, Clone)]
pub enum Next {
    /// Nothing: every migration is applied and every index of ours is valid.
    Done,
    /// This concurrent migration is the first pending one.
    Build(EmbeddedMigration),
    /// This concurrent migration is applied, but an index of it is invalid (a later
    /// failed `REINDEX CONCURRENTLY`, say) or missing (an item import that dropped it for
    /// its load was stopped before building it again): build it again.
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
        if !invalid_indexes(conn, &m.version)?.is_empty()
            || !missing_indexes(conn, &m.version)?.is_empty()
        {
            return Ok(Next::Repair(m.clone()));
        }
    }
    Ok(Next::Done)
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
                            // A migration this dry run recorded has none of its indexes
                            // yet: that is the build already planned, not a repair.
                            if !out.concurrent.contains(&m.name) {
                                out.concurrent.push(m.name.clone());
                                out.names.push(m.name);
                            }
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
                        note(format!(
                            "{}: building its missing or invalid indexes again",
                            m.name
                        ));
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
