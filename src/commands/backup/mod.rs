//! `stackctl backup [create|list|verify|restore|prune]`: arguments in, `crate::backup` does
//! the work, rows and messages out. The two kinds of restore are in `restore.rs`.

mod anonymized;
mod restore;

use std::path::Path;

use serde::Serialize;

use super::Ctx;
use crate::backup::{catalog, create, directory, manifest, retention, verify, Format, Log};
use crate::cli::{
    BackupArgs, BackupCmd, BackupCreate, BackupDir, Calendar, CreateRetention, DumpFormat, Keep,
    PgTools,
};
use crate::db;
use crate::error::{Error, Kind, Result};
use crate::notify::Event;
use crate::output::{render_one, ListWriter};
use crate::pgtools::{self, Tools};

impl Log for Ctx {
    fn info(&self, msg: String) {
        Ctx::info(self, msg);
    }
    fn debug(&self, msg: String) {
        Ctx::debug(self, msg);
    }
    fn warn(&self, msg: String) {
        Ctx::warn(self, msg);
    }
}

pub fn run(args: BackupArgs, ctx: &Ctx) -> Result<()> {
    match args.command {
        None => create_notifying(&args.create, ctx),
        Some(BackupCmd::Create(c)) => create_notifying(&c, ctx),
        Some(BackupCmd::List { dir }) => list(&dir, ctx),
        Some(BackupCmd::Verify {
            file,
            restore,
            tools,
        }) => verify_cmd(&file, restore, &tools, ctx),
        Some(BackupCmd::Restore {
            file,
            force,
            into,
            replace,
            confirm,
            tools,
            anonymize,
        }) => match into {
            None => restore::in_place(&file, force, confirm.yes, &tools, ctx),
            Some(name) => {
                let into = restore::Into {
                    name: &name,
                    replace,
                    yes: confirm.yes,
                };
                restore::beside(&file, force, &into, &tools, &anonymize, ctx)
            }
        },
        Some(BackupCmd::Prune {
            dir,
            retention,
            database,
        }) => prune_cmd(&dir, &retention, database, ctx),
    }
}

fn rules(keep: Option<u32>, c: &Calendar) -> retention::Rules {
    retention::Rules {
        keep,
        keep_daily: c.keep_daily,
        keep_weekly: c.keep_weekly,
        keep_monthly: c.keep_monthly,
    }
}

/// `backup create`'s `--keep`s: without `--anonymize` at most one count of backups (the
/// retention rules); with it, only columns (and no retention: an anonymised dump is not a
/// backup of the database).
fn create_keeps(r: &CreateRetention, anonymize: bool) -> Result<(retention::Rules, Vec<String>)> {
    let mut counts = Vec::new();
    let mut columns = Vec::new();
    for k in &r.keep {
        match k {
            Keep::Backups(n) => counts.push(*n),
            Keep::Column(c) => columns.push(c.clone()),
        }
    }
    if anonymize {
        if !counts.is_empty() || rules(None, &r.calendar).any() {
            return Err(Error::usage(
                "--anonymize writes a dump for handing out, which no retention rule counts: --keep takes TABLE.COLUMN with it, and --keep-daily, --keep-weekly and --keep-monthly do not apply",
            )
            .with_hint("prune the backups in a run of their own: stackctl backup prune --keep N"));
        }
        return Ok((rules(None, &r.calendar), columns));
    }
    if let Some(c) = columns.first() {
        return Err(Error::invalid(
            "--keep",
            format!("{c:?} is a column: --keep takes TABLE.COLUMN only with --anonymize"),
        )
        .with_hint("--keep N keeps the newest N backups"));
    }
    if counts.len() > 1 {
        return Err(Error::invalid("--keep", "given more than once")
            .with_hint("--keep N keeps the newest N backups"));
    }
    Ok((rules(counts.first().copied(), &r.calendar), columns))
}

fn format(f: DumpFormat) -> Format {
    match f {
        DumpFormat::Custom => Format::Custom,
        DumpFormat::Plain => Format::Plain,
        DumpFormat::Directory => Format::Directory,
    }
}

fn count(n: Option<i64>) -> String {
    n.map_or("-".into(), |n| n.to_string())
}

