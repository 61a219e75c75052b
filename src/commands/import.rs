//! `stackctl user import` and `stackctl item import`: open the file, run the import in one
//! audited transaction (or a dry run), print what it did. Reading, checking and writing
//! the rows is `import/`'s.

use crate::session::Session;
use std::path::Path;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Ctx;
use crate::change::Change;
use crate::cli::{ImportArgs, ImportFormat, ItemImportArgs, RebuildIndexes};
use crate::db::concurrent::{self, Assessment};
use crate::error::{Error, Result};
use crate::import::items::{self, ItemRow, Reach};
use crate::import::users::{self, UserRow};
use crate::import::{Format, Imported, Input, OnConflict, Records};
use crate::output::render_one;

/// What an import did, printed on stdout.
#[derive(Serialize)]
struct Summary {
    file: String,
    imported: usize,
    skipped: usize,
    seconds: f64,
}

const SUMMARY_COLUMNS: &[&str] = &["file", "imported", "skipped", "seconds"];

/// The file's rows, its name as messages give it, and its size when known.
pub(super) fn open<R: DeserializeOwned>(
    args: &ImportArgs,
) -> Result<(Records<R>, String, Option<u64>)> {
    let mut input = Input::open(&args.file)?;
    let format = input.detect(
        &args.file,
        args.format.map(|f| match f {
            ImportFormat::Csv => Format::Csv,
            ImportFormat::Json => Format::Json,
        }),
    )?;
    let (name, size) = (input.name.clone(), input.size);
    Ok((Records::new(input, format)?, name, size))
}

fn on_conflict(args: &ImportArgs) -> OnConflict {
    match args.on_conflict {
        crate::cli::OnConflict::Fail => OnConflict::Fail,
        crate::cli::OnConflict::Skip => OnConflict::Skip,
    }
}

/// The audit entry of an import.
pub(crate) fn change(table: &'static str, file: &str, done: Imported) -> Vec<Change> {
    vec![Change::other("import", table, file)
        .with_after(serde_json::json!({"rows": done.rows, "skipped": done.skipped}))]
}

/// `user import` on the StackWizard layout, over the connection the gate opened.
pub fn users(args: ImportArgs, mut session: Session, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let (records, name, size) = open::<UserRow>(&args)?;
    let shape = session.shape.clone();
    let pb = crate::progress::bytes(ctx.global.quiet, size);
    let settings = users::Settings {
        on_conflict: on_conflict(&args),
        username_optional: shape.username_optional,
        fill: shape.fill("users", "user import")?,
        dry_run: ctx.global.dry_run,
        bcrypt_cost: ctx.global.bcrypt_cost,
        quiet: ctx.global.quiet,
    };
    let done = session.write("user import", |conn| {
        let done = users::import(conn, records, &name, &settings, &pb)?;
        Ok((done, change("users", &name, done)))
    });
    pb.finish_and_clear();
    match done? {
        Some(done) => finish(ctx, "user import", name, done, started),
        None => Ok(()),
    }
}

pub fn items(args: ItemImportArgs, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let ItemImportArgs {
        import: args,
        rebuild_indexes,
    } = args;
    let (records, name, size) = open::<ItemRow>(&args)?;
    let mut session = ctx.connect()?;
    let shape = session.shape.clone();
    if !shape.fill("items", "item import")?.is_empty() {
        return Err(Error::schema(
            "item import does not write the application's own columns of items yet: nothing was written",
        ));
    }
    // Everything that can fail before the load is done before the indexes are dropped.
    let connect = ctx.connector()?;
    let taken = take_down_for_load(ctx, &mut session, rebuild_indexes, size)?;
    let pb = crate::progress::bytes(ctx.global.quiet, size);
    let reopen = || {
        if args.file == Path::new("-") {
            return Ok(None);
        }
        open(&args).map(|(records, _, _)| Some(records))
    };
    let debug = |m: &str| ctx.debug(m);
    let reach = Reach {
        connect: &connect,
        reopen: &reopen,
        debug: &debug,
    };
    let done = session.write("item import", |conn| {
        let settings = items::Settings {
            shape: &shape,
            on_conflict: on_conflict(&args),
            dry_run: ctx.global.dry_run,
        };
        let done = items::import(conn, records, &name, &settings, &reach, &pb)?;
        Ok((done, change("items", &name, done)))
    });
    pb.finish_and_clear();
    // Whether the rows went in or not, the indexes come back.
    let rebuilt = match &taken {
        Some(taken) => rebuild_after_load(ctx, taken, done.is_ok()),
        None => Ok(()),
    };
    if let Some(done) = done? {
        finish(ctx, "item import", name, done, started)?;
    }
    rebuilt
}

/// How long the rebuild waits for the build lock another run holds.
const REBUILD_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// A file at least this large may be loaded without stackctl's indexes on `items`.
const TAKE_DOWN_MIN_BYTES: u64 = 64 << 20;

/// `--rebuild-indexes auto`: take stackctl's indexes on `items` down for a file of at
/// least 64 MiB that is at least twice the size of the table without its indexes (in CSV
/// a row takes about 1.6 times the bytes it takes in the table: the load at least
/// doubles the table, so building the indexes once from every row costs less than
/// updating them for each row loaded). Stdin, whose size is unknown, keeps them.
fn worth_taking_down(file_bytes: Option<u64>, table_bytes: u64) -> bool {
    file_bytes.is_some_and(|f| f >= TAKE_DOWN_MIN_BYTES && f / 2 >= table_bytes)
}

