//! `user import`: the user row a file gives, its checks, and the write. Rows stream into a
//! temporary table of the writing transaction; repeats inside the file and clashes with
//! existing users are then found by queries on the server, the plain passwords (the only
//! rows held in memory) are hashed on every core (rayon), and the rows go into `users` in
//! one INSERT ... SELECT.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use indicatif::ProgressBar;
use rayon::prelude::*;
use serde::Deserialize;
use uuid::Uuid;

use super::values::{check_bcrypt_hash, flag, id, required, text, time, Column};
use super::{copy_lost, Imported, OnConflict, Records, RowError, RowErrors, SHOWN};
use crate::db::import::{self as q, StagedUser};
use crate::error::{Error, Result};
use crate::password;
use crate::validate::{Email, FullName, Username};

/// A user as an import file gives it: the columns an export writes, and a password in
/// plain text or hashed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct UserRow {
    pub id: Column,
    pub email: Column,
    pub username: Column,
    pub full_name: Column,
    pub is_active: Column,
    pub is_superuser: Column,
    pub created_at: Column,
    pub updated_at: Column,
    pub password: Column,
    pub hashed_password: Column,
}

pub enum Secret {
    Plain(String),
    Hash(String),
}

/// A user row checked on its own; whether it repeats or clashes is the server's to find.
pub struct UserIn {
    pub id: Uuid,
    pub email: Email,
    /// Absent only where `users.username` may be null (the generated backend's schema).
    pub username: Option<Username>,
    pub full_name: Option<FullName>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub secret: Secret,
}

impl UserRow {
    /// The row's own checks, the first failing one as the reason; absent times are `now`.
    /// `username_optional`: the column may be null, so a row without one is a user without one.
    pub fn check(
        self,
        now: DateTime<Utc>,
        username_optional: bool,
    ) -> std::result::Result<UserIn, String> {
        let reason = |e: Error| e.message;
        let email = Email::parse(required(&self.email, "email")?).map_err(reason)?;
        let username = match text(&self.username) {
            None if username_optional => None,
            _ => Some(Username::parse(required(&self.username, "username")?).map_err(reason)?),
        };
        let full_name = match text(&self.full_name) {
            Some(n) => Some(FullName::parse(n).map_err(reason)?),
            None => None,
        };
        let secret = match (text(&self.password), text(&self.hashed_password)) {
            (Some(_), Some(_)) => return Err("give password or hashed_password, not both".into()),
            (Some(p), None) => {
                password::check(p).map_err(reason)?;
                Secret::Plain(p.to_string())
            }
            (None, Some(h)) => {
                check_bcrypt_hash(h)?;
                Secret::Hash(h.to_string())
            }
            (None, None) => return Err("password or hashed_password is required".into()),
        };
        Ok(UserIn {
            id: id(&self.id)?,
            email,
            username,
            full_name,
            is_active: flag(&self.is_active, "is_active", true)?,
            is_superuser: flag(&self.is_superuser, "is_superuser", false)?,
            created_at: time(&self.created_at, "created_at", now)?,
            updated_at: time(&self.updated_at, "updated_at", now)?,
            secret,
        })
    }
}

