//! The checks of one column's value, with the reasons a bad row is listed by. A column is
//! `Option<Option<String>>`: absent (`None`), null (`Some(None)`) or text.

use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

/// A column as a row holds it.
pub type Column = Option<Option<String>>;

/// The column's text, if it has any (absent and null have none).
pub fn text(c: &Column) -> Option<&str> {
    c.as_ref().and_then(|v| v.as_deref())
}

/// The column's text, which must be there.
pub fn required<'a>(c: &'a Column, column: &str) -> Result<&'a str, String> {
    text(c).ok_or_else(|| format!("{column} is required"))
}

/// Absent: `default`; null: NULL; else true/false.
pub fn flag(c: &Column, column: &str, default: bool) -> Result<Option<bool>, String> {
    match c {
        None => Ok(Some(default)),
        Some(None) => Ok(None),
        Some(Some(v)) => parse_bool(column, v).map(Some),
    }
}

/// Absent: `now`; null: NULL; else a time.
pub fn time(c: &Column, column: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    match c {
        None => Ok(Some(now)),
        Some(None) => Ok(None),
        Some(Some(v)) => parse_time(column, v).map(Some),
    }
}

/// Absent or null: a new id.
pub fn id(c: &Column) -> Result<Uuid, String> {
    match text(c) {
        Some(v) => uuid("id", v),
        None => Ok(Uuid::new_v4()),
    }
}

/// A UUID in `column`.
pub fn uuid(column: &str, raw: &str) -> Result<Uuid, String> {
    Uuid::parse_str(raw.trim()).map_err(|_| format!("{column} '{raw}' is not a UUID"))
}

/// `true/false`, `t/f`, `yes/no`, `1/0`, any case.
pub fn parse_bool(column: &str, raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "0" => Ok(false),
        _ => Err(format!("{column} '{raw}' is not true or false")),
    }
}

/// RFC 3339 (`2026-11-22T10:00:00Z`) or PostgreSQL's text form (`2026-11-22 10:00:00+00`).
pub fn parse_time(column: &str, raw: &str) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{column} '{raw}' is not a time like 2026-11-22T10:00:00Z"))
        .and_then(|t| {
            // A leap second (`23:59:60.5`) is the next minute's first, as PostgreSQL
            // reads `23:59:60` (it refuses a fraction of the sixtieth second).
            let nanos = t.timestamp_subsec_nanos();
            let t = match nanos.checked_sub(1_000_000_000) {
                Some(into_next) => {
                    DateTime::from_timestamp(t.timestamp() + 1, into_next).unwrap_or(t)
                }
                None => t,
            };
            if (1..=9999).contains(&t.year()) {
                Ok(t)
            } else {
                Err(format!("{column} '{raw}' is not in the years 1 to 9999"))
            }
        })
}

/// A bcrypt hash as passlib and the application write it: `$2a$`, `$2b$` or `$2y$`,
/// a two-digit cost from 04 to 31, 53 characters of bcrypt's base64.
pub fn check_bcrypt_hash(raw: &str) -> Result<(), String> {
    let bad = || "hashed_password is not a bcrypt hash ($2b$NN$ and 53 characters)".to_string();
    let b = raw.as_bytes();
    // ASCII first: the checks below index bytes, and a multi-byte character must not
    // land across one of those indexes (`$2b$€...`).
    if !raw.is_ascii()
        || b.len() != 60
        || !(raw.starts_with("$2a$") || raw.starts_with("$2b$") || raw.starts_with("$2y$"))
    {
        return Err(bad());
    }
    let cost: u32 = raw[4..6].parse().map_err(|_| bad())?;
    if !(4..=31).contains(&cost) || b[6] != b'$' {
        return Err(bad());
    }
    if !b[7..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
    {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values() {
        assert_eq!(parse_bool("x", "T"), Ok(true));
        assert!(parse_bool("x", "maybe").is_err());
        assert_eq!(
            parse_time("t", "2026-11-22 22:32:01.885501+00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-22T22:32:01.885501+00:00"
        );
        assert!(parse_time("t", "yesterday").is_err());
        assert_eq!(
            parse_time("t", "2016-12-31T23:59:60.5Z")
                .unwrap()
                .to_rfc3339(),
            "2017-01-01T00:00:00.500+00:00"
        );
        // Years PostgreSQL reads in the form CSV sends them, as binary COPY stores them.
        for (raw, ok) in [
            ("0001-01-01T00:00:00Z", true),
            ("9999-12-31T23:59:59.999999Z", true),
            ("0000-12-31T23:59:59Z", false),
            ("-0044-03-15 12:00:00+00", false),
            ("+10000-01-01 00:00:00+00", false),
        ] {
            assert_eq!(parse_time("t", raw).is_ok(), ok, "{raw}");
        }
        assert!(parse_time("t", "-0044-03-15 12:00:00+00")
            .unwrap_err()
            .contains("years 1 to 9999"));
        let h = bcrypt::hash_with_result("pw", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert_eq!(check_bcrypt_hash(&h), Ok(()));
        assert!(check_bcrypt_hash("$2b$04$short").is_err());
        assert!(check_bcrypt_hash(&h.replace("$04$", "$99$")).is_err());
        // Multi-byte characters where the cost is read, and where the salt starts.
        let euro = format!("$2b$€{}", &h[7..]);
        assert_eq!(euro.len(), 60);
        assert!(check_bcrypt_hash(&euro).is_err());
        assert!(check_bcrypt_hash(&format!("{}é{}", &h[..5], &h[7..])).is_err());
    }

    #[test]
    fn absent_null_and_text() {
        let now = Utc::now();
        assert_eq!(flag(&None, "f", true), Ok(Some(true)));
        assert_eq!(flag(&Some(None), "f", true), Ok(None));
        assert_eq!(time(&None, "t", now), Ok(Some(now)));
        assert_eq!(time(&Some(None), "t", now), Ok(None));
        assert_eq!(
            required(&Some(None), "email"),
            Err("email is required".into())
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases() / 3))]

        /// Exactly 60 bytes with bcrypt's prefix and anything at all where the cost and
        /// the salt begin: where a multi-byte character once split a byte index.
        #[test]
        fn hash_shaped_values_never_panic(
            prefix in prop::sample::select(vec!["$2a$", "$2b$", "$2y$"]),
            odd in prop::collection::vec(any::<char>(), 1..4),
            pad in "[./A-Za-z0-9]{60}",
        ) {
            let mut raw: String = prefix.to_string();
            raw.extend(odd);
            raw.push_str(&pad[..60usize.saturating_sub(raw.len())]);
            let _ = check_bcrypt_hash(&raw);
        }

        #[test]
        fn value_checks_never_panic(raw in any::<String>()) {
            let _ = check_bcrypt_hash(&raw);
            let _ = parse_bool("is_active", &raw);
            let _ = parse_time("created_at", &raw);
        }
    }
}
