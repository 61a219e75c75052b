//! `stackctl user import` and `stackctl item import`: validate every row, then write all of
//! them in one transaction, or none.
//!
//! Users are few and slow to hash: they are read whole, checked, hashed in parallel on every
//! core (rayon), and inserted in batches. Items can be millions: they are checked while they
//! stream into `COPY items FROM STDIN`; at the first bad row stackctl stops sending rows but
//! reads on to report every bad row, then aborts the copy, so the transaction writes nothing.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use rayon::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::Ctx;
use crate::change::Change;
use crate::cli::{ImportArgs, ImportFormat, OnConflict};
use crate::db::import::{self as q, Owners};
use crate::db::models::{format_price, ImportedUser, ItemView};
use crate::error::{Error, Result};
use crate::import::{
    check_bcrypt_hash, parse_bool, parse_time, Field, Format, Input, Record, Records, RowErrors,
};
use crate::output::render_one;
use crate::password;
use crate::validate::{Description, Email, FullName, Price, Title, Username};

/// What an import did, printed on stdout.
#[derive(Serialize)]
struct Summary {
    file: String,
    imported: usize,
    skipped: usize,
    seconds: f64,
}

const SUMMARY_COLUMNS: &[&str] = &["file", "imported", "skipped", "seconds"];

/// How far the reader is, for the progress bar: bytes read of `size`.
struct Meter {
    size: Option<u64>,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn open(args: &ImportArgs, columns: &'static [&'static str]) -> Result<(Records, String, Meter)> {
    let mut input = Input::open(&args.file)?;
    let format = input.detect(
        &args.file,
        args.format.map(|f| match f {
            ImportFormat::Csv => Format::Csv,
            ImportFormat::Json => Format::Json,
        }),
    )?;
    let name = input.name.clone();
    let meter = Meter {
        size: input.size,
        read: input.read.clone(),
    };
    let records = Records::new(input, format, columns)?;
    Ok((records, name, meter))
}

fn finish(ctx: &Ctx, command: &str, summary: Summary) -> Result<()> {
    ctx.info(format!(
        "{command}: imported {} row(s), skipped {} from {} in {:.1}s ({:.0} rows/s)",
        summary.imported,
        summary.skipped,
        summary.file,
        summary.seconds,
        summary.imported as f64 / summary.seconds.max(1e-9)
    ));
    let mut out = ctx.stdout();
    render_one(ctx.format(), SUMMARY_COLUMNS, &summary, &mut out)?;
    super::finish(out)
}

fn text<'a>(f: &'a Field, column: &str) -> std::result::Result<&'a str, String> {
    f.text().ok_or_else(|| format!("{column} is required"))
}

/// Absent: `default`; null: NULL; else true/false.
fn flag(f: &Field, column: &str, default: bool) -> std::result::Result<Option<bool>, String> {
    match f {
        Field::Absent => Ok(Some(default)),
        Field::Null => Ok(None),
        Field::Value(v) => parse_bool(column, v).map(Some),
    }
}

/// Absent: `now`; null: NULL; else a time.
fn time(
    f: &Field,
    column: &str,
    now: DateTime<Utc>,
) -> std::result::Result<Option<DateTime<Utc>>, String> {
    match f {
        Field::Absent => Ok(Some(now)),
        Field::Null => Ok(None),
        Field::Value(v) => parse_time(column, v).map(Some),
    }
}

/// Absent or null: a new id.
fn id(f: &Field) -> std::result::Result<Uuid, String> {
    match f {
        Field::Value(v) => Uuid::parse_str(v.trim()).map_err(|_| format!("id '{v}' is not a UUID")),
        _ => Ok(Uuid::new_v4()),
    }
}

fn reason(e: Error) -> String {
    e.message
}

// ---------------------------------------------------------------------------------------
// Users

pub const USER_COLUMNS: &[&str] = &[
    "id",
    "email",
    "username",
    "full_name",
    "is_active",
    "is_superuser",
    "created_at",
    "updated_at",
    "password",
    "hashed_password",
];

enum Secret {
    Plain(String),
    Hash(String),
}

