//! Where the database URL comes from (flag > DATABASE_URL > .env) and how it becomes a
//! libpq URL: SQLAlchemy schemes accepted, sslmode and connect_timeout filled in,
//! the password registered for redaction.

use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

use crate::error::{register_secret, Error, Result};

/// Seconds libpq waits for a connection when the URL does not say.
pub const DEFAULT_CONNECT_TIMEOUT: u32 = 10;

const SCHEMES: &[&str] = &[
    "postgres",
    "postgresql",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "postgresql+asyncpg",
    "postgresql+pg8000",
];

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
    /// The URL handed to libpq. Holds the password: never print it.
    pub url: String,
    /// The same URL with its password replaced by `***`.
    pub display: String,
    pub source: Source,
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
    let url = normalize(&raw, ssl_mode.as_deref())?;
    let display = redact_url(&url);
    Ok(Some(Target {
        url,
        display,
        source,
    }))
}

/// Turn an accepted URL into a libpq URL. Registers its password for redaction.
pub fn normalize(raw: &str, ssl_mode: Option<&str>) -> Result<String> {
    normalize_with(raw, ssl_mode, true)
}

/// `normalize` without registering the password, for the fuzz target (millions of
/// throwaway passwords must not join the process's secret list).
#[doc(hidden)]
pub fn normalize_unregistered(raw: &str, ssl_mode: Option<&str>) -> Result<String> {
    normalize_with(raw, ssl_mode, false)
}

/// `normalize`, registering the password only when asked (property tests generate
/// thousands of throwaway passwords that must not join the process's secret list).
fn normalize_with(raw: &str, ssl_mode: Option<&str>, register: bool) -> Result<String> {
    let raw = raw.trim();
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err(Error::usage("invalid database URL: expected SCHEME://...")
            .with_hint("use postgresql://USER:PASSWORD@HOST:PORT/DATABASE"));
    };
    if let Some(pw) = url_password(rest).filter(|_| register) {
        register_secret(&pw);
        if let Ok(decoded) = percent_decode_str(&pw).decode_utf8() {
            register_secret(&decoded);
        }
    }
    let scheme_lc = scheme.to_ascii_lowercase();
    if !SCHEMES.contains(&scheme_lc.as_str()) {
        return Err(Error::usage(format!(
            "unsupported database URL scheme '{}'",
            crate::error::redact(scheme)
        ))
        .with_hint(
            "stackctl speaks PostgreSQL only: postgresql://, postgres:// or postgresql+DRIVER://",
        ));
    }
    if raw.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Error::usage(
            "invalid database URL: it contains spaces or control characters",
        ));
    }
    check_ports(rest)?;
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(q) = query {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            // asyncpg spells libpq's sslmode as `ssl`.
            let k = if k == "ssl" { "sslmode" } else { k };
            params.push((k.to_string(), v.to_string()));
        }
    }
    let has = |params: &[(String, String)], key: &str| params.iter().any(|(k, _)| k == key);
    const SSL_MODES: &[&str] = &[
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ];
    let check_mode = |m: &str, from: &str| {
        if SSL_MODES.contains(&m) {
            Ok(())
        } else {
            Err(Error::usage(format!("invalid sslmode '{m}' in {from}"))
                .with_hint(format!("use one of {}", SSL_MODES.join(", "))))
        }
    };
    for (k, v) in &params {
        if k == "sslmode" {
            check_mode(
                &percent_decode_str(v).decode_utf8_lossy(),
                "the database URL",
            )?;
        }
    }
    if let Some(mode) = ssl_mode.filter(|m| !m.is_empty()) {
        if !has(&params, "sslmode") {
            check_mode(mode, "DATABASE_SSL_MODE")?;
        }
    }
    if let Some(mode) = ssl_mode.filter(|m| !m.is_empty()) {
        if !has(&params, "sslmode") {
            params.push(("sslmode".into(), mode.to_string()));
        }
    }
    if !has(&params, "connect_timeout") {
        params.push((
            "connect_timeout".into(),
            DEFAULT_CONNECT_TIMEOUT.to_string(),
        ));
    }
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let url = format!("postgresql://{base}?{}", query.join("&"));
    check_with_libpq(&url)?;
    Ok(url)
}

/// libpq only notices a bad port when it connects (exit 5); it is a typo (exit 2).
fn check_ports(rest: &str) -> Result<()> {
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let hosts = match rest[..authority_end].rsplit_once('@') {
        Some((_, h)) => h,
        None => &rest[..authority_end],
    };
    for spec in hosts.split(',') {
        let port = match spec.rsplit_once(']') {
            Some((_, after)) => after.strip_prefix(':'),
            None => spec.split_once(':').map(|(_, p)| p),
        };
        if let Some(p) = port {
            if p.parse::<u16>().map_or(true, |n| n == 0) {
                return Err(Error::usage(format!(
                    "invalid database URL: port {:?} is not a number from 1 to 65535",
                    crate::error::redact(p)
                )));
            }
        }
    }
    Ok(())
}

