//! Every query on the Simple DB layout's `users` (id serial, email, name, created_at
//! `TIMESTAMP` holding UTC, as the application's `datetime.utcnow` writes it). The table
//! belongs to the application's Alembic: stackctl reads and writes rows, never its shape,
//! except `create_schema` on an empty database.

use chrono::{DateTime, Utc};
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use serde::Serialize;

use crate::error::{Error, Result};

/// The Simple DB schema exactly as its design document gives it.
pub const SCHEMA_SQL: &str = "\
CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    email VARCHAR UNIQUE NOT NULL,
    name VARCHAR NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX ix_users_email ON users(email);
";

/// stackctl's audit trail, the same table as on the StackWizard layout.
pub const AUDIT_SQL: &str = include_str!("../../migrations/2026-11-22-000002_audit_trail/up.sql");

/// Create the Simple DB schema and stackctl's audit trail, in the caller's transaction.
pub fn create_schema(conn: &mut PgConnection) -> Result<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(SCHEMA_SQL)?;
    add_audit(conn)
}

/// Add stackctl's audit trail in the schema `stackctl`, out of the application's way (in
/// the caller's transaction); one an older stackctl made in `public` is moved there.
pub fn add_audit(conn: &mut PgConnection) -> Result<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS stackctl; \
         DO $$ BEGIN \
           IF to_regclass('stackctl.stackctl_audit') IS NULL THEN \
             ALTER TABLE IF EXISTS public.stackctl_audit SET SCHEMA stackctl; \
           END IF; \
         END $$; \
         SET LOCAL search_path = stackctl, public",
    )?;
    conn.batch_execute(AUDIT_SQL)?;
    Ok(())
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
}

/// The sequence `users.id` takes its values from (its bare name), if it has one.
pub fn id_sequence(conn: &mut PgConnection) -> Result<Option<String>> {
    let row: Name = diesel::sql_query(
        "SELECT (SELECT relname::text FROM pg_class \
                 WHERE oid = pg_get_serial_sequence('users', 'id')::regclass) AS name",
    )
    .get_result(conn)?;
    Ok(row.name)
}

/// A user as every output shows it: the layout's own columns.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct SimpleUser {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub created_at: Option<DateTime<Utc>>,
}

impl SimpleUser {
    pub const COLUMNS: &'static [&'static str] = &["id", "email", "name", "created_at"];
}

/// The columns as read: the id widened, the stored UTC time made a point in time.
const SELECT: &str = "SELECT id::int8 AS id, email::text AS email, name::text AS name, \
     created_at AT TIME ZONE 'UTC' AS created_at FROM users";
const RETURNING: &str = "RETURNING id::int8 AS id, email::text AS email, name::text AS name, \
     created_at AT TIME ZONE 'UTC' AS created_at";

/// How a command names a user here: an integer id or an email.
#[derive(Debug, Clone)]
pub enum SimpleRef {
    Id(i64),
    Email(String),
}

impl SimpleRef {
    pub fn parse(raw: &str) -> Result<SimpleRef> {
        if raw.contains('@') {
            return Ok(SimpleRef::Email(raw.to_string()));
        }
        match raw.parse::<i64>() {
            Ok(id) => Ok(SimpleRef::Id(id)),
            Err(_) => Err(
                Error::usage(format!("'{raw}' is neither an id nor an email")).with_hint(
                    "on the simple layout a user is named by its integer id or its email",
                ),
            ),
        }
    }
}

impl std::fmt::Display for SimpleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimpleRef::Id(id) => write!(f, "{id}"),
            SimpleRef::Email(e) => f.write_str(e),
        }
    }
}

