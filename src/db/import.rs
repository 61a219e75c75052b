//! The queries behind `user import` and `item import`: what exists already, and the writes
//! (`COPY ... FROM STDIN` into a staging table for users, into `items` for items) and the
//! rows those copies carry.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::pg::CopyFormat;
use diesel::prelude::*;
use uuid::Uuid;

use super::copy;
use super::models::ItemId;
use super::schema::{items, serial_items, users};
use crate::error::{Error, Result};
use crate::validate::{Description, Price, Title};

/// The transaction's start time: what `DEFAULT now()` would have written.
pub fn transaction_now(conn: &mut PgConnection) -> Result<DateTime<Utc>> {
    Ok(
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Timestamptz>("now()"))
            .get_result(conn)?,
    )
}

/// Whether `items` has no row (then no row of an import can already exist).
pub fn items_empty(conn: &mut PgConnection) -> Result<bool> {
    let any: bool =
        diesel::select(diesel::dsl::exists(items::table.select(items::title))).get_result(conn)?;
    Ok(!any)
}

/// Which of these item ids exist (one batch of an import), on the table the ids' type
/// names.
pub fn existing_item_ids(conn: &mut PgConnection, ids: &[ItemId]) -> Result<HashSet<ItemId>> {
    let (mut uuids, mut ints) = (Vec::new(), Vec::new());
    for id in ids {
        match id {
            ItemId::Uuid(u) => uuids.push(*u),
            ItemId::Int(n) => ints.push(*n),
        }
    }
    let mut found = HashSet::new();
    if !uuids.is_empty() {
        found.extend(
            items::table
                .select(items::id)
                .filter(items::id.eq_any(uuids))
                .load::<Uuid>(conn)?
                .into_iter()
                .map(ItemId::Uuid),
        );
    }
    if !ints.is_empty() {
        found.extend(
            serial_items::table
                .select(serial_items::id)
                .filter(serial_items::id.eq_any(ints))
                .load::<i32>(conn)?
                .into_iter()
                .map(ItemId::Int),
        );
    }
    Ok(found)
}

/// `n` new integer item ids from the sequence behind `items.id` (the generated backend's
/// serial), for rows of an import that give none; exit 6 where the column has none.
pub fn draw_item_ids(conn: &mut PgConnection, n: usize) -> Result<Vec<i32>> {
    #[derive(QueryableByName)]
    struct Drawn {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
        id: Option<i32>,
    }
    let rows: Vec<Drawn> = diesel::sql_query(
        "SELECT nextval(s)::integer AS id \
         FROM (SELECT pg_get_serial_sequence('public.items', 'id')::regclass AS s) q, \
              generate_series(1, $1) \
         WHERE s IS NOT NULL",
    )
    .bind::<diesel::sql_types::BigInt, _>(i64::try_from(n).unwrap_or(i64::MAX))
    .load(conn)?;
    let ids: Vec<i32> = rows.into_iter().filter_map(|r| r.id).collect();
    if ids.len() != n {
        return Err(Error::schema(
            "items.id has no sequence to number the rows that give no id: nothing was imported",
        )
        .with_hint("give every row an id"));
    }
    Ok(ids)
}

/// Move the sequence behind `public.<table>.id` past the table's largest id when it is
/// behind it (after an import that gave ids, before one draws any), never back: only then
/// is it set, so a concurrent `nextval` is not undone unless it is itself behind the table.
/// `table` is one of stackctl's own fixed names (`users` of the Simple DB layout, `items`
/// of the generated backend), never input.
pub fn move_sequence_past_ids(conn: &mut PgConnection, table: &'static str) -> Result<()> {
    diesel::sql_query(format!(
        "SELECT setval(s, m) \
         FROM (SELECT pg_get_serial_sequence('public.{table}', 'id')::regclass AS s, \
                      (SELECT max(id) FROM public.{table}) AS m) q \
         WHERE s IS NOT NULL AND m > coalesce(pg_sequence_last_value(s), 0)"
    ))
    .execute(conn)?;
    Ok(())
}

