//! `PgUrl`: a PostgreSQL URL accepted once (SQLAlchemy schemes, sslmode and connect_timeout
//! filled in) and parsed once, by libpq's own parser, into one value that knows the
//! password whatever form carried it (`user:pw@host`, a raw `?` inside the userinfo,
//! `?password=pw`). Its `Display` is redacted; child processes get `conninfo_for_child`
//! (no password) and the password through `PGPASSWORD`. Nothing else splits a URL.

mod libpq;
mod text;

pub use text::redact_url;

use percent_encoding::percent_decode_str;

use crate::error::{register_secret, Result};
use libpq::libpq_parse;
use text::{encoded_passwords, normalize};

/// Seconds libpq waits for a connection when the URL does not say.
pub const DEFAULT_CONNECT_TIMEOUT: u32 = 10;

/// A database URL, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// The libpq URL, password included: only ever handed to libpq in this process.
    full: String,
    /// What libpq parsed out of it: (keyword, value) for each option the URL sets.
    options: Vec<(String, String)>,
}

impl PgUrl {
    /// Accept a URL as the contract does; its password is registered for redaction.
    pub fn parse(raw: &str, ssl_mode: Option<&str>) -> Result<PgUrl> {
        // Registered before anything can fail: a refused URL's password must not reach a
        // message either, neither as written nor decoded.
        let rest = raw.trim().split_once("://").map_or("", |(_, r)| r);
        for pw in encoded_passwords(rest) {
            register_secret(pw);
            register_secret(&percent_decode_str(pw).decode_utf8_lossy());
        }
        let url = Self::parse_unregistered(raw, ssl_mode)?;
        for key in text::SECRET_KEYS {
            if let Some(secret) = url.option(key).filter(|s| !s.is_empty()) {
                register_secret(secret);
            }
        }
        Ok(url)
    }

    /// `parse` without registering the password, for the fuzz target and property tests
    /// (thousands of throwaway passwords must not join the process's secret list).
    #[doc(hidden)]
    pub fn parse_unregistered(raw: &str, ssl_mode: Option<&str>) -> Result<PgUrl> {
        let full = normalize(raw, ssl_mode)?;
        let options = libpq_parse(&full)?;
        Ok(PgUrl { full, options })
    }

    /// The URL for libpq in this process. Holds the password: never print it.
    pub fn libpq(&self) -> &str {
        &self.full
    }

    /// An option as libpq parsed it (`user`, `host`, `port`, `dbname`, `sslmode`, ...).
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn password(&self) -> Option<&str> {
        self.option("password").filter(|p| !p.is_empty())
    }

    /// The passphrase of the client certificate's key, a secret like the password.
    pub fn ssl_password(&self) -> Option<&str> {
        self.option("sslpassword").filter(|p| !p.is_empty())
    }

    pub fn user(&self) -> Option<&str> {
        self.option("user")
    }

    pub fn host(&self) -> Option<&str> {
        self.option("host")
    }

    pub fn dbname(&self) -> Option<&str> {
        self.option("dbname")
    }

    /// The same server and options with another database.
    pub fn with_database(&self, name: &str) -> Result<PgUrl> {
        let encoded =
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
        // libpq lets a query's dbname override the path's; `normalize` always adds a query.
        let full = format!("{}&dbname={encoded}", self.full);
        let options = libpq_parse(&full)?;
        Ok(PgUrl { full, options })
    }

    /// A libpq connection string with every option but the secrets, for a child
    /// process's command line (`pg_dump --dbname=...`): argv is readable by every local
    /// account, so the password goes through `PGPASSWORD` and the key's passphrase
    /// through a private service file instead (`pgtools::command`).
    pub fn conninfo_for_child(&self) -> String {
        self.options
            .iter()
            .filter(|(k, _)| !text::SECRET_KEYS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The URL with its password, in whichever place it stands, replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.full)
    }
}

