//! Property tests through the real binary and database: whatever the validators accept
//! is stored and read back unchanged.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use crate::support::TestDb;

static N: AtomicUsize = AtomicUsize::new(0);

fn db() -> &'static TestDb {
    static DB: std::sync::OnceLock<TestDb> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let db = TestDb::new();
        db.add_user("owner@example.com", "owner");
        db
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn accepted_emails_and_usernames_round_trip(
        local in "[^\\s@\\p{Cc}]{1,30}",
        domain in "[\\p{L}0-9-]{1,15}(\\.[\\p{L}0-9-]{1,10}){1,3}",
        name in "[A-Za-z0-9._-]{3,80}",
        full in prop::option::of("[^\\p{Cc}]{0,60}"),
    ) {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let email = format!("{n}{local}@{domain}");
        let username = format!("{name}{n}");
        let mut cmd = db().user_add(&email, &username, "password123\n").args(&["-o", "json"]);
        if let Some(f) = &full {
            cmd = cmd.args(&["--full-name", f]);
        }
        let r = cmd.run();
        prop_assert_eq!(r.code, 0, "{:#?}", r);
        let shown = db().json(&["user", "show", r.json()["id"].as_str().unwrap()]);
        prop_assert_eq!(shown["email"].as_str().unwrap(), email.as_str());
        prop_assert_eq!(shown["username"].as_str().unwrap(), username.as_str());
        prop_assert_eq!(shown["full_name"].as_str(), full.as_deref());
    }

    #[test]
    fn accepted_prices_round_trip(units in 0u64..=99_999_999, cents in 0u32..=99, short in any::<bool>()) {
        let raw = if short && cents % 10 == 0 {
            format!("{units}.{}", cents / 10)
        } else {
            format!("{units}.{cents:02}")
        };
        let item = db().json(&["item", "add", "--owner", "owner", "--title", "p", "--price", &raw]);
        let shown = db().json(&["item", "show", item["id"].as_str().unwrap()]);
        prop_assert_eq!(shown["price"].as_str().unwrap(), format!("{units}.{cents:02}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Every accepted spelling of the test database's URL reaches it.
    #[test]
    fn accepted_url_forms_reach_the_database(
        scheme in prop::sample::select(vec![
            "postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2",
            "postgresql+asyncpg", "postgresql+pg8000",
        ]),
        app in prop::option::of("[a-z][a-z0-9_]{0,15}"),
        timeout in prop::option::of(1u32..30),
        ssl in prop::option::of(prop::sample::select(vec!["disable", "allow", "prefer"])),
        via_env in any::<bool>(),
        localhost in any::<bool>(),
    ) {
        let db = db();
        let (_, rest) = db.url.split_once("://").unwrap();
        let rest = if localhost { rest.replace("127.0.0.1", "localhost") } else { rest.to_string() };
        let mut params = Vec::new();
        if let Some(a) = &app {
            params.push(format!("application_name={a}"));
        }
        if let Some(t) = timeout {
            params.push(format!("connect_timeout={t}"));
        }
        if let (Some(m), false) = (ssl, via_env) {
            params.push(format!("{}={m}", if scheme.ends_with("asyncpg") { "ssl" } else { "sslmode" }));
        }
        let url = if params.is_empty() {
            format!("{scheme}://{rest}")
        } else {
            format!("{scheme}://{rest}?{}", params.join("&"))
        };
        let mut c = db.cmd().env("DATABASE_URL", &url).args(&["-o", "json", "status"]);
        if let (Some(m), true) = (ssl, via_env) {
            c = c.env("DATABASE_SSL_MODE", m);
        }
        let r = c.run();
        prop_assert_eq!(r.code, 0, "{}: {:#?}", url, r);
        let status = r.json();
        prop_assert_eq!(status["database"].as_str(), Some(db.name.as_str()));
    }
}
