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

    // An anonymised copy of this layout: email and name replaced, the id kept.
    let dir = db.dir.path().join("b");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let file = dir.join(m["file"].as_str().unwrap());
    let copy = format!("{}_anon", db.name);
    let r = db.ok(&[
        "backup",
        "restore",
        file.to_str().unwrap(),
        "--into",
        &copy,
        "--anonymize",
    ]);
    assert!(r.stderr.contains("users.name 1"), "{r:#?}");
    let users = crate::support::psql(
        &copy_url(&db, &copy),
        "SELECT string_agg(id || ' ' || email || ' ' || name, ',') FROM users",
    );
    assert!(
        !users.contains("t@example.com")
            && !users.contains("Tom")
            && users.contains("@example.invalid"),
        "{users}"
    );
    assert_eq!(
        users.split(' ').next(),
        Some(db.sql("SELECT id FROM users").as_str())
    );
    db.sql(&format!("DROP DATABASE {copy} WITH (FORCE)"));
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

/// Every text value of every table in database `url`, lower case, in one string.
fn every_text(url: &str) -> String {
    crate::support::psql(
        url,
        "SELECT coalesce(string_agg(lower(t::text), '|'), '') FROM \
         (SELECT u::text AS t FROM users u UNION ALL SELECT i::text FROM items i \
          UNION ALL SELECT a::text FROM stackctl.stackctl_audit a) s",
    )
}

fn copy_url(db: &TestDb, name: &str) -> String {
    db.url
        .replacen(&format!("/{}", db.name), &format!("/{name}"), 1)
}

