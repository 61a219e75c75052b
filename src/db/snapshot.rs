//! The queries behind a backup: the snapshot pg_dump dumps, the row counts and per-table
//! checksums read in it, and the scratch database a test restore goes into.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::url::PgUrl;
use crate::validate::DatabaseName;

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

/// The output settings a row's text is made with, fixed for the checksums: a database's or
/// a role's own DateStyle, IntervalStyle, float digits, bytea or money format would change
/// the text of the same rows, and a restore into another database does not carry
/// `ALTER DATABASE ... SET`. (`SET LOCAL`: they end with the transaction they are read in.)
const CHECKSUM_OUTPUT_SETTINGS: &str = "SET LOCAL DateStyle = 'ISO, MDY'; \
     SET LOCAL IntervalStyle = 'postgres'; SET LOCAL TimeZone = 'UTC'; \
     SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'; \
     SET LOCAL lc_monetary = 'C'";

/// Per table `rows:sum` of the 60-bit prefixes of each row's md5: equal for equal row
/// sets whatever their order and whatever the session's output settings, and cheap to
/// compare after a restore. The application's tables (in `public`) by name, stackctl's own
/// as `stackctl.<name>`. Called inside a transaction (the exported snapshot's, or one of
/// the caller's), which the settings last until.
pub fn table_checksums(conn: &mut PgConnection) -> Result<BTreeMap<String, String>> {
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = Text)]
        key: String,
        #[diesel(sql_type = Text)]
        qualified: String,
    }
    conn.batch_execute(CHECKSUM_OUTPUT_SETTINGS)?;
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT CASE schemaname WHEN 'public' THEN '' ELSE schemaname || '.' END || tablename AS key, \
                format('%I.%I', schemaname, tablename) AS qualified \
         FROM pg_tables WHERE schemaname IN ('public', 'stackctl') ORDER BY 1",
    )
    .load(conn)?;
    let mut out = BTreeMap::new();
    for t in tables {
        let q = format!(
            "SELECT count(*)::text || ':' || coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text AS value \
             FROM {} t",
            t.qualified
        );
        let row: TextRow = diesel::sql_query(q).get_result(conn)?;
        out.insert(t.key, row.value);
    }
    Ok(out)
}

/// A database made for one restore beside the live one, under a name of its own
/// (`<prefix>_<pid>_<random>`): a test restore drops it (`remove`), `backup restore
/// --into` gives it its final name once it has been checked (`keep_as`).
pub struct ScratchDatabase {
    admin: PgConnection,
    pub name: String,
    pub url: PgUrl,
}

