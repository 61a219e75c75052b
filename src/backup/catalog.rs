//! The backup directory: where it is, what in it is a backup, its lock, and the private
//! files written into it.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::manifest::{self, Manifest};
use super::{files, Log};
use crate::error::{Error, Result};

const LOCK_FILE: &str = ".stackctl-backup.lock";
pub(crate) const PARTIAL_SUFFIX: &str = ".partial";

/// `--dir`/`--backup-dir`, else STACKCTL_BACKUP_DIR: `None` when neither is set.
pub fn dir_or_env(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("STACKCTL_BACKUP_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// `--dir`, else STACKCTL_BACKUP_DIR, else ./backups.
pub fn dir(flag: Option<&Path>) -> PathBuf {
    dir_or_env(flag).unwrap_or_else(|| PathBuf::from("backups"))
}

/// An existing backup directory, else exit 3.
pub fn existing_dir(flag: Option<&Path>) -> Result<PathBuf> {
    let dir = dir(flag);
    if !dir.is_dir() {
        return Err(Error::not_found(format!(
            "backup directory {} not found",
            dir.display()
        )));
    }
    Ok(dir)
}

/// The database's name as it appears in a backup's file name: `A-Z a-z 0-9 . _ -` kept,
/// anything else (a `/`, a space, any non-ASCII character) becomes `_`, and so do leading
/// dots, so the name is one visible path component that can only land in its directory.
pub fn file_stem(database: &str) -> String {
    let mut stem: String = database
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dots = stem.len() - stem.trim_start_matches('.').len();
    stem.replace_range(..dots, &"_".repeat(dots));
    if stem.is_empty() {
        stem.push('_');
    }
    stem
}

/// `<file_stem(database)>-<yyyymmddTHHMMSSZ>.dump|.sql`: only such files are ever deleted.
pub fn is_backup_name(name: &str, database: Option<&str>) -> bool {
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
    ts_ok && !db.is_empty() && database.is_none_or(|d| file_stem(d) == db)
}

/// The names in `dir` that are backups (of `database`, when given), sorted.
pub fn backup_names(dir: &Path, database: Option<&str>) -> Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_backup_name(n, database))
        .collect();
    names.sort();
    Ok(names)
}

/// Create the directory (0700) when it does not exist.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    Ok(())
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// The directory's backup lock, held until dropped.
pub struct DirLock {
    _file: File,
    /// When it was taken: a partial file older than this is no run's work in progress.
    taken_at: SystemTime,
}

/// Take the directory's backup lock, or exit 4 at once. The lock file is never reached
/// through a symbolic link, and a directory others can write to is warned about first.
pub fn lock(dir: &Path, log: &dyn Log) -> Result<DirLock> {
    warn_if_unsafe(dir, log);
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| not_ours(&path, e))?;
    if !f.metadata()?.is_file() {
        return Err(not_ours(&path, std::io::Error::other("not a regular file")));
    }
    match f.try_lock() {
        Ok(()) => Ok(DirLock {
            _file: f,
            taken_at: SystemTime::now(),
        }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::conflict(format!(
            "another backup is running in {}",
            dir.display()
        ))
        .with_hint("wait for it to finish; two backups never run in one directory at once")),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// The lock path holds something stackctl did not put there (a link, a FIFO, ...).
fn not_ours(path: &Path, e: std::io::Error) -> Error {
    let what = if e.raw_os_error() == Some(libc::ELOOP) {
        "is a symbolic link".to_string()
    } else {
        format!("cannot be opened: {e}")
    };
    Error::failure(format!(
        "the backup lock {} {what}; refusing to use it",
        path.display()
    ))
    .with_hint("remove it and check who can write to the backup directory")
}

/// Warn (even with -q) about a directory anyone but us can write to: whoever can plant
/// or replace files there can replace a backup.
fn warn_if_unsafe(dir: &Path, log: &dyn Log) {
    let Ok(meta) = fs::metadata(dir) else {
        return;
    };
    let mode = meta.mode() & 0o7777;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if mode & 0o022 != 0 {
        log.warn(format!(
            "backup directory {} is writable by {} (mode {mode:04o}): anyone who can write there can replace a backup; chmod 0700 it",
            dir.display(),
            if mode & 0o002 != 0 { "everyone" } else { "its group" },
        ));
    }
    if meta.uid() != me {
        log.warn(format!(
            "backup directory {} belongs to uid {}, not to this user (uid {me}): its owner can replace a backup",
            dir.display(),
            meta.uid()
        ));
    }
}

/// A leftover of ours: a killed run's partial dump or manifest (`.<name>.<random>.partial`),
/// or an older stackctl's manifest temp file (`<backup>.manifest.json.partial`).
fn is_leftover_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(PARTIAL_SUFFIX) else {
        return false;
    };
    name.starts_with('.')
        || stem
            .strip_suffix(".manifest.json")
            .is_some_and(|b| is_backup_name(b, None))
}