struct UserIn {
    id: Uuid,
    email: String,
    username: String,
    full_name: Option<String>,
    is_active: Option<bool>,
    is_superuser: Option<bool>,
    /// Outer `None`: absent, filled with the transaction's time.
    created_at: Option<Option<DateTime<Utc>>>,
    updated_at: Option<Option<DateTime<Utc>>>,
    secret: Secret,
}

fn user_in(r: &Record) -> std::result::Result<UserIn, String> {
    let f = &r.fields;
    let email = Email::parse(text(&f[1], "email")?).map_err(reason)?;
    let username = Username::parse(text(&f[2], "username")?).map_err(reason)?;
    let full_name = match f[3].text() {
        Some(n) => Some(FullName::parse(n).map_err(reason)?.as_str().to_string()),
        None => None,
    };
    let when =
        |i: usize, column: &str| -> std::result::Result<Option<Option<DateTime<Utc>>>, String> {
            match &f[i] {
                Field::Absent => Ok(None),
                other => time(other, column, Utc::now()).map(Some),
            }
        };
    let secret = match (f[8].text(), f[9].text()) {
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
        id: id(&f[0])?,
        email: email.as_str().to_string(),
        username: username.as_str().to_string(),
        full_name,
        is_active: flag(&f[4], "is_active", true)?,
        is_superuser: flag(&f[5], "is_superuser", false)?,
        created_at: when(6, "created_at")?,
        updated_at: when(7, "updated_at")?,
        secret,
    })
}

