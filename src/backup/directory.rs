//! The backup directory itself: created private, locked for one run at a time, warned
//! about when others can write to it, cleared of the leftovers of killed runs.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::SystemTime;

use super::catalog::is_backup_name;
use super::Log;
use crate::error::{Error, Result};

const LOCK_FILE: &str = ".stackctl-backup.lock";
pub(crate) const PARTIAL_SUFFIX: &str = ".partial";

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
    let me = nix::unistd::geteuid().as_raw();
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
/// an older stackctl's manifest temp file (`<backup>.manifest.json.partial`), or a manifest
/// whose backup is gone (a run killed between naming the two, or a deleted backup).
fn is_leftover(dir: &Path, name: &str) -> bool {
    let orphan = |manifest: &str| {
        manifest
            .strip_suffix(".manifest.json")
            .is_some_and(|b| is_backup_name(b, None) && dir.join(b).symlink_metadata().is_err())
    };
    match name.strip_suffix(PARTIAL_SUFFIX) {
        Some(stem) => {
            name.starts_with('.')
                || stem
                    .strip_suffix(".manifest.json")
                    .is_some_and(|b| is_backup_name(b, None))
        }
        None => orphan(name),
    }
}

/// Remove our leftovers written before the lock was taken: the lock holder is the only
/// writer, so they belong to killed runs. Links are removed, never followed.
pub fn remove_leftovers(dir: &Path, lock: &DirLock, log: &dyn Log) -> Result<()> {
    for e in fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_leftover(dir, &name) {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        let stale = meta.modified().is_ok_and(|t| t < lock.taken_at);
        if !stale {
            continue;
        }
        log.debug(format!("removing leftover {name}"));
        if meta.is_dir() {
            // A killed run's partial directory dump (links inside are not followed).
            if name.starts_with('.') && name.ends_with(PARTIAL_SUFFIX) {
                fs::remove_dir_all(e.path())?;
            }
        } else {
            fs::remove_file(e.path())?;
        }
    }
    Ok(())
}
