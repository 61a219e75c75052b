//! A server that speaks German (`lc_messages = 'de_DE.UTF-8'`): every refusal gives the
//! same exit code and hint as on an English server, since stackctl reads SQLSTATEs and
//! privilege functions, never the server's words.

use crate::privileges::{dml_only, role, url_as};
use crate::support::{hold, Run, TestDb};

/// The locale the server translates into, which the harness made before it started the
/// server (`support::make_german_locale`); otherwise one message says how.
fn german_locale() -> &'static str {
    assert!(
        crate::support::make_german_locale(),
        "the locale de_DE.UTF-8 is missing: as root run `apt-get install -y locales && \
         localedef -i de_DE -f UTF-8 de_DE.UTF-8`, before the tests start their server"
    );
    "de_DE.UTF-8"
}

/// A test database whose server messages are in `lang` (`C` is English).
fn speaking(lang: &str) -> TestDb {
    let db = TestDb::new();
    db.sql(&format!(
        "ALTER DATABASE {} SET lc_messages = '{lang}'",
        db.name
    ));
    db
}

/// The exit code, and the hint line, of a refused command.
fn outcome(r: &Run) -> (i32, Option<String>) {
    let hint = r
        .stderr
        .lines()
        .find(|l| l.starts_with("hint:"))
        .map(String::from);
    (r.code, hint)
}

/// Each refusal on a German server, beside the same on an English one.
#[test]
fn exit_codes_and_hints_do_not_depend_on_the_servers_language() {
    let german = german_locale();
    let mut seen = Vec::new();
    for lang in ["C", german] {
        let db = speaking(lang);
        // The server really speaks the language.
        let said = db.sql("SHOW lc_messages");
        assert_eq!(said, lang, "{said}");

        // A role without a privilege on stackctl's tables: 7 and the GRANT.
        let app = role(&db, "lang_app", "");
        dml_only(&db, &app);
        let denied = db
            .cmd_url(&url_as(&db, &app))
            .args(&["user", "list"])
            .run()
            .fails(7);
        if lang != "C" {
            assert!(denied.stderr.contains("Berechtigung"), "{denied:#?}");
        }

        // A read-only database: 7, nothing written.
        let ro = role(&db, "lang_ro", "");
        db.sql(&format!(
            "GRANT CONNECT ON DATABASE {} TO {ro}; \
             GRANT ALL ON ALL TABLES IN SCHEMA public TO {ro}; \
             GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {ro}; \
             ALTER ROLE {ro} SET default_transaction_read_only = on",
            db.name
        ));
        let read_only = db
            .cmd_url(&url_as(&db, &ro))
            .args(&[
                "user",
                "add",
                "--email",
                "r@example.com",
                "--username",
                "reader",
            ])
            .args(&["--random-password"])
            .run()
            .fails(7);

        // A duplicate: 4.
        db.add_user("ada@example.com", "ada");
        let duplicate = db
            .user_add("ADA@example.com", "ada2", "password123\n")
            .run()
            .fails(4);

        // A statement timeout: 5.
        let mut locker = hold(&db, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE", 10);
        let timeout = db
            .user_add("b@example.com", "bob", "password123\n")
            .args(&["--statement-timeout", "300ms"])
            .run()
            .fails(5);
        db.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE '%pg_sleep%' \
             AND pid <> pg_backend_pid()",
        );
        let _ = locker.kill();
        let _ = locker.wait();

        // A NOT NULL column the application added and fills itself: 6, naming it.
        db.sql(
            "ALTER TABLE users ADD COLUMN tenant_id integer NOT NULL DEFAULT 1; \
                ALTER TABLE users ALTER COLUMN tenant_id DROP DEFAULT",
        );
        let before = db.checksum_all();
        let not_null = db
            .user_add("c@example.com", "carol", "password123\n")
            .run()
            .fails(6);
        assert!(not_null.stderr.contains("users.tenant_id"), "{not_null:#?}");
        assert_eq!(db.checksum_all(), before, "the refused add wrote something");

        // An item id the file repeats further apart than one batch of the import's checks:
        // the server's refusal names it, in its language; 2, naming both lines.
        let repeated = "3f9a0c1b-2d4e-4f60-8a1b-2c3d4e5f6a7b";
        let mut csv = String::from("id,title,owner_email\n");
        csv.push_str(&format!("{repeated},first,ada@example.com\n"));
        for n in 0..10_000 {
            csv.push_str(&format!(",item {n},ada@example.com\n"));
        }
        csv.push_str(&format!("{repeated},again,ada@example.com\n"));
        let file = db.dir.path().join("items.csv");
        std::fs::write(&file, csv).unwrap();
        let repeat = db.run(&["item", "import", file.to_str().unwrap()]).fails(2);
        assert!(
            repeat.stderr.contains("line 10003: the same id as line 2"),
            "{repeat:#?}"
        );
        assert_eq!(db.sql("SELECT count(*) FROM items"), "0");

        seen.push([
            outcome(&denied),
            outcome(&read_only),
            outcome(&duplicate),
            outcome(&timeout),
            outcome(&not_null),
            outcome(&repeat),
        ]);
    }
    assert_eq!(seen[0], seen[1], "English and German servers differ");
    assert!(
        seen[0][0]
            .1
            .as_deref()
            .is_some_and(|h| h.contains("GRANT USAGE ON SCHEMA stackctl TO ROLE;")),
        "{:?}",
        seen[0][0]
    );
}