/// The largest integer item id, 0 without any (a dry run's stand-ins count up from it).
pub fn largest_item_id(conn: &mut PgConnection) -> Result<i32> {
    Ok(serial_items::table
        .select(diesel::dsl::max(serial_items::id))
        .get_result::<Option<i32>>(conn)?
        .unwrap_or(0))
}

/// Which of these user ids exist (one batch of an import's owners).
pub fn existing_user_ids(conn: &mut PgConnection, ids: &[Uuid]) -> Result<HashSet<Uuid>> {
    Ok(users::table
        .select(users::id)
        .filter(users::id.eq_any(ids))
        .load::<Uuid>(conn)?
        .into_iter()
        .collect())
}

/// The users these emails (in lower case) name: `None` where two users' emails differ only
/// in case, which makes the email ambiguous; absent where no user has it. One batch of an
/// import's owners, served by the `lower(email)` index.
pub fn owners_by_email(
    conn: &mut PgConnection,
    emails: &[String],
) -> Result<HashMap<String, Option<Uuid>>> {
    use super::lower_text;
    let rows: Vec<(Uuid, String)> = users::table
        .select((users::id, users::email))
        .filter(lower_text(users::email).eq_any(emails))
        .load(conn)?;
    let mut out: HashMap<String, Option<Uuid>> = HashMap::new();
    for (id, email) in rows {
        out.entry(email.to_lowercase())
            .and_modify(|e| *e = None)
            .or_insert(Some(id));
    }
    Ok(out)
}

// `user import` stages the file's rows in a temporary table of its transaction, so the
// checks that compare rows with each other and with `users` (ids, and emails and usernames
// in any letter case) are set-based queries on the server, and stackctl holds no row, id or
// email in memory whatever the file's size (only the plain passwords still to hash).
diesel::table! {
    /// The rows of one `user import`, by the line each starts on.
    stackctl_user_import (line) {
        line -> BigInt,
        id -> Uuid,
        email -> Text,
        username -> Nullable<Text>,
        hashed_password -> Nullable<Text>,
        full_name -> Nullable<Text>,
        is_active -> Nullable<Bool>,
        is_superuser -> Nullable<Bool>,
        created_at -> Nullable<Timestamptz>,
        updated_at -> Nullable<Timestamptz>,
    }
}

/// Create the staging table; it goes with the transaction (`ON COMMIT DROP`), so it holds
/// behind a transaction pooler too.
pub fn create_user_staging(conn: &mut PgConnection) -> Result<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(
        "CREATE TEMPORARY TABLE stackctl_user_import (
             line bigint PRIMARY KEY,
             id uuid NOT NULL,
             email text NOT NULL,
             username text,
             hashed_password text,
             full_name text,
             is_active boolean,
             is_superuser boolean,
             created_at timestamptz,
             updated_at timestamptz
         ) ON COMMIT DROP",
    )?;
    Ok(())
}

/// One row of `stackctl_user_import`.
pub struct StagedUser<'a> {
    /// The line of the file the row starts on: its key, and how its errors are listed.
    pub line: u64,
    pub id: Uuid,
    pub email: &'a str,
    /// NULL where `users.username` may be null and the row has none.
    pub username: Option<&'a str>,
    /// NULL for a plain password, set by `set_staged_hashes` once hashed.
    pub hashed_password: Option<&'a str>,
    pub full_name: Option<&'a str>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl StagedUser<'_> {
    /// Append the row's COPY line, in the table's column order.
    pub fn encode(&self, out: &mut Vec<u8>) {
        copy::line::<dyn copy::CopyValue>(
            out,
            &[
                &self.line,
                &self.id,
                &self.email,
                &self.username,
                &self.hashed_password,
                &self.full_name,
                &self.is_active,
                &self.is_superuser,
                &self.created_at,
                &self.updated_at,
            ],
        );
    }
}