/// `backup restore FILE --into NAME --anonymize`: fails closed on a column stackctl does
/// not know, then replaces every person's values (hostile ones included), keeps ids,
/// prices and references, gives every user the operator's password (verified in passlib),
/// empties the audit trail, maps people the same way under one key and differently under
/// another, samples users with their items, and refuses a copy its proof finds a source
/// value in.
#[test]
fn an_anonymised_copy_holds_no_person_and_fails_closed() {
    let db = TestDb::new();
    let (ada, _bob) = people(&db);
    let dir = db.dir.path().join("b");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let file = dir.join(m["file"].as_str().unwrap());
    let f = file.to_str().unwrap();
    let key = db.dir.path().join("anon.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let k = key.to_str().unwrap();
    let exists = |name: &str| {
        db.sql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
        ))
    };

    // Fail closed: users.phone is the application's, unknown to stackctl.
    let copy = format!("{}_anon", db.name);
    let r = db
        .run(&["backup", "restore", f, "--into", &copy, "--anonymize"])
        .fails(2);
    assert!(r.stderr.contains("users.phone"), "{r:#?}");
    assert_eq!(exists(&copy), "0");
    db.run(&[
        "backup",
        "restore",
        f,
        "--into",
        &copy,
        "--anonymize",
        "--keep",
        "users.email",
    ])
    .fails(2);

    // Cleared: the copy, with the operator's password for everyone.
    let r = db
        .cmd()
        .args(&[
            "backup",
            "restore",
            f,
            "--into",
            &copy,
            "--anonymize",
            "--key",
            k,
        ])
        .args(&["--clear", "users.phone", "--password-stdin"])
        .stdin("Staging-Pass-1\n")
        .run()
        .success();
    assert!(r.stderr.contains("users.email 2"), "{r:#?}");
    let url = copy_url(&db, &copy);
    let text = every_text(&url);
    for value in [
        "ada@example.com",
        "bob@example.com",
        "countess",
        "o''love",
        "+44 20",
    ] {
        assert!(!text.contains(value), "{value} in {text}");
    }
    let q = |sql: &str| crate::support::psql(&url, sql);
    assert_eq!(
        q("SELECT count(*) FROM users WHERE email LIKE 'user-%@example.invalid' AND username LIKE 'user-%'"),
        "2"
    );
    // The dump's indexes, keys and triggers come after the change, all of them.
    let schema = "SELECT string_agg(indexdef, ';' ORDER BY indexdef) FROM pg_indexes \
                  WHERE schemaname IN ('public', 'stackctl')";
    assert_eq!(q(schema), db.sql(schema));
    db.cmd_url(&url).args(&["schema", "diff"]).run().success();
    assert_eq!(
        q(&format!("SELECT count(*) FROM users WHERE id = '{ada}'")),
        "1"
    );
    assert_eq!(q("SELECT count(*) FROM users WHERE phone IS NOT NULL"), "0");
    // Items keep their values and their owners.
    assert_eq!(
        q("SELECT string_agg(title || ':' || price, ',' ORDER BY title) FROM items"),
        db.sql("SELECT string_agg(title || ':' || price, ',' ORDER BY title) FROM items")
    );
    assert_eq!(
        q(&format!(
            "SELECT count(*) FROM items WHERE owner_id = '{ada}'"
        )),
        "2"
    );
    // The audit trail holds only the restore itself.
    assert_eq!(
        q("SELECT count(*) FROM stackctl.stackctl_audit WHERE command <> 'backup restore --into'"),
        "0"
    );
    // The application's passlib takes the operator's password for every copied user.
    let hashes = q("SELECT string_agg(hashed_password, ' ') FROM users");
    let hashes: Vec<&str> = hashes.split(' ').collect();
    assert!(crate::support::passlib_verifies("Staging-Pass-1", &hashes));

    // One key, one mapping; another key, another.
    let emails = |url: &str| {
        crate::support::psql(url, "SELECT string_agg(email, ',' ORDER BY id) FROM users")
    };
    let again = format!("{}_anon2", db.name);
    db.ok(&[
        "backup",
        "restore",
        f,
        "--into",
        &again,
        "--anonymize",
        "--key",
        k,
        "--clear",
        "users.phone",
    ]);
    assert_eq!(emails(&copy_url(&db, &again)), emails(&url));
    let other_key = db.dir.path().join("other.key");
    std::fs::write(&other_key, [9u8; 32]).unwrap();
    let other = format!("{}_anon3", db.name);
    let sampled = db.json(&[
        "backup",
        "restore",
        f,
        "--into",
        &other,
        "--anonymize",
        "--key",
        other_key.to_str().unwrap(),
        "--clear",
        "users.phone",
        "--sample",
        "1",
    ]);
    // What the copy holds, not what the file held, in the output and the audit entry.
    assert_eq!(sampled["users"], 1, "{sampled}");
    let other_url = copy_url(&db, &other);
    assert_eq!(
        crate::support::psql(
            &other_url,
            "SELECT string_agg(summary #>> '{after,users}', ',') FROM stackctl_audit"
        ),
        "1"
    );
    let others = emails(&other_url);
    assert!(
        !others.is_empty() && !emails(&url).contains(&others),
        "{others}"
    );
    // The sample: one user, with all of that user's items, every reference whole.
    assert_eq!(
        crate::support::psql(&other_url, "SELECT count(*) FROM users"),
        "1"
    );
    assert_eq!(
        crate::support::psql(
            &other_url,
            "SELECT count(*) FROM items WHERE owner_id NOT IN (SELECT id FROM users)"
        ),
        "0"
    );

    // The proof: a description quoting a person's email, and a title that is a username
    // as a whole, are found, and the copy not kept.
    db.sql(&format!(
        "UPDATE items SET description = 'ask Ada (ADA@example.com) first' WHERE owner_id = '{ada}'"
    ));
    db.sql("UPDATE items SET title = 'Ada' WHERE title = 'Engine'");
    // Any table is searched, each row counted once (found by its value, by a word or
    // both), whatever its columns' collations.
    db.sql(
        "CREATE TABLE notes (id int, body text, extra jsonb, tag varchar(40) COLLATE \"C\", \
                             code text COLLATE \"POSIX\"); \
         INSERT INTO notes VALUES (1, 'mail ADA@example.com.', NULL, NULL, NULL), \
         (2, 'Ada', NULL, NULL, 'x'), \
         (3, 'nothing here', '{\"to\": \"ada@example.com\"}', 'cc: ADA@EXAMPLE.COM', NULL); \
         CREATE TABLE parts (id int, body text) PARTITION BY LIST (id); \
         CREATE TABLE parts_1 PARTITION OF parts FOR VALUES IN (1); \
         CREATE TABLE parts_2 PARTITION OF parts FOR VALUES IN (2); \
         INSERT INTO parts VALUES (1, 'Ada'), (2, 'Ada')",
    );
    // More columns than one query of the proof takes.
    db.sql(
        "DO $$ BEGIN FOR t IN 1..2 LOOP EXECUTE (SELECT format('CREATE TABLE wide_%s (%s)', t, \
           string_agg(format('c%s text', c), ', ')) FROM generate_series(1, 150) c); END LOOP; END $$; \
         INSERT INTO wide_2 (c150) VALUES ('Ada')",
    );
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let quoted = dir.join(m["file"].as_str().unwrap());
    let proof = format!("{}_anon4", db.name);
    let r = db
        .run(&[
            "backup",
            "restore",
            quoted.to_str().unwrap(),
            "--into",
            &proof,
            "--anonymize",
            "--clear",
            "users.phone",
        ])
        .fails(1);
    assert!(
        r.stderr.contains("items.description")
            && r.stderr.contains("items.title (1 row(s))")
            && r.stderr.contains("public.notes.body (2 row(s))")
            && r.stderr.contains("public.notes.extra (1 row(s))")
            && r.stderr.contains("public.notes.tag (1 row(s))")
            && r.stderr.contains("public.parts.body (2 row(s))")
            && r.stderr.contains("public.parts_1.body (1 row(s))")
            && r.stderr.contains("public.wide_2.c150 (1 row(s))"),
        "{r:#?}"
    );
    assert!(
        !r.stderr.to_lowercase().contains("ada@example.com"),
        "{r:#?}"
    );
    assert_eq!(exists(&proof), "0");
    for name in [&copy, &again, &other] {
        db.sql(&format!("DROP DATABASE {name} WITH (FORCE)"));
    }
}