impl ScratchDatabase {
    /// `CREATE DATABASE <prefix>_<pid>_<random>` on the server `url` reaches.
    pub fn create(url: &PgUrl, prefix: &str) -> Result<ScratchDatabase> {
        let name = format!(
            "{prefix}_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let scratch_url = url.with_database(&name)?;
        let mut admin = super::connect(url.libpq())?;
        // No one else may connect while it is built and checked: a session of another
        // role inside it would make the final rename fail (`keep_as`). Its owner (this
        // role) keeps CONNECT; PUBLIC gets it back once it carries its final name.
        admin
            // Created closed to every connection, so no one gets in between the CREATE and
            // the REVOKE; opened to its owner once PUBLIC has lost CONNECT.
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 ALLOW_CONNECTIONS false"
            ))
            .map_err(|e| {
                let e = Error::from(e);
                // A read-only server says so (exit 7) with its own hint.
                if e.kind == crate::error::Kind::Refused {
                    return e;
                }
                Error::failure(format!(
                    "cannot create a database to restore into: {}",
                    e.message
                ))
                .with_hint("a restore beside the live database needs the CREATEDB privilege")
            })?;
        let closed = admin
            .batch_execute(&format!(
                "REVOKE CONNECT, TEMPORARY ON DATABASE {name} FROM PUBLIC"
            ))
            .and_then(|()| {
                admin.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            });
        if let Err(e) = closed {
            let _ = drop_database(&mut admin, &name);
            return Err(e.into());
        }
        Ok(ScratchDatabase {
            admin,
            name,
            url: scratch_url,
        })
    }

    /// Drop it, disconnecting whoever is still in it (FORCE needs PostgreSQL 13).
    pub fn remove(mut self) -> Result<(), String> {
        drop_database(&mut self.admin, &self.name).map_err(|e| e.message)
    }

    /// Give it the name `name`. With `replace`, an existing `name` is first renamed aside
    /// (its sessions ended where this role may end them), this database takes the name,
    /// and only then is the old one dropped: a failure at any step leaves `name` as it
    /// was, and this database is dropped. A `name` that exists (or appeared meanwhile)
    /// without `replace` is exit 4: only a checked restore ever carries the final name.
    pub fn keep_as(mut self, name: &DatabaseName, replace: bool) -> Result<()> {
        let aside = format!(
            "stackctl_old_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let moved_aside = if replace {
            match self.rename(name.as_str(), &aside, true) {
                Ok(moved) => moved,
                Err(e) => {
                    let _ = drop_database(&mut self.admin, &self.name);
                    return Err(Error::new(
                        e.kind,
                        format!(
                            "the existing database {} was kept as it was: it could not be set aside ({})",
                            name.as_str(),
                            e.message
                        ),
                    )
                    .with_hint("end the sessions connected to it, then run the restore again"));
                }
            }
        } else {
            false
        };
        let own = self.name.clone();
        if let Err(e) = self.rename(&own, name.as_str(), false) {
            let _ = drop_database(&mut self.admin, &self.name);
            let restored = !moved_aside || self.rename(&aside, name.as_str(), false).is_ok();
            if e.said() == Some(crate::error::Said::AlreadyExists) && !replace {
                return Err(Error::conflict(format!(
                    "database {} already exists",
                    name.as_str()
                )));
            }
            let kept = if restored {
                format!("the existing database {} was kept as it was", name.as_str())
            } else {
                format!(
                    "the existing database {} is kept under the name {aside}",
                    name.as_str()
                )
            };
            return Err(Error::new(
                e.kind,
                format!(
                    "the restore could not take its name ({}); {kept}",
                    e.message
                ),
            ));
        }
        self.admin.batch_execute(&format!(
            "GRANT CONNECT, TEMPORARY ON DATABASE {} TO PUBLIC",
            name.quoted()
        ))?;
        if moved_aside {
            drop_database(&mut self.admin, &aside).map_err(|e| {
                Error::new(
                    e.kind,
                    format!(
                        "the restore is in place as {}, but the database it replaced is left as {aside} ({})",
                        name.as_str(),
                        e.message
                    ),
                )
                .with_hint(format!("drop it once no one uses it: DROP DATABASE {aside}"))
            })?;
        }
        Ok(())
    }

    /// `ALTER DATABASE from RENAME TO to`. With `set_aside` (`from` is the database being
    /// replaced): false when it does not exist, and its sessions that this role may end
    /// are ended first, since a database in use cannot be renamed.
    fn rename(&mut self, from: &str, to: &str, set_aside: bool) -> Result<bool> {
        let quote = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
        if set_aside {
            #[derive(QueryableByName)]
            struct Sessions {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                exists: bool,
            }
            let row: Sessions = diesel::sql_query(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists",
            )
            .bind::<Text, _>(from)
            .get_result(&mut self.admin)?;
            if !row.exists {
                return Ok(false);
            }
            // Sessions this role may not end stay, and the rename below then fails.
            let _ = diesel::sql_query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind::<Text, _>(from)
            .execute(&mut self.admin);
        }
        self.admin
            .batch_execute(&format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote(from),
                quote(to)
            ))
            .map_err(Error::from)?;
        Ok(true)
    }
}

/// `DROP DATABASE IF EXISTS`, disconnecting whoever is in it where the server can (13+).
fn drop_database(admin: &mut PgConnection, name: &str) -> Result<()> {
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        .or_else(|_| admin.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted}")))
        .map_err(Error::from)
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// Whether a database of that name exists on the server.
pub fn database_exists(conn: &mut PgConnection, name: &DatabaseName) -> Result<bool> {
    let row: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name.as_str())
            .get_result(conn)?;
    Ok(row.exists)
}

#[derive(QueryableByName)]
struct Size {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    size: i64,
}

/// A database's size on disk, when the role may read it.
pub fn database_size(conn: &mut PgConnection, name: &DatabaseName) -> Option<i64> {
    diesel::sql_query("SELECT pg_database_size($1::text::name) AS size")
        .bind::<Text, _>(name.as_str())
        .get_result::<Size>(conn)
        .ok()
        .map(|r| r.size)
}

#[derive(QueryableByName)]
struct Scratch {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    size: Option<i64>,
}

/// Databases named as `ScratchDatabase::create` names them (`stackctl_verify_`,
/// `_restore_`, `_anonymize_`, a pid and eight hex digits), with their size where the role
/// may read it: left by a run that was killed, or in use by one still running.
pub fn scratch_databases(conn: &mut PgConnection) -> Result<Vec<(String, Option<i64>)>> {
    let rows: Vec<Scratch> = diesel::sql_query(
        "SELECT datname::text AS name, \
                CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid) END AS size \
         FROM pg_database \
         WHERE datname ~ '^stackctl_(verify|restore|anonymize)_[0-9]+_[0-9a-f]{8}$' \
         ORDER BY datname",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.name, r.size)).collect())
}
