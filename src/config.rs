//! Where the database URLs come from: the main one (flag > DATABASE_URL > .env > the
//! embedded instance) and the direct one (flag > DIRECT_DATABASE_URL > .env). What a URL
//! may look like is `url.rs`'s business.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::url::PgUrl;

/// Where the URL was found, for `status` and `-v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    /// `--direct-url`
    DirectFlag,
    /// `DIRECT_DATABASE_URL`
    DirectEnv,
    DotEnv(PathBuf),
    /// Nothing configured: the embedded instance under this data directory.
    Embedded(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => write!(f, "--database-url"),
            Source::Env => write!(f, "DATABASE_URL"),
            Source::DirectFlag => write!(f, "--direct-url"),
            Source::DirectEnv => write!(f, "DIRECT_DATABASE_URL"),
            Source::DotEnv(p) => write!(f, "{}", p.display()),
            Source::Embedded(p) => write!(f, "embedded instance in {}", p.display()),
        }
    }
}

/// A database to connect to.
#[derive(Debug, Clone)]
pub struct Target {
    /// Displays redacted; `url.libpq()` holds the password.
    pub url: PgUrl,
    /// What `status` and `-v` show: the URL redacted.
    pub display: String,
    pub source: Source,
}

impl Target {
    pub fn new(url: PgUrl, source: Source) -> Target {
        Target {
            display: url.to_string(),
            url,
            source,
        }
    }
}

/// Values a `.env` file gives us; nothing in it is exported to the environment.
#[derive(Debug, Default)]
struct DotEnv {
    database_url: Option<String>,
    direct_url: Option<String>,
    ssl_mode: Option<String>,
}

fn read_dotenv(path: &Path) -> Result<DotEnv> {
    let iter = dotenvy::from_path_iter(path).map_err(|e| {
        Error::usage(format!(
            "cannot read {}: {}",
            path.display(),
            dotenv_reason(&e)
        ))
    })?;
    let mut out = DotEnv::default();
    for item in iter {
        let (key, value) = item.map_err(|e| {
            Error::usage(format!(
                "cannot read {}: {}",
                path.display(),
                dotenv_reason(&e)
            ))
        })?;
        match key.as_str() {
            "DATABASE_URL" => out.database_url = Some(value),
            "DIRECT_DATABASE_URL" => out.direct_url = Some(value),
            "DATABASE_SSL_MODE" => out.ssl_mode = Some(value),
            _ => {}
        }
    }
    Ok(out)
}

/// dotenvy's errors can quote the offending line, which may hold a password.
fn dotenv_reason(err: &dotenvy::Error) -> String {
    match err {
        dotenvy::Error::LineParse(_, index) => format!("malformed line near character {index}"),
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "malformed file".to_string(),
    }
}

/// Which of the two configured URLs to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// `--database-url` / `DATABASE_URL`: every command.
    Main,
    /// `--direct-url` / `DIRECT_DATABASE_URL`: the server without a pooler in between.
    Direct,
}

/// Resolve the database URL as the contract orders it. `Ok(None)`: nothing configured.
pub fn resolve(
    flag: Option<&str>,
    env_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Target>> {
    resolve_which(Which::Main, flag, env_file, env)
}

/// Resolve the direct URL (`--direct-url`, `DIRECT_DATABASE_URL`, then `.env`), which
/// backups, restores and migrations use to bypass a connection pooler. `Ok(None)`: not set.
pub fn resolve_direct(
    flag: Option<&str>,
    env_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Target>> {
    resolve_which(Which::Direct, flag, env_file, env)
}

fn resolve_which(
    which: Which,
    flag: Option<&str>,
    env_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Target>> {
    let dotenv = match env_file {
        Some(path) => {
            if !path.is_file() {
                return Err(Error::usage(format!(
                    "env file {} does not exist",
                    path.display()
                )));
            }
            Some((path.to_path_buf(), read_dotenv(path)?))
        }
        None => {
            let path = PathBuf::from(".env");
            if path.is_file() {
                Some((path.clone(), read_dotenv(&path)?))
            } else {
                None
            }
        }
    };
    let ssl_mode = env("DATABASE_SSL_MODE")
        .filter(|s| !s.is_empty())
        .or_else(|| dotenv.as_ref().and_then(|(_, d)| d.ssl_mode.clone()));

    let (var, flag_source, env_source) = match which {
        Which::Main => ("DATABASE_URL", Source::Flag, Source::Env),
        Which::Direct => ("DIRECT_DATABASE_URL", Source::DirectFlag, Source::DirectEnv),
    };
    let from_dotenv = |d: DotEnv| match which {
        Which::Main => d.database_url,
        Which::Direct => d.direct_url,
    };
    let (raw, source) = if let Some(url) = flag {
        (url.to_string(), flag_source)
    } else if let Some(url) = env(var).filter(|s| !s.is_empty()) {
        (url, env_source)
    } else if let Some((path, url)) = dotenv.and_then(|(p, d)| from_dotenv(d).map(|u| (p, u))) {
        (url, Source::DotEnv(path))
    } else {
        return Ok(None);
    };
    Ok(Some(Target::new(
        PgUrl::parse(&raw, ssl_mode.as_deref())?,
        source,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_env_beats_dotenv() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.env");
        std::fs::write(
            &file,
            "SECRET_KEY=x\nDATABASE_URL=postgresql+psycopg://a:filepw99@filehost/db\n",
        )
        .unwrap();
        let env_url = |k: &str| (k == "DATABASE_URL").then(|| "postgres://envhost/db".to_string());
        let no_env = |_: &str| None;
        let t = resolve(Some("postgres://flaghost/db"), Some(&file), &env_url)
            .unwrap()
            .unwrap();
        assert_eq!(t.source, Source::Flag);
        let t = resolve(None, Some(&file), &env_url).unwrap().unwrap();
        assert_eq!(t.source, Source::Env);
        let t = resolve(None, Some(&file), &no_env).unwrap().unwrap();
        assert_eq!(t.source, Source::DotEnv(file.clone()));
        assert_eq!(
            t.display,
            "postgresql://a:***@filehost/db?connect_timeout=10"
        );
    }
}
