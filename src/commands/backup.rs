//! `stackctl backup [create|list|verify|restore]`: pg_dump written atomically and
//! privately, checked by re-reading, described by a manifest, one run at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Ctx;
use crate::change::Change;
use crate::cli::{BackupArgs, BackupCmd, BackupCreate, BackupDir, DumpFormat, Retention};
use crate::db;
use crate::error::{Error, Kind, Result};
use crate::output::{render_one, ListWriter};
use crate::pgtools::{self, Tools};
use crate::prompt;
use crate::url::PgUrl;

const LOCK_FILE: &str = ".stackctl-backup.lock";
const PARTIAL_SUFFIX: &str = ".partial";
const MANIFEST_SUFFIX: &str = ".manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowCounts {
    pub users: Option<i64>,
    pub items: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub file: String,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    pub format: String,
    pub size: u64,
    pub sha256: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub row_counts: RowCounts,
    pub stackctl_version: String,
    /// The newest applied migration when the dump was taken (absent in older manifests).
    #[serde(default)]
    pub schema_version: Option<String>,
    /// Per table `rows:sum`, an order-independent checksum of every row, taken in the
    /// dump's own snapshot; recorded by `backup --verify-restore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_checksums: Option<BTreeMap<String, String>>,
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
        }) => verify_cmd(&file, restore, tools.pg_dump.as_deref(), ctx),
        Some(BackupCmd::Restore {
            file,
            force,
            confirm,
            tools,
        }) => self::restore(&file, force, confirm.yes, tools.pg_dump.as_deref(), ctx),
        Some(BackupCmd::Prune {
            dir,
            retention,
            database,
        }) => prune_cmd(&dir, &retention, database, ctx),
    }
}

/// `--dir`, else STACKCTL_BACKUP_DIR, else ./backups.
fn backup_dir(d: &BackupDir) -> PathBuf {
    backup_dir_or_env(d.dir.as_deref()).unwrap_or_else(|| PathBuf::from("backups"))
}

fn manifest_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(MANIFEST_SUFFIX);
    PathBuf::from(s)
}

/// `<database>-<yyyymmddTHHMMSSZ>.dump|.sql`: only such files are ever deleted.
fn is_backup_name(name: &str, database: Option<&str>) -> bool {
    let Some(stem) = name
        .strip_suffix(".dump")
        .or_else(|| name.strip_suffix(".sql"))
    else {
        return false;
    };
    if stem.len() < 18 {
        return false;
    }
    let (db, ts) = stem.split_at(stem.len() - 16);
    let Some(db) = db.strip_suffix('-') else {
        return false;
    };
    let ts_ok = ts.len() == 16
        && ts.as_bytes()[8] == b'T'
        && ts.ends_with('Z')
        && ts[..8].bytes().all(|b| b.is_ascii_digit())
        && ts[9..15].bytes().all(|b| b.is_ascii_digit());
    ts_ok && !db.is_empty() && database.is_none_or(|d| d == db)
}

fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    let digest = h.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), size))
}

/// Write `bytes` to `path` atomically (temp file, fsync, rename), mode 0600.
fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(PARTIAL_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Take the directory's backup lock, or exit 4 at once.
fn lock_dir(dir: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(LOCK_FILE))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::conflict(format!(
            "another backup is running in {}",
            dir.display()
        ))
        .with_hint("wait for it to finish; two backups never run in one directory at once")),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

fn server_major(conn: &mut diesel::PgConnection) -> Result<u32> {
    let v = db::server_version(conn)?;
    v.split(['.', ' '])
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| Error::failure(format!("cannot read the server's version from {v:?}")))
}

fn counts(conn: &mut diesel::PgConnection) -> Result<RowCounts> {
    let mut c = |t: &str| -> Result<Option<i64>> {
        if db::table_exists(conn, &format!("public.{t}"))? {
            Ok(Some(db::count_rows(conn, t)?))
        } else {
            Ok(None)
        }
    };
    Ok(RowCounts {
        users: c("users")?,
        items: c("items")?,
    })
}