/// `backup` with its cron pings: `URL/start` as it begins (before connecting, so a
/// monitor times the whole run and sees one that hangs), then success or failure.
fn create_notifying(args: &BackupCreate, ctx: &Ctx) -> Result<()> {
    if let Some(url) = &args.notify.notify_url {
        crate::notify::ping(
            url,
            Event::Start,
            "backup",
            None,
            "backup started",
            0,
            ctx.global.quiet,
        );
    }
    let mut database = None;
    let result = create_cmd(args, ctx, &mut database);
    if let Some(url) = &args.notify.notify_url {
        let (ok, code, message) = match &result {
            Ok(summary) => (true, 0, summary.clone()),
            Err(e) => (false, e.exit_code(), e.message.clone()),
        };
        crate::notify::ping(
            url,
            Event::of(ok),
            "backup",
            database.as_deref(),
            &message,
            code,
            ctx.global.quiet,
        );
    }
    result.map(|_| ())
}

/// Take the backup (with `--anonymize`: the anonymised dump); the one-line summary for
/// the ping.
fn create_cmd(args: &BackupCreate, ctx: &Ctx, database_out: &mut Option<String>) -> Result<String> {
    let (rules, keep) = create_keeps(&args.retention, args.anonymize)?;
    let anon = args
        .anonymize
        .then(|| restore::anonymize_options(&args.anonymize_options, &keep, ctx))
        .transpose()?;
    let target = ctx.direct_target()?;
    ctx.refuse_pooled_tools(&target, "pg_dump")?;
    let (mut conn, target) = ctx.connect_target(target)?;
    let database = db::current_database(&mut conn)?;
    *database_out = Some(database.clone());
    let req = create::Request {
        dir: catalog::dir(args.dir.dir.as_deref()),
        format: format(args.format),
        verify_restore: args.verify_restore,
        rules,
        pg_dump: args.tools.pg_dump.clone(),
        jobs: args.tools.jobs.unwrap_or_else(pgtools::default_jobs),
        anonymized: false,
    };
    let (created, what) = match &anon {
        None => {
            let bar = crate::progress::bytes(ctx.global.quiet, None);
            bar.set_message("pg_dump");
            let created = create::create(conn, &target.url, &database, &req, ctx, &|bytes| {
                bar.set_position(bytes)
            });
            bar.finish_and_clear();
            (created?, "backup")
        }
        Some(opts) => {
            let (created, summary) =
                anonymized::create(conn, &target.url, &database, &req, opts, &args.tools, ctx)?;
            ctx.info(format!(
                "anonymised a copy of {database}: {}",
                summary.describe()
            ));
            (created, "anonymised dump")
        }
    };
    let create::Created { path, manifest } = created;
    let summary = format!(
        "{what} {} written and verified: {} bytes",
        path.display(),
        manifest.size
    );
    ctx.info(format!(
        "{summary}, users {}, items {}, {:.1}s",
        count(manifest.row_counts.users),
        count(manifest.row_counts.items),
        manifest.duration_ms as f64 / 1000.0
    ));
    let mut out = ctx.stdout();
    render_one(ctx.format(), manifest::COLUMNS, &manifest, &mut out)?;
    super::finish(out)?;
    Ok(summary)
}

fn list(dir: &BackupDir, ctx: &Ctx) -> Result<()> {
    let dir = catalog::existing_dir(dir.dir.as_deref())?;
    let mut out = ListWriter::new(ctx.format(), catalog::ENTRY_COLUMNS, ctx.stdout()).compact(&[
        "file",
        "started_at",
        "size",
        "checksum_ok",
    ]);
    catalog::list(&dir, |entry| out.row(&entry))?;
    out.finish()?;
    Ok(())
}

