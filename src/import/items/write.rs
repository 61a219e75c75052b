//! The item write: rows are checked while they stream into `COPY items FROM STDIN`, a
//! batch at a time against the database (owners by id and email, ids that exist already)
//! on a second connection; an id repeated across batches is caught by the primary key. At
//! the first bad row stackctl stops sending rows but reads on to report every bad row,
//! then aborts the copy, so the transaction writes nothing.
//!
//! Reading and checking run on a thread of their own, a megabyte ahead of the COPY: the
//! server ingests what was sent while the next batch is parsed and looked up. Done in turn,
//! the server sat idle a third of the time (`perf record -a` of a 10-million-row import)
//! and the import took 1.07 times psql's `\copy FROM`.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, SyncSender};

use diesel::PgConnection;
use indicatif::ProgressBar;
use uuid::Uuid;

use super::{ItemIn, ItemRow, Lookups, OwnerIn};
use crate::db::import as q;
use crate::db::models::ItemId;
use crate::db::shape::Shape;
use crate::error::{Error, Result};
use crate::import::values::text;
use crate::import::{copy_lost, Imported, OnConflict, Records, RowErrors};

/// Rows checked against the database this many at a time: each batch costs one query per
/// kind of lookup (owners by id, owners by email, ids that exist already), on a second
/// connection, since the first one is busy with the COPY. Memory holds one batch, whatever
/// the file's size.
const BATCH: usize = 10_000;

/// Encoded rows travel to the COPY in chunks of this size; with at most `AHEAD` queued
/// and one being written, memory stays what it was before the thread plus 1.25 MiB,
/// whatever the file's size and however far ahead the reader is.
const CHUNK: usize = 256 * 1024;

/// Chunks the reading thread may have queued ahead of the COPY: a megabyte, some 6,000
/// rows, which the server takes far longer to ingest than the reader takes to check the
/// next batch, so the server never waits on the reader.
const AHEAD: usize = 4;

/// What the reading thread hands the COPY.
enum Ready {
    /// Encoded rows to send (a chunk, returned to the pool once written).
    Rows(Vec<u8>),
    /// Every row was read and sent.
    Done,
    /// The error that ends the import (bad rows, a lookup that failed).
    Failed(Error),
}

/// What an item import reaches besides its transaction.
pub struct Reach<'a> {
    /// Another connection to the database, for the lookups (made on the reading thread).
    pub connect: &'a (dyn Fn() -> Result<PgConnection> + Sync),
    /// The file again from its start, to find the lines of a row the server refused;
    /// `None` where it cannot be read twice (stdin).
    pub reopen: &'a dyn Fn() -> Result<Option<Records<ItemRow>>>,
    /// A `-v` diagnostic.
    pub debug: &'a dyn Fn(&str),
}

/// How one `item import` runs.
pub struct Settings<'a> {
    /// The ids' and prices' types.
    pub shape: &'a Shape,
    pub on_conflict: OnConflict,
    /// A dry run: the transaction is rolled back, and the id sequence (which a rollback
    /// does not undo) is neither drawn from nor moved.
    pub dry_run: bool,
}

/// A row's line and its own check.
type Checked = (u64, std::result::Result<ItemIn, String>);

