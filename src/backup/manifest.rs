//! `<backup>.manifest.json`: what a backup holds and how to check it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::snapshot::RowCounts;
use crate::error::{Error, Result};

const MANIFEST_SUFFIX: &str = ".manifest.json";

/// pg_dump's output format, serialised as manifests have always spelt it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `pg_dump --format=custom`, restored by pg_restore.
    Custom,
    /// `pg_dump --format=plain`: SQL, restored by psql.
    Plain,
    /// `pg_dump --format=directory`: a directory of files, dumped and restored with jobs.
    Directory,
}

impl Format {
    /// The backup file's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Custom => "dump",
            Format::Plain => "sql",
            Format::Directory => "dir",
        }
    }

    /// What a backup without a manifest is taken for: a directory is a directory dump,
    /// `.sql` is plain.
    pub fn guess(file: &Path) -> Format {
        if file.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            Format::Directory
        } else if file.extension().is_some_and(|e| e == "sql") {
            Format::Plain
        } else {
            Format::Custom
        }
    }

    /// Whether pg_restore reads it (with jobs, into a database of its own).
    pub fn is_archive(self) -> bool {
        matches!(self, Format::Custom | Format::Directory)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub file: String,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    pub format: Format,
    /// Bytes: the file's, or the sum of a directory dump's files.
    pub size: u64,
    /// The file's sha256; for a directory dump, the sha256 of its `files` listing
    /// (`files::digest`).
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
    /// A directory dump's files, each with its size and sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<String, FileSum>>,
    /// `backup --anonymize`: a dump with no personal data, for handing out; retention and
    /// `status` never count it as a backup of the database.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymized: bool,
}

/// One file of a directory dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub size: u64,
    pub sha256: String,
}

/// The columns a manifest is shown with.
pub const COLUMNS: &[&str] = &[
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

/// `<file>.manifest.json`.
pub fn path_for(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(MANIFEST_SUFFIX);
    PathBuf::from(s)
}

/// The manifest beside `file`: `None` when there is none, an error when there is one
/// that cannot be read or parsed.
pub fn read(file: &Path) -> Result<Option<Manifest>> {
    let path = path_for(file);
    let text = match read_capped(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::failure(format!(
                "cannot read the manifest {}: {e}",
                path.display()
            )))
        }
    };
    serde_json::from_slice(&text).map(Some).map_err(|e| {
        Error::failure(format!(
            "the manifest {} is not a valid manifest: {e}",
            path.display()
        ))
    })
}

/// A manifest is a few hundred bytes; one over a mebibyte is not one, and is not read
/// into memory whole.
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    const MAX: u64 = 1 << 20;
    let mut text = Vec::new();
    std::fs::File::open(path)?
        .take(MAX + 1)
        .read_to_end(&mut text)?;
    if text.len() as u64 > MAX {
        return Err(std::io::Error::other("larger than 1 MiB"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_keep_their_manifest_spelling() {
        assert_eq!(serde_json::to_string(&Format::Plain).unwrap(), "\"plain\"");
        assert_eq!(
            serde_json::from_str::<Format>("\"custom\"").unwrap(),
            Format::Custom
        );
        assert!(serde_json::from_str::<Format>("\"Plain\"").is_err());
    }
}
