//! Files in the backup directory: created privately and exclusively, named only once
//! complete, read in constant memory.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use tempfile::NamedTempFile;

use super::directory::PARTIAL_SUFFIX;
use super::manifest::FileSum;
use crate::error::{Error, Result};

/// A new file `.<name>.<random>.partial` in `dir`, mode 0600, created exclusively and
/// without following a link planted at its path; removed when dropped unless persisted.
pub fn private_temp(dir: &Path, name: &str) -> Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(PARTIAL_SUFFIX)
        .make_in(dir, |path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
        })
        .map_err(|e| Error::failure(format!("cannot create a file in {}: {e}", dir.display())))
}

/// A new directory `.<name>.<random>.partial` in `dir`, mode 0700, for pg_dump to fill;
/// removed with what it holds when dropped unless named.
pub fn private_temp_dir(dir: &Path, name: &str) -> Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(PARTIAL_SUFFIX)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(dir)
        .map_err(|e| {
            Error::failure(format!(
                "cannot create a directory in {}: {e}",
                dir.display()
            ))
        })
}

/// Give a complete temporary directory its final name, which must be free: nothing
/// already at that name (an empty directory, a planted link) is ever replaced.
pub fn persist_dir(tmp: tempfile::TempDir, path: &Path) -> Result<()> {
    let named = nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        tmp.path(),
        nix::fcntl::AT_FDCWD,
        path,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    );
    match named {
        Ok(()) => {
            // Named: nothing is left to clean up.
            let _ = tmp.keep();
            Ok(())
        }
        Err(e) => Err(Error::failure(format!(
            "cannot name the new directory {}: {e}",
            path.display()
        ))),
    }
}

/// Give a complete temporary file its final name; whatever is already at that name (a
/// file, a planted link) is never replaced.
pub fn persist(tmp: NamedTempFile, path: &Path) -> Result<File> {
    tmp.persist_noclobber(path).map_err(|e| {
        Error::failure(format!(
            "cannot name the new file {}: {}",
            path.display(),
            e.error
        ))
    })
}

/// Write `bytes` to `path` (in `dir`) atomically: private temp file, fsync, rename.
pub fn write_private_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = private_temp(dir, &name)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    persist(tmp, path)?;
    Ok(())
}

/// The last `n` bytes of a file (all of it when shorter), read from there.
pub fn tail(path: &Path, n: u64) -> Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(n)))?;
    let mut tail = Vec::with_capacity(n as usize);
    f.take(n).read_to_end(&mut tail)?;
    Ok(tail)
}

/// What a backup's bytes add up to: its sha256 and size, and for a directory dump each
/// file's.
pub struct Digest {
    pub sha256: String,
    pub size: u64,
    pub files: Option<BTreeMap<String, FileSum>>,
}

/// The digest of a backup: a file's sha256, or a directory dump's. A directory dump may
/// hold regular files only (a link, a FIFO or a directory inside is refused, never
/// followed: pg_restore would read whatever it points at); its sha256 is that of the
/// listing `<sha256>  <name>\n` of its files in name order, so a file added, removed,
/// renamed or changed changes it.
pub fn digest(path: &Path) -> Result<Digest> {
    if !std::fs::metadata(path)?.is_dir() {
        let (sha256, size) = sha256_of(File::open(path)?)?;
        return Ok(Digest {
            sha256,
            size,
            files: None,
        });
    }
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_file() {
            return Err(Error::failure(format!(
                "{} holds {name}, which is not a regular file",
                path.display()
            )));
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(entry.path())?;
        let (sha256, size) = sha256_of(file)?;
        files.insert(name, FileSum { size, sha256 });
    }
    let mut listing = Sha256::new();
    for (name, f) in &files {
        listing.update(format!("{}  {name}\n", f.sha256));
    }
    Ok(Digest {
        sha256: hex(&listing.finalize()),
        size: files.values().map(|f| f.size).sum(),
        files: Some(files),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A backup's size on disk: a file's length, or the sum of a directory dump's files
/// (for progress, while pg_dump writes them).
pub fn size(path: &Path) -> u64 {
    match std::fs::read_dir(path) {
        Ok(entries) => entries
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum(),
        Err(_) => std::fs::metadata(path).map_or(0, |m| m.len()),
    }
}

/// The file's sha256 (lowercase hex) and size, read in 64 KiB blocks.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    sha256_of(File::open(path)?)
}

fn sha256_of(mut f: File) -> Result<(String, u64)> {
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
    Ok((hex(&h.finalize()), size))
}

/// Delete a backup: a file, or a directory dump with its files (a link inside is removed,
/// never followed).
pub fn remove_backup(path: &Path) -> Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)?;
    } else {
        std::fs::remove_file(path)?;
    }
    Ok(())
}