pub fn users(args: ImportArgs, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let (records, name, input) = open(&args, USER_COLUMNS)?;
    let mut conn = ctx.connect()?;
    let mut taken_ids = HashSet::new();
    let mut taken_emails = HashSet::new();
    let mut taken_names = HashSet::new();
    for (id, email, username) in q::user_identities(&mut conn)? {
        taken_ids.insert(id);
        taken_emails.insert(email.to_lowercase());
        taken_names.insert(username.to_lowercase());
    }
    let mut errors = RowErrors::default();
    let mut conflicts = RowErrors::default();
    let mut seen_ids: HashMap<Uuid, u64> = HashMap::new();
    let mut seen_emails: HashMap<String, u64> = HashMap::new();
    let mut seen_names: HashMap<String, u64> = HashMap::new();
    let mut rows = Vec::new();
    let mut skipped = 0;
    let pb = crate::progress::bytes(ctx.global.quiet, input.size);
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(e.line, e.reason);
                continue;
            }
        };
        pb.set_position(input.read.load(Ordering::Relaxed));
        let u = match user_in(&rec) {
            Ok(u) => u,
            Err(why) => {
                errors.push(rec.line, why);
                continue;
            }
        };
        let (email_lc, name_lc) = (u.email.to_lowercase(), u.username.to_lowercase());
        let repeats = [
            ("id", seen_ids.insert(u.id, rec.line)),
            ("email", seen_emails.insert(email_lc.clone(), rec.line)),
            ("username", seen_names.insert(name_lc.clone(), rec.line)),
        ];
        if let Some((what, Some(first))) = repeats.iter().find(|(_, prev)| prev.is_some()) {
            errors.push(rec.line, format!("the same {what} as line {first}"));
            continue;
        }
        let clash = if taken_ids.contains(&u.id) {
            Some(format!("a user with id {} already exists", u.id))
        } else if taken_emails.contains(&email_lc) {
            Some(format!("a user with email '{}' already exists", u.email))
        } else if taken_names.contains(&name_lc) {
            Some(format!(
                "a user with username '{}' already exists",
                u.username
            ))
        } else {
            None
        };
        if let Some(why) = clash {
            match args.on_conflict {
                OnConflict::Fail => conflicts.push(rec.line, why),
                OnConflict::Skip => skipped += 1,
            }
            continue;
        }
        rows.push(u);
    }
    pb.finish_and_clear();
    if !errors.is_empty() {
        return Err(errors.into_error(&name));
    }
    if !conflicts.is_empty() {
        return Err(conflicts.into_conflict(&name));
    }

    // Hash on every core. A dry run keeps nothing, so it hashes nothing.
    let cost = ctx.global.bcrypt_cost;
    let to_hash = rows
        .iter()
        .filter(|u| matches!(u.secret, Secret::Plain(_)))
        .count() as u64;
    let hashes: Vec<String> = if ctx.global.dry_run {
        rows.iter()
            .map(|u| match &u.secret {
                Secret::Hash(h) => h.clone(),
                Secret::Plain(_) => "(not hashed in a dry run)".into(),
            })
            .collect()
    } else {
        let pb = crate::progress::count(ctx.global.quiet, to_hash, "hashing passwords");
        let hashed = rows
            .par_iter()
            .map(|u| match &u.secret {
                Secret::Hash(h) => Ok(h.clone()),
                Secret::Plain(p) => {
                    let h = password::hash(p, cost);
                    pb.inc(1);
                    h
                }
            })
            .collect::<Result<Vec<String>>>()?;
        pb.finish_and_clear();
        hashed
    };

    let done = ctx.write(&mut conn, "user import", |conn| {
        let now = q::transaction_now(conn)?;
        let resolved: Vec<ImportedUser> = rows
            .iter()
            .zip(&hashes)
            .map(|(u, h)| ImportedUser {
                id: u.id,
                email: u.email.clone(),
                username: u.username.clone(),
                hashed_password: h.clone(),
                full_name: u.full_name.clone(),
                is_active: u.is_active,
                is_superuser: u.is_superuser,
                created_at: u.created_at.unwrap_or(Some(now)),
                updated_at: u.updated_at.unwrap_or(Some(now)),
            })
            .collect();
        crate::db::lock_user_identities(conn)?;
        let clash = q::clashing(conn, &resolved)?;
        let resolved: Vec<ImportedUser> = match args.on_conflict {
            OnConflict::Fail if !clash.is_empty() => {
                return Err(Error::conflict(format!(
                    "{name}: {} user(s) in the file were added by another command while this import ran",
                    clash.len()
                ))
                .with_hint("nothing was imported; run it again (--on-conflict skip keeps the existing users)"));
            }
            _ => resolved.into_iter().filter(|u| !clash.contains(&u.id)).collect(),
        };
        let skipped = skipped + clash.len();
        let n = q::insert_users(conn, &resolved)?;
        let change = Change::other("import", "users", &name)
            .with_after(serde_json::json!({"rows": n, "skipped": skipped}));
        Ok(((n, skipped), vec![change]))
    })?;
    let Some((imported, skipped)) = done else {
        return Ok(());
    };
    finish(
        ctx,
        "user import",
        Summary {
            file: name,
            imported,
            skipped,
            seconds: started.elapsed().as_secs_f64(),
        },
    )
}

// ---------------------------------------------------------------------------------------
// Items

/// The item columns an import file may have: those an export writes. Records index
/// them in this order.
pub const ITEM_COLUMNS: &[&str] = ItemView::COLUMNS;

