//! `stackctl backup [create|list|verify|restore]`: pg_dump written atomically and
//! privately, checked by re-reading, described by a manifest, one run at a time.

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
use crate::cli::{BackupArgs, BackupCmd, BackupCreate, BackupDir, DumpFormat};
use crate::db;
use crate::error::{Error, Kind, Result};
use crate::output::{render_one, ListWriter};
use crate::pgtools::{self, Tools};
use crate::prompt;

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
}

pub fn run(args: BackupArgs, ctx: &Ctx) -> Result<()> {
    match args.command {
        None => create(&args.create, ctx),
        Some(BackupCmd::Create(c)) => create(&c, ctx),
        Some(BackupCmd::List { dir }) => list(&dir, ctx),
        Some(BackupCmd::Verify { file, tools }) => verify_cmd(&file, tools.pg_dump.as_deref(), ctx),
        Some(BackupCmd::Restore {
            file,
            confirm,
            tools,
        }) => restore(&file, confirm.yes, tools.pg_dump.as_deref(), ctx),
    }
}

fn backup_dir(d: &BackupDir) -> PathBuf {
    d.dir
        .clone()
        .or_else(|| {
            std::env::var_os("STACKCTL_BACKUP_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("backups"))
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

fn create(args: &BackupCreate, ctx: &Ctx) -> Result<()> {
    let (mut conn, target) = ctx.connect_raw()?;
    let database = db::current_database(&mut conn)?;
    let server_version = db::server_version(&mut conn)?;
    let tools = pgtools::find(args.tools.pg_dump.as_deref(), server_major(&mut conn)?)?;
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
    let row_counts = counts(&mut conn)?;
    drop(conn);

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
    if let Some(keep) = args.keep {
        prune(&dir, &database, keep as usize, &final_path, ctx)?;
    }
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
    super::finish(out)
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
];

/// Delete this database's oldest backups beyond `keep`, never the newest, never a
/// file that is not stackctl's own naming with its manifest.
fn prune(dir: &Path, database: &str, keep: usize, newest: &Path, ctx: &Ctx) -> Result<()> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_backup_name(n, Some(database)))
        .filter(|n| manifest_path(&dir.join(n)).is_file())
        .collect();
    // The timestamp in the name sorts as text.
    names.sort_by(|a, b| b.cmp(a));
    for name in names.iter().skip(keep) {
        let p = dir.join(name);
        if p == newest {
            continue;
        }
        fs::remove_file(&p)?;
        fs::remove_file(manifest_path(&p))?;
        ctx.info(format!("removed old backup {}", p.display()));
    }
    sync_dir(dir)
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

fn verify_cmd(file: &Path, pg_dump: Option<&Path>, ctx: &Ctx) -> Result<()> {
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
    let result = check(file, manifest.as_ref(), &tools);
    let row = VerifyResult {
        file: file.display().to_string(),
        ok: result.is_ok(),
        manifest: manifest.is_some(),
        detail: match &result {
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

fn restore(file: &Path, yes: bool, pg_dump: Option<&Path>, ctx: &Ctx) -> Result<()> {
    if !file.is_file() {
        return Err(Error::not_found(format!(
            "backup file {} not found",
            file.display()
        )));
    }
    let manifest = read_manifest(file);
    let (mut conn, target) = ctx.connect_raw()?;
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
    if plain {
        let (mut c, safe_url) = pgtools::command(&tools.psql, &target.url);
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
        let (mut c, safe_url) = pgtools::command(&tools.pg_restore, &target.url);
        c.args([
            "--single-transaction",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
        ])
        .arg(format!("--dbname={safe_url}"))
        .arg(file);
        pgtools::run(c, "pg_restore")?;
    }
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
