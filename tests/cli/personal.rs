//! A person's data: `user export` prints everything stackctl finds about one user, and
//! `user erase` deletes them and pseudonymises the audit trail, on both layouts, with
//! hostile values and an application column, through PgBouncer and as a role `grant` set
//! up.

use serde_json::Value;

use crate::privileges::{dml_only, role, url_as};
use crate::support::{pgbouncer, Cmd, PoolMode, TestDb};

/// Values a person's row may hold: quotes, a newline, unicode, an escape sequence.
const FULL_NAME: &str = "Ada \"Countess\" O'Love\nlace \u{1b}]0;x\u{7} ✓";

/// Ada (with an application column and two items, one titled hostilely) and Bob.
fn people(db: &TestDb) -> (String, String) {
    db.sql("ALTER TABLE users ADD COLUMN phone VARCHAR(32)");
    let ada = db.add_user_id("ada@example.com", "ada");
    db.ok(&[
        "user",
        "update",
        "ada",
        "--full-name",
        "Ada \"Countess\" O'Lovelace ✓",
    ]);
    // What the application itself may store: a newline and an escape sequence too.
    db.sql(&format!(
        "UPDATE users SET phone = '+44 20 7946 0000', \
         full_name = E'Ada \"Countess\" O''Love\\nlace \\x1b]0;x\\x07 ✓' WHERE id = '{ada}'"
    ));
    db.ok(&[
        "item", "add", "--owner", "ada", "--title", "Engine", "--price", "12.50",
    ]);
    db.ok(&[
        "item",
        "add",
        "--owner",
        "ada",
        "--title",
        "Table ✓ 'quoted'",
        "--price",
        "0",
    ]);
    let bob = db.add_user_id("bob@example.com", "bob");
    db.ok(&["item", "add", "--owner", "bob", "--title", "Loom"]);
    (ada, bob)
}

/// Bob's audit rows, to prove an erasure of someone else left them alone.
const BOB_ROWS: &str = "SELECT string_agg(a::text, '|' ORDER BY id) FROM stackctl_audit a \
                        WHERE a.summary::text LIKE '%bob@example.com%'";

/// The whole audit trail as text, lower case, to search for a person's values.
fn audit_text(db: &TestDb) -> String {
    db.sql("SELECT coalesce(string_agg(a::text, '|' ORDER BY id), '') FROM stackctl_audit a")
        .to_lowercase()
}

fn export(cmd: Cmd) -> Value {
    let r = cmd.run().success();
    r.json()
}

#[test]
fn export_holds_the_profile_the_items_and_the_audit_rows_of_one_user() {
    let db = TestDb::new();
    let (ada, bob) = people(&db);
    let doc = export(db.cmd().args(&["user", "export", "ADA@example.com"]));
    let user = &doc["user"];
    assert_eq!(user["id"], ada.as_str());
    assert_eq!(user["full_name"], FULL_NAME);
    assert_eq!(
        user["phone"], "+44 20 7946 0000",
        "the application's column: {doc}"
    );
    assert!(user.get("hashed_password").is_none(), "{doc}");
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["price"], "12.50");
    let audit = doc["audit"].as_array().unwrap();
    assert!(audit.len() >= 4, "add, update and two item adds: {doc}");
    assert!(audit.iter().all(|a| !a.to_string().contains(&bob)), "{doc}");
    // The same as a table or CSV: it is one document.
    let table = export(db.cmd().args(&["-o", "csv", "user", "export", "ada"]));
    assert_eq!(table["user"]["id"], ada.as_str());
    db.run(&["user", "export", "nobody"]).fails(3);
}