/// Remove our leftovers written before the lock was taken: the lock holder is the only
/// writer, so they belong to killed runs. Links are removed, never followed.
pub fn remove_leftovers(dir: &Path, lock: &DirLock, log: &dyn Log) -> Result<()> {
    for e in fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_leftover_name(&name) {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        let stale = meta.modified().is_ok_and(|t| t < lock.taken_at);
        if meta.is_dir() || !stale {
            continue;
        }
        log.debug(format!("removing leftover {name}"));
        fs::remove_file(e.path())?;
    }
    Ok(())
}

/// The newest backup of `database` in `dir` that has a manifest.
pub fn newest_backup(dir: &Path, database: &str) -> Option<(PathBuf, Manifest)> {
    backup_names(dir, Some(database))
        .ok()?
        .into_iter()
        .filter_map(|n| {
            let p = dir.join(&n);
            manifest::read(&p).ok().flatten().map(|m| (p, m))
        })
        // Two names may share a file stem (`a/b`, `a_b`): the manifest says whose it is.
        .filter(|(_, m)| m.database == database)
        .max_by_key(|(_, m)| m.started_at)
}

/// One line of `backup list`.
#[derive(Serialize)]
pub struct Entry {
    pub file: String,
    pub started_at: Option<DateTime<Utc>>,
    pub size: u64,
    pub database: Option<String>,
    pub users: Option<i64>,
    pub items: Option<i64>,
    pub checksum_ok: Option<bool>,
}

pub const ENTRY_COLUMNS: &[&str] = &[
    "file",
    "started_at",
    "size",
    "database",
    "users",
    "items",
    "checksum_ok",
];

/// Every backup-named file in `dir` with what its manifest says and whether its checksum
/// holds, handed to `each` in name order (the checksum of each is read as it comes).
pub fn list(dir: &Path, mut each: impl FnMut(Entry) -> Result<()>) -> Result<()> {
    for name in backup_names(dir, None)? {
        let path = dir.join(&name);
        let m = manifest::read(&path).ok().flatten();
        let (sha, size) = files::sha256_file(&path)?;
        each(Entry {
            file: name,
            started_at: m.as_ref().map(|m| m.started_at),
            size,
            database: m.as_ref().map(|m| m.database.clone()),
            users: m.as_ref().and_then(|m| m.row_counts.users),
            items: m.as_ref().and_then(|m| m.row_counts.items),
            checksum_ok: m.as_ref().map(|m| m.sha256 == sha && m.size == size),
        })?;
    }
    Ok(())
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
        assert!(is_backup_name("a_b-20261122T213430Z.dump", Some("a/b")));
    }

    #[test]
    fn file_stems_stay_in_their_directory() {
        assert_eq!(file_stem("app"), "app");
        assert_eq!(file_stem("my-app_2.0"), "my-app_2.0");
        assert_eq!(file_stem("a/b"), "a_b");
        assert_eq!(file_stem("../esc"), "___esc");
        assert_eq!(file_stem(".."), "__");
        assert_eq!(file_stem("."), "_");
        assert_eq!(file_stem(""), "_");
        assert_eq!(file_stem("caf\u{e9} \\x"), "caf___x");
        for db in ["a/b", "..", "../../etc", "/abs", "x\0y", "\u{202e}evil"] {
            let name = format!("{}-20261122T213430Z.dump", file_stem(db));
            let p = Path::new("dir").join(&name);
            assert_eq!(p.parent(), Some(Path::new("dir")), "{db:?}");
            assert!(!name.starts_with('.'), "{db:?}");
            assert!(is_backup_name(&name, Some(db)), "{db:?}");
        }
    }
}
