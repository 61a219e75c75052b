//! Input becomes a newtype at the edge, so `db/` never receives bad data.
//! Each parser returns `Error::invalid(field, reason)`: exit 2, naming the field. The
//! values of a row are here; those only the command line gives are `args.rs`'s.

mod args;

pub use args::{duration, id_arg, like_pattern, uuid, DatabaseName, IdArg, IdPrefix};

use bigdecimal::BigDecimal;

use crate::error::{Error, Result};

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self> {
        let field = "email";
        if raw.is_empty() {
            return Err(Error::invalid(field, "it is empty"));
        }
        if raw.chars().count() > 255 {
            return Err(Error::invalid(field, "it is longer than 255 characters"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Error::invalid(
                field,
                "it contains spaces or control characters",
            ));
        }
        let mut parts = raw.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::invalid(field, "it must contain exactly one '@'"));
        };
        if local.is_empty() {
            return Err(Error::invalid(field, "the part before '@' is empty"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
            return Err(Error::invalid(
                field,
                format!("'{domain}' is not a domain with a dot"),
            ));
        }
        Ok(Email(raw.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self> {
        let field = "username";
        let len = raw.chars().count();
        if !(3..=100).contains(&len) {
            return Err(Error::invalid(field, "it must be 3 to 100 characters long"));
        }
        if let Some(c) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(Error::invalid(
                field,
                format!("{c:?} is not allowed (use A-Z a-z 0-9 . _ -)"),
            ));
        }
        Ok(Username(raw.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short text: full name (may be empty) or title (may not).
fn short_text(field: &str, raw: &str, allow_empty: bool) -> Result<String> {
    if !allow_empty && raw.trim().is_empty() {
        return Err(Error::invalid(field, "it is empty"));
    }
    if raw.chars().count() > 255 {
        return Err(Error::invalid(field, "it is longer than 255 characters"));
    }
    if has_control(raw) {
        return Err(Error::invalid(field, "it contains control characters"));
    }
    Ok(raw.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(raw: &str) -> Result<Self> {
        short_text("full name", raw, true).map(FullName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self> {
        short_text("title", raw, false).map(Title)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text; only a NUL byte is refused (PostgreSQL cannot store it), and a text past
/// PostgreSQL's 1 GB bound for one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

/// Whether `len` bytes fit one PostgreSQL value (1 GB less its 4-byte header).
pub fn fits_a_value(len: usize) -> bool {
    len < (1 << 30) - 4
}

impl Description {
    pub fn parse(raw: &str) -> Result<Self> {
        if raw.contains('\0') {
            return Err(Error::invalid("description", "it contains a NUL byte"));
        }
        if !fits_a_value(raw.len()) {
            return Err(Error::invalid(
                "description",
                "it is longer than 1 GB, PostgreSQL's limit for one value",
            ));
        }
        Ok(Description(raw.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A price: `0` to `99999999.99`, plain decimal notation, at most two places.
/// Checked as text and then parsed as a decimal: never through a float.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    value: BigDecimal,
    /// The same value in hundredths (at most 9,999,999,999), for binary COPY.
    cents: u64,
}

impl Price {
    pub fn parse(raw: &str) -> Result<Self> {
        Self::parse_field("price", raw)
    }

    pub fn parse_field(field: &str, raw: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid(field, format!("{raw:?} {why}"));
        if raw.starts_with('-') {
            return Err(bad("is negative; prices start at 0"));
        }
        let (int, frac) = match raw.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (raw, None),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("is not a plain decimal number (like 12 or 12.50)"));
        }
        if let Some(f) = frac {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("is not a plain decimal number (like 12 or 12.50)"));
            }
            if f.len() > 2 {
                return Err(bad("has more than two decimal places"));
            }
        }
        if int.trim_start_matches('0').len() > 8 {
            return Err(bad("is more than 99999999.99"));
        }
        // Digits only, at most eight before the point and two after: these cannot fail
        // (all zeros before the point trim to "", which is 0).
        let whole: u64 = int.trim_start_matches('0').parse().unwrap_or(0);
        let hundredths: u64 = match frac.map(str::as_bytes) {
            Some([a]) => u64::from(a - b'0') * 10,
            Some([a, b]) => u64::from(a - b'0') * 10 + u64::from(b - b'0'),
            _ => 0,
        };
        Ok(Price::from_cents(whole * 100 + hundredths))
    }

    pub fn zero() -> Self {
        Price::from_cents(0)
    }

    /// The decimal with two places, from its hundredths.
    fn from_cents(cents: u64) -> Self {
        Price {
            value: BigDecimal::new(bigdecimal::num_bigint::BigInt::from(cents), 2),
            cents,
        }
    }
    pub fn value(&self) -> &BigDecimal {
        &self.value
    }
    /// The price in hundredths: `12.5` is 1250.
    pub fn cents(&self) -> u64 {
        self.cents
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@example.com", "BOB@Example.COM"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@@b.com",
            "a@b@c.com",
            "a@localhost",
            "a b@c.com",
            "a@c.com\n",
            "a@.com",
            "a@com.",
            &long,
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(err.message.contains("email"), "{}", err.message);
        }
    }

    #[test]
    fn usernames() {
        for ok in ["bob", "a.b_c-d", &"x".repeat(100)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "",
            "has space",
            "émile",
            "semi;colon",
            &"x".repeat(101),
        ] {
            assert!(
                Username::parse(bad)
                    .unwrap_err()
                    .message
                    .contains("username"),
                "{bad}"
            );
        }
    }

    #[test]
    fn prices_accepted() {
        for (raw, shown) in [
            ("0", "0.00"),
            ("12", "12.00"),
            ("12.5", "12.50"),
            ("12.50", "12.50"),
            ("99999999.99", "99999999.99"),
            ("007.1", "7.10"),
        ] {
            assert_eq!(
                Price::parse(raw).unwrap().value().to_plain_string(),
                shown,
                "{raw}"
            );
        }
    }

    #[test]
    fn prices_refused() {
        for raw in [
            "1.234",
            "-1",
            "1e3",
            "100000000",
            "NaN",
            "inf",
            "1,5",
            "0x10",
            " 1",
            "1 ",
            "",
            ".5",
            "5.",
            "+1",
            "1.2.3",
            "١٢",
        ] {
            assert_eq!(Price::parse(raw).unwrap_err().exit_code(), 2, "{raw:?}");
        }
    }

    #[test]
    fn titles() {
        assert!(Title::parse("").is_err());
        assert!(Title::parse("tab\there").is_err());
        assert!(Title::parse(&"t".repeat(256)).is_err());
        assert!(fits_a_value((1 << 30) - 5));
        assert!(!fits_a_value((1 << 30) - 4));
        assert!(Title::parse(&"é".repeat(255)).is_ok());
    }
}

/// Property tests, and a fuzz loop for the price parser: any string at all, no panic;
/// what is accepted is canonical and re-parses to itself. `PROPTEST_CASES` scales it up
/// (docs/security.md has a long run).
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases()))]

        #[test]
        fn price_parser_never_panics_and_accepts_only_canonical_values(raw in any::<String>()) {
            if let Ok(p) = Price::parse(&raw) {
                let text = crate::db::models::format_price(p.value());
                let again = Price::parse(&text).expect("canonical form re-parses");
                prop_assert_eq!(again.value(), p.value());
                prop_assert!(p.value() >= &BigDecimal::from(0));
                prop_assert!(p.value() <= &BigDecimal::from_str("99999999.99").unwrap());
                prop_assert_eq!(BigDecimal::from(p.cents()) / 100, p.value().clone());
            }
        }

        #[test]
        fn price_forms_of_the_contract_are_accepted(units in 0u64..=99_999_999, cents in 0u32..=99, form in 0u8..3) {
            let raw = match form {
                0 if cents == 0 => format!("{units}"),
                1 if cents % 10 == 0 => format!("{units}.{}", cents / 10),
                _ => format!("{units}.{cents:02}"),
            };
            let p = Price::parse(&raw).unwrap();
            prop_assert_eq!(crate::db::models::format_price(p.value()), format!("{units}.{cents:02}"));
            prop_assert_eq!(p.cents(), units * 100 + u64::from(cents));
        }

        #[test]
        fn emails_and_usernames_never_panic(raw in any::<String>()) {
            let _ = Email::parse(&raw);
            let _ = Username::parse(&raw);
            let _ = FullName::parse(&raw);
            let _ = Title::parse(&raw);
        }

        #[test]
        fn accepted_emails_have_the_contract_shape(raw in "[^\\s]{0,40}@[^\\s]{0,40}") {
            if let Ok(e) = Email::parse(&raw) {
                let s = e.as_str();
                prop_assert_eq!(s.matches('@').count(), 1);
                prop_assert!(!s.chars().any(|c| c.is_control() || c.is_whitespace()));
                let (local, domain) = s.split_once('@').unwrap();
                prop_assert!(!local.is_empty() && domain.contains('.'));
                prop_assert!(s.chars().count() <= 255);
            }
        }
    }
}