/// `COPY stackctl_user_import FROM STDIN` in CSV; `write` sends `StagedUser` lines.
pub fn copy_user_staging(
    conn: &mut PgConnection,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
) -> Result<usize> {
    diesel::copy_from(stackctl_user_import::table)
        .from_raw_data(stackctl_user_import::table, copy::once(write))
        .with_format(CopyFormat::Csv)
        .execute(conn)
}

/// Staged rows, listed by line: the first few of them and how many there are in all.
pub struct Listed {
    pub rows: Vec<(i64, String)>,
    pub total: i64,
}

#[derive(QueryableByName)]
struct ListedRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    line: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    reason: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    total: i64,
}

fn listed(conn: &mut PgConnection, sql: &str, shown: i64) -> Result<Listed> {
    let rows: Vec<ListedRow> = diesel::sql_query(sql)
        .bind::<diesel::sql_types::BigInt, _>(shown)
        .load(conn)?;
    Ok(Listed {
        total: rows.first().map_or(0, |r| r.total),
        rows: rows.into_iter().map(|r| (r.line, r.reason)).collect(),
    })
}

/// Rows that repeat an earlier row's id, or its email or username in any letter case
/// (the first of those that repeats, in that order).
pub fn staged_duplicates(conn: &mut PgConnection, shown: i64) -> Result<Listed> {
    listed(
        conn,
        "WITH d AS (
             SELECT line, 1 AS k, 'id' AS what, min(line) OVER (PARTITION BY id) AS first
             FROM stackctl_user_import
             UNION ALL
             SELECT line, 2, 'email', min(line) OVER (PARTITION BY lower(email))
             FROM stackctl_user_import
             UNION ALL
             SELECT line, 3, 'username', min(line) OVER (PARTITION BY lower(username))
             FROM stackctl_user_import WHERE username IS NOT NULL
         ), bad AS (
             SELECT DISTINCT ON (line) line, what, first FROM d WHERE line <> first ORDER BY line, k
         )
         SELECT line, 'the same ' || what || ' as line ' || first AS reason, count(*) OVER () AS total
         FROM bad ORDER BY line LIMIT $1",
        shown,
    )
}

/// The condition under which a staged row `s` clashes with a user that exists now: by
/// id, or by email or username compared case-insensitively (each probe served by an index:
/// the primary key, `stackctl_users_email_lower`, `stackctl_users_username_lower`).
const CLASH: &str = "(EXISTS (SELECT 1 FROM users u WHERE u.id = s.id)
     OR EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower(s.email))
     OR EXISTS (SELECT 1 FROM users u WHERE lower(u.username) = lower(s.username)))";

