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
