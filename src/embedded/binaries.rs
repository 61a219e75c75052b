//! The PostgreSQL server binaries (`initdb`, `pg_ctl`): where they are looked for, shared
//! with the client tools' discovery (`pgtools`), and which version they are.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::INSTALL_HINT;
use crate::error::{Error, Result};

/// A directory holding `initdb` and `pg_ctl`, and their version.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
    pub version: String,
    pub major: u32,
}

fn probe_binaries(dir: &Path) -> Option<Binaries> {
    if !dir.join("initdb").is_file() || !dir.join("pg_ctl").is_file() {
        return None;
    }
    let out = Command::new(dir.join("pg_ctl"))
        .arg("--version")
        .output()
        .ok()?;
    let (version, major) = crate::pgtools::parse_version(&String::from_utf8_lossy(&out.stdout))?;
    Some(Binaries {
        dir: dir.to_path_buf(),
        version,
        major,
    })
}

/// The directories PostgreSQL's binaries may be in, in the order they are tried:
/// `pg_config --bindir`, `PATH`, then `/usr/lib/postgresql/<major>/bin` newest first.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        if o.status.success() {
            dirs.push(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    dirs.extend(versioned.into_iter().map(|(_, d)| d));
    dirs
}

/// Where the server binaries are looked for: `STACKCTL_PG_BIN` alone when it is set, else
/// `search_dirs`.
fn binary_dirs() -> (Vec<PathBuf>, String) {
    if let Some(dir) = std::env::var_os("STACKCTL_PG_BIN").filter(|v| !v.is_empty()) {
        let shown = format!("STACKCTL_PG_BIN={}", Path::new(&dir).display());
        return (vec![PathBuf::from(dir)], shown);
    }
    (
        search_dirs(),
        "pg_config --bindir, PATH or /usr/lib/postgresql/*/bin".into(),
    )
}

/// The first server binaries found, or those of the cluster's major version when it exists.
pub fn find_binaries(data_major: Option<u32>) -> Result<Binaries> {
    let (dirs, looked) = binary_dirs();
    let found: Vec<Binaries> = dirs.iter().filter_map(|d| probe_binaries(d)).collect();
    let pick = match data_major {
        Some(m) => found.iter().find(|b| b.major == m),
        None => found.first(),
    };
    match (pick, data_major) {
        (Some(b), _) => Ok(b.clone()),
        (None, Some(m)) if !found.is_empty() => Err(Error::unreachable(format!(
            "the embedded instance was made by PostgreSQL {m}, but only PostgreSQL {} server binaries were found",
            found[0].version
        ))
        .with_hint(format!(
            "install PostgreSQL {m} (Debian: apt-get install -y postgresql-{m}) or point STACKCTL_PG_BIN at its bin directory"
        ))),
        _ => Err(Error::unreachable(format!(
            "no PostgreSQL server binaries (initdb, pg_ctl) found in {looked}"
        ))
        .with_hint(INSTALL_HINT)),
    }
}
