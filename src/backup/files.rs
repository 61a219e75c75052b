//! Files in the backup directory: created privately and exclusively, named only once
//! complete, read in constant memory.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::directory::PARTIAL_SUFFIX;
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

/// The file's sha256 (lowercase hex) and size, read in 64 KiB blocks.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
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