#[test]
fn erase_deletes_the_user_and_leaves_no_value_naming_them_in_the_audit_trail() {
    let db = TestDb::new();
    let (ada, bob) = people(&db);
    let rows_before: usize = db
        .sql("SELECT count(*) FROM stackctl_audit")
        .parse()
        .unwrap();
    let bob_rows = db.sql(BOB_ROWS);
    // Without a terminal it needs --yes; a dry run changes nothing.
    db.run(&["user", "erase", "ada"]).fails(2);
    let before = db.checksum_all();
    db.ok(&["--dry-run", "user", "erase", "ada"]);
    assert_eq!(db.checksum_all(), before);

    let r = db.ok(&["-o", "json", "user", "erase", "ada", "--yes"]);
    let out = r.json();
    let pseudonym = out["erased"].as_str().unwrap().to_string();
    assert!(pseudonym.starts_with("erased-"), "{out}");
    assert_eq!(out["items_deleted"], 2);
    assert!(
        out["audit_rows_pseudonymised"].as_u64().unwrap() >= 4,
        "{out}"
    );
    assert_eq!(
        db.sql(&format!("SELECT count(*) FROM users WHERE id = '{ada}'")),
        "0"
    );
    assert_eq!(
        db.sql(&format!(
            "SELECT count(*) FROM items WHERE owner_id = '{ada}'"
        )),
        "0"
    );
    let text = audit_text(&db);
    for value in [ada.as_str(), "ada@example.com", "countess", "\"ada\""] {
        assert!(
            !text.contains(value),
            "{value} is still in the audit trail: {text}"
        );
    }
    // Every event is still counted, the erasure too, under the pseudonym.
    assert_eq!(
        db.sql("SELECT count(*) FROM stackctl_audit")
            .parse::<usize>()
            .unwrap(),
        rows_before + 1
    );
    assert_eq!(
        db.sql(&format!(
            "SELECT command FROM stackctl_audit WHERE target_id = '{pseudonym}' ORDER BY id DESC LIMIT 1"
        )),
        "user erase"
    );
    // Bob's rows are as they were.
    assert_eq!(db.sql(BOB_ROWS), bob_rows);
    db.ok(&["user", "show", &bob]);
    db.run(&["user", "erase", "ada", "--yes"]).fails(3);
}

#[test]
fn the_simple_layout_exports_and_erases_too() {
    let db = TestDb::empty();
    db.sql(
        "CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR UNIQUE NOT NULL, \
         name VARCHAR NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
    );
    db.ok(&["migrate"]);
    db.ok(&[
        "user",
        "add",
        "--email",
        "s@example.com",
        "--name",
        "Simone O'Neil",
    ]);
    db.ok(&["user", "update", "s@example.com", "--name", "Simone"]);
    db.ok(&["user", "add", "--email", "t@example.com", "--name", "Tom"]);
    let doc = export(db.cmd().args(&["user", "export", "s@example.com"]));
    assert_eq!(doc["user"]["name"], "Simone");
    assert!(doc.get("items").is_none(), "{doc}");
    assert_eq!(doc["audit"].as_array().map(Vec::len), Some(2), "{doc}");
    let r = db.ok(&["-o", "json", "user", "erase", "s@example.com", "--yes"]);
    assert_eq!(r.json()["audit_rows_pseudonymised"], 2);
    let text = audit_text(&db);
    assert!(
        !text.contains("s@example.com") && !text.contains("simone"),
        "{text}"
    );
    assert!(text.contains("t@example.com"));
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
}

/// Through PgBouncer's transaction pooling, as a role with what `stackctl grant` gives.
#[test]
fn export_and_erase_through_the_pooler_as_a_granted_role() {
    let db = TestDb::new();
    let (ada, _) = people(&db);
    let app = role(&db, "pd_app", "");
    dml_only(&db, &app);
    // Before the grant: erase is refused (exit 7) and nothing changes.
    let before = db.checksum_all();
    db.cmd_url(&url_as(&db, &app))
        .args(&["user", "erase", "ada", "--yes"])
        .run()
        .fails(7);
    assert_eq!(db.checksum_all(), before);
    db.ok(&["grant", &app, "--apply"]);
    let pool = pgbouncer(PoolMode::Transaction);
    pool.allow_role(&app);
    let via = || db.cmd_url(&pool.url_as(&app, &db.name));
    let doc = export(via().args(&["user", "export", "ada"]));
    assert_eq!(doc["user"]["id"], ada.as_str());
    let r = via()
        .args(&["-o", "json", "user", "erase", "ada", "--yes"])
        .run()
        .success();
    assert!(r.json()["audit_rows_pseudonymised"].as_u64().unwrap() >= 4);
    assert!(!audit_text(&db).contains("ada@example.com"));
}