/// Staged rows that clash with a user that exists now.
pub fn staged_clashes(conn: &mut PgConnection, shown: i64) -> Result<Listed> {
    listed(
        conn,
        &format!(
            "SELECT line,
                    CASE WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = s.id)
                              THEN 'a user with id ' || s.id || ' already exists'
                         WHEN EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower(s.email))
                              THEN 'a user with email ''' || s.email || ''' already exists'
                         ELSE 'a user with username ''' || s.username || ''' already exists'
                    END AS reason,
                    count(*) OVER () AS total
             FROM stackctl_user_import s WHERE {CLASH} ORDER BY line LIMIT $1"
        ),
        shown,
    )
}

/// Drop the staged rows that clash with an existing user (`--on-conflict skip`); returns
/// their lines.
pub fn drop_staged_clashes(conn: &mut PgConnection) -> Result<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        line: i64,
    }
    let rows: Vec<Line> = diesel::sql_query(format!(
        "DELETE FROM stackctl_user_import s WHERE {CLASH} RETURNING line"
    ))
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.line).collect())
}

/// Set the hashes of staged rows that came with plain passwords, by line.
pub fn set_staged_hashes(conn: &mut PgConnection, hashes: &[(i64, String)]) -> Result<()> {
    use diesel::sql_types::{Array, BigInt, Text};
    for chunk in hashes.chunks(10_000) {
        let lines: Vec<i64> = chunk.iter().map(|(l, _)| *l).collect();
        let values: Vec<&str> = chunk.iter().map(|(_, h)| h.as_str()).collect();
        diesel::sql_query(
            "UPDATE stackctl_user_import s SET hashed_password = v.hash \
             FROM unnest($1::bigint[], $2::text[]) AS v(line, hash) WHERE s.line = v.line",
        )
        .bind::<Array<BigInt>, _>(&lines)
        .bind::<Array<Text>, _>(&values)
        .execute(conn)?;
    }
    Ok(())
}

/// Move the staged rows into `users`, in file order; returns how many.
/// `fill`: the application's own columns, each written with its declared value.
pub fn insert_staged(
    conn: &mut PgConnection,
    fill: &[&crate::db::shape::AppColumn],
) -> Result<usize> {
    let (columns, values) = crate::db::shape::fill_sql(fill, 1)?;
    let mut q = diesel::sql_query(format!(
        "INSERT INTO users (id, email, username, hashed_password, full_name, is_active, \
                            is_superuser, created_at, updated_at{columns}) \
         SELECT id, email, username, hashed_password, full_name, is_active, is_superuser, \
                created_at, updated_at{values} \
         FROM stackctl_user_import ORDER BY line"
    ))
    .into_boxed();
    for c in fill {
        q = q.bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(c.value.clone());
    }
    Ok(q.execute(conn)?)
}

/// Why the server refused an item COPY, when it names a row of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyRefusal {
    /// `items_pkey`: this id was sent twice, or another transaction added it meanwhile.
    DuplicateId(ItemId),
    /// The foreign key: no user has this id (deleted by another transaction meanwhile).
    UnknownOwner(Uuid),
}

/// One row of an item COPY.
pub struct CopiedItem<'a> {
    pub id: ItemId,
    pub title: &'a Title,
    pub description: Option<&'a Description>,
    pub price: Option<&'a Price>,
    pub owner_id: Option<Uuid>,
    pub is_available: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl CopiedItem<'_> {
    /// Append the row to an item COPY in `format`, in `copy_items`'s column order.
    pub fn encode(&self, format: ItemCopy, out: &mut Vec<u8>) {
        let fields: [&dyn copy::Value; 8] = [
            &self.id,
            &self.title.as_str(),
            &self.description.map(Description::as_str),
            &self.price,
            &self.owner_id,
            &self.is_available,
            &self.created_at,
            &self.updated_at,
        ];
        match format {
            ItemCopy::Csv => copy::line(out, &fields),
            ItemCopy::Binary => copy::binary::row(out, &fields),
        }
    }
}

/// How an item COPY sends its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemCopy {
    /// Text the server parses: right for any column type that accepts the text.
    Csv,
    /// Each value in its type's binary form: the server parses nothing, but the columns
    /// must be exactly the types sent.
    Binary,
}

impl ItemCopy {
    /// What opens the data (binary's signature) and what closes it.
    pub fn framing(self) -> (&'static [u8], &'static [u8]) {
        match self {
            ItemCopy::Csv => (b"", b""),
            ItemCopy::Binary => (copy::binary::HEADER, copy::binary::TRAILER),
        }
    }
}

/// Binary where every column an item COPY fills has exactly the built-in type the
/// application's schema gives it (varchar or text for the texts), CSV otherwise: a column
/// changed to, say, `double precision` or a domain still takes the import, as text. The
/// table is locked as the COPY locks it first, so no `ALTER TABLE` changes a type between
/// this check and the COPY.
pub fn item_copy_format(conn: &mut PgConnection) -> Result<ItemCopy> {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        oid: i64,
    }
    // pg_catalog's type OIDs, fixed in every release: uuid, text, varchar, numeric,
    // boolean, timestamptz.
    const UUID: i64 = 2950;
    const TEXT: [i64; 2] = [25, 1043];
    let wanted: [(&str, &[i64]); 8] = [
        ("id", &[UUID]),
        ("title", &TEXT),
        ("description", &TEXT),
        ("price", &[1700]),
        ("owner_id", &[UUID]),
        ("is_available", &[16]),
        ("created_at", &[1184]),
        ("updated_at", &[1184]),
    ];
    diesel::sql_query("LOCK TABLE items IN ROW EXCLUSIVE MODE").execute(conn)?;
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT attname::text AS name, atttypid::bigint AS oid FROM pg_attribute \
         WHERE attrelid = 'items'::regclass AND attnum > 0 AND NOT attisdropped",
    )
    .load(conn)?;
    let binary = wanted.iter().all(|(name, oids)| {
        columns
            .iter()
            .any(|c| c.name == *name && oids.contains(&c.oid))
    });
    Ok(if binary {
        ItemCopy::Binary
    } else {
        ItemCopy::Csv
    })
}

/// `COPY items (id, title, description, price, owner_id, is_available, created_at,
/// updated_at) FROM STDIN` in `format`; `write` sends `CopiedItem` rows, framed (see
/// `ItemCopy::framing`), and may fail to abort the copy. A refusal by the server that
/// names a row (a duplicate id, an unknown owner) comes back as a `CopyRefusal` alongside
/// the error.
pub fn copy_items(
    conn: &mut PgConnection,
    format: ItemCopy,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
) -> std::result::Result<usize, (Error, Option<CopyRefusal>)> {
    diesel::copy_from(items::table)
        .from_raw_data(
            (
                items::id,
                items::title,
                items::description,
                items::price,
                items::owner_id,
                items::is_available,
                items::created_at,
                items::updated_at,
            ),
            copy::once(|w| write(w).map_err(CopyFailure::Ours)),
        )
        .with_format(match format {
            ItemCopy::Csv => CopyFormat::Csv,
            ItemCopy::Binary => CopyFormat::Binary,
        })
        .execute(conn)
        .map_err(|e| match e {
            CopyFailure::Ours(e) => (e, None),
            CopyFailure::Server(d) => {
                let refusal = refusal(&d);
                (Error::from(d), refusal)
            }
        })
}

/// An item COPY failed: our writer gave up, or the server refused.
#[derive(Debug)]
enum CopyFailure {
    Ours(Error),
    Server(diesel::result::Error),
}

impl From<diesel::result::Error> for CopyFailure {
    fn from(e: diesel::result::Error) -> Self {
        CopyFailure::Server(e)
    }
}

impl std::error::Error for CopyFailure {}

impl std::fmt::Display for CopyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyFailure::Ours(e) => write!(f, "{}", e.message),
            CopyFailure::Server(e) => write!(f, "{e}"),
        }
    }
}

/// The row a server refusal names, from its detail (`Key (id)=(...) already exists.`,
/// `Key (owner_id)=(...) is not present in table "users".`).
fn refusal(e: &diesel::result::Error) -> Option<CopyRefusal> {
    use diesel::result::DatabaseErrorKind as K;
    let diesel::result::Error::DatabaseError(kind, info) = e else {
        return None;
    };
    // The detail's words are in the server's language (`Key (id)=(…) already exists.`,
    // `Schlüssel »(id)=(…)« existiert bereits.`); the `(column)=(value)` inside them is
    // not translated (the server builds it from the index), so only that is read.
    let key = |column: &str| -> Option<&str> {
        // The first parenthesis opens the key: a value further on may hold `(id)=(`.
        let detail = info.details()?;
        let key = detail.get(detail.find('(')?..)?;
        key.strip_prefix(&format!("({column})=("))?
            .split(')')
            .next()
    };
    let uuid = |v: &str| Uuid::parse_str(v.get(..36)?).ok();
    match kind {
        K::UniqueViolation => key("id").and_then(|v| {
            uuid(v)
                .map(ItemId::Uuid)
                .or_else(|| v.parse().ok().map(ItemId::Int))
                .map(CopyRefusal::DuplicateId)
        }),
        K::ForeignKeyViolation => key("owner_id")
            .and_then(uuid)
            .map(CopyRefusal::UnknownOwner),
        _ => None,
    }
}