/// `backup` with its cron ping: success or failure is posted to --notify-url.
fn create_notifying(args: &BackupCreate, ctx: &Ctx) -> Result<()> {
    let mut database = None;
    let result = create(args, ctx, &mut database);
    if let Some(url) = &args.notify.notify_url {
        let (ok, code, message) = match &result {
            Ok(summary) => (true, 0, summary.clone()),
            Err(e) => (false, e.exit_code(), e.message.clone()),
        };
        crate::notify::ping(
            url,
            ok,
            "backup",
            database.as_deref(),
            &message,
            code,
            ctx.global.quiet,
        );
    }
    result.map(|_| ())
}

/// Per table `rows:sum` of the 60-bit prefixes of each row's md5: equal for equal row
/// sets whatever their order, and cheap to compare after a restore.
fn table_checksums(conn: &mut diesel::PgConnection) -> Result<BTreeMap<String, String>> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        tablename: String,
    }
    #[derive(QueryableByName)]
    struct Sum {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sum: String,
    }
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT tablename::text AS tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .load(conn)?;
    let mut out = BTreeMap::new();
    for t in tables {
        let q = format!(
            "SELECT count(*)::text || ':' || coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text AS sum \
             FROM public.\"{}\" t",
            t.tablename.replace('"', "\"\"")
        );
        let row: Sum = diesel::sql_query(q).get_result(conn)?;
        out.insert(t.tablename, row.sum);
    }
    Ok(out)
}

