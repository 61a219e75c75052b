//! The queries behind `user import` and `item import`: what exists already, and the writes
//! (multi-row INSERTs for users, `COPY ... FROM STDIN` for items).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::pg::CopyFormat;
use diesel::prelude::*;
use uuid::Uuid;

use super::models::ImportedUser;
use super::schema::{items, users};
use crate::error::{Error, Result};

/// The transaction's start time: what `DEFAULT now()` would have written.
pub fn transaction_now(conn: &mut PgConnection) -> Result<DateTime<Utc>> {
    Ok(
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Timestamptz>("now()"))
            .get_result(conn)?,
    )
}

/// Every user's id, email and username.
pub fn user_identities(conn: &mut PgConnection) -> Result<Vec<(Uuid, String, String)>> {
    Ok(users::table
        .select((users::id, users::email, users::username))
        .load(conn)?)
}

/// Owners an item file may name: by id, and by email in lower case (`None` when two
/// users' emails differ only in case, which makes the email ambiguous).
pub struct Owners {
    pub ids: HashSet<Uuid>,
    pub emails: HashMap<String, Option<Uuid>>,
}

pub fn owners(conn: &mut PgConnection) -> Result<Owners> {
    let mut out = Owners {
        ids: HashSet::new(),
        emails: HashMap::new(),
    };
    for (id, email, _) in user_identities(conn)? {
        out.ids.insert(id);
        out.emails
            .entry(email.to_lowercase())
            .and_modify(|e| *e = None)
            .or_insert(Some(id));
    }
    Ok(out)
}

/// Ids of existing items, when there are any.
pub fn item_ids(conn: &mut PgConnection) -> Result<HashSet<Uuid>> {
    let any: Option<Uuid> = items::table.select(items::id).first(conn).optional()?;
    if any.is_none() {
        return Ok(HashSet::new());
    }
    Ok(items::table
        .select(items::id)
        .load_iter::<Uuid, diesel::pg::PgRowByRowLoadingMode>(conn)?
        .collect::<QueryResult<HashSet<Uuid>>>()?)
}

/// Which of `rows` clash with a user that exists now, by id, or by email or username
/// compared case-insensitively: asked again under the identity lock, since hashing the
/// file's passwords can take minutes in which another command adds a user.
pub fn clashing(conn: &mut PgConnection, rows: &[ImportedUser]) -> Result<HashSet<Uuid>> {
    use super::lower_text;
    let ids: Vec<Uuid> = rows.iter().map(|u| u.id).collect();
    let emails: Vec<String> = rows.iter().map(|u| u.email.to_lowercase()).collect();
    let names: Vec<String> = rows.iter().map(|u| u.username.to_lowercase()).collect();
    let existing: Vec<(Uuid, String, String)> = users::table
        .select((users::id, users::email, users::username))
        .filter(
            users::id
                .eq_any(&ids)
                .or(lower_text(users::email).eq_any(&emails))
                .or(lower_text(users::username).eq_any(&names)),
        )
        .load(conn)?;
    let taken_ids: HashSet<Uuid> = existing.iter().map(|e| e.0).collect();
    let taken_emails: HashSet<String> = existing.iter().map(|e| e.1.to_lowercase()).collect();
    let taken_names: HashSet<String> = existing.iter().map(|e| e.2.to_lowercase()).collect();
    Ok(rows
        .iter()
        .filter(|u| {
            taken_ids.contains(&u.id)
                || taken_emails.contains(&u.email.to_lowercase())
                || taken_names.contains(&u.username.to_lowercase())
        })
        .map(|u| u.id)
        .collect())
}

/// Insert users in batches of 1,000 rows per statement.
pub fn insert_users(conn: &mut PgConnection, rows: &[ImportedUser]) -> Result<usize> {
    let mut n = 0;
    for chunk in rows.chunks(1000) {
        n += diesel::insert_into(users::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(n)
}

/// `COPY items (id, title, description, price, owner_id, is_available, created_at,
/// updated_at) FROM STDIN` in CSV; `write` produces the rows (an empty unquoted field is
/// NULL) and may fail to abort the copy.
pub fn copy_items(
    conn: &mut PgConnection,
    write: impl Fn(&mut dyn std::io::Write) -> Result<()>,
) -> Result<usize> {
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
            write,
        )
        .with_format(CopyFormat::Csv)
        .execute(conn)
        .map_err(|e: Error| e)
}