/// Find a user; an exact email wins over a case-insensitive match.
pub fn find(conn: &mut PgConnection, r: &SimpleRef) -> Result<Option<SimpleUser>> {
    let found: Vec<SimpleUser> = match r {
        SimpleRef::Id(id) => diesel::sql_query(format!("{SELECT} WHERE id = $1"))
            .bind::<BigInt, _>(id)
            .load(conn)?,
        SimpleRef::Email(e) => {
            let exact: Vec<SimpleUser> = diesel::sql_query(format!("{SELECT} WHERE email = $1"))
                .bind::<Text, _>(e)
                .load(conn)?;
            if exact.is_empty() {
                diesel::sql_query(format!("{SELECT} WHERE lower(email) = lower($1)"))
                    .bind::<Text, _>(e)
                    .load(conn)?
            } else {
                exact
            }
        }
    };
    super::users::only_one(found, r, "id")
}

/// Find a user or fail with exit 3.
pub fn get(conn: &mut PgConnection, r: &SimpleRef) -> Result<SimpleUser> {
    find(conn, r)?.ok_or_else(|| Error::not_found(format!("user '{r}' not found")))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Whether another user (other than `except`) has this email in any letter case.
pub fn email_taken(conn: &mut PgConnection, email: &str, except: Option<i64>) -> Result<bool> {
    let row: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM users WHERE lower(email) = lower($1) AND id IS DISTINCT FROM $2",
    )
    .bind::<Text, _>(email)
    .bind::<Nullable<BigInt>, _>(except)
    .get_result(conn)?;
    Ok(row.n > 0)
}

/// Insert a user; the id comes from the table's own sequence, as the application's do,
/// and created_at is the current UTC time without a zone, as `datetime.utcnow` gives it.
pub fn insert(conn: &mut PgConnection, email: &str, name: &str) -> Result<SimpleUser> {
    Ok(diesel::sql_query(format!(
        "INSERT INTO users (email, name, created_at) \
         VALUES ($1, $2, now() AT TIME ZONE 'UTC') {RETURNING}"
    ))
    .bind::<Text, _>(email)
    .bind::<Text, _>(name)
    .get_result(conn)?)
}

/// Change email and/or name (`None` leaves a column alone).
pub fn update(
    conn: &mut PgConnection,
    id: i64,
    email: Option<&str>,
    name: Option<&str>,
) -> Result<SimpleUser> {
    Ok(diesel::sql_query(format!(
        "UPDATE users SET email = coalesce($2, email), name = coalesce($3, name) \
         WHERE id = $1 {RETURNING}"
    ))
    .bind::<BigInt, _>(id)
    .bind::<Nullable<Text>, _>(email)
    .bind::<Nullable<Text>, _>(name)
    .get_result(conn)?)
}

