//! Values given on the command line rather than stored as a row's field: a search
//! pattern, a duration, a database name, a UUID.

use crate::error::{Error, Result};

/// Text for `--search`: matched literally, so LIKE's wildcards are escaped.
pub fn like_pattern(raw: &str) -> Result<String> {
    if raw.contains('\0') {
        return Err(Error::invalid("search", "it contains a NUL byte"));
    }
    let mut out = String::with_capacity(raw.len() + 2);
    out.push('%');
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    Ok(out)
}

/// A duration as operators write it: `250ms`, `90s`, `15m`, `24h`, `7d`, `2w`.
pub fn duration(field: &str, raw: &str) -> Result<chrono::TimeDelta> {
    let raw = raw.trim();
    let bad = || {
        Error::invalid(field, format!("'{raw}' is not a duration"))
            .with_hint("use a number and a unit: 250ms, 90s, 15m, 24h, 7d, 2w")
    };
    if let Some(ms) = raw.strip_suffix("ms") {
        let n: i64 = ms.parse().map_err(|_| bad())?;
        if n < 0 {
            return Err(bad());
        }
        return chrono::TimeDelta::try_milliseconds(n).ok_or_else(bad);
    }
    let unit = raw.chars().last().ok_or_else(bad)?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(bad()),
    };
    let n: i64 = raw[..raw.len() - 1].parse().map_err(|_| bad())?;
    if n < 0 {
        return Err(bad());
    }
    n.checked_mul(secs)
        .and_then(chrono::TimeDelta::try_seconds)
        .ok_or_else(bad)
}

/// A database stackctl creates (`backup restore --into NAME`): 1 to 63 of `A-Z a-z 0-9
/// _`, not starting with a digit, and not one of PostgreSQL's templates. Such a name
/// needs nothing but double quotes in SQL and nothing at all in a URL or a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseName(String);

impl DatabaseName {
    pub fn parse(raw: &str) -> Result<Self> {
        let field = "database name";
        if raw.is_empty() || raw.len() > 63 {
            return Err(Error::invalid(field, "it must be 1 to 63 characters long"));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || raw.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(Error::invalid(
                field,
                format!("{raw:?} must be letters, digits and _, not starting with a digit"),
            ));
        }
        if raw == "template0" || raw == "template1" {
            return Err(Error::invalid(
                field,
                format!("{raw} is one of PostgreSQL's template databases"),
            ));
        }
        Ok(DatabaseName(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an SQL identifier (always quoted, so capitals stay capitals).
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

/// An id given on the command line: a whole UUID, or a unique prefix of one (at least 4
/// hex digits, hyphens allowed), as git and docker take a prefix of a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdArg {
    Full(uuid::Uuid),
    Prefix(IdPrefix),
}

/// A prefix of a UUID: the range of UUIDs it stands for, which an index on the id scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPrefix {
    pub text: String,
    pub lo: uuid::Uuid,
    pub hi: uuid::Uuid,
}

impl IdPrefix {
    /// `raw` as a prefix: 4 to 31 hex digits once hyphens are taken out.
    pub fn parse(raw: &str) -> Option<IdPrefix> {
        let hex: String = raw
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_lowercase();
        if !(4..32).contains(&hex.len()) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let bound = |fill: char| {
            let full: String = hex
                .chars()
                .chain(std::iter::repeat(fill))
                .take(32)
                .collect();
            u128::from_str_radix(&full, 16)
                .ok()
                .map(uuid::Uuid::from_u128)
        };
        Some(IdPrefix {
            text: raw.to_string(),
            lo: bound('0')?,
            hi: bound('f')?,
        })
    }
}

/// An id argument (`item show ID`): a UUID or a prefix of one; anything else is exit 2.
pub fn id_arg(field: &str, raw: &str) -> Result<IdArg> {
    if let Ok(id) = uuid::Uuid::parse_str(raw) {
        return Ok(IdArg::Full(id));
    }
    IdPrefix::parse(raw).map(IdArg::Prefix).ok_or_else(|| {
        Error::invalid(
            field,
            format!("{raw:?} is not a UUID nor a prefix of one (at least 4 hex digits)"),
        )
    })
}

/// A UUID given on the command line (`item show ID`).
pub fn uuid(field: &str, raw: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|_| Error::invalid(field, format!("{raw:?} is not a UUID")))
}

#[cfg(test)]
mod prefix_tests {
    use super::*;

    #[test]
    fn a_prefix_stands_for_the_range_of_uuids_it_begins() {
        let p = IdPrefix::parse("6F1C-2a").unwrap();
        assert_eq!(p.lo.to_string(), "6f1c2a00-0000-0000-0000-000000000000");
        assert_eq!(p.hi.to_string(), "6f1c2aff-ffff-ffff-ffff-ffffffffffff");
        assert!(IdPrefix::parse("6f1").is_none());
        assert!(IdPrefix::parse("6f1z").is_none());
        assert!(IdPrefix::parse("").is_none());
        assert!(matches!(id_arg("id", "6f1c"), Ok(IdArg::Prefix(_))));
        assert_eq!(id_arg("id", "x").unwrap_err().exit_code(), 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names() {
        for ok in ["app_restored", "App2", "_x", &"a".repeat(63)] {
            assert_eq!(DatabaseName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "1app",
            "a-b",
            "a b",
            "a\"b",
            "x;DROP",
            "café",
            "template1",
            &"a".repeat(64),
        ] {
            let err = DatabaseName::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(err.message.contains("database name"), "{}", err.message);
        }
        assert_eq!(DatabaseName::parse("App").unwrap().quoted(), "\"App\"");
    }

    #[test]
    fn like_patterns_are_literal() {
        assert_eq!(like_pattern("50%_a\\b").unwrap(), "%50\\%\\_a\\\\b%");
    }
}