impl std::fmt::Display for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> PgUrl {
        PgUrl::parse_unregistered(raw, None).unwrap()
    }

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
            assert_eq!(
                url(&format!("{scheme}://u:pw@localhost:5432/db")).libpq(),
                "postgresql://u:pw@localhost:5432/db?connect_timeout=10"
            );
        }
    }

    #[test]
    fn other_schemes_are_usage_errors() {
        for raw in ["mysql://u@h/db", "sqlite:///x.db", "http://h", "no-scheme"] {
            assert_eq!(
                PgUrl::parse_unregistered(raw, None)
                    .unwrap_err()
                    .exit_code(),
                2,
                "{raw}"
            );
        }
    }

    #[test]
    fn ssl_mode_fills_in_only_when_absent() {
        let with = |raw: &str, mode| PgUrl::parse_unregistered(raw, mode).unwrap().full;
        assert_eq!(
            with("postgresql://h/db", Some("require")),
            "postgresql://h/db?sslmode=require&connect_timeout=10"
        );
        assert_eq!(
            with(
                "postgresql://h/db?sslmode=disable&connect_timeout=3",
                Some("require")
            ),
            "postgresql://h/db?sslmode=disable&connect_timeout=3"
        );
        assert_eq!(
            with("postgresql+asyncpg://h/db?ssl=require", None),
            "postgresql://h/db?sslmode=require&connect_timeout=10"
        );
    }

    #[test]
    fn the_password_is_known_in_every_form() {
        for (raw, pw) in [
            (
                "postgresql://admin:hunter2secret@db:5432/app",
                "hunter2secret",
            ),
            ("postgresql://admin:p%40ss%3Fw@db/app", "p@ss?w"),
            ("postgresql://admin:pa?ss@db/app", "pa?ss"),
            ("postgresql://admin@db/app?password=S3cr%65t", "S3cret"),
            ("postgres://db/app?sslmode=disable&password=qq1", "qq1"),
        ] {
            let u = url(raw);
            assert_eq!(u.password(), Some(pw), "{raw}");
            let shown = u.to_string();
            assert!(!shown.contains(pw), "{shown}");
            assert!(shown.contains("***"), "{shown}");
            let child = u.conninfo_for_child();
            assert!(
                !child.contains(pw) && !child.contains("password"),
                "{child}"
            );
            assert!(child.contains("host='db'"), "{child}");
        }
        assert_eq!(url("postgresql://admin:pa?ss@db/app").user(), Some("admin"));
        assert_eq!(url("postgresql://admin:pa?ss@db/app").dbname(), Some("app"));
    }

    /// The application's own URLs (SQLAlchemy reads a password up to the first `@`, `/`,
    /// `?` and `#` included) mean the same here, and no part of a password reaches an
    /// error when a URL is refused.
    #[test]
    fn passwords_read_as_sqlalchemy_reads_them() {
        for (raw, pw, host) in [
            (
                "postgresql+psycopg://app:Xy7/kQ9+z@db/app",
                "Xy7/kQ9+z",
                "db",
            ),
            ("postgresql://app:p?w#x@db:5433/app", "p?w#x", "db"),
            (
                "postgresql://app:a:b/c@db/app?sslmode=disable",
                "a:b/c",
                "db",
            ),
            ("postgresql://app:p%40ss@db/app", "p@ss", "db"),
        ] {
            let u = url(raw);
            assert_eq!((u.password(), u.host()), (Some(pw), Some(host)), "{raw}");
            assert_eq!(u.user(), Some("app"));
            assert_eq!(u.dbname(), Some("app"));
            assert!(!u.to_string().contains(pw), "{u}");
        }
        for (raw, secret) in [
            ("postgresql://app:Wr0ng@Pass@host/app", "Pass"),
            ("postgresql://app@db/app?password=Sec&ret5", "ret5"),
        ] {
            let err = PgUrl::parse_unregistered(raw, None).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{raw}");
            let shown = format!("{} {}", err.message, err.hint.unwrap_or_default());
            assert!(
                !shown.contains(secret) && !shown.contains("Wr0ng"),
                "{shown}"
            );
        }
    }

    #[test]
    fn an_ssl_key_passphrase_is_a_secret() {
        let u = url("postgresql://app@db/app?sslpassword=k3yPass&sslmode=require");
        assert_eq!(u.ssl_password(), Some("k3yPass"));
        assert!(!u.to_string().contains("k3yPass"), "{u}");
        assert!(u.to_string().contains("sslpassword=***"), "{u}");
        assert!(!u.conninfo_for_child().contains("k3yPass"));
        assert!(!u.conninfo_for_child().contains("sslpassword"));
    }

    #[test]
    fn child_conninfo_quotes_values() {
        let u = url("postgresql://o%27neil@h/d%20b?application_name=a%5Cb");
        assert_eq!(
            u.conninfo_for_child(),
            "user='o\\'neil' connect_timeout='10' dbname='d b' host='h' application_name='a\\\\b'"
        );
    }

    #[test]
    fn another_database_overrides_the_path() {
        let u = url("postgresql://u:pw@h/app")
            .with_database("scratch_1")
            .unwrap();
        assert_eq!(u.dbname(), Some("scratch_1"));
        assert_eq!(u.password(), Some("pw"));
    }

    #[test]
    fn libpq_rejects_malformed_urls() {
        for raw in [
            "postgresql://h:notaport/db",
            "postgresql://h/db?nosuchoption=1",
        ] {
            assert_eq!(
                PgUrl::parse_unregistered(raw, None)
                    .unwrap_err()
                    .exit_code(),
                2
            );
        }
    }

    #[test]
    fn multi_host_urls_pass_through() {
        let u = url("postgresql://app@db1:5432,db2:5433/app?target_session_attrs=read-write");
        assert_eq!(u.host(), Some("db1,db2"));
        assert_eq!(u.option("port"), Some("5432,5433"));
        assert_eq!(u.option("target_session_attrs"), Some("read-write"));
    }
}