pub fn delete(conn: &mut PgConnection, id: i64) -> Result<usize> {
    Ok(diesel::sql_query("DELETE FROM users WHERE id = $1")
        .bind::<BigInt, _>(id)
        .execute(conn)?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Created,
    Email,
}

/// Call `f` for every user whose email or name contains `search` (a LIKE pattern, already
/// escaped), in order; `page: None` streams every row (constant memory).
pub fn for_each(
    conn: &mut PgConnection,
    search: Option<&str>,
    sort: Sort,
    desc: bool,
    page: Option<super::users::Page>,
    mut f: impl FnMut(SimpleUser) -> Result<()>,
) -> Result<()> {
    let order = match (sort, desc) {
        (Sort::Created, false) => "created_at ASC NULLS FIRST, id ASC",
        (Sort::Created, true) => "created_at DESC NULLS LAST, id DESC",
        (Sort::Email, false) => "email ASC",
        (Sort::Email, true) => "email DESC",
    };
    let filter = if search.is_some() {
        " WHERE (email ILIKE $1 OR name ILIKE $1)"
    } else {
        " WHERE $1::text IS NULL"
    };
    let limits = match page {
        Some(p) => format!(" LIMIT {} OFFSET {}", p.limit, p.offset),
        None => String::new(),
    };
    let q = diesel::sql_query(format!("{SELECT}{filter} ORDER BY {order}{limits}"))
        .bind::<Nullable<Text>, _>(search);
    if page.is_some() {
        for u in q.load::<SimpleUser>(conn)? {
            f(u)?;
        }
    } else {
        for u in q.load_iter::<SimpleUser, PgRowByRowLoadingMode>(conn)? {
            f(u?)?;
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
}

/// Which of `emails` (lower case) and `ids` `users` already has.
pub fn existing(
    conn: &mut PgConnection,
    emails: &[String],
    ids: &[i64],
) -> Result<(
    std::collections::HashSet<String>,
    std::collections::HashSet<i64>,
)> {
    let taken: Vec<Taken> = diesel::sql_query(
        "SELECT lower(email) AS email, NULL::int8 AS id FROM users WHERE lower(email) = ANY($1) \
         UNION ALL SELECT NULL, id::int8 FROM users WHERE id = ANY($2)",
    )
    .bind::<Array<Text>, _>(emails)
    .bind::<Array<BigInt>, _>(ids)
    .load(conn)?;
    Ok((
        taken.iter().filter_map(|t| t.email.clone()).collect(),
        taken.iter().filter_map(|t| t.id).collect(),
    ))
}

/// What an explicit id may be: at most what the column's type holds, and below the id
/// sequence's maximum (`None`: no sequence behind the column).
pub struct IdLimits {
    pub column_max: i64,
    pub sequence_max: Option<i64>,
}

/// The id column's limits, from the catalog.
pub fn id_limits(conn: &mut PgConnection) -> Result<IdLimits> {
    #[derive(QueryableByName)]
    struct Limits {
        #[diesel(sql_type = BigInt)]
        column_max: i64,
        #[diesel(sql_type = Nullable<BigInt>)]
        sequence_max: Option<i64>,
    }
    let row: Limits = diesel::sql_query(
        "SELECT CASE a.atttypid WHEN 'int2'::regtype THEN 32767 \
                                WHEN 'int4'::regtype THEN 2147483647 \
                                ELSE 9223372036854775807 END::int8 AS column_max, \
                (SELECT seqmax FROM pg_sequence \
                  WHERE seqrelid = pg_get_serial_sequence('users', 'id')::regclass) AS sequence_max \
           FROM pg_attribute a \
          WHERE a.attrelid = 'users'::regclass AND a.attname = 'id'",
    )
    .get_result(conn)?;
    Ok(IdLimits {
        column_max: row.column_max,
        sequence_max: row.sequence_max,
    })
}

/// One row an import writes: an explicit id, or the sequence's next.
pub struct ImportRow<'a> {
    pub id: Option<i64>,
    pub email: &'a str,
    pub name: &'a str,
    pub created_at: Option<DateTime<Utc>>,
}

/// Insert the rows: those with an id as given, the others with the sequence's next ones;
/// then move the sequence past the largest id, never back (in the caller's transaction).
pub fn import(conn: &mut PgConnection, rows: &[ImportRow]) -> Result<usize> {
    let (with, without): (Vec<&ImportRow>, Vec<&ImportRow>) =
        rows.iter().partition(|r| r.id.is_some());
    let mut n = 0;
    if !with.is_empty() {
        n += diesel::sql_query(
            "INSERT INTO users (id, email, name, created_at) \
             SELECT i, e, n, c AT TIME ZONE 'UTC' FROM unnest($1, $2, $3, $4) AS t(i, e, n, c)",
        )
        .bind::<Array<BigInt>, _>(with.iter().filter_map(|r| r.id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(with.iter().map(|r| r.email).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(with.iter().map(|r| r.name).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(
            with.iter().map(|r| r.created_at).collect::<Vec<_>>(),
        )
        .execute(conn)?;
        super::import::move_sequence_past_ids(conn, "users")?;
    }
    if !without.is_empty() {
        n += diesel::sql_query(
            "INSERT INTO users (email, name, created_at) \
             SELECT e, n, c AT TIME ZONE 'UTC' FROM unnest($1, $2, $3) AS t(e, n, c)",
        )
        .bind::<Array<Text>, _>(without.iter().map(|r| r.email).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(without.iter().map(|r| r.name).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(
            without.iter().map(|r| r.created_at).collect::<Vec<_>>(),
        )
        .execute(conn)?;
    }
    Ok(n)
}
