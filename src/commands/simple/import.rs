//! `stackctl user import` on the Simple DB layout: columns `id` (optional: the sequence
//! gives one), `email`, `name` (both required) and `created_at` (optional: now, in UTC).
//! All rows or none, in one transaction; rows repeated in the file are bad rows (exit 2),
//! rows that already exist fail the import (exit 4) or, with `--on-conflict skip`, are
//! left out. Explicit ids move the id sequence past them, so the application's next insert
//! does not collide. The Simple DB design keeps small tables: the rows are held in memory.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use serde::Deserialize;

use crate::cli::{ImportArgs, OnConflict};
use crate::commands::{import, Ctx};
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

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
}

/// The file's emails (lower case) and ids that `users` already has.
fn existing(conn: &mut PgConnection, rows: &[Row]) -> Result<(HashSet<String>, HashSet<i64>)> {
    let emails: Vec<String> = rows
        .iter()
        .map(|r| r.email.as_str().to_lowercase())
        .collect();
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.id).collect();
    let taken: Vec<Taken> = diesel::sql_query(
        "SELECT lower(email) AS email, NULL::int8 AS id FROM users WHERE lower(email) = ANY($1) \
         UNION ALL SELECT NULL, id::int8 FROM users WHERE id = ANY($2)",
    )
    .bind::<Array<Text>, _>(&emails)
    .bind::<Array<BigInt>, _>(&ids)
    .load(conn)?;
    Ok((
        taken.iter().filter_map(|t| t.email.clone()).collect(),
        taken.iter().filter_map(|t| t.id).collect(),
    ))
}

/// Insert the rows: those with an id as given, the others with the sequence's next ones;
/// then move the sequence past the largest id, never back.
fn insert(conn: &mut PgConnection, rows: &[&Row], now: DateTime<Utc>) -> Result<usize> {
    let time = |r: &Row| r.created_at.unwrap_or(Some(now));
    let (with, without): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| r.id.is_some());
    let mut n = 0;
    if !with.is_empty() {
        n += diesel::sql_query(
            "INSERT INTO users (id, email, name, created_at) \
             SELECT i, e, n, c AT TIME ZONE 'UTC' FROM unnest($1, $2, $3, $4) AS t(i, e, n, c)",
        )
        .bind::<Array<BigInt>, _>(with.iter().filter_map(|r| r.id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(with.iter().map(|r| r.email.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(with.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(with.iter().map(|r| time(r)).collect::<Vec<_>>())
        .execute(conn)?;
        diesel::sql_query(
            "SELECT setval(s, GREATEST((SELECT max(id) FROM users), \
                                       coalesce(pg_sequence_last_value(s), 1))) \
             FROM (SELECT pg_get_serial_sequence('users', 'id')::regclass AS s) q \
             WHERE s IS NOT NULL",
        )
        .execute(conn)?;
    }
    if !without.is_empty() {
        n += diesel::sql_query(
            "INSERT INTO users (email, name, created_at) \
             SELECT e, n, c AT TIME ZONE 'UTC' FROM unnest($1, $2, $3) AS t(e, n, c)",
        )
        .bind::<Array<Text>, _>(without.iter().map(|r| r.email.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(without.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Timestamptz>>, _>(
            without.iter().map(|r| time(r)).collect::<Vec<_>>(),
        )
        .execute(conn)?;
    }
    Ok(n)
}

pub fn users(args: &ImportArgs, mut conn: PgConnection, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let (name, rows) = read(args)?;
    let done = ctx.write(&mut conn, "user import", |conn| {
        crate::db::lock_user_identities(conn)?;
        let (emails, ids) = existing(conn, &rows)?;
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
        let n = insert(conn, &keep, now)?;
        let done = Imported { rows: n, skipped };
        Ok((done, import::change("users", &name, done)))
    })?;
    match done {
        Some(done) => import::finish(ctx, "user import", name, done, started),
        None => Ok(()),
    }
}
