//! `stackctl user import` and `stackctl item import`: validate every row, then write all of
//! them in one transaction, or none, in memory that does not grow with the file.
//!
//! Users stream into a temporary table of the writing transaction; repeats inside the file
//! and clashes with existing users are then found by queries on the server, the plain
//! passwords (the only rows held in memory) are hashed on every core (rayon), and the rows
//! go into `users` in one INSERT ... SELECT. Items can be millions: they are checked while
//! they stream into `COPY items FROM STDIN`, a batch at a time against the database (owners
//! by id and email, ids that exist already) on a second connection; an id repeated across
//! batches is caught by the primary key. At the first bad row stackctl stops sending rows
//! but reads on to report every bad row, then aborts the copy, so the transaction writes
//! nothing.

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
use crate::db::import as q;
use crate::db::models::{format_price, ItemView};
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

/// The staging row of a checked user, in `stackctl_user_import`'s column order; the hash
/// column is NULL for a plain password, hashed later.
fn user_line(u: &UserIn, line: u64, now: DateTime<Utc>, out: &mut Vec<u8>) {
    let uuid = |out: &mut Vec<u8>, id: Uuid| {
        out.extend_from_slice(
            id.hyphenated()
                .encode_lower(&mut Uuid::encode_buffer())
                .as_bytes(),
        )
    };
    let flag = |out: &mut Vec<u8>, b: Option<bool>| match b {
        Some(true) => out.push(b't'),
        Some(false) => out.push(b'f'),
        None => {}
    };
    out.extend_from_slice(line.to_string().as_bytes());
    out.push(b',');
    uuid(out, u.id);
    out.push(b',');
    push_text(out, &u.email);
    out.push(b',');
    push_text(out, &u.username);
    out.push(b',');
    if let Secret::Hash(h) = &u.secret {
        push_text(out, h);
    }
    out.push(b',');
    push_opt(out, u.full_name.as_deref());
    out.push(b',');
    flag(out, u.is_active);
    out.push(b',');
    flag(out, u.is_superuser);
    out.push(b',');
    push_time(out, u.created_at.unwrap_or(Some(now)));
    out.push(b',');
    push_time(out, u.updated_at.unwrap_or(Some(now)));
    out.push(b'\n');
}

/// The file's own bad rows and those the staging table finds (repeats), in line order:
/// the first `SHOWN` of both and their total.
fn merged(mut own: RowErrors, staged: q::Listed) -> RowErrors {
    own.total += usize::try_from(staged.total).unwrap_or(0);
    own.rows.extend(
        staged
            .rows
            .into_iter()
            .map(|(line, reason)| crate::import::RowError {
                line: u64::try_from(line).unwrap_or(0),
                reason,
            }),
    );
    own.rows.sort_by_key(|r| r.line);
    own.rows.truncate(crate::import::SHOWN);
    own
}

fn listed_errors(staged: q::Listed) -> RowErrors {
    merged(RowErrors::default(), staged)
}

/// What the reader leaves for the checks after staging: the bad rows, and the plain
/// passwords still to hash by line (the only rows held in memory).
struct UserStream {
    records: Records,
    errors: RowErrors,
    plain: Vec<(i64, String)>,
}