/// Check and COPY every row of `file` into the table `settings.shape` describes, in the
/// caller's transaction: all rows or none. `progress` shows the bytes read and the rows.
pub fn import(
    conn: &mut PgConnection,
    records: Records<ItemRow>,
    file: &str,
    settings: &Settings,
    reach: &Reach,
    progress: &ProgressBar,
) -> Result<Imported> {
    // First: it locks `items` as the COPY will, before anything reads it.
    let format = q::item_copy_format(conn)?;
    let now = q::transaction_now(conn)?;
    (reach.debug)(match format {
        q::ItemCopy::Binary => "item import: COPY in binary",
        q::ItemCopy::Csv => {
            "item import: COPY in CSV (a column of items is not the type binary COPY sends)"
        }
    });
    let (opening, closing) = format.framing();
    let batches = Batches {
        format,
        shape: settings.shape,
        dry_run: settings.dry_run,
        stand_in: None,
        drew: false,
        gave_integer_ids: false,
        on_conflict: settings.on_conflict,
        table_had_rows: !q::items_empty(conn)?,
        connect: reach.connect,
        lookup: None,
        errors: RowErrors::default(),
        conflicts: RowErrors::default(),
        done: Imported::default(),
    };
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel(AHEAD);
        let reader = s.spawn(move || read(records, batches, now, file, progress, &tx));
        // The copy's own error would be the server's echo of ours: keep ours.
        let mut abort: Option<Error> = None;
        let copied = q::copy_items(conn, format, |w| {
            w.write_all(opening).map_err(copy_lost)?;
            for ready in &rx {
                match ready {
                    Ready::Rows(chunk) => w.write_all(&chunk).map_err(copy_lost)?,
                    Ready::Done => return w.write_all(closing).map_err(copy_lost),
                    Ready::Failed(e) => {
                        let short = Error::new(e.kind, e.message.clone());
                        abort = Some(e);
                        return Err(short);
                    }
                }
            }
            // The thread ended without saying it was done: never commit what it sent.
            Err(Error::failure("the import's reading thread stopped early"))
        });
        // A reader still sending finds nobody listening and stops.
        drop(rx);
        let mut batches = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        if let Err((e, refusal)) = copied {
            return Err(match (abort, refusal) {
                (Some(ours), _) => ours,
                (None, Some(r)) => refused_row(file, &r, &mut batches.lookup, reach)?,
                (None, None) => e,
            });
        }
        if batches.gave_integer_ids && !settings.dry_run {
            q::move_sequence_past_ids(conn, "items")?;
        }
        Ok(batches.done)
    })
}

/// Send `rows` to the COPY in chunks; false once it has stopped listening.
fn send_rows(tx: &SyncSender<Ready>, rows: &[u8]) -> bool {
    rows.chunks(CHUNK)
        .all(|chunk| tx.send(Ready::Rows(chunk.to_vec())).is_ok())
}

/// The reading thread: parse and check every row, a batch at a time, and hand each
/// batch's encoded rows to the COPY; stop early once the COPY has stopped listening.
/// Returns what the checks found (and the lookup connection, for a refusal's report).
fn read<'a>(
    mut records: Records<ItemRow>,
    mut batches: Batches<'a>,
    now: chrono::DateTime<chrono::Utc>,
    file: &str,
    progress: &ProgressBar,
    tx: &SyncSender<Ready>,
) -> Batches<'a> {
    let mut batch: Vec<Checked> = Vec::with_capacity(BATCH);
    let mut n: u64 = 0;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 18);
    let mut send = |batches: &mut Batches, batch: Vec<Checked>| {
        buf.clear();
        match batches.flush(batch, &mut buf) {
            Ok(()) => send_rows(tx, &buf),
            Err(e) => {
                let _ = tx.send(Ready::Failed(e));
                false
            }
        }
    };
    while let Some(rec) = records.next() {
        n += 1;
        if n.is_multiple_of(8192) {
            progress.set_position(records.bytes_read());
            progress.set_message(format!("{n} rows"));
        }
        batch.push(match rec {
            Ok(r) => (r.line, r.row.check(now, batches.shape)),
            Err(e) => (e.line, Err(e.reason)),
        });
        if batch.len() >= BATCH && !send(&mut batches, std::mem::take(&mut batch)) {
            return batches;
        }
    }
    if !send(&mut batches, batch) {
        return batches;
    }
    let _ = tx.send(match batches.failed(file) {
        Some(e) => Ready::Failed(e),
        None => Ready::Done,
    });
    batches
}

