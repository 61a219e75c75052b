//! An item import's load without stackctl's own indexes on `items`: the owner of the
//! table may drop them (`DROP INDEX CONCURRENTLY`: it takes the lock `VACUUM` takes, so
//! the application's reads and writes go on, and first waits for the transactions
//! already using `items`) before a large load and build them again after it, the way a
//! migration builds them. Building an index once from the table's rows is much cheaper
//! than updating it for each row of a load whose index pages no longer fit in memory. The
//! application's own indexes and constraints are never touched.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Text};

use super::build::{build_only, outside_transactions};
use super::steps::indexes_on;
use super::LockSpec;
use crate::db::{EmbeddedMigration, SchemaState};
use crate::error::Result;

/// What decides whether an import may take stackctl's indexes on `items` down.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// stackctl's indexes on `items`, by the applied concurrent migration that builds them.
    pub indexes: Vec<(EmbeddedMigration, Vec<&'static str>)>,
    /// The role may drop them: only the table's owner (or a member of its role) may.
    pub owner: bool,
    /// Every one of them exists and is valid (none is being built or was left invalid).
    pub valid: bool,
    /// The table's size on disk without its indexes (`pg_table_size`).
    pub table_bytes: u64,
}

impl Assessment {
    /// The names of the indexes, in the migration's order.
    pub fn names(&self) -> Vec<&'static str> {
        self.indexes
            .iter()
            .flat_map(|(_, names)| names.iter().copied())
            .collect()
    }
}

#[derive(QueryableByName)]
struct Facts {
    #[diesel(sql_type = Bool)]
    owner: bool,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
    #[diesel(sql_type = BigInt)]
    valid: i64,
}

/// Read the assessment, in one statement after the migration records.
pub fn assess(conn: &mut PgConnection) -> Result<Assessment> {
    let state = SchemaState::read(conn)?;
    let indexes: Vec<(EmbeddedMigration, Vec<&'static str>)> = state
        .embedded
        .iter()
        .filter(|m| m.concurrent && state.applied.contains(&m.version))
        .map(|m| (m.clone(), indexes_on(&m.version, "items")))
        .filter(|(_, names)| !names.is_empty())
        .collect();
    let names: Vec<&str> = indexes
        .iter()
        .flat_map(|(_, n)| n.iter().copied())
        .collect();
    let facts: Facts = diesel::sql_query(
        "SELECT pg_has_role(c.relowner, 'USAGE') AS owner, pg_table_size(c.oid) AS bytes, \
                (SELECT count(*) FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid \
                 WHERE i.indrelid = c.oid AND x.relname = ANY($1) \
                   AND i.indisvalid AND i.indisready) AS valid \
         FROM pg_class c WHERE c.oid = 'public.items'::regclass",
    )
    .bind::<Array<Text>, _>(&names)
    .get_result(conn)?;
    Ok(Assessment {
        owner: facts.owner,
        valid: !names.is_empty() && facts.valid == names.len() as i64,
        table_bytes: facts.bytes.max(0) as u64,
        indexes,
    })
}

/// Drop the assessed indexes, each in its own autocommit statement, outside any
/// transaction of ours. One that fails part-way is left invalid, which `rebuild` (and the
/// next `migrate`) drops and builds again.
pub fn take_down(conn: &mut PgConnection, a: &Assessment) -> Result<()> {
    outside_transactions(conn)?;
    for name in a.names() {
        conn.batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS public.{name}"))?;
    }
    Ok(())
}

/// Build the assessed indexes again, concurrently, under the build lock (so a `migrate`
/// run does not build them at the same time), and only for a migration still applied (a
/// `migrate revert` meanwhile dropped them for good). An index another run built
/// meanwhile is left alone.
pub fn rebuild(
    conn: &mut PgConnection,
    lock: &LockSpec,
    a: &Assessment,
    note: &dyn Fn(String),
) -> Result<()> {
    crate::db::locks::with_build_lock(conn, lock.url, lock.mode, lock.timeout, |conn| {
        let applied = SchemaState::read(conn)?.applied;
        for (m, names) in &a.indexes {
            if applied.contains(&m.version) {
                build_only(conn, m, names, note)?;
            }
        }
        Ok(())
    })
}
