//! Where the embedded instance lives: the contract's order (`--data-dir`,
//! `STACKCTL_DATA_DIR`, `$XDG_DATA_HOME/stackctl`, `~/.local/share/stackctl`), and root's own
//! default, which the server's account reaches without any permission outside it changing.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `--data-dir` / `STACKCTL_DATA_DIR`, else `$XDG_DATA_HOME/stackctl`, else
/// `~/.local/share/stackctl` (as root: `/var/lib/stackctl`, which the `postgres` account
/// reaches without stackctl changing the permissions of anything outside it); made
/// absolute against the current directory.
pub fn data_dir(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    data_dir_for(flag, env, is_root())
}

/// The directory root's embedded instance lives in when nothing else is configured.
pub const ROOT_DATA_DIR: &str = "/var/lib/stackctl";

pub(super) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn data_dir_for(
    flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    root: bool,
) -> Result<PathBuf> {
    let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
    let dir = match flag.filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => match nonempty("XDG_DATA_HOME").filter(|v| Path::new(v).is_absolute()) {
            Some(xdg) => Path::new(&xdg).join("stackctl"),
            None if root => PathBuf::from(ROOT_DATA_DIR),
            None => match nonempty("HOME") {
                Some(home) => Path::new(&home).join(".local/share/stackctl"),
                None => {
                    return Err(Error::usage(
                        "no database configured and no home directory for the embedded one",
                    )
                    .with_hint("set DATABASE_URL, or STACKCTL_DATA_DIR for the embedded instance"))
                }
            },
        },
    };
    if dir.is_absolute() {
        Ok(dir)
    } else {
        Ok(std::env::current_dir()?.join(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_defaults_to_var_lib_stackctl() {
        let home = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(
            data_dir_for(None, &home, true).unwrap(),
            PathBuf::from(ROOT_DATA_DIR)
        );
        assert_eq!(
            data_dir_for(None, &|_| None, true).unwrap(),
            PathBuf::from(ROOT_DATA_DIR)
        );
        let xdg = |k: &str| (k == "XDG_DATA_HOME").then(|| "/srv/x".to_string());
        assert_eq!(
            data_dir_for(None, &xdg, true).unwrap(),
            PathBuf::from("/srv/x/stackctl")
        );
    }

    #[test]
    fn data_dir_follows_the_contract_order() {
        let env = |k: &str| match k {
            "XDG_DATA_HOME" => Some("/x/data".to_string()),
            "HOME" => Some("/home/op".to_string()),
            _ => None,
        };
        assert_eq!(
            data_dir_for(Some(Path::new("/srv/s")), &env, false).unwrap(),
            PathBuf::from("/srv/s")
        );
        assert_eq!(
            data_dir_for(None, &env, false).unwrap(),
            PathBuf::from("/x/data/stackctl")
        );
        let no_xdg = |k: &str| (k == "HOME").then(|| "/home/op".to_string());
        assert_eq!(
            data_dir_for(None, &no_xdg, false).unwrap(),
            PathBuf::from("/home/op/.local/share/stackctl")
        );
        assert_eq!(
            data_dir_for(None, &|_| None, false)
                .unwrap_err()
                .exit_code(),
            2
        );
    }
}
