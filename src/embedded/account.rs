//! The account the server runs as when stackctl runs as root (`postgres`), and the care
//! root takes inside the data directory that account owns: it is reached without changing
//! anything outside it, and no symbolic link planted there is ever followed.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::dirs::{is_root, ROOT_DATA_DIR};
use super::INSTALL_HINT;
use crate::error::{Error, Result};

/// The account the server runs as when stackctl runs as root.
#[derive(Debug, Clone)]
pub(super) struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

pub(super) fn server_account() -> Result<Option<Account>> {
    if !is_root() {
        return Ok(None);
    }
    match nix::unistd::User::from_name("postgres") {
        Ok(Some(pw)) => Ok(Some(Account {
            name: pw.name,
            uid: pw.uid.as_raw(),
            gid: pw.gid.as_raw(),
        })),
        _ => Err(Error::unreachable(
            "stackctl runs as root, and PostgreSQL refuses to; but there is no postgres account to run it as",
        )
        .with_hint(INSTALL_HINT)),
    }
}

/// As root, the server account must be able to reach the data directory through every
/// parent. stackctl never changes the permissions of anything outside the data directory to
/// make it so: it says which directory stops the account and what to use instead.
pub(super) fn check_reach(dir: &Path, account: &Account) -> Result<()> {
    for parent in dir.ancestors().skip(1) {
        let meta = std::fs::metadata(parent)?;
        let mode = meta.mode();
        let searchable = if meta.uid() == account.uid {
            mode & 0o100 != 0
        } else if meta.gid() == account.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            return Err(Error::unreachable(format!(
                "the {} account, which runs the embedded server, cannot enter {} to reach {}",
                account.name,
                parent.display(),
                dir.display()
            ))
            .with_hint(format!(
                "leave --data-dir / STACKCTL_DATA_DIR / XDG_DATA_HOME unset to use {ROOT_DATA_DIR}, or choose a directory the {} account can reach",
                account.name
            )));
        }
    }
    Ok(())
}

/// Open `path` for writing inside a directory another account owns (the cluster's, as
/// root), never following a symbolic link there, and give the file to `account`: a link
/// planted by whoever can act as that account must not make root write or take over any
/// other file.
pub(super) fn write_private(
    path: &Path,
    contents: &str,
    append: bool,
    account: Option<&Account>,
) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = OpenOptions::new();
    opts.write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW);
    if append {
        opts.append(true);
    } else {
        opts.truncate(true);
    }
    let mut file = opts.open(path).map_err(|e| refuse_link(path, e))?;
    if let Some(a) = account {
        std::os::unix::fs::fchown(&file, Some(a.uid), Some(a.gid))?;
    }
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// A symbolic link where stackctl expected its own file or directory: refused.
pub(super) fn refuse_link(path: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) {
        Error::failure(format!(
            "{} is a symbolic link, or not what stackctl made there: refusing to follow it",
            path.display()
        ))
        .with_hint("remove it, then run the command again")
    } else {
        Error::failure(format!("cannot open {}: {e}", path.display()))
    }
}