fn prune_cmd(
    dir: &BackupDir,
    r: &crate::cli::Retention,
    database: Option<String>,
    ctx: &Ctx,
) -> Result<()> {
    let rules = rules(r.keep, &r.calendar);
    if !rules.any() {
        return Err(Error::usage("no retention rule given")
            .with_hint("give --keep, --keep-daily, --keep-weekly and/or --keep-monthly"));
    }
    let dir = catalog::existing_dir(dir.dir.as_deref())?;
    let database = match database {
        Some(d) => d,
        None => {
            let (mut conn, _) = ctx.connect_raw()?;
            db::current_database(&mut conn)?
        }
    };
    let lock = directory::lock(&dir, ctx)?;
    let dry_run = ctx.global.dry_run;
    let decisions = retention::apply(&dir, &lock, &database, &rules, dry_run, ctx)?;
    let mut out = ListWriter::new(ctx.format(), retention::DECISION_COLUMNS, ctx.stdout());
    for d in &decisions {
        out.row(d)?;
    }
    out.finish()?;
    let n = decisions.iter().filter(|d| !d.keep).count();
    if dry_run {
        ctx.info(format!("dry run: {n} backup(s) would be deleted"));
    } else {
        ctx.info(format!("deleted {n} backup(s)"));
    }
    Ok(())
}

/// A backup file, or a directory dump (a directory; what is in it is checked later).
fn require_file(file: &Path) -> Result<()> {
    if !file.is_file() && !file.is_dir() {
        return Err(Error::not_found(format!(
            "backup file {} not found",
            file.display()
        )));
    }
    Ok(())
}

/// Client tools matching the server the connection reaches.
/// The client tools matching the server, with `--jobs` (or its default) for restores into
/// a database of their own.
fn server_tools(conn: &mut diesel::PgConnection, args: &PgTools) -> Result<Tools> {
    Ok(Tools {
        restore_jobs: args.jobs.unwrap_or_else(pgtools::default_jobs),
        ..pgtools::find(args.pg_dump.as_deref(), db::snapshot::server_major(conn)?)?
    })
}

#[derive(Serialize)]
struct VerifyResult {
    file: String,
    ok: bool,
    manifest: bool,
    detail: String,
}

fn verify_cmd(file: &Path, restore: bool, args: &PgTools, ctx: &Ctx) -> Result<()> {
    require_file(file)?;
    // Client tools for a file-only check: no server to match, so the newest found.
    let tools = pgtools::find(args.pg_dump.as_deref(), 0)?;
    // A manifest that cannot be read or parsed makes the backup a failed one.
    let (manifest, has_manifest, mut result) = match manifest::read(file) {
        Ok(Some(m)) => (Some(m), true, Ok(())),
        Ok(None) => {
            ctx.info(format!(
                "note: {} has no manifest; only pg_restore's check is possible",
                file.display()
            ));
            (None, false, Ok(()))
        }
        Err(e) => (None, true, Err(e)),
    };
    if result.is_ok() {
        result = verify::check(file, manifest.as_ref(), &tools);
    }
    if restore && result.is_ok() {
        let Some(m) = &manifest else {
            return Err(Error::usage(format!(
                "{} has no manifest to compare a test restore with",
                file.display()
            )));
        };
        result = test_restore(file, m, args, ctx)?;
    }
    let row = VerifyResult {
        file: file.display().to_string(),
        ok: result.is_ok(),
        manifest: has_manifest,
        detail: match &result {
            Ok(()) if restore => "checksum, structure and a test restore verified".into(),
            Ok(()) => "checksum and structure verified".into(),
            Err(e) => e.message.clone(),
        },
    };
    let mut out = ctx.stdout();
    render_one(
        ctx.format(),
        &["file", "ok", "manifest", "detail"],
        &row,
        &mut out,
    )?;
    super::finish(out)?;
    result.map_err(|e| {
        Error::new(
            Kind::Failure,
            format!("backup {} is damaged: {}", file.display(), e.message),
        )
    })
}

/// `backup verify --restore`: the outcome of a test restore on the direct server (the
/// outer error: it could not be run).
fn test_restore(
    file: &Path,
    m: &manifest::Manifest,
    args: &PgTools,
    ctx: &Ctx,
) -> Result<Result<()>> {
    let target = ctx.direct_target()?;
    ctx.refuse_pooled_tools(&target, "the test restore")?;
    let (mut conn, target) = ctx.connect_target(target)?;
    let tools = server_tools(&mut conn, args)?;
    drop(conn);
    let report = verify::test_restore(file, m, &tools, &target.url, ctx)?;
    Ok(if report.ok {
        ctx.info(format!("test restore: {}", report.detail));
        Ok(())
    } else {
        Err(Error::failure(format!(
            "the test restore differs from the manifest: {}",
            report.detail
        )))
    })
}
