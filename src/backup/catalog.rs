//! What is in the backup directory: where it is, which files are backups (and whose), which
//! of them can be counted on, the newest one, the listing.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::files;
use super::manifest::{self, Format, Manifest};
use crate::error::{Error, Result};

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

/// The time in a backup's name.
fn name_time(name: &str) -> Option<DateTime<Utc>> {
    let stem = name.rsplit_once('.')?.0;
    let ts = stem.get(stem.len().checked_sub(16)?..)?;
    chrono::NaiveDateTime::parse_from_str(ts, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// `<file_stem(database)>-<yyyymmddTHHMMSSZ>.dump|.sql|.dir`: only such backups are ever
/// deleted.
pub fn is_backup_name(name: &str, database: Option<&str>) -> bool {
    let Some(stem) = name
        .strip_suffix(".dump")
        .or_else(|| name.strip_suffix(".sql"))
        .or_else(|| name.strip_suffix(".dir"))
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

/// Whether a backup can be counted on: its manifest parses and its checksum holds.
pub enum Standing {
    Verified(Box<Manifest>),
    /// No manifest: nothing to check it against, so nothing counts it (nor deletes it).
    NoManifest,
    /// An unreadable or invalid manifest, or a file that is not what its manifest says.
    Failed(String),
}

/// Check one backup against its manifest (size first, then sha256, streamed).
pub fn standing(path: &Path) -> Result<Standing> {
    let m = match manifest::read(path) {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(Standing::NoManifest),
        Err(e) => return Ok(Standing::Failed(e.message)),
    };
    if files::size(path) == m.size {
        match files::digest(path) {
            Ok(d) if d.sha256 == m.sha256 && d.size == m.size => {
                return Ok(Standing::Verified(Box::new(m)))
            }
            Ok(_) => {}
            Err(e) => return Ok(Standing::Failed(e.message)),
        }
    }
    Ok(Standing::Failed(
        "its checksum does not match its manifest".into(),
    ))
}

/// The newest backup of a database that can be counted on, and the names of the newer ones
/// that cannot.
pub struct Newest {
    pub verified: Option<(PathBuf, Manifest)>,
    pub failed: Vec<String>,
}

/// The newest verified backup of `database` in `dir`: candidates are read newest first
/// and only until one's checksum holds.
pub fn newest_backup(dir: &Path, database: &str) -> Newest {
    let names = backup_names(dir, Some(database)).unwrap_or_default();
    let mut candidates: Vec<(String, Option<DateTime<Utc>>)> = names
        .into_iter()
        .filter_map(|n| match manifest::read(&dir.join(&n)) {
            // Two names may share a file stem (`a/b`, `a_b`): the manifest says whose it is.
            // An anonymised dump is not a backup of the database.
            Ok(Some(m)) => {
                (m.database == database && !m.anonymized).then_some((n, Some(m.started_at)))
            }
            Ok(None) => None,
            // A manifest that cannot be read: as old as its name says.
            Err(_) => {
                let t = name_time(&n);
                Some((n, t))
            }
        })
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.1));
    let mut failed = Vec::new();
    for (name, _) in candidates {
        let path = dir.join(&name);
        match standing(&path) {
            Ok(Standing::Verified(m)) => {
                return Newest {
                    verified: Some((path, *m)),
                    failed,
                }
            }
            _ => failed.push(name),
        }
    }
    Newest {
        verified: None,
        failed,
    }
}

/// One line of `backup list`.
#[derive(Serialize)]
pub struct Entry {
    pub file: String,
    pub format: Format,
    pub started_at: Option<DateTime<Utc>>,
    pub size: u64,
    pub database: Option<String>,
    pub users: Option<i64>,
    pub items: Option<i64>,
    pub checksum_ok: Option<bool>,
}

pub const ENTRY_COLUMNS: &[&str] = &[
    "file",
    "format",
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
        // An invalid manifest is a failed backup, not a missing manifest.
        let (m, invalid) = match manifest::read(&path) {
            Ok(m) => (m, false),
            Err(_) => (None, true),
        };
        // A directory dump holding something other than files fails its checksum.
        let digest = files::digest(&path).ok();
        let (sha, size) = digest.map_or((None, files::size(&path)), |d| (Some(d.sha256), d.size));
        each(Entry {
            format: m
                .as_ref()
                .map_or_else(|| Format::guess(&path), |m| m.format),
            file: name,
            started_at: m.as_ref().map(|m| m.started_at),
            size,
            database: m.as_ref().map(|m| m.database.clone()),
            users: m.as_ref().and_then(|m| m.row_counts.users),
            items: m.as_ref().and_then(|m| m.row_counts.items),
            checksum_ok: match &m {
                Some(m) => Some(sha.as_ref() == Some(&m.sha256) && m.size == size),
                None => invalid.then_some(false),
            },
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
        assert_eq!(
            name_time("a-b-20261122T213430Z.sql").map(|t| t.to_rfc3339()),
            Some("2026-11-22T21:34:30+00:00".into())
        );
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
