//! The queries behind a backup: the snapshot pg_dump dumps, the row counts and per-table
//! checksums read in it, and the scratch database a test restore goes into.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::url::PgUrl;

/// Rows in the application's tables; `None` where the table does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCounts {
    pub users: Option<i64>,
    pub items: Option<i64>,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
}

/// The server's major version (`15` of `15.18 (Debian ...)`).
pub fn server_major(conn: &mut PgConnection) -> Result<u32> {
    let v = super::server_version(conn)?;
    v.split(['.', ' '])
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| Error::failure(format!("cannot read the server's version from {v:?}")))
}

/// Begin a read-only repeatable-read transaction and export its snapshot, for
/// `pg_dump --snapshot`: what is read here until `release` is what pg_dump dumps.
pub fn export(conn: &mut PgConnection) -> Result<String> {
    conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let row: TextRow =
        diesel::sql_query("SELECT pg_export_snapshot() AS value").get_result(conn)?;
    Ok(row.value)
}

/// End the exporting transaction (it wrote nothing); a lost connection is no matter here.
pub fn release(conn: &mut PgConnection) {
    let _ = conn.batch_execute("COMMIT");
}

pub fn row_counts(conn: &mut PgConnection) -> Result<RowCounts> {
    let mut count = |t: &str| -> Result<Option<i64>> {
        if super::table_exists(conn, &format!("public.{t}"))? {
            Ok(Some(super::count_rows(conn, t)?))
        } else {
            Ok(None)
        }
    };
    Ok(RowCounts {
        users: count("users")?,
        items: count("items")?,
    })
}

/// Per table `rows:sum` of the 60-bit prefixes of each row's md5: equal for equal row
/// sets whatever their order, and cheap to compare after a restore.
pub fn table_checksums(conn: &mut PgConnection) -> Result<BTreeMap<String, String>> {
    let tables: Vec<TextRow> = diesel::sql_query(
        "SELECT tablename::text AS value FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .load(conn)?;
    let mut out = BTreeMap::new();
    for t in tables {
        let q = format!(
            "SELECT count(*)::text || ':' || coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text AS value \
             FROM public.\"{}\" t",
            t.value.replace('"', "\"\"")
        );
        let row: TextRow = diesel::sql_query(q).get_result(conn)?;
        out.insert(t.value, row.value);
    }
    Ok(out)
}

/// A database made for one test restore, beside the real one; `remove` drops it.
pub struct ScratchDatabase {
    admin: PgConnection,
    pub name: String,
    pub url: PgUrl,
}

impl ScratchDatabase {
    /// `CREATE DATABASE stackctl_verify_<pid>_<random>` on the server `url` reaches.
    pub fn create(url: &PgUrl) -> Result<ScratchDatabase> {
        let name = format!(
            "stackctl_verify_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let scratch_url = url.with_database(&name)?;
        let mut admin = super::connect(url.libpq())?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
            .map_err(|e| {
                Error::failure(format!(
                    "cannot create a scratch database for the test restore: {}",
                    Error::from(e).message
                ))
                .with_hint("the test restore needs the CREATEDB privilege")
            })?;
        Ok(ScratchDatabase {
            admin,
            name,
            url: scratch_url,
        })
    }

    /// Drop it, disconnecting whoever is still in it (FORCE needs PostgreSQL 13).
    pub fn remove(mut self) -> Result<(), String> {
        let name = &self.name;
        self.admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .or_else(|_| {
                self.admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            })
            .map_err(|e| e.to_string())
    }
}