/// Stream every row into the staging table (checking each on its own), then check them
/// against each other and `users` on the server, hash the plain passwords on every core,
/// and insert them, all in one transaction: all rows or none.
pub fn users(args: ImportArgs, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let (records, name, input) = open(&args, USER_COLUMNS)?;
    let mut conn = ctx.connect()?;
    let pb = crate::progress::bytes(ctx.global.quiet, input.size);
    let stream = RefCell::new(UserStream {
        records,
        errors: RowErrors::default(),
        plain: Vec::new(),
    });
    let done = ctx.write(&mut conn, "user import", |conn| {
        let now = q::transaction_now(conn)?;
        q::create_user_staging(conn)?;
        q::copy_user_staging(conn, |w| {
            let mut guard = stream.borrow_mut();
            let s = &mut *guard;
            let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
            let mut n: u64 = 0;
            for rec in s.records.by_ref() {
                n += 1;
                if n.is_multiple_of(4096) {
                    pb.set_position(input.read.load(Ordering::Relaxed));
                }
                let rec = match rec {
                    Ok(r) => r,
                    Err(e) => {
                        s.errors.push(e.line, e.reason);
                        continue;
                    }
                };
                let u = match user_in(&rec) {
                    Ok(u) => u,
                    Err(why) => {
                        s.errors.push(rec.line, why);
                        continue;
                    }
                };
                user_line(&u, rec.line, now, &mut buf);
                if let Secret::Plain(p) = u.secret {
                    s.plain.push((i64::try_from(rec.line).unwrap_or(i64::MAX), p));
                }
                if buf.len() >= 1 << 17 {
                    w.write_all(&buf).map_err(copy_lost)?;
                    buf.clear();
                }
            }
            w.write_all(&buf).map_err(copy_lost)
        })?;
        pb.finish_and_clear();
        let mut s = stream.borrow_mut();
        let shown = crate::import::SHOWN as i64;
        let errors = merged(
            std::mem::take(&mut s.errors),
            q::staged_duplicates(conn, shown)?,
        );
        if !errors.is_empty() {
            return Err(errors.into_error(&name));
        }
        let mut skipped = 0;
        match args.on_conflict {
            OnConflict::Fail => {
                let clashes = q::staged_clashes(conn, shown)?;
                if clashes.total > 0 {
                    return Err(listed_errors(clashes).into_conflict(&name));
                }
            }
            OnConflict::Skip => {
                let gone = q::drop_staged_clashes(conn)?;
                skipped = gone.len();
                if !gone.is_empty() && !s.plain.is_empty() {
                    let gone: HashSet<i64> = gone.into_iter().collect();
                    s.plain.retain(|(line, _)| !gone.contains(line));
                }
            }
        }

        // Hash on every core. A dry run keeps nothing, so it hashes nothing.
        let plain = std::mem::take(&mut s.plain);
        let hashes: Vec<(i64, String)> = if ctx.global.dry_run {
            plain
                .into_iter()
                .map(|(line, _)| (line, "(not hashed in a dry run)".to_string()))
                .collect()
        } else {
            let pb = crate::progress::count(
                ctx.global.quiet,
                plain.len() as u64,
                "hashing passwords",
            );
            let cost = ctx.global.bcrypt_cost;
            let hashed = plain
                .into_par_iter()
                .map(|(line, p)| {
                    let h = password::hash(&p, cost);
                    pb.inc(1);
                    h.map(|h| (line, h))
                })
                .collect::<Result<Vec<(i64, String)>>>()?;
            pb.finish_and_clear();
            hashed
        };
        q::set_staged_hashes(conn, &hashes)?;

        // Hashing may take minutes: another command may have added one of these users
        // meanwhile. Asked again under the identity lock, which such a command takes too.
        crate::db::lock_user_identities(conn)?;
        match args.on_conflict {
            OnConflict::Fail => {
                let late = q::staged_clashes(conn, 1)?;
                if late.total > 0 {
                    return Err(Error::conflict(format!(
                        "{name}: {} user(s) in the file were added by another command while this import ran",
                        late.total
                    ))
                    .with_hint("nothing was imported; run it again (--on-conflict skip keeps the existing users)"));
                }
            }
            OnConflict::Skip => skipped += q::drop_staged_clashes(conn)?.len(),
        }
        let n = q::insert_staged(conn)?;
        let change = Change::other("import", "users", &name)
            .with_after(serde_json::json!({"rows": n, "skipped": skipped}));
        Ok(((n, skipped), vec![change]))
    });
    pb.finish_and_clear();
    let Some((imported, skipped)) = done? else {
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

/// The owner columns of a record, parsed: what is still to be looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OwnerIn {
    /// Both columns present and null: no owner.
    Nobody,
    Id(Uuid),
    /// The email as given (matched in any letter case).
    Email(String),
    Both(Uuid, String),
}

fn owner_in(f: &[Field]) -> std::result::Result<OwnerIn, String> {
    let by_id = match &f[5] {
        Field::Value(v) => {
            Some(Uuid::parse_str(v.trim()).map_err(|_| format!("owner_id '{v}' is not a UUID"))?)
        }
        _ => None,
    };
    let by_email = match &f[6] {
        Field::Value(v) => Some(v.clone()),
        _ => None,
    };
    match (by_id, by_email, &f[5], &f[6]) {
        (Some(id), Some(email), _, _) => Ok(OwnerIn::Both(id, email)),
        (Some(id), None, _, _) => Ok(OwnerIn::Id(id)),
        (None, Some(email), _, _) => Ok(OwnerIn::Email(email)),
        (None, None, Field::Absent, Field::Absent) => {
            Err("owner_id or owner_email is required".into())
        }
        _ => Ok(OwnerIn::Nobody),
    }
}

/// The owners and ids one batch of an import names, as the database has them.
#[derive(Default)]
struct Lookups {
    users: HashSet<Uuid>,
    emails: HashMap<String, Option<Uuid>>,
    existing: HashSet<Uuid>,
}

/// The owner a record names, looked up: by id, by email, or both (which must agree).
fn resolve_owner(o: &OwnerIn, l: &Lookups) -> std::result::Result<Option<Uuid>, String> {
    let by_id = |id: &Uuid| {
        if l.users.contains(id) {
            Ok(*id)
        } else {
            Err(format!("owner_id {id} is not a user"))
        }
    };
    let by_email = |v: &String| match l.emails.get(&v.to_lowercase()) {
        Some(Some(id)) => Ok(*id),
        Some(None) => Err(format!(
            "owner_email '{v}' matches several users that differ only in letter case; use owner_id"
        )),
        None => Err(format!("owner_email '{v}' is not a user")),
    };
    match o {
        OwnerIn::Nobody => Ok(None),
        OwnerIn::Id(id) => by_id(id).map(Some),
        OwnerIn::Email(e) => by_email(e).map(Some),
        OwnerIn::Both(id, e) => {
            let (a, b) = (by_id(id)?, by_email(e)?);
            if a != b {
                return Err("owner_id and owner_email name different users".into());
            }
            Ok(Some(a))
        }
    }
}

/// A record checked on its own, its owner and id still to be looked up.
struct ItemIn {
    id: Uuid,
    /// The file gave the id (a new one cannot exist already).
    id_given: bool,
    title: Title,
    description: Option<Description>,
    price: Option<Price>,
    available: Option<bool>,
    owner: OwnerIn,
    created: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
}

fn item_in(r: &Record, now: DateTime<Utc>) -> std::result::Result<ItemIn, String> {
    let f = &r.fields;
    let id_given = matches!(f[0], Field::Value(_));
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
    let owner = owner_in(f)?;
    let created = time(&f[7], "created_at", now)?;
    let updated = time(&f[8], "updated_at", now)?;
    Ok(ItemIn {
        id,
        id_given,
        title,
        description,
        price,
        available,
        owner,
        created,
        updated,
    })
}

/// Append an item's COPY line to `out`.
fn item_line(item: &ItemIn, owner: Option<Uuid>, out: &mut Vec<u8>) {
    out.extend_from_slice(
        item.id
            .hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .as_bytes(),
    );
    out.push(b',');
    push_text(out, item.title.as_str());
    out.push(b',');
    push_opt(out, item.description.as_ref().map(Description::as_str));
    out.push(b',');
    if let Some(p) = &item.price {
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
    match item.available {
        Some(true) => out.push(b't'),
        Some(false) => out.push(b'f'),
        None => {}
    }
    out.push(b',');
    push_time(out, item.created);
    out.push(b',');
    push_time(out, item.updated);
    out.push(b'\n');
}

/// A write into COPY failed: the connection is gone (exit 5), never a closed stdout.
fn copy_lost(e: std::io::Error) -> Error {
    Error::unreachable(format!(
        "lost the database connection during the import: {e}"
    ))
}

/// Records checked against the database this many at a time: each batch costs one
/// query per kind of lookup (owners by id, owners by email, ids that exist already), on a
/// second connection, since the first one is busy with the COPY. Memory holds one batch,
/// whatever the file's size.
const BATCH: usize = 10_000;

struct ItemStream {
    records: Records,
    errors: RowErrors,
    conflicts: RowErrors,
    sent: usize,
    skipped: usize,
    /// The batch being filled: each record's line and its own check.
    batch: Vec<(u64, std::result::Result<ItemIn, String>)>,
    /// The second connection, opened when a batch first needs it.
    lookup: Option<diesel::PgConnection>,
}

/// What one item import is: its options, the table's state as it began, and how to reach
/// the database for lookups.
struct ItemImport<'a> {
    ctx: &'a Ctx,
    on_conflict: OnConflict,
    /// `items` had rows when the import began: ids the file gives may exist already.
    table_had_rows: bool,
}

impl ItemImport<'_> {
    /// Check a full batch against the database and send its good rows (none once any row
    /// of the file was bad), in file order.
    fn flush(&self, s: &mut ItemStream, out: &mut Vec<u8>) -> Result<()> {
        let batch = std::mem::take(&mut s.batch);
        let mut ids: Vec<Uuid> = Vec::new();
        let mut owners: Vec<Uuid> = Vec::new();
        let mut emails: Vec<String> = Vec::new();
        for (_, item) in &batch {
            let Ok(item) = item else { continue };
            if item.id_given && self.table_had_rows {
                ids.push(item.id);
            }
            match &item.owner {
                OwnerIn::Id(id) => owners.push(*id),
                OwnerIn::Email(e) => emails.push(e.to_lowercase()),
                OwnerIn::Both(id, e) => {
                    owners.push(*id);
                    emails.push(e.to_lowercase());
                }
                OwnerIn::Nobody => {}
            }
        }
        let mut l = Lookups::default();
        if !(ids.is_empty() && owners.is_empty() && emails.is_empty()) {
            let conn = match &mut s.lookup {
                Some(c) => c,
                None => s.lookup.insert(self.ctx.connect_again()?),
            };
            owners.sort_unstable();
            owners.dedup();
            emails.sort_unstable();
            emails.dedup();
            if !owners.is_empty() {
                l.users = q::existing_user_ids(conn, &owners)?;
            }
            if !emails.is_empty() {
                l.emails = q::owners_by_email(conn, &emails)?;
            }
            if !ids.is_empty() {
                l.existing = q::existing_item_ids(conn, &ids)?;
            }
        }
        // Ids repeated inside the batch are caught here with both lines; across batches
        // the table's primary key catches them.
        let mut seen: HashMap<Uuid, u64> = HashMap::new();
        for (line, item) in batch {
            let item = match item {
                Ok(item) => item,
                Err(why) => {
                    s.errors.push(line, why);
                    continue;
                }
            };
            let owner = match resolve_owner(&item.owner, &l) {
                Ok(o) => o,
                Err(why) => {
                    s.errors.push(line, why);
                    continue;
                }
            };
            if item.id_given {
                if let Some(first) = seen.insert(item.id, line) {
                    s.errors.push(line, format!("the same id as line {first}"));
                    continue;
                }
            }
            if l.existing.contains(&item.id) {
                match self.on_conflict {
                    OnConflict::Fail => s
                        .conflicts
                        .push(line, format!("an item with id {} already exists", item.id)),
                    OnConflict::Skip => s.skipped += 1,
                }
                continue;
            }
            if s.errors.is_empty() && s.conflicts.is_empty() {
                item_line(&item, owner, out);
                s.sent += 1;
            }
        }
        Ok(())
    }
}