/// The password part of `user:password@host...`, still percent-encoded.
fn url_password(rest: &str) -> Option<String> {
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    Some(pw.to_string())
}

/// The URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return crate::error::redact(url);
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    crate::error::redact(&format!("{scheme}://{authority}{tail}"))
}

/// Let libpq itself judge the URL's syntax, so a malformed one is a usage error (2)
/// rather than a connection failure (5).
fn check_with_libpq(url: &str) -> Result<()> {
    let c_url = std::ffi::CString::new(url)
        .map_err(|_| Error::usage("invalid database URL: it contains a NUL byte"))?;
    let mut errmsg: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: c_url is a valid C string; PQconninfoParse returns either an options
    // array or NULL with an error message, both of which we free with libpq's own calls.
    unsafe {
        let opts = pq_sys::PQconninfoParse(c_url.as_ptr(), &mut errmsg);
        if !opts.is_null() {
            pq_sys::PQconninfoFree(opts);
            return Ok(());
        }
        let msg = if errmsg.is_null() {
            "libpq could not parse it".to_string()
        } else {
            let m = std::ffi::CStr::from_ptr(errmsg)
                .to_string_lossy()
                .trim()
                .to_string();
            pq_sys::PQfreemem(errmsg.cast());
            m
        };
        Err(Error::usage(format!(
            "invalid database URL: {}",
            crate::error::redact(&msg)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_schemes_become_libpq_urls() {
        for scheme in [
            "postgresql+psycopg",
            "postgresql+psycopg2",
            "postgresql+asyncpg",
            "postgresql+pg8000",
            "postgres",
            "postgresql",
        ] {
            let url = normalize(&format!("{scheme}://u:pw@localhost:5432/db"), None).unwrap();
            assert_eq!(
                url,
                "postgresql://u:pw@localhost:5432/db?connect_timeout=10"
            );
        }
    }

    #[test]
    fn other_schemes_are_usage_errors() {
        for raw in ["mysql://u@h/db", "sqlite:///x.db", "http://h", "no-scheme"] {
            assert_eq!(normalize(raw, None).unwrap_err().exit_code(), 2, "{raw}");
        }
    }

    #[test]
    fn ssl_mode_fills_in_only_when_absent() {
        assert_eq!(
            normalize("postgresql://h/db", Some("require")).unwrap(),
            "postgresql://h/db?sslmode=require&connect_timeout=10"
        );
        assert_eq!(
            normalize(
                "postgresql://h/db?sslmode=disable&connect_timeout=3",
                Some("require")
            )
            .unwrap(),
            "postgresql://h/db?sslmode=disable&connect_timeout=3"
        );
        assert_eq!(
            normalize("postgresql+asyncpg://h/db?ssl=require", None).unwrap(),
            "postgresql://h/db?sslmode=require&connect_timeout=10"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        let url = normalize("postgresql://admin:hunter2secret@db:5432/app", None).unwrap();
        assert_eq!(
            redact_url(&url),
            "postgresql://admin:***@db:5432/app?connect_timeout=10"
        );
        assert_eq!(
            crate::error::redact("failed for hunter2secret"),
            "failed for ***"
        );
    }

    #[test]
    fn libpq_rejects_malformed_urls() {
        assert_eq!(
            normalize("postgresql://h:notaport/db", None)
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            normalize("postgresql://h/db?nosuchoption=1", None)
                .unwrap_err()
                .exit_code(),
            2
        );
    }

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

/// A fuzz loop for the URL normaliser: any string, no panic, no password in what it shows;
/// a normalised URL normalises to itself. `PROPTEST_CASES` scales it up.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases()))]

        #[test]
        fn any_string_is_handled(raw in any::<String>()) {
            let _ = normalize_with(&raw, None, false);
        }

        #[test]
        fn url_shaped_strings_normalise_idempotently(
            scheme in prop::sample::select(vec!["postgres", "postgresql", "postgresql+psycopg", "postgresql+asyncpg", "mysql"]),
            user in "[a-z]{1,8}",
            pw in "[A-Za-z0-9%!*]{0,12}",
            host in "[a-z0-9.-]{1,20}",
            port in prop::option::of(0u32..70000),
            db in "[a-z_]{0,10}",
            query in "[a-z_=&%0-9]{0,30}",
            mode in prop::option::of("[a-z-]{0,12}"),
        ) {
            let auth = if pw.is_empty() { user.clone() } else { format!("{user}:{pw}") };
            let port = port.map_or(String::new(), |p| format!(":{p}"));
            let raw = format!("{scheme}://{auth}@{host}{port}/{db}?{query}");
            if let Ok(url) = normalize_with(&raw, mode.as_deref(), false) {
                prop_assert!(url.starts_with("postgresql://"));
                prop_assert!(url.contains("connect_timeout="));
                let again = normalize_with(&url, mode.as_deref(), false).expect("a normalised URL is accepted");
                prop_assert_eq!(&again, &url);
                if pw.len() >= 6 {
                    prop_assert!(!redact_url(&url).contains(&pw));
                }
            }
        }
    }
}
