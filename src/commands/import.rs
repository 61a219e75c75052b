//! `stackctl user import` and `stackctl item import`: open the file, run the import in one
//! audited transaction (or a dry run), print what it did. Reading, checking and writing
//! the rows is `import/`'s.

use std::path::Path;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Ctx;
use crate::change::Change;
use crate::cli::{ImportArgs, ImportFormat};
use crate::error::Result;
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
pub fn users(args: ImportArgs, mut conn: diesel::PgConnection, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let (records, name, size) = open::<UserRow>(&args)?;
    let pb = crate::progress::bytes(ctx.global.quiet, size);
    let settings = users::Settings {
        on_conflict: on_conflict(&args),
        dry_run: ctx.global.dry_run,
        bcrypt_cost: ctx.global.bcrypt_cost,
        quiet: ctx.global.quiet,
    };
    let done = ctx.write(&mut conn, "user import", |conn| {
        let done = users::import(conn, records, &name, &settings, &pb)?;
        Ok((done, change("users", &name, done)))
    });
    pb.finish_and_clear();
    match done? {
        Some(done) => finish(ctx, "user import", name, done, started),
        None => Ok(()),
    }
}

pub fn items(args: ImportArgs, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let (records, name, size) = open::<ItemRow>(&args)?;
    let mut conn = ctx.connect()?;
    let pb = crate::progress::bytes(ctx.global.quiet, size);
    let reopen = || {
        if args.file == Path::new("-") {
            return Ok(None);
        }
        open(&args).map(|(records, _, _)| Some(records))
    };
    let connect = ctx.connector()?;
    let debug = |m: &str| ctx.debug(m);
    let reach = Reach {
        connect: &connect,
        reopen: &reopen,
        debug: &debug,
    };
    let done = ctx.write(&mut conn, "item import", |conn| {
        let done = items::import(conn, records, &name, on_conflict(&args), &reach, &pb)?;
        Ok((done, change("items", &name, done)))
    });
    pb.finish_and_clear();
    match done? {
        Some(done) => finish(ctx, "item import", name, done, started),
        None => Ok(()),
    }
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