/// Drop stackctl's indexes on `items` before the load when `--rebuild-indexes` asks for
/// it (or `auto` finds it worth it, and the role owns the table); returns what was dropped,
/// for `rebuild_after_load`. A dry run drops nothing.
fn take_down_for_load(
    ctx: &Ctx,
    session: &mut Session<'_>,
    mode: RebuildIndexes,
    file_bytes: Option<u64>,
) -> Result<Option<Assessment>> {
    let too_small = file_bytes.is_none_or(|f| f < TAKE_DOWN_MIN_BYTES);
    if mode == RebuildIndexes::Never || (mode == RebuildIndexes::Auto && too_small) {
        return Ok(None);
    }
    // A standby or a read-only server refuses the import itself, with its own message.
    if crate::db::server::role(session)? != crate::db::server::Role::Primary {
        return Ok(None);
    }
    session.end_reads()?;
    let a = concurrent::assess(session)?;
    let names = a.names().join(", ");
    if mode == RebuildIndexes::Always {
        if !a.owner {
            return Err(Error::refused(
                "--rebuild-indexes always: only the owner of table items may drop and build its indexes; nothing was imported",
            )
            .with_hint("run the import as the table's owner, or with --rebuild-indexes auto"));
        }
        if !a.valid {
            return Err(Error::schema(
                "--rebuild-indexes always: stackctl's indexes on items are not all there and valid; nothing was imported",
            )
            .with_hint("run `stackctl migrate` to build them"));
        }
    } else if !(a.owner && a.valid && worth_taking_down(file_bytes, a.table_bytes)) {
        ctx.debug(format!(
            "item import: keeping stackctl's indexes on items (owner: {}, all valid: {}, table {} bytes, file {:?} bytes)",
            a.owner, a.valid, a.table_bytes, file_bytes
        ));
        return Ok(None);
    }
    if ctx.global.dry_run {
        ctx.debug(format!(
            "item import: a run would drop stackctl's indexes on items for the load ({names})"
        ));
        return Ok(None);
    }
    ctx.info(format!(
        "item import: dropping stackctl's indexes on items for the load ({names}); they are built again after it"
    ));
    if let Err(e) = concurrent::take_down(session, &a) {
        // Some may be gone already: build whatever is missing, then report.
        if let Err(taken) = rebuild_after_load(ctx, &a, false) {
            ctx.warn(taken.message);
        }
        return Err(e);
    }
    Ok(Some(a))
}

/// Build the indexes `take_down_for_load` dropped again. The import's outcome stands
/// whatever happens here: a build that fails is a warning naming the way to finish it,
/// except a name another object took meanwhile (exit 6, naming it and the repair), which
/// `migrate` cannot mend on its own.
fn rebuild_after_load(ctx: &Ctx, a: &Assessment, loaded: bool) -> Result<()> {
    let started = Instant::now();
    // Like `migrate`: on a connection of its own, straight to the server when a direct URL
    // is configured (a pooler's query timeout must not cut a long build short), else
    // where the import went, under the build lock in its default (advisory) mode.
    // Waiting for it holds nothing, so it may wait long: for a `migrate` building the
    // same indexes, or for another import's load to end.
    let note = |m: String| ctx.debug(m);
    let outcome = (|| {
        let target = ctx.direct_target()?;
        let lock = concurrent::LockSpec {
            mode: crate::db::locks::LockMode::Transaction,
            timeout: REBUILD_LOCK_WAIT,
            url: target.url.libpq(),
        };
        let (mut conn, _) = ctx.connect_target(target.clone())?;
        concurrent::rebuild(&mut conn, &lock, a, &note)
    })();
    let names = a.names().join(", ");
    let imported = if loaded {
        "the rows are imported, but "
    } else {
        ""
    };
    match outcome {
        Ok(()) => ctx.info(format!(
            "item import: built stackctl's indexes on items again in {:.1}s ({names})",
            started.elapsed().as_secs_f64()
        )),
        Err(e) if e.kind == crate::error::Kind::SchemaNotReady => {
            let message = format!("{imported}{}", e.message);
            return Err(Error::new(e.kind, message).with_hint(e.hint.unwrap_or_default()));
        }
        Err(e) => ctx.warn(format!(
            "{imported}stackctl's indexes on items ({names}) were not built again: {}; `stackctl migrate` builds them",
            e.message
        )),
    }
    Ok(())
}

pub(crate) fn finish(
    ctx: &Ctx,
    command: &str,
    file: String,
    done: Imported,
    started: Instant,
) -> Result<()> {
    let summary = Summary {
        file,
        imported: done.rows,
        skipped: done.skipped,
        seconds: started.elapsed().as_secs_f64(),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_drops_the_indexes_for_a_file_of_64_mib_twice_the_table() {
        const MIB: u64 = 1 << 20;
        assert!(!worth_taking_down(None, 0), "stdin");
        assert!(!worth_taking_down(Some(64 * MIB - 1), 0));
        assert!(worth_taking_down(Some(64 * MIB), 0));
        assert!(worth_taking_down(Some(1800 * MIB), 900 * MIB));
        assert!(!worth_taking_down(Some(1800 * MIB), 900 * MIB + 1));
    }
}