/// `backup --anonymize`: refuses an unknown column before anything is written, then writes
/// a dump in which no person's value appears (searched in pg_restore's own SQL of it),
/// which restores with the pseudonyms and the operator's password; the live database is
/// untouched; retention never counts it; a source value planted in an item makes it fail
/// with nothing written and no scratch database left.
#[test]
fn an_anonymised_dump_holds_no_person_and_is_not_a_backup() {
    let db = TestDb::new();
    let (ada, _bob) = people(&db);
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    let entries = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n != ".stackctl-backup.lock")
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let scratch = || {
        db.sql("SELECT count(*) || coalesce(string_agg(datname, ','), '') FROM pg_database WHERE datname LIKE 'stackctl\\_anonymize%'")
    };

    // Fail closed, before anything is dumped; the two spellings of --keep stay apart.
    let r = db.run(&["backup", "--dir", d, "--anonymize"]).fails(2);
    assert!(r.stderr.contains("users.phone"), "{r:#?}");
    assert!(entries().is_empty(), "{:?}", entries());
    for args in [
        &["--anonymize", "--keep", "3", "--clear", "users.phone"][..],
        &["--keep", "users.phone"],
        &["--keep", "2", "--keep", "3"],
    ] {
        let r = db
            .cmd()
            .args(&["backup", "--dir", d])
            .args(args)
            .run()
            .fails(2);
        assert!(r.stderr.starts_with("error: "), "{r:#?}");
    }
    assert!(entries().is_empty(), "{:?}", entries());

    let first = db.json(&["backup", "--dir", d]);
    let r = db
        .cmd()
        .args(&["-o", "json", "backup", "--dir", d, "--anonymize"])
        .args(&["--clear", "users.phone", "--password-stdin"])
        .stdin("Staging-Pass-1\n")
        .run()
        .success();
    assert!(r.stderr.contains("users.email 2"), "{r:#?}");
    let m = r.json();
    let name = m["file"].as_str().unwrap();
    assert!(name.starts_with("anonymized-"), "{m}");
    assert_eq!(m["database"], db.name.as_str());
    assert_eq!(m["row_counts"]["users"], 2);
    let file = dir.join(name);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.manifest.json"))).unwrap())
            .unwrap();
    assert_eq!(manifest["anonymized"], true);
    // status takes the newest backup of the database, which the anonymised dump is not.
    let r = db
        .cmd()
        .args(&["status", "--check", "--backup-dir", d])
        .run();
    assert!(
        r.stdout.contains(&format!(
            "newest backup {}",
            first["file"].as_str().unwrap()
        )),
        "{r:#?}"
    );
    // Never restored in place over the live people.
    let live = db.checksum_all();
    let r = db
        .run(&["backup", "restore", file.to_str().unwrap(), "--yes"])
        .fails(2);
    assert!(r.stderr.contains("anonymised dump"), "{r:#?}");
    assert_eq!(db.checksum_all(), live);
    // The work directory and the scratch database are gone.
    assert_eq!(entries().len(), 4, "{:?}", entries());
    assert_eq!(scratch(), "0", "scratch databases left");

    // Nothing of the people in the file.
    let pg_restore = crate::support::psql_bin().with_file_name("pg_restore");
    let out = std::process::Command::new(pg_restore)
        .args(["-f", "-"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let sql = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(sql.contains("@example.invalid"), "{sql}");
    let source_hashes = db.sql("SELECT string_agg(lower(hashed_password), ' ') FROM users");
    for value in ["ada@example.com", "bob@example.com", "countess", "+44 20"]
        .into_iter()
        .chain(source_hashes.split(' '))
    {
        assert!(!sql.contains(value), "{value} in the anonymised dump");
    }
    // ... but the operator's password hash, once per user, and what the application needs.
    let copy = format!("{}_fromdump", db.name);
    db.ok(&["backup", "restore", file.to_str().unwrap(), "--into", &copy]);
    let url = copy_url(&db, &copy);
    let q = |sql: &str| crate::support::psql(&url, sql);
    assert_eq!(
        q(&format!(
            "SELECT count(*) FROM users WHERE email LIKE 'user-%@example.invalid' \
             AND (id <> '{ada}' OR full_name LIKE 'Person %')"
        )),
        "2"
    );
    assert_eq!(
        q("SELECT string_agg(title || ':' || price, ',' ORDER BY title) FROM items"),
        db.sql("SELECT string_agg(title || ':' || price, ',' ORDER BY title) FROM items")
    );
    let hashes = q("SELECT string_agg(hashed_password, ' ') FROM users");
    let hashes: Vec<&str> = hashes.split(' ').collect();
    assert!(crate::support::passlib_verifies("Staging-Pass-1", &hashes));
    db.sql(&format!("DROP DATABASE {copy} WITH (FORCE)"));
    // The live database still holds its people.
    assert_eq!(
        db.sql("SELECT count(*) FROM users WHERE email = 'ada@example.com' AND phone IS NOT NULL"),
        "1"
    );

    // Retention counts backups of the database only: the anonymised dump stays.
    db.ok(&["backup", "--dir", d, "--keep", "1"]);
    let names = entries();
    assert!(names.contains(&name.to_string()), "{names:?}");
    assert!(
        !names.contains(&first["file"].as_str().unwrap().to_string()),
        "{names:?}"
    );

    // The proof on the way to a file: nothing written, nothing left.
    let anonymized_dump = || {
        db.run(&[
            "backup",
            "--dir",
            d,
            "--anonymize",
            "--clear",
            "users.phone",
        ])
    };
    db.sql(&format!(
        "UPDATE items SET description = 'ask Ada (ADA@example.com) first' WHERE owner_id = '{ada}'"
    ));
    let before = entries();
    let r = anonymized_dump().fails(1);
    assert!(r.stderr.contains("items.description"), "{r:#?}");
    assert!(
        !r.stderr.to_lowercase().contains("ada@example.com"),
        "{r:#?}"
    );
    assert_eq!(entries(), before);
    assert_eq!(scratch(), "0", "scratch databases left");

    // A trigger of the source's on users never runs as this role: the rows are changed
    // before the restore makes the dump's triggers (one that refuses every update would
    // stop the change), and the anonymised dump has it as the source does.
    db.sql(&format!(
        "UPDATE items SET description = NULL WHERE owner_id = '{ada}'; \
         CREATE FUNCTION public.note() RETURNS trigger LANGUAGE plpgsql AS \
         $$BEGIN RAISE EXCEPTION 'the trigger ran'; END$$; \
         CREATE TRIGGER note BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION public.note()"
    ));
    anonymized_dump().success();
    let new: Vec<String> = entries()
        .into_iter()
        .filter(|n| !before.contains(n) && n.ends_with(".dump"))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let listed =
        std::process::Command::new(crate::support::psql_bin().with_file_name("pg_restore"))
            .arg("-l")
            .arg(dir.join(&new[0]))
            .output()
            .unwrap();
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("TRIGGER public users note"),
        "{listed:?}"
    );
    assert_eq!(scratch(), "0", "scratch databases left");
}

