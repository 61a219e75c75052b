//! The URL as text, before and beside libpq: the schemes and options the contract
//! accepts filled in (`normalize`), the password found where it is spelled
//! (`encoded_passwords`) and hidden (`redact_url`).

use percent_encoding::percent_decode_str;

use super::DEFAULT_CONNECT_TIMEOUT;
use crate::error::{Error, Result};

const SCHEMES: &[&str] = &[
    "postgres",
    "postgresql",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "postgresql+asyncpg",
    "postgresql+pg8000",
];

const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// The password as it is spelled in a URL (percent-encoded), wherever it stands; `rest`
/// is what follows `scheme://`.
pub(super) fn encoded_passwords(rest: &str) -> Vec<&str> {
    let parts = split(rest);
    let mut out = Vec::new();
    if let Some((_, pw)) = parts.userinfo.and_then(|u| u.split_once(':')) {
        out.push(pw);
    }
    for pair in parts.query.unwrap_or("").split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            if SECRET_KEYS.contains(&k) {
                out.push(v);
            }
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The libpq options whose values are secrets: shown as `***`, never on a child's command
/// line.
pub(super) const SECRET_KEYS: &[&str] = &["password", "sslpassword"];

/// What follows `scheme://`, cut where SQLAlchemy cuts it, so that the application's own
/// URL means the same here: the userinfo is a user name without `:` or `/`, then
/// optionally `:` and a password up to the first `@` (which may hold `/`, `?`, `#` and
/// `:` raw); the query starts at the first `?` after that, the path at the first `/`
/// before the query.
struct Parts<'a> {
    userinfo: Option<&'a str>,
    hosts: &'a str,
    /// `/dbname`, or empty.
    path: &'a str,
    query: Option<&'a str>,
}

fn split(rest: &str) -> Parts<'_> {
    let userinfo_end = rest.find('@').filter(|&at| {
        let user = rest[..at].split(':').next().unwrap_or("");
        !user.contains('/')
    });
    let (userinfo, after) = match userinfo_end {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (before_query, query) = match after.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (after, None),
    };
    let (hosts, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    Parts {
        userinfo,
        hosts,
        path,
        query,
    }
}

/// Turn an accepted URL into a libpq URL: scheme `postgresql://`, asyncpg's `ssl=` as
/// `sslmode=`, `DATABASE_SSL_MODE` when the URL has no sslmode, a connect_timeout.
pub(super) fn normalize(raw: &str, ssl_mode: Option<&str>) -> Result<String> {
    let raw = raw.trim();
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err(Error::usage("invalid database URL: expected SCHEME://...")
            .with_hint("use postgresql://USER:PASSWORD@HOST:PORT/DATABASE"));
    };
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
    let parts = split(rest);
    // Nothing of the text between `scheme://` and the host is echoed below: a password
    // with an `@` or `&` of its own would be cut there, and part of it shown.
    if parts.hosts.contains('@') {
        return Err(
            Error::usage("invalid database URL: more than one '@' before the host")
                .with_hint("percent-encode an '@' inside the user name or password as %40"),
        );
    }
    check_ports(parts.hosts)?;
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in parts
        .query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(Error::usage(
                "invalid database URL: a query parameter has no '=' and value",
            )
            .with_hint("percent-encode a '&' inside a password as %26"));
        };
        // asyncpg spells libpq's sslmode as `ssl`.
        let k = if k == "ssl" { "sslmode" } else { k };
        params.push((k.to_string(), v.to_string()));
    }
    let has = |params: &[(String, String)], key: &str| params.iter().any(|(k, _)| k == key);
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
    let userinfo = parts
        .userinfo
        .map_or(String::new(), |u| format!("{}@", libpq_userinfo(u)));
    Ok(format!(
        "postgresql://{userinfo}{}{}?{}",
        parts.hosts,
        parts.path,
        query.join("&")
    ))
}

/// The userinfo as libpq's URI parser reads it: the characters SQLAlchemy takes raw in a
/// password but libpq would take for the end of the userinfo or host (`/`, `?`, `#`, `[`,
/// `]`) percent-encoded; what is already percent-encoded stays as it is.
fn libpq_userinfo(userinfo: &str) -> String {
    let mut out = String::with_capacity(userinfo.len());
    for c in userinfo.chars() {
        match c {
            '/' => out.push_str("%2F"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            c => out.push(c),
        }
    }
    out
}

/// libpq only notices a bad port when it connects (exit 5); it is a typo (exit 2).
fn check_ports(hosts: &str) -> Result<()> {
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

/// A URL with its password replaced by `***`, in the userinfo and in a `password=`
/// parameter alike, then every registered secret redacted too.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return crate::error::redact(url);
    };
    let parts = split(rest);
    let userinfo = match parts.userinfo {
        Some(u) => match u.split_once(':') {
            Some((user, _)) => format!("{user}:***@"),
            None => format!("{u}@"),
        },
        None => String::new(),
    };
    let query = parts.query.map_or(String::new(), |q| {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if SECRET_KEYS.contains(&k) => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        format!("?{}", pairs.join("&"))
    });
    crate::error::redact(&format!(
        "{scheme}://{userinfo}{}{}{query}",
        parts.hosts, parts.path
    ))
}