impl UserIn {
    /// The staging row; the hash is NULL for a plain password, hashed later.
    fn staged(&self, line: u64) -> StagedUser<'_> {
        StagedUser {
            line,
            id: self.id,
            email: self.email.as_str(),
            username: self.username.as_ref().map(Username::as_str),
            hashed_password: match &self.secret {
                Secret::Hash(h) => Some(h),
                Secret::Plain(_) => None,
            },
            full_name: self.full_name.as_ref().map(FullName::as_str),
            is_active: self.is_active,
            is_superuser: self.is_superuser,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// How one `user import` runs.
pub struct Settings<'a> {
    pub on_conflict: OnConflict,
    /// `users.username` may be null: rows without one are taken.
    pub username_optional: bool,
    /// The application's own columns, with the values declared for them.
    pub fill: Vec<&'a crate::db::shape::AppColumn>,
    /// A dry run keeps nothing, so it hashes nothing.
    pub dry_run: bool,
    pub bcrypt_cost: u32,
    /// No progress bar for the hashing.
    pub quiet: bool,
}

/// Plain passwords still to hash, by the line of their staged row.
type Plain = Vec<(i64, String)>;

/// Stream every row of `file` into the staging table (checking each on its own), then
/// check them against each other and `users`, hash the plain passwords and insert them,
/// in the caller's transaction: all rows or none. `progress` shows the bytes read.
pub fn import(
    conn: &mut PgConnection,
    mut records: Records<UserRow>,
    file: &str,
    settings: &Settings,
    progress: &ProgressBar,
) -> Result<Imported> {
    let now = q::transaction_now(conn)?;
    q::create_user_staging(conn)?;
    let (errors, mut plain) = stage(
        conn,
        &mut records,
        now,
        settings.username_optional,
        progress,
    )?;
    progress.finish_and_clear();
    let staged = listed(q::staged_duplicates(conn, SHOWN as i64)?);
    let errors = errors.merged(staged.rows, staged.total);
    if !errors.is_empty() {
        return Err(errors.into_error(file));
    }
    let mut skipped = match settings.on_conflict {
        OnConflict::Fail => {
            let clashes = listed(q::staged_clashes(conn, SHOWN as i64)?);
            if clashes.total > 0 {
                return Err(clashes.into_conflict(file));
            }
            0
        }
        OnConflict::Skip => skip_clashes(conn, &mut plain)?,
    };
    let hashes = hash(plain, settings)?;
    q::set_staged_hashes(conn, &hashes)?;

    // Hashing may take minutes: another command may have added one of these users
    // meanwhile. Asked again under the identity lock, which such a command takes too.
    crate::db::lock_user_identities(conn)?;
    match settings.on_conflict {
        OnConflict::Fail => {
            let late = q::staged_clashes(conn, 1)?;
            if late.total > 0 {
                return Err(Error::conflict(format!(
                    "{file}: {} user(s) in the file were added by another command while this import ran",
                    late.total
                ))
                .with_hint("nothing was imported; run it again (--on-conflict skip keeps the existing users)"));
            }
        }
        OnConflict::Skip => skipped += q::drop_staged_clashes(conn)?.len(),
    }
    let rows = q::insert_staged(conn, &settings.fill)?;
    Ok(Imported { rows, skipped })
}

/// COPY every good row into the staging table; returns the bad rows and the plain
/// passwords to hash.
fn stage(
    conn: &mut PgConnection,
    records: &mut Records<UserRow>,
    now: DateTime<Utc>,
    username_optional: bool,
    progress: &ProgressBar,
) -> Result<(RowErrors, Plain)> {
    let mut errors = RowErrors::default();
    let mut plain = Plain::new();
    q::copy_user_staging(conn, |w| {
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
        let mut n: u64 = 0;
        while let Some(rec) = records.next() {
            n += 1;
            if n.is_multiple_of(4096) {
                progress.set_position(records.bytes_read());
            }
            let (line, user) = match rec {
                Ok(r) => (r.line, r.row.check(now, username_optional)),
                Err(e) => (e.line, Err(e.reason)),
            };
            let user = match user {
                Ok(u) => u,
                Err(why) => {
                    errors.push(line, why);
                    continue;
                }
            };
            user.staged(line).encode(&mut buf);
            if let Secret::Plain(p) = user.secret {
                plain.push((i64::try_from(line).unwrap_or(i64::MAX), p));
            }
            if buf.len() >= 1 << 17 {
                w.write_all(&buf).map_err(copy_lost)?;
                buf.clear();
            }
        }
        w.write_all(&buf).map_err(copy_lost)
    })?;
    Ok((errors, plain))
}

/// Staged rows the server listed, as bad rows.
fn listed(staged: q::Listed) -> RowErrors {
    let rows = staged
        .rows
        .into_iter()
        .map(|(line, reason)| RowError {
            line: u64::try_from(line).unwrap_or(0),
            reason,
        })
        .collect();
    RowErrors::default().merged(rows, usize::try_from(staged.total).unwrap_or(0))
}

/// `--on-conflict skip`: drop the staged rows that clash with existing users (and their
/// passwords); returns how many.
fn skip_clashes(conn: &mut PgConnection, plain: &mut Plain) -> Result<usize> {
    let gone = q::drop_staged_clashes(conn)?;
    let skipped = gone.len();
    if !gone.is_empty() && !plain.is_empty() {
        let gone: HashSet<i64> = gone.into_iter().collect();
        plain.retain(|(line, _)| !gone.contains(line));
    }
    Ok(skipped)
}

/// Hash on every core. A dry run keeps nothing, so it hashes nothing.
fn hash(plain: Plain, settings: &Settings) -> Result<Plain> {
    if settings.dry_run {
        return Ok(plain
            .into_iter()
            .map(|(line, _)| (line, "(not hashed in a dry run)".to_string()))
            .collect());
    }
    let pb = crate::progress::count(settings.quiet, plain.len() as u64, "hashing passwords");
    let hashed = plain
        .into_par_iter()
        .map(|(line, p)| {
            let h = password::hash(&p, settings.bcrypt_cost);
            pb.inc(1);
            h.map(|h| (line, h))
        })
        .collect::<Result<Plain>>()?;
    pb.finish_and_clear();
    Ok(hashed)
}

/// The row checks on whatever the reader yields from any file: no panic, and a refused
/// row is a reason, never a crash (a multi-byte character inside a hash's first bytes once
/// ended in a caught panic).
#[cfg(test)]
mod props {
    use super::*;
    use crate::import::reader::props::{cell, csv_of, read_all};
    use crate::import::{columns, Format};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases() / 3))]

        #[test]
        fn user_records_are_checked_without_panic(rows in prop::collection::vec(prop::collection::vec(cell(), 10), 1..4)) {
            let file = csv_of(columns::<UserRow>(), &rows);
            for r in read_all::<UserRow>(&file, Format::Csv).expect("a CSV with a header").into_iter().flatten() {
                let _ = UserRow::check(r.row.clone(), Utc::now(), false);
                let _ = r.row.check(Utc::now(), true);
            }
        }
    }
}