pub fn items(args: ImportArgs, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let (records, name, input) = open(&args, ITEM_COLUMNS)?;
    let mut conn = ctx.connect()?;
    let pb = crate::progress::bytes(ctx.global.quiet, input.size);
    let stream = RefCell::new(ItemStream {
        records,
        errors: RowErrors::default(),
        conflicts: RowErrors::default(),
        sent: 0,
        skipped: 0,
        batch: Vec::with_capacity(BATCH),
        lookup: None,
    });
    // The copy's own error would be the server's echo of ours: keep ours.
    let abort: RefCell<Option<Error>> = RefCell::new(None);
    let done = ctx.write(&mut conn, "item import", |conn| {
        let now = q::transaction_now(conn)?;
        let import = ItemImport {
            ctx,
            on_conflict: args.on_conflict,
            table_had_rows: !q::items_empty(conn)?,
        };
        let copied = q::copy_items(conn, |w| {
            let mut guard = stream.borrow_mut();
            let s = &mut *guard;
            let mut buf: Vec<u8> = Vec::with_capacity(1 << 18);
            let mut n: u64 = 0;
            while let Some(rec) = s.records.next() {
                n += 1;
                if n.is_multiple_of(8192) {
                    pb.set_position(input.read.load(Ordering::Relaxed));
                    pb.set_message(format!("{n} rows"));
                }
                let checked = match rec {
                    Ok(r) => (r.line, item_in(&r, now)),
                    Err(e) => (e.line, Err(e.reason)),
                };
                s.batch.push(checked);
                if s.batch.len() >= BATCH {
                    import.flush(s, &mut buf)?;
                    w.write_all(&buf).map_err(copy_lost)?;
                    buf.clear();
                }
            }
            import.flush(s, &mut buf)?;
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
        match copied {
            Ok(_) => {}
            Err((e, refusal)) => {
                if let Some(ours) = abort.borrow_mut().take() {
                    return Err(ours);
                }
                return Err(match refusal {
                    Some(r) => {
                        let mut guard = stream.borrow_mut();
                        refused_row(&args, &name, &r, guard.lookup.as_mut(), ctx)?.unwrap_or(e)
                    }
                    None => e,
                });
            }
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

/// The server refused a row no batch could see was bad: an id sent twice in different
/// batches (or added by another transaction meanwhile), an owner deleted meanwhile. Its
/// lines are found by reading the file again, streaming (stdin cannot be read again: then
/// the error names the id only).
fn refused_row(
    args: &ImportArgs,
    name: &str,
    refusal: &q::CopyRefusal,
    lookup: Option<&mut diesel::PgConnection>,
    ctx: &Ctx,
) -> Result<Option<Error>> {
    let (column, value) = match refusal {
        q::CopyRefusal::DuplicateId(id) => (0, *id),
        q::CopyRefusal::UnknownOwner(id) => (5, *id),
    };
    let lines = if args.file == std::path::Path::new("-") {
        Vec::new()
    } else {
        let (records, _, _) = open(args, ITEM_COLUMNS)?;
        records
            .filter_map(|r| r.ok())
            .filter(|r| match &r.fields[column] {
                Field::Value(v) => Uuid::parse_str(v.trim()).ok() == Some(value),
                _ => false,
            })
            .map(|r| r.line)
            .take(2)
            .collect()
    };
    let mut errors = RowErrors::default();
    let error = match refusal {
        q::CopyRefusal::DuplicateId(id) => {
            let exists = match lookup {
                Some(conn) => !q::existing_item_ids(conn, &[*id])?.is_empty(),
                None => !q::existing_item_ids(&mut ctx.connect_again()?, &[*id])?.is_empty(),
            };
            match (exists, lines.as_slice()) {
                (true, [line, ..]) => {
                    errors.push(*line, format!("an item with id {id} already exists (added while this import ran)"));
                    errors.into_conflict(name)
                }
                (false, [first, second, ..]) => {
                    errors.push(*second, format!("the same id as line {first}"));
                    errors.into_error(name)
                }
                (true, _) => Error::conflict(format!(
                    "{name}: an item with id {id} already exists (added while this import ran); nothing was imported"
                )),
                (false, _) => Error::usage(format!(
                    "{name}: id {id} appears twice; nothing was imported"
                )),
            }
        }
        q::CopyRefusal::UnknownOwner(id) => match lines.first() {
            Some(line) => {
                errors.push(*line, format!("owner_id {id} is not a user (deleted while this import ran)"));
                errors.into_error(name)
            }
            None => Error::usage(format!(
                "{name}: owner_id {id} is not a user (deleted while this import ran); nothing was imported"
            )),
        },
    };
    Ok(Some(error))
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
            let lookups = Lookups::default();
            let mut out = Vec::new();
            for r in read_all(&csv(ITEM_COLUMNS, &rows), Format::Csv, ITEM_COLUMNS).expect("a CSV with a header").into_iter().flatten() {
                if let Ok(item) = item_in(&r, Utc::now()) {
                    if let Ok(owner) = resolve_owner(&item.owner, &lookups) {
                        item_line(&item, owner, &mut out);
                    }
                }
            }
        }
    }
}