/// A plain (SQL) dump is restored whole before its copy is anonymised, so its indexes are
/// there: they are dropped and made again around the change (the copy's schema is the
/// source's after it), and a trigger of the dump's on users, which would run as this
/// role, is refused with the copy dropped.
#[test]
fn an_anonymised_copy_of_a_plain_dump_keeps_its_indexes_and_refuses_triggers() {
    let db = TestDb::new();
    people(&db);
    let dir = db.dir.path().join("b");
    let take = || {
        db.backup_file(&dir, &["--format", "plain"])
            .to_str()
            .unwrap()
            .to_string()
    };
    let indexes = |url: &str| {
        crate::support::psql(
            url,
            "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'users'",
        )
    };
    let file = take();
    let copy = format!("{}_plain", db.name);
    let restore = |file: &str| {
        db.run(&[
            "backup",
            "restore",
            file,
            "--into",
            &copy,
            "--anonymize",
            "--clear",
            "users.phone",
        ])
    };
    restore(&file).success();
    let url = copy_url(&db, &copy);
    assert_eq!(indexes(&url), indexes(&db.url));
    assert!(
        crate::support::psql(&url, "SELECT min(email) FROM users").ends_with("@example.invalid")
    );
    db.sql(&format!("DROP DATABASE {copy} WITH (FORCE)"));

    db.sql(
        "CREATE FUNCTION public.note() RETURNS trigger LANGUAGE plpgsql AS \
         $$BEGIN RETURN NEW; END$$; \
         CREATE TRIGGER note BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION public.note()",
    );
    let r = restore(&take()).fails(1);
    assert!(r.stderr.contains("trigger"), "{r:#?}");
    assert_eq!(
        db.sql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{copy}'"
        )),
        "0"
    );

    // A child table of users: an archive restores its rows after the change, which would
    // leave them as they are, so the copy is refused.
    db.sql(
        "DROP TRIGGER note ON users; CREATE TABLE users_archive () INHERITS (users); \
         INSERT INTO users_archive SELECT * FROM users LIMIT 1",
    );
    let archive = db.backup_file(&dir, &[]);
    let r = restore(archive.to_str().unwrap()).fails(1);
    assert!(r.stderr.contains("child tables"), "{r:#?}");
    assert_eq!(
        db.sql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{copy}'"
        )),
        "0"
    );
}

