//! Facts about the server at the other end: its version, its role (primary or hot
//! standby), and whether a transaction pooler stands between us and it.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

use crate::error::{Error, Result, Said};

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
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

/// What the server can do for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts writes.
    Primary,
    /// A hot standby: read-only while it replays the primary's WAL.
    Standby,
    /// Not a standby, but every transaction is read-only (`default_transaction_read_only`).
    ReadOnly,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Standby => "standby",
            Role::ReadOnly => "read-only",
        }
    }
}

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = Bool)]
    recovery: bool,
    #[diesel(sql_type = Bool)]
    read_only: bool,
}

pub fn role(conn: &mut PgConnection) -> Result<Role> {
    let row: RoleRow = diesel::sql_query(
        "SELECT pg_is_in_recovery() AS recovery, \
                current_setting('default_transaction_read_only')::bool AS read_only",
    )
    .get_result(conn)?;
    Ok(if row.recovery {
        Role::Standby
    } else if row.read_only {
        Role::ReadOnly
    } else {
        Role::Primary
    })
}

/// A write the server refused as read-only, reworded with the cause when the server can
/// still tell us (a standby, or a read-only default). Other errors pass through.
pub fn explain_refusal(conn: &mut PgConnection, err: Error) -> Error {
    if err.said() != Some(Said::ReadOnly) {
        return err;
    }
    let cause = match role(conn) {
        Ok(Role::Standby) => "the server is a read-only hot standby",
        Ok(Role::ReadOnly) => "the server is read-only (default_transaction_read_only = on)",
        _ => return err,
    };
    Error::refused(format!("{cause}: nothing was changed")).with_hint(READ_ONLY_HINT)
}

/// Refuse up front, before an external tool (pg_restore, psql) writes anything, when the
/// server cannot take writes: exit 7 naming the cause, as a refused statement would.
pub fn ensure_writable(conn: &mut PgConnection) -> Result<()> {
    let cause = match role(conn)? {
        Role::Primary => return Ok(()),
        Role::Standby => "the server is a read-only hot standby",
        Role::ReadOnly => "the server is read-only (default_transaction_read_only = on)",
    };
    Err(Error::refused(format!("{cause}: nothing was changed")).with_hint(READ_ONLY_HINT))
}

/// The hint for a refusal for a missing privilege: the first grant of the operator plan
/// the role lacks, asked of the server with its privilege functions (answers that do not
/// depend on the server's language), or `None` when it lacks none of them.
pub fn missing_grant_hint(conn: &mut PgConnection) -> Result<Option<String>> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = Bool)]
        held: bool,
    }
    let own = super::own::schema_in_use(conn)?;
    for (kind, name, privileges) in crate::grant::OPERATOR {
        let Some(name) = crate::grant::located(name, own) else {
            continue;
        };
        // By OID from the catalog: a name in a schema the role may not use cannot be
        // looked up by name, and that is often the very privilege it lacks.
        let query = match *kind {
            "SCHEMA" => {
                "SELECT coalesce((SELECT has_schema_privilege(n.oid, $3) FROM pg_namespace n \
                                   WHERE n.nspname = $2 AND $1 = $1), true) AS held"
            }
            "SEQUENCE" => {
                "SELECT coalesce((SELECT has_sequence_privilege(c.oid, $3) FROM pg_class c \
                                    JOIN pg_namespace n ON n.oid = c.relnamespace \
                                   WHERE n.nspname = $1 AND c.relname = $2), true) AS held"
            }
            _ => {
                "SELECT coalesce((SELECT has_table_privilege(c.oid, $3) FROM pg_class c \
                                    JOIN pg_namespace n ON n.oid = c.relnamespace \
                                   WHERE n.nspname = $1 AND c.relname = $2), true) AS held"
            }
        };
        let (schema, relation) = match *kind {
            "SCHEMA" => ("", name),
            _ => name.split_once('.').unwrap_or(("public", name)),
        };
        let mut missing = Vec::new();
        for privilege in privileges.split(", ") {
            let row: Held = diesel::sql_query(query)
                .bind::<Text, _>(schema)
                .bind::<Text, _>(relation)
                .bind::<Text, _>(privilege)
                .get_result(conn)?;
            if !row.held {
                missing.push(privilege);
            }
        }
        if !missing.is_empty() {
            return Ok(Some(crate::grant::hint_for_missing(kind, name, &missing)));
        }
    }
    Ok(None)
}

/// Whether `name` is exactly the name of a role the server has.
pub fn role_exists(conn: &mut PgConnection, name: &str) -> Result<bool> {
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Bool)]
        exists: bool,
    }
    let row: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(conn)?;
    Ok(row.exists)
}

/// What to do about a read-only server.
pub const READ_ONLY_HINT: &str =
    "run writes against the primary; with a multi-host URL add target_session_attrs=read-write";

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

fn backend_pid(conn: &mut PgConnection) -> Result<i32> {
    let row: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(conn)?;
    Ok(row.pid)
}

/// Whether `url` reaches the server through a transaction (or statement) pooler: two client
/// connections that are both open can only ever share a server backend through one. The
/// first connection's backend goes back to the pool after its statement, and a pooler hands
/// the most recently used server connection to the next client (PgBouncer's default), so
/// the second connection gets it. A busy pool can hide it; a direct server never shows it.
pub fn behind_transaction_pooler(url: &str) -> Result<bool> {
    let mut first = super::connect(url)?;
    let mut second = super::connect(url)?;
    for _ in 0..3 {
        let a = backend_pid(&mut first)?;
        let b = backend_pid(&mut second)?;
        if a == b {
            return Ok(true);
        }
    }
    Ok(false)
}