/// A fuzz loop for the URL parser: any string, no panic, no password in what it shows;
/// a normalised URL normalises to itself. `PROPTEST_CASES` scales it up.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases()))]

        #[test]
        fn any_string_is_handled(raw in any::<String>()) {
            let _ = PgUrl::parse_unregistered(&raw, None);
        }

        #[test]
        fn url_shaped_strings_normalise_idempotently(
            scheme in prop::sample::select(vec!["postgres", "postgresql", "postgresql+psycopg", "postgresql+asyncpg", "mysql"]),
            user in "[a-z]{1,8}",
            pw in "[A-Za-z0-9%!*?]{0,12}",
            host in "[a-z0-9.-]{1,20}",
            port in prop::option::of(0u32..70000),
            db in "[a-z_]{0,10}",
            query in "[a-z_=&%0-9]{0,30}",
            mode in prop::option::of("[a-z-]{0,12}"),
            in_query in any::<bool>(),
        ) {
            let auth = if pw.is_empty() || in_query { user.clone() } else { format!("{user}:{pw}") };
            let port = port.map_or(String::new(), |p| format!(":{p}"));
            let pw_param = if in_query && !pw.is_empty() { format!("&password={pw}") } else { String::new() };
            let raw = format!("{scheme}://{auth}@{host}{port}/{db}?{query}{pw_param}");
            if let Ok(u) = PgUrl::parse_unregistered(&raw, mode.as_deref()) {
                prop_assert!(u.full.starts_with("postgresql://"));
                prop_assert!(u.full.contains("connect_timeout="));
                let again = PgUrl::parse_unregistered(&u.full, mode.as_deref()).expect("a normalised URL is accepted");
                prop_assert_eq!(&again.full, &u.full);
                // The password's place shows `***` (the same text may stand elsewhere too),
                // and the child's connection string has no password keyword.
                if u.password().is_some() {
                    let shown = PgUrl::parse_unregistered(&u.redacted(), mode.as_deref())
                        .expect("a redacted URL is still a URL");
                    prop_assert_eq!(shown.password(), Some("***"));
                    let child = u.conninfo_for_child();
                    prop_assert!(!child.starts_with("password='") && !child.contains(" password='"));
                }
            }
        }
    }
}