fn create(args: &BackupCreate, ctx: &Ctx, database_out: &mut Option<String>) -> Result<String> {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    let target = ctx.direct_target()?;
    ctx.refuse_pooled_tools(&target, "pg_dump")?;
    let (mut conn, target) = ctx.connect_target(target)?;
    let database = db::current_database(&mut conn)?;
    *database_out = Some(database.clone());
    let server_version = db::server_version(&mut conn)?;
    let tools = pgtools::find(args.tools.pg_dump.as_deref(), server_major(&mut conn)?)?;
    let schema_version = db::applied_versions(&mut conn)?.into_iter().next_back();
    let dir = backup_dir(&args.dir);
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
    }
    let _lock = lock_dir(&dir)?;
    // Leftovers of a killed run: we hold the lock, so no run is writing them.
    for e in fs::read_dir(&dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(PARTIAL_SUFFIX) {
            ctx.debug(format!("removing leftover {name}"));
            fs::remove_file(e.path())?;
        }
    }
    let ext = match args.format {
        DumpFormat::Custom => "dump",
        DumpFormat::Plain => "sql",
    };
    // One name per second: wait for the next second rather than overwrite.
    let (started_at, final_path) = loop {
        let now = Utc::now();
        let p = dir.join(format!("{database}-{}.{ext}", now.format("%Y%m%dT%H%M%SZ")));
        if !p.exists() {
            break (now, p);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let file_name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp_path = dir.join(format!(".{file_name}{PARTIAL_SUFFIX}"));

    // Counts (and checksums) are taken in the very snapshot pg_dump dumps: this
    // transaction exports it and stays open until pg_dump is done.
    conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    #[derive(QueryableByName)]
    struct Snapshot {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let snapshot: Snapshot =
        diesel::sql_query("SELECT pg_export_snapshot() AS id").get_result(&mut conn)?;
    let row_counts = counts(&mut conn)?;
    let checksums = if args.verify_restore {
        Some(table_checksums(&mut conn)?)
    } else {
        None
    };

    let clock = Instant::now();
    let out_file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp_path)?;
    let (mut cmd, safe_url) = pgtools::command(&tools.pg_dump, &target.url);
    cmd.arg(match args.format {
        DumpFormat::Custom => "--format=custom",
        DumpFormat::Plain => "--format=plain",
    });
    if args.format == DumpFormat::Plain {
        cmd.args(["--clean", "--if-exists", "--no-owner", "--no-privileges"]);
    }
    cmd.arg(format!("--snapshot={}", snapshot.id));
    cmd.arg(format!("--dbname={safe_url}"))
        .stdout(out_file.try_clone()?)
        .stdin(std::process::Stdio::null());
    let show_progress = !ctx.global.quiet && std::io::stderr().is_terminal();
    let progress = |elapsed: std::time::Duration| {
        if show_progress {
            let bytes = fs::metadata(&tmp_path).map(|m| m.len()).unwrap_or(0);
            eprint!(
                "\r  pg_dump: {:.1}s, {:.1} MiB written",
                elapsed.as_secs_f64(),
                bytes as f64 / 1048576.0
            );
        }
    };
    let dumped = pgtools::run_watching(cmd, "pg_dump", progress);
    let _ = conn.batch_execute("COMMIT");
    drop(conn);
    if show_progress {
        eprintln!();
    }
    if let Err(e) = dumped {
        let _ = fs::remove_file(&tmp_path);
        return Err(e);
    }
    out_file.sync_all()?;
    drop(out_file);
    fs::rename(&tmp_path, &final_path)?;
    sync_dir(&dir)?;
    let duration_ms = clock.elapsed().as_millis() as u64;

    let (sha256, size) = sha256_file(&final_path)?;
    let manifest = Manifest {
        file: file_name.clone(),
        database: database.clone(),
        server_version,
        pg_dump_version: tools.version.clone(),
        format: format!("{:?}", args.format).to_lowercase(),
        size,
        sha256,
        started_at,
        duration_ms,
        row_counts,
        stackctl_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version,
        table_checksums: checksums,
    };
    write_private_atomic(
        &manifest_path(&final_path),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    sync_dir(&dir)?;

    // Successful only once it reads back.
    if let Err(e) = check(&final_path, Some(&manifest), &tools) {
        return Err(Error::failure(format!(
            "the backup {} did not verify: {}",
            final_path.display(),
            e.message
        )));
    }
    if args.verify_restore {
        let report = test_restore(&final_path, &manifest, &tools, &target, ctx)?;
        if !report.ok {
            return Err(Error::failure(format!(
                "the backup {} did not restore to the same rows: {}",
                final_path.display(),
                report.detail
            )));
        }
        ctx.info(format!(
            "test restore of {}: {}",
            final_path.display(),
            report.detail
        ));
    }
    if retention_set(&args.retention) {
        apply_retention(&dir, &database, &args.retention, false, ctx, None)?;
    }
    let summary = format!(
        "backup {} written and verified: {} bytes",
        final_path.display(),
        manifest.size
    );
    ctx.info(format!(
        "backup {} written and verified: {} bytes, users {}, items {}, {:.1}s",
        final_path.display(),
        manifest.size,
        manifest
            .row_counts
            .users
            .map_or("-".into(), |n| n.to_string()),
        manifest
            .row_counts
            .items
            .map_or("-".into(), |n| n.to_string()),
        duration_ms as f64 / 1000.0
    ));
    let mut out = ctx.stdout();
    render_one(ctx.format(), MANIFEST_COLUMNS, &manifest, &mut out)?;
    super::finish(out)?;
    Ok(summary)
}

const MANIFEST_COLUMNS: &[&str] = &[
    "file",
    "database",
    "server_version",
    "pg_dump_version",
    "format",
    "size",
    "sha256",
    "started_at",
    "duration_ms",
    "row_counts",
    "stackctl_version",
    "schema_version",
];

fn retention_set(r: &Retention) -> bool {
    r.keep.is_some()
        || r.keep_daily.is_some()
        || r.keep_weekly.is_some()
        || r.keep_monthly.is_some()
}

/// Which backups the rules keep, and why. `backups` is newest first; the newest is always
/// kept. Each calendar rule keeps the newest backup of each of its last N periods (days,
/// ISO weeks, months) that have one, grandfather-father-son style; the union is kept.
pub fn retained(backups: &[DateTime<Utc>], r: &Retention) -> Vec<Option<String>> {
    use chrono::Datelike;
    let mut why: Vec<Option<String>> = vec![None; backups.len()];
    if let Some(first) = why.first_mut() {
        *first = Some("newest".into());
    }
    if let Some(n) = r.keep {
        for w in why.iter_mut().take(n as usize) {
            w.get_or_insert_with(|| format!("keep {n}"));
        }
    }
    let mut rule = |n: Option<u32>, key: &dyn Fn(&DateTime<Utc>) -> String, label: &str| {
        let Some(n) = n else { return };
        let mut seen = BTreeSet::new();
        for (i, t) in backups.iter().enumerate() {
            let k = key(t);
            if seen.contains(&k) {
                continue;
            }
            if seen.len() >= n as usize {
                break;
            }
            seen.insert(k.clone());
            why[i].get_or_insert_with(|| format!("{label} {k}"));
        }
    };
    rule(r.keep_daily, &|t| t.format("%Y-%m-%d").to_string(), "daily");
    rule(
        r.keep_weekly,
        &|t| {
            let w = t.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        },
        "weekly",
    );
    rule(
        r.keep_monthly,
        &|t| t.format("%Y-%m").to_string(),
        "monthly",
    );
    why
}

#[derive(Serialize)]
struct PruneRow {
    file: String,
    started_at: DateTime<Utc>,
    keep: bool,
    reason: String,
}

/// Apply the retention rules to this database's backups (stackctl's names with a
/// manifest; nothing else is ever touched). With `dry_run`, delete nothing. Rows for
/// `out`, when given, say what is kept and why.
fn apply_retention(
    dir: &Path,
    database: &str,
    r: &Retention,
    dry_run: bool,
    ctx: &Ctx,
    out: Option<&mut ListWriter<std::io::BufWriter<std::io::StdoutLock<'static>>>>,
) -> Result<usize> {
    let mut backups: Vec<(DateTime<Utc>, String)> = fs::read_dir(dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_backup_name(n, Some(database)))
        .filter_map(|n| read_manifest(&dir.join(&n)).map(|m| (m.started_at, n)))
        .collect();
    backups.sort_by(|a, b| b.cmp(a));
    let times: Vec<DateTime<Utc>> = backups.iter().map(|(t, _)| *t).collect();
    let why = retained(&times, r);
    let mut removed = 0;
    let mut rows = Vec::new();
    for ((t, name), reason) in backups.iter().zip(why) {
        let keep = reason.is_some();
        if !keep {
            if !dry_run {
                let p = dir.join(name);
                fs::remove_file(&p)?;
                fs::remove_file(manifest_path(&p))?;
                ctx.info(format!("removed old backup {}", p.display()));
            }
            removed += 1;
        }
        rows.push(PruneRow {
            file: name.clone(),
            started_at: *t,
            keep,
            reason: reason.unwrap_or_else(|| {
                if dry_run {
                    "would be deleted".into()
                } else {
                    "deleted".into()
                }
            }),
        });
    }
    if !dry_run {
        sync_dir(dir)?;
    }
    if let Some(out) = out {
        for row in &rows {
            out.row(row)?;
        }
    }
    Ok(removed)
}

fn prune_cmd(dir: &BackupDir, r: &Retention, database: Option<String>, ctx: &Ctx) -> Result<()> {
    if !retention_set(r) {
        return Err(Error::usage("no retention rule given")
            .with_hint("give --keep, --keep-daily, --keep-weekly and/or --keep-monthly"));
    }
    let dir = backup_dir(dir);
    if !dir.is_dir() {
        return Err(Error::not_found(format!(
            "backup directory {} not found",
            dir.display()
        )));
    }
    let database = match database {
        Some(d) => d,
        None => {
            let (mut conn, _) = ctx.connect_raw()?;
            db::current_database(&mut conn)?
        }
    };
    let _lock = lock_dir(&dir)?;
    let mut out = ListWriter::new(
        ctx.format(),
        &["file", "started_at", "keep", "reason"],
        ctx.stdout(),
    );
    let n = apply_retention(&dir, &database, r, ctx.global.dry_run, ctx, Some(&mut out))?;
    out.finish()?;
    if ctx.global.dry_run {
        ctx.info(format!("dry run: {n} backup(s) would be deleted"));
    } else {
        ctx.info(format!("deleted {n} backup(s)"));
    }
    Ok(())
}

/// The newest backup of `database` in `dir` that has a manifest.
pub fn newest_backup(dir: &Path, database: &str) -> Option<(PathBuf, Manifest)> {
    fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_backup_name(n, Some(database)))
        .filter_map(|n| {
            let p = dir.join(&n);
            read_manifest(&p).map(|m| (p, m))
        })
        .max_by_key(|(_, m)| m.started_at)
}

/// `--dir`/`--backup-dir`, else STACKCTL_BACKUP_DIR: `None` when neither is set.
pub fn backup_dir_or_env(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("STACKCTL_BACKUP_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

fn read_manifest(file: &Path) -> Option<Manifest> {
    let text = fs::read_to_string(manifest_path(file)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The checksum matches the manifest and pg_restore can read the file.
fn check(file: &Path, manifest: Option<&Manifest>, tools: &Tools) -> Result<()> {
    if let Some(m) = manifest {
        let (sha, size) = sha256_file(file)?;
        if sha != m.sha256 || size != m.size {
            return Err(Error::failure(format!(
                "checksum mismatch: the manifest says sha256 {} ({} bytes), the file has {sha} ({size} bytes)",
                m.sha256, m.size
            )));
        }
    }
    let plain = manifest.map_or_else(
        || file.extension().is_some_and(|e| e == "sql"),
        |m| m.format == "plain",
    );
    if plain {
        let text = fs::read(file)?;
        let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(200)..]).into_owned();
        if !tail.contains("PostgreSQL database dump complete") {
            return Err(Error::failure("the SQL dump is incomplete"));
        }
        return Ok(());
    }
    let mut c = std::process::Command::new(&tools.pg_restore);
    c.arg("--list").arg(file);
    pgtools::run(c, "pg_restore --list").map(|_| ())
}

/// Client tools for a file-only command: no server to match, so the newest found.
fn local_tools(explicit: Option<&Path>) -> Result<Tools> {
    pgtools::find(explicit, 0)
}

#[derive(Serialize)]
struct VerifyResult {
    file: String,
    ok: bool,
    manifest: bool,
    detail: String,
}

/// Restore a dump into the database at `url` in one transaction: a plain dump through
/// psql, a custom one through pg_restore (`clean`: drop what the dump holds first).
fn restore_into(file: &Path, plain: bool, tools: &Tools, url: &PgUrl, clean: bool) -> Result<()> {
    if plain {
        let (mut c, safe_url) = pgtools::command(&tools.psql, url);
        c.args([
            "-X",
            "-q",
            "--single-transaction",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &safe_url,
            "-f",
        ])
        .arg(file)
        .stdout(std::process::Stdio::null());
        pgtools::run(c, "psql")?;
    } else {
        let (mut c, safe_url) = pgtools::command(&tools.pg_restore, url);
        c.arg("--single-transaction");
        if clean {
            c.args(["--clean", "--if-exists"]);
        }
        c.args(["--no-owner", "--no-privileges", "--exit-on-error"])
            .arg(format!("--dbname={safe_url}"))
            .arg(file);
        pgtools::run(c, "pg_restore")?;
    }
    Ok(())
}

/// What a test restore found.
pub struct RestoreReport {
    pub ok: bool,
    pub detail: String,
}

/// Restore `file` into a scratch database (created here, dropped here whatever happens),
/// then compare its row counts, and its table checksums when the manifest has them.
fn test_restore(
    file: &Path,
    manifest: &Manifest,
    tools: &Tools,
    target: &crate::config::Target,
    ctx: &Ctx,
) -> Result<RestoreReport> {
    use diesel::connection::SimpleConnection;
    let scratch = format!(
        "stackctl_verify_{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let mut admin = db::connect(target.url.libpq())?;
    admin
        .batch_execute(&format!("CREATE DATABASE {scratch} TEMPLATE template0"))
        .map_err(|e| {
            Error::failure(format!(
                "cannot create a scratch database for the test restore: {}",
                Error::from(e).message
            ))
            .with_hint("the test restore needs the CREATEDB privilege")
        })?;
    ctx.debug(format!("test restore into scratch database {scratch}"));
    let scratch_url = target.url.with_database(&scratch)?;
    let outcome = (|| -> Result<RestoreReport> {
        restore_into(file, manifest.format == "plain", tools, &scratch_url, false)?;
        let mut conn = db::connect(scratch_url.libpq())?;
        let got = counts(&mut conn)?;
        let mut problems = Vec::new();
        for (table, want, have) in [
            ("users", manifest.row_counts.users, got.users),
            ("items", manifest.row_counts.items, got.items),
        ] {
            if want != have {
                problems.push(format!(
                    "{table}: {} row(s) in the manifest, {} restored",
                    want.map_or("no table".into(), |n| n.to_string()),
                    have.map_or("no table".into(), |n| n.to_string())
                ));
            }
        }
        let compared = match &manifest.table_checksums {
            Some(want) => {
                let have = table_checksums(&mut conn)?;
                for (table, sum) in want {
                    match have.get(table) {
                        Some(h) if h == sum => {}
                        Some(h) => {
                            problems.push(format!("{table}: checksum {h}, the manifest says {sum}"))
                        }
                        None => problems.push(format!("{table}: missing after the restore")),
                    }
                }
                format!("row counts and checksums of {} table(s) match", want.len())
            }
            None => "row counts match (the manifest has no table checksums)".into(),
        };
        Ok(if problems.is_empty() {
            RestoreReport {
                ok: true,
                detail: compared,
            }
        } else {
            RestoreReport {
                ok: false,
                detail: problems.join("; "),
            }
        })
    })();
    let dropped = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
        .or_else(|_| admin.batch_execute(&format!("DROP DATABASE IF EXISTS {scratch}")));
    if let Err(e) = dropped {
        ctx.info(format!(
            "warning: could not drop the scratch database {scratch}: {e}"
        ));
    }
    outcome
}

fn verify_cmd(file: &Path, restore: bool, pg_dump: Option<&Path>, ctx: &Ctx) -> Result<()> {
    if !file.is_file() {
        return Err(Error::not_found(format!(
            "backup file {} not found",
            file.display()
        )));
    }
    let tools = local_tools(pg_dump)?;
    let manifest = read_manifest(file);
    if manifest.is_none() {
        ctx.info(format!(
            "note: {} has no manifest; only pg_restore's check is possible",
            file.display()
        ));
    }
    let mut result = check(file, manifest.as_ref(), &tools);
    if restore && result.is_ok() {
        let Some(m) = &manifest else {
            return Err(Error::usage(format!(
                "{} has no manifest to compare a test restore with",
                file.display()
            )));
        };
        let target = ctx.direct_target()?;
        ctx.refuse_pooled_tools(&target, "the test restore")?;
        let (mut conn, target) = ctx.connect_target(target)?;
        let tools = pgtools::find(pg_dump, server_major(&mut conn)?)?;
        drop(conn);
        let report = test_restore(file, m, &tools, &target, ctx)?;
        result = if report.ok {
            ctx.info(format!("test restore: {}", report.detail));
            Ok(())
        } else {
            Err(Error::failure(format!(
                "the test restore differs from the manifest: {}",
                report.detail
            )))
        };
    }
    let row = VerifyResult {
        file: file.display().to_string(),
        ok: result.is_ok(),
        manifest: manifest.is_some(),
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

#[derive(Serialize)]
struct ListRow {
    file: String,
    started_at: Option<DateTime<Utc>>,
    size: u64,
    database: Option<String>,
    users: Option<i64>,
    items: Option<i64>,
    checksum_ok: Option<bool>,
}

const LIST_COLUMNS: &[&str] = &[
    "file",
    "started_at",
    "size",
    "database",
    "users",
    "items",
    "checksum_ok",
];

fn list(dir: &BackupDir, ctx: &Ctx) -> Result<()> {
    let dir = backup_dir(dir);
    if !dir.is_dir() {
        return Err(Error::not_found(format!(
            "backup directory {} not found",
            dir.display()
        )));
    }
    let mut names: Vec<String> = fs::read_dir(&dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_backup_name(n, None))
        .collect();
    names.sort();
    let mut out = ListWriter::new(ctx.format(), LIST_COLUMNS, ctx.stdout());
    for name in names {
        let path = dir.join(&name);
        let m = read_manifest(&path);
        let (sha, size) = sha256_file(&path)?;
        out.row(&ListRow {
            file: name,
            started_at: m.as_ref().map(|m| m.started_at),
            size,
            database: m.as_ref().map(|m| m.database.clone()),
            users: m.as_ref().and_then(|m| m.row_counts.users),
            items: m.as_ref().and_then(|m| m.row_counts.items),
            checksum_ok: m.as_ref().map(|m| m.sha256 == sha && m.size == size),
        })?;
    }
    out.finish()?;
    Ok(())
}

fn restore(file: &Path, force: bool, yes: bool, pg_dump: Option<&Path>, ctx: &Ctx) -> Result<()> {
    if !file.is_file() {
        return Err(Error::not_found(format!(
            "backup file {} not found",
            file.display()
        )));
    }
    let manifest = read_manifest(file);
    if let Some(v) = manifest.as_ref().and_then(|m| m.schema_version.as_ref()) {
        let known = db::embedded_migrations()?.iter().any(|m| &m.version == v);
        if !known && !force {
            return Err(Error::schema(format!(
                "{} was taken at schema version {v}, which this stackctl does not know",
                file.display()
            ))
            .with_hint("restore it with the stackctl that took it, or pass --force"));
        }
    }
    let target = ctx.direct_target()?;
    ctx.refuse_pooled_tools(&target, "backup restore")?;
    let (mut conn, target) = ctx.connect_target(target)?;
    let tools = pgtools::find(pg_dump, server_major(&mut conn)?)?;
    check(file, manifest.as_ref(), &tools).map_err(|e| {
        Error::failure(format!(
            "refusing to restore a damaged backup: {}",
            e.message
        ))
    })?;
    let database = db::current_database(&mut conn)?;
    let current = counts(&mut conn)?;
    let change = Change::other("restore", "database", &database)
        .with_before(serde_json::json!({"users": current.users, "items": current.items}))
        .with_after(serde_json::json!({
            "file": file.display().to_string(),
            "users": manifest.as_ref().and_then(|m| m.row_counts.users),
            "items": manifest.as_ref().and_then(|m| m.row_counts.items),
        }));
    if ctx.global.dry_run {
        return ctx.print_plan(&[change]);
    }
    drop(conn);
    let what = match &manifest {
        Some(m) => format!(
            "restoring {} (database {}, taken {}, users {}, items {}) replaces what it holds in database {database}",
            file.display(),
            m.database,
            m.started_at.format("%Y-%m-%d %H:%M:%SZ"),
            m.row_counts.users.map_or("-".into(), |n| n.to_string()),
            m.row_counts.items.map_or("-".into(), |n| n.to_string()),
        ),
        None => format!("restoring {} replaces what it holds in database {database}", file.display()),
    };
    prompt::confirm_destructive(yes, &what)?;
    let plain = manifest.as_ref().map_or_else(
        || file.extension().is_some_and(|e| e == "sql"),
        |m| m.format == "plain",
    );
    let clock = Instant::now();
    restore_into(file, plain, &tools, &target.url, true)?;
    ctx.info(format!(
        "restored {} into {database} in {:.1}s",
        file.display(),
        clock.elapsed().as_secs_f64()
    ));
    // The restore ran in pg_restore's own transaction (and may have replaced the audit
    // table with the backup's), so the audit row follows in a transaction of its own.
    let (mut conn, _) = ctx.connect_target(target)?;
    ctx.audit_after(&mut conn, "backup restore", &[change])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names() {
        assert!(is_backup_name("app-20261122T213430Z.dump", Some("app")));
        assert!(is_backup_name(
            "my-app-20261122T213430Z.sql",
            Some("my-app")
        ));
        assert!(!is_backup_name("app-20261122T213430Z.dump", Some("other")));
        assert!(!is_backup_name("notes.txt", None));
        assert!(!is_backup_name("app-2026112XT213430Z.dump", None));
        assert!(!is_backup_name(".app-20261122T213430Z.dump.partial", None));
        assert!(!is_backup_name("-20261122T213430Z.dump", None));
    }
}