/// The checks that need the database, a batch at a time, and what they found.
struct Batches<'a> {
    /// How rows are encoded for the COPY.
    format: q::ItemCopy,
    /// The ids' and prices' types.
    shape: &'a Shape,
    dry_run: bool,
    /// In a dry run, the last stand-in given for an integer id the sequence would have
    /// given (counted up from the largest id).
    stand_in: Option<i32>,
    /// Ids were drawn from the sequence (it was first moved past the table's ids).
    drew: bool,
    /// A row gave an integer id: the sequence must move past it once the COPY is done.
    gave_integer_ids: bool,
    on_conflict: OnConflict,
    /// `items` had rows when the import began: ids the file gives may exist already.
    table_had_rows: bool,
    connect: &'a (dyn Fn() -> Result<PgConnection> + Sync),
    /// The second connection, opened when a batch first needs it.
    lookup: Option<PgConnection>,
    errors: RowErrors,
    conflicts: RowErrors,
    done: Imported,
}

impl Batches<'_> {
    /// Check a batch against the database and append its good rows to `out` (none once
    /// any row of the file was bad), in file order.
    fn flush(&mut self, batch: Vec<Checked>, out: &mut Vec<u8>) -> Result<()> {
        let mut found = self.look_up(&batch)?;
        // Ids repeated inside the batch are caught here with both lines; across batches
        // the table's primary key catches them.
        let mut seen: HashMap<ItemId, (u64, bool)> = HashMap::new();
        for (line, item) in batch {
            let checked = item.and_then(|item| {
                let owner = found.owner(&item.owner)?;
                let id = item
                    .id
                    .or_else(|| found.drawn.pop().map(ItemId::Int))
                    .ok_or("no id was drawn for this row")?;
                match seen.insert(id, (line, item.id_given)) {
                    Some((first, true)) if item.id_given => {
                        Err(format!("the same id as line {first}"))
                    }
                    Some((first, _)) => Err(format!(
                        "id {id} is line {first}'s too, one of them drawn from the sequence; give ids to all rows or to none"
                    )),
                    None => Ok((item, id, owner)),
                }
            });
            let (item, id, owner) = match checked {
                Ok(ok) => ok,
                Err(why) => {
                    self.errors.push(line, why);
                    continue;
                }
            };
            if found.existing.contains(&id) {
                match self.on_conflict {
                    OnConflict::Fail => self
                        .conflicts
                        .push(line, format!("an item with id {id} already exists")),
                    OnConflict::Skip => self.done.skipped += 1,
                }
                continue;
            }
            if self.errors.is_empty() && self.conflicts.is_empty() {
                self.gave_integer_ids |= item.id_given && matches!(id, ItemId::Int(_));
                item.copied(id, owner).encode(self.format, out);
                self.done.rows += 1;
            }
        }
        Ok(())
    }

    /// The owners and existing ids the batch's good rows name, one query per kind.
    fn look_up(&mut self, batch: &[Checked]) -> Result<Lookups> {
        let mut ids: Vec<ItemId> = Vec::new();
        let mut owners: Vec<Uuid> = Vec::new();
        let mut emails: Vec<String> = Vec::new();
        let mut to_draw = 0;
        for item in batch.iter().filter_map(|(_, item)| item.as_ref().ok()) {
            match item.id {
                Some(id) if item.id_given && self.table_had_rows => ids.push(id),
                Some(_) => {}
                None => to_draw += 1,
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
        let mut found = Lookups::default();
        if ids.is_empty() && owners.is_empty() && emails.is_empty() && to_draw == 0 {
            return Ok(found);
        }
        let conn = match &mut self.lookup {
            Some(c) => c,
            None => self.lookup.insert((self.connect)()?),
        };
        owners.sort_unstable();
        owners.dedup();
        emails.sort_unstable();
        emails.dedup();
        if !owners.is_empty() {
            found.users = q::existing_user_ids(conn, &owners)?;
        }
        if !emails.is_empty() {
            found.emails = q::owners_by_email(conn, &emails)?;
        }
        if !ids.is_empty() {
            found.existing = q::existing_item_ids(conn, &ids)?;
        }
        if to_draw > 0 {
            found.drawn = if self.dry_run {
                let from = match self.stand_in {
                    Some(last) => last,
                    None => q::largest_item_id(conn)?,
                };
                let ids: Vec<i32> = (1..=to_draw)
                    .map_while(|k| i32::try_from(k).ok().and_then(|k| from.checked_add(k)))
                    .collect();
                self.stand_in = ids.last().copied();
                ids
            } else {
                if !self.drew {
                    // A sequence behind the table's ids would hand out one that exists.
                    q::move_sequence_past_ids(conn, "items")?;
                    self.drew = true;
                }
                q::draw_item_ids(conn, to_draw)?
            };
            // Handed out last first: the rows take them in ascending order.
            found.drawn.reverse();
        }
        Ok(found)
    }

    /// The error that ends the import once every row was read: bad rows first.
    fn failed(&mut self, file: &str) -> Option<Error> {
        if !self.errors.is_empty() {
            Some(std::mem::take(&mut self.errors).into_error(file))
        } else if !self.conflicts.is_empty() {
            Some(std::mem::take(&mut self.conflicts).into_conflict(file))
        } else {
            None
        }
    }
}

/// The server refused a row no batch could see was bad: an id sent twice in different
/// batches (or added by another transaction meanwhile), an owner deleted meanwhile. Its
/// lines are found by reading the file again, streaming (stdin cannot be read again: then
/// the error names the id only).
fn refused_row(
    file: &str,
    refusal: &q::CopyRefusal,
    lookup: &mut Option<PgConnection>,
    reach: &Reach,
) -> Result<Error> {
    let lines = match refusal {
        q::CopyRefusal::DuplicateId(id) => lines_naming(
            reach,
            |r| &r.id,
            |v| match id {
                ItemId::Uuid(u) => Uuid::parse_str(v).ok() == Some(*u),
                ItemId::Int(n) => v.parse().ok() == Some(*n),
            },
        )?,
        q::CopyRefusal::UnknownOwner(id) => lines_naming(
            reach,
            |r| &r.owner_id,
            |v| Uuid::parse_str(v).ok() == Some(*id),
        )?,
    };
    let mut errors = RowErrors::default();
    Ok(match refusal {
        q::CopyRefusal::DuplicateId(id) => {
            let exists = match lookup {
                Some(conn) => !q::existing_item_ids(conn, &[*id])?.is_empty(),
                None => !q::existing_item_ids(&mut (reach.connect)()?, &[*id])?.is_empty(),
            };
            match (exists, lines.as_slice()) {
                (true, [line, ..]) => {
                    errors.push(*line, format!("an item with id {id} already exists (added while this import ran)"));
                    errors.into_conflict(file)
                }
                (false, [first, second, ..]) => {
                    errors.push(*second, format!("the same id as line {first}"));
                    errors.into_error(file)
                }
                (true, _) => Error::conflict(format!(
                    "{file}: an item with id {id} already exists (added while this import ran); nothing was imported"
                )),
                (false, _) => Error::usage(format!(
                    "{file}: id {id} appears twice; nothing was imported"
                )),
            }
        }
        q::CopyRefusal::UnknownOwner(id) => match lines.first() {
            Some(line) => {
                errors.push(*line, format!("owner_id {id} is not a user (deleted while this import ran)"));
                errors.into_error(file)
            }
            None => Error::usage(format!(
                "{file}: owner_id {id} is not a user (deleted while this import ran); nothing was imported"
            )),
        },
    })
}

/// The first two lines whose `column` holds the value `is` says it is, reading the file again.
fn lines_naming(
    reach: &Reach,
    column: impl Fn(&ItemRow) -> &Option<Option<String>>,
    is: impl Fn(&str) -> bool,
) -> Result<Vec<u64>> {
    let Some(records) = (reach.reopen)()? else {
        return Ok(Vec::new());
    };
    Ok(records
        .filter_map(|r| r.ok())
        .filter(|r| text(column(&r.row)).is_some_and(|v| is(v.trim())))
        .map(|r| r.line)
        .take(2)
        .collect())
}