/// A CSV field for COPY: NULL is an empty unquoted field, every text is quoted.
fn push_text(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn push_opt(out: &mut Vec<u8>, s: Option<&str>) {
    if let Some(s) = s {
        push_text(out, s);
    }
}

fn push_time(out: &mut Vec<u8>, t: Option<DateTime<Utc>>) {
    if let Some(t) = t {
        out.extend_from_slice(t.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
    }
}

/// The owner a record names: by id, by email, or both (which must agree). Both columns
/// present and null: no owner.
fn owner(f: &[Field], owners: &Owners) -> std::result::Result<Option<Uuid>, String> {
    let by_id = match &f[5] {
        Field::Value(v) => {
            let id =
                Uuid::parse_str(v.trim()).map_err(|_| format!("owner_id '{v}' is not a UUID"))?;
            if !owners.ids.contains(&id) {
                return Err(format!("owner_id {id} is not a user"));
            }
            Some(id)
        }
        _ => None,
    };
    let by_email = match &f[6] {
        Field::Value(v) => match owners.emails.get(&v.to_lowercase()) {
            Some(Some(id)) => Some(*id),
            Some(None) => {
                return Err(format!(
                    "owner_email '{v}' matches several users that differ only in letter case; use owner_id"
                ))
            }
            None => return Err(format!("owner_email '{v}' is not a user")),
        },
        _ => None,
    };
    match (by_id, by_email, &f[5], &f[6]) {
        (Some(a), Some(b), _, _) if a != b => {
            Err("owner_id and owner_email name different users".into())
        }
        (Some(a), _, _, _) | (None, Some(a), _, _) => Ok(Some(a)),
        (None, None, Field::Absent, Field::Absent) => {
            Err("owner_id or owner_email is required".into())
        }
        _ => Ok(None),
    }
}

/// Check one record and append its COPY line to `out`; returns its id.
fn item_line(
    r: &Record,
    owners: &Owners,
    now: DateTime<Utc>,
    out: &mut Vec<u8>,
) -> std::result::Result<Uuid, String> {
    let f = &r.fields;
    let id = id(&f[0])?;
    let title = Title::parse(text(&f[1], "title")?).map_err(reason)?;
    let description = match f[2].text() {
        Some(d) => Some(Description::parse(d).map_err(reason)?),
        None => None,
    };
    let price = match &f[3] {
        Field::Absent => Some(Price::zero()),
        Field::Null => None,
        Field::Value(v) => Some(Price::parse(v).map_err(reason)?),
    };
    let available = flag(&f[4], "is_available", true)?;
    let owner = owner(f, owners)?;
    let created = time(&f[7], "created_at", now)?;
    let updated = time(&f[8], "updated_at", now)?;

    out.extend_from_slice(
        id.hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .as_bytes(),
    );
    out.push(b',');
    push_text(out, title.as_str());
    out.push(b',');
    push_opt(out, description.as_ref().map(Description::as_str));
    out.push(b',');
    if let Some(p) = &price {
        out.extend_from_slice(format_price(p.value()).as_bytes());
    }
    out.push(b',');
    if let Some(o) = owner {
        out.extend_from_slice(
            o.hyphenated()
                .encode_lower(&mut Uuid::encode_buffer())
                .as_bytes(),
        );
    }
    out.push(b',');
    match available {
        Some(true) => out.push(b't'),
        Some(false) => out.push(b'f'),
        None => {}
    }
    out.push(b',');
    push_time(out, created);
    out.push(b',');
    push_time(out, updated);
    out.push(b'\n');
    Ok(id)
}

/// A write into COPY failed: the connection is gone (exit 5), never a closed stdout.
fn copy_lost(e: std::io::Error) -> Error {
    Error::unreachable(format!(
        "lost the database connection during the import: {e}"
    ))
}

struct ItemStream {
    records: Records,
    errors: RowErrors,
    conflicts: RowErrors,
    seen: HashMap<Uuid, u64>,
    sent: usize,
    skipped: usize,
}

pub fn items(args: ImportArgs, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let (records, name, input) = open(&args, ITEM_COLUMNS)?;
    let mut conn = ctx.connect()?;
    let owners = q::owners(&mut conn)?;
    let existing = q::item_ids(&mut conn)?;
    let on_conflict = args.on_conflict;
    let pb = crate::progress::bytes(ctx.global.quiet, input.size);
    let stream = RefCell::new(ItemStream {
        records,
        errors: RowErrors::default(),
        conflicts: RowErrors::default(),
        seen: HashMap::new(),
        sent: 0,
        skipped: 0,
    });
    // The copy's own error would be the server's echo of ours: keep ours.
    let abort: RefCell<Option<Error>> = RefCell::new(None);
    let done = ctx.write(&mut conn, "item import", |conn| {
        let now = q::transaction_now(conn)?;
        let copied = q::copy_items(conn, |w| {
            let mut guard = stream.borrow_mut();
            let s = &mut *guard;
            let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
            let mut line = Vec::with_capacity(256);
            let mut n: u64 = 0;
            for rec in s.records.by_ref() {
                n += 1;
                if n.is_multiple_of(8192) {
                    pb.set_position(input.read.load(Ordering::Relaxed));
                    pb.set_message(format!("{n} rows"));
                }
                let rec = match rec {
                    Ok(r) => r,
                    Err(e) => {
                        s.errors.push(e.line, e.reason);
                        continue;
                    }
                };
                line.clear();
                let id = match item_line(&rec, &owners, now, &mut line) {
                    Ok(id) => id,
                    Err(why) => {
                        s.errors.push(rec.line, why);
                        continue;
                    }
                };
                if let Some(first) = s.seen.insert(id, rec.line) {
                    s.errors
                        .push(rec.line, format!("the same id as line {first}"));
                    continue;
                }
                if existing.contains(&id) {
                    match on_conflict {
                        OnConflict::Fail => s
                            .conflicts
                            .push(rec.line, format!("an item with id {id} already exists")),
                        OnConflict::Skip => s.skipped += 1,
                    }
                    continue;
                }
                // After the first bad row nothing more is sent; reading goes on to report.
                if s.errors.is_empty() && s.conflicts.is_empty() {
                    buf.extend_from_slice(&line);
                    s.sent += 1;
                    if buf.len() >= 1 << 17 {
                        w.write_all(&buf).map_err(copy_lost)?;
                        buf.clear();
                    }
                }
            }
            let failed = if !s.errors.is_empty() {
                Some(std::mem::take(&mut s.errors).into_error(&name))
            } else if !s.conflicts.is_empty() {
                Some(std::mem::take(&mut s.conflicts).into_conflict(&name))
            } else {
                None
            };
            if let Some(e) = failed {
                let short = Error::new(e.kind, e.message.clone());
                *abort.borrow_mut() = Some(e);
                return Err(short);
            }
            w.write_all(&buf).map_err(copy_lost)?;
            Ok(())
        });
        if let Err(e) = copied {
            return Err(abort.borrow_mut().take().unwrap_or(e));
        }
        let s = stream.borrow();
        let change = Change::other("import", "items", &name)
            .with_after(serde_json::json!({"rows": s.sent, "skipped": s.skipped}));
        Ok(((s.sent, s.skipped), vec![change]))
    });
    pb.finish_and_clear();
    let Some((imported, skipped)) = done? else {
        return Ok(());
    };
    finish(
        ctx,
        "item import",
        Summary {
            file: name,
            imported,
            skipped,
            seconds: started.elapsed().as_secs_f64(),
        },
    )
}

/// The record checks on whatever the reader yields from any file: no panic, and a refused
/// record is a reason, never a crash (a multi-byte character inside a hash's first bytes
/// once ended in a caught panic).
#[cfg(test)]
mod props {
    use super::*;
    use crate::import::props::read_all;
    use crate::import::Format;
    use proptest::prelude::*;

    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9@._ -]{0,12}",
            "[a-z]{1,8}@[a-z]{1,8}\\.com",
            "\\$2[aby]\\$[0-9€é]{1,3}\\$[./A-Za-z0-9€]{50,56}",
            "-?[0-9]{0,9}(\\.[0-9]{0,3})?",
            any::<String>(),
        ]
    }

    fn csv(columns: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(columns).expect("in memory");
        for r in rows {
            let mut r = r.clone();
            r.resize(columns.len(), String::new());
            w.write_record(&r).expect("in memory");
        }
        w.into_inner().expect("in memory")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases() / 3))]

        #[test]
        fn user_records_are_checked_without_panic(rows in prop::collection::vec(prop::collection::vec(cell(), 10), 1..4)) {
            for r in read_all(&csv(USER_COLUMNS, &rows), Format::Csv, USER_COLUMNS).expect("a CSV with a header").into_iter().flatten() {
                let _ = user_in(&r);
            }
        }

        #[test]
        fn item_records_are_checked_without_panic(rows in prop::collection::vec(prop::collection::vec(cell(), 9), 1..4)) {
            let owners = Owners { ids: Default::default(), emails: Default::default() };
            let mut out = Vec::new();
            for r in read_all(&csv(ITEM_COLUMNS, &rows), Format::Csv, ITEM_COLUMNS).expect("a CSV with a header").into_iter().flatten() {
                let _ = item_line(&r, &owners, Utc::now(), &mut out);
            }
        }
    }
}
