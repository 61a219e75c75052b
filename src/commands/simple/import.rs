//! `stackctl user import` on the Simple DB layout: columns `id` (optional: the sequence
//! gives one), `email`, `name` (both required) and `created_at` (optional: now, in UTC).
//! All rows or none, in one transaction; rows repeated in the file are bad rows (exit 2),
//! rows that already exist fail the import (exit 4) or, with `--on-conflict skip`, are
//! left out. Explicit ids move the id sequence past them, so the application's next insert
//! does not collide. The Simple DB design keeps small tables: the rows are held in memory.

use crate::session::Session;
use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Deserialize;

use crate::cli::{ImportArgs, OnConflict};
use crate::commands::{import, Ctx};
use crate::db::simple::{self, ImportRow};
use crate::error::Result;
use crate::import::values::{parse_time, required, text, Column};
use crate::import::{Imported, Numbered, RowErrors};
use crate::validate::{Email, FullName};

/// A row as the file gives it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileRow {
    id: Column,
    email: Column,
    name: Column,
    created_at: Column,
}

/// One row of the file, checked on its own.
struct Row {
    line: u64,
    id: Option<i64>,
    email: Email,
    name: FullName,
    /// `None`: absent, so now; `Some(None)`: an explicit null.
    created_at: Option<Option<DateTime<Utc>>>,
}

fn row(rec: &Numbered<FileRow>) -> std::result::Result<Row, String> {
    let r = &rec.row;
    Ok(Row {
        line: rec.line,
        id: match text(&r.id) {
            Some(v) => Some(
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("id '{v}' is not an integer"))?,
            ),
            None => None,
        },
        email: Email::parse(required(&r.email, "email")?).map_err(|e| e.message)?,
        name: FullName::parse(required(&r.name, "name")?).map_err(|e| e.message)?,
        created_at: match &r.created_at {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => Some(Some(parse_time("created_at", v)?)),
        },
    })
}

/// Read and check every row; repeats of an email (any letter case) or an id are bad rows.
fn read(args: &ImportArgs) -> Result<(String, Vec<Row>)> {
    let (records, name, _) = crate::commands::import::open::<FileRow>(args)?;
    let mut errors = RowErrors::default();
    let mut rows = Vec::new();
    let (mut emails, mut ids) = (HashMap::new(), HashMap::new());
    for rec in records {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                errors.push(e.line, e.reason);
                continue;
            }
        };
        match row(&rec) {
            Err(reason) => errors.push(rec.line, reason),
            Ok(r) => {
                if let Some(first) = emails.insert(r.email.as_str().to_lowercase(), r.line) {
                    errors.push(r.line, format!("the same email as line {first}"));
                } else if let Some(first) = r.id.and_then(|id| ids.insert(id, r.line)) {
                    errors.push(r.line, format!("the same id as line {first}"));
                } else {
                    rows.push(r);
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors.into_error(&name));
    }
    Ok((name, rows))
}

/// Explicit ids must fit the column and leave the id sequence a value for the
/// application's next insert: an id at the sequence's maximum would exhaust it, and every
/// later insert, the application's included, would fail. Such rows are bad rows (exit 2).
fn check_ids(conn: &mut PgConnection, rows: &[Row], file: &str) -> Result<()> {
    if rows.iter().all(|r| r.id.is_none()) {
        return Ok(());
    }
    let limits = simple::id_limits(conn)?;
    let mut errors = RowErrors::default();
    for r in rows {
        let Some(id) = r.id else { continue };
        if id < 1 || id > limits.column_max {
            errors.push(
                r.line,
                format!(
                    "id {id} is outside the id column's range (1 to {})",
                    limits.column_max
                ),
            );
        } else if limits.sequence_max.is_some_and(|max| id >= max) {
            errors.push(
                r.line,
                format!(
                    "id {id} would leave the id sequence no value for the application's next insert (its maximum is {})",
                    limits.sequence_max.unwrap_or_default()
                ),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.into_error(file))
    }
}

pub fn users(args: &ImportArgs, mut session: Session, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let (name, rows) = read(args)?;
    let done = session.write("user import", |conn| {
        crate::db::lock_user_identities(conn)?;
        check_ids(conn, &rows, &name)?;
        let emails: Vec<String> = rows
            .iter()
            .map(|r| r.email.as_str().to_lowercase())
            .collect();
        let ids: Vec<i64> = rows.iter().filter_map(|r| r.id).collect();
        let (emails, ids) = simple::existing(conn, &emails, &ids)?;
        let clash = |r: &Row| {
            if emails.contains(&r.email.as_str().to_lowercase()) {
                Some(format!(
                    "a user with email '{}' already exists",
                    r.email.as_str()
                ))
            } else {
                r.id.filter(|id| ids.contains(id))
                    .map(|id| format!("a user with id {id} already exists"))
            }
        };
        let mut conflicts = RowErrors::default();
        let mut keep = Vec::with_capacity(rows.len());
        for r in &rows {
            match (clash(r), args.on_conflict) {
                (Some(why), OnConflict::Fail) => conflicts.push(r.line, why),
                (Some(_), OnConflict::Skip) => {}
                (None, _) => keep.push(r),
            }
        }
        if !conflicts.is_empty() {
            return Err(conflicts.into_conflict(&name));
        }
        let skipped = rows.len() - keep.len();
        let now = crate::db::import::transaction_now(conn)?;
        let keep: Vec<ImportRow> = keep
            .iter()
            .map(|r| ImportRow {
                id: r.id,
                email: r.email.as_str(),
                name: r.name.as_str(),
                created_at: r.created_at.unwrap_or(Some(now)),
            })
            .collect();
        let n = simple::import(conn, &keep)?;
        let done = Imported { rows: n, skipped };
        Ok((done, import::change("users", &name, done)))
    })?;
    match done {
        Some(done) => import::finish(ctx, "user import", name, done, started),
        None => Ok(()),
    }
}