/// A directory dump restored with jobs, the people's rows first and the rest after the
/// anonymisation: the copy has the source's indexes, no drift and no person; its rows
/// match the manifest's checksums (the people's as they were before the change); the
/// dump's event trigger, which refuses any `DROP TABLE`, is made last, after the proof
/// has dropped its table of hashes.
#[test]
fn an_anonymised_copy_of_a_directory_dump_with_jobs() {
    let db = TestDb::new();
    people(&db);
    db.sql(
        "CREATE FUNCTION public.no_drops() RETURNS event_trigger LANGUAGE plpgsql AS \
         $$ BEGIN IF tg_tag = 'DROP TABLE' THEN RAISE EXCEPTION 'no drops here'; END IF; END $$; \
         CREATE EVENT TRIGGER no_drops ON ddl_command_start EXECUTE FUNCTION public.no_drops()",
    );
    let dir = db.dir.path().join("b");
    let file = db.backup_file(&dir, &["--format", "directory", "--verify-restore"]);
    let copy = format!("{}_dir", db.name);
    db.ok(&[
        "backup",
        "restore",
        file.to_str().unwrap(),
        "--into",
        &copy,
        "--jobs",
        "2",
        "--anonymize",
        "--clear",
        "users.phone",
    ]);
    let url = copy_url(&db, &copy);
    let indexes = "SELECT string_agg(indexdef, ';' ORDER BY indexdef) FROM pg_indexes \
                   WHERE schemaname IN ('public', 'stackctl')";
    assert_eq!(crate::support::psql(&url, indexes), db.sql(indexes));
    db.cmd_url(&url).args(&["schema", "diff"]).run().success();
    let text = every_text(&url);
    assert!(!text.contains("ada@example.com"), "{text}");
    assert_eq!(
        crate::support::psql(
            &url,
            "SELECT string_agg(evtname, ',') FROM pg_event_trigger"
        ),
        "no_drops"
    );
    db.sql(&format!("DROP DATABASE {copy} WITH (FORCE)"));
}
