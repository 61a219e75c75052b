use serde_json::Value;

use crate::support::Timed as _;
use crate::support::{Cmd, TestDb};

fn hash_of(db: &TestDb, email: &str) -> String {
    db.sql(&format!(
        "SELECT hashed_password FROM users WHERE email = '{email}'"
    ))
}

#[test]
fn add_with_password_from_stdin_and_file() {
    let db = TestDb::new();
    let u = db
        .user_add(
            "a@example.com",
            "alice",
            "s3cret-pass\r\nsecond line ignored\n",
        )
        .args(&["-o", "json", "--full-name", "Alice A"])
        .run()
        .success()
        .json();
    assert_eq!(u["email"], "a@example.com");
    assert_eq!(u["full_name"], "Alice A");
    assert_eq!(u["is_active"], true);
    assert_eq!(u["is_superuser"], false);
    assert!(u.get("hashed_password").is_none() && u.get("password").is_none());
    let keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, crate::support::USER_KEYS);
    assert!(bcrypt::verify("s3cret-pass", &hash_of(&db, "a@example.com")).unwrap());

    let file = db.dir.path().join("pw.txt");
    std::fs::write(&file, "from-a-file-pw\n").unwrap();
    db.ok(&[
        "user",
        "add",
        "--email",
        "b@example.com",
        "--username",
        "bob",
        "--superuser",
        "--inactive",
        "--password-file",
        file.to_str().unwrap(),
    ]);
    assert!(bcrypt::verify("from-a-file-pw", &hash_of(&db, "b@example.com")).unwrap());
    assert_eq!(
        db.sql("SELECT is_active, is_superuser FROM users WHERE username = 'bob'"),
        "f|t"
    );
}

#[test]
fn random_password_is_printed_once_and_verifies() {
    let db = TestDb::new();
    let u = db.json(&[
        "user",
        "add",
        "--email",
        "r@example.com",
        "--username",
        "rnd",
        "--random-password",
    ]);
    let pw = u["password"].as_str().unwrap();
    assert!(pw.len() >= 20, "{pw}");
    assert!(bcrypt::verify(pw, &hash_of(&db, "r@example.com")).unwrap());

    let r = db.ok(&[
        "user",
        "add",
        "--email",
        "t@example.com",
        "--username",
        "tbl",
        "--random-password",
    ]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("password: "))
        .expect("password: line");
    let pw = line.trim_start_matches("password: ");
    assert!(bcrypt::verify(pw, &hash_of(&db, "t@example.com")).unwrap());
    assert_eq!(r.stdout.matches(pw).count(), 1, "printed once: {r:#?}");
    assert!(!r.stderr.contains(pw), "the password goes to stdout only");

    let r = db.ok(&[
        "-o",
        "csv",
        "user",
        "set-password",
        "rnd",
        "--random-password",
    ]);
    let (header, rows) = r.csv();
    let col = header.iter().position(|h| h == "password").unwrap();
    assert!(bcrypt::verify(&rows[0][col], &hash_of(&db, "r@example.com")).unwrap());
}

#[test]
fn no_password_source_without_a_terminal_is_refused() {
    let db = TestDb::new();
    let r = db
        .run(&[
            "user",
            "add",
            "--email",
            "a@example.com",
            "--username",
            "alice",
        ])
        .fails(2);
    assert!(r.stderr.contains("hint:"), "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "0");
}

#[test]
fn refused_passwords_write_nothing() {
    let db = TestDb::new();
    for pw in ["short", "1234567", &"x".repeat(73), &"é".repeat(37), ""] {
        let r = db
            .user_add("a@example.com", "alice", &format!("{pw}\n"))
            .run()
            .fails(2);
        assert!(r.stderr.contains("password"), "{r:#?}");
    }
    assert_eq!(db.sql("SELECT count(*) FROM users"), "0");
    // 72 bytes is the most, and it is kept whole.
    let pw = "y".repeat(72);
    db.user_add("a@example.com", "alice", &pw).run().success();
    assert!(bcrypt::verify(&pw, &hash_of(&db, "a@example.com")).unwrap());
}

#[test]
fn bcrypt_cost_default_flag_and_env() {
    let db = TestDb::new();
    // The default is 12: no STACKCTL_BCRYPT_COST here.
    let mut c = db.user_add("a@example.com", "alice", "password123\n");
    c.cmd.env_remove("STACKCTL_BCRYPT_COST");
    c.run().success();
    assert!(hash_of(&db, "a@example.com").starts_with("$2b$12$"));
    db.user_add("b@example.com", "bob", "password123\n")
        .args(&["--bcrypt-cost", "5"])
        .run()
        .success();
    assert!(hash_of(&db, "b@example.com").starts_with("$2b$05$"));
    db.cmd()
        .env("STACKCTL_BCRYPT_COST", "6")
        .args(&["user", "set-password", "bob", "--password-stdin"])
        .stdin("password456\n")
        .run()
        .success();
    assert!(hash_of(&db, "b@example.com").starts_with("$2b$06$"));
    for cost in ["3", "32", "x"] {
        let r = db
            .cmd()
            .args(&["--bcrypt-cost", cost, "user", "list"])
            .run();
        assert_eq!(r.code, 2, "{cost}");
    }
}

/// Our hashes verify in the application's passlib (1.7.4 with bcrypt 4.0.1).
#[test]
fn hashes_verify_in_passlib() {
    let db = TestDb::new();
    db.user_add("p@example.com", "plib", "ünïcödé pass!\n")
        .args(&["--bcrypt-cost", "12"])
        .run()
        .success();
    let hash = hash_of(&db, "p@example.com");
    let script = "import sys\nfrom passlib.context import CryptContext\nctx = CryptContext(schemes=['bcrypt'])\n\
                  ok = ctx.verify(sys.argv[1], sys.argv[2]) and not ctx.verify('wrong', sys.argv[2])\n\
                  print('ok' if ok else 'bad')";
    let out = std::process::Command::new(crate::support::python())
        .args(["-c", script, "ünïcödé pass!", &hash])
        .timed_output()
        .expect("run the test venv's python");
    assert!(
        out.status.success(),
        "passlib (the test venv's) could not check the hash:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn bad_emails_and_usernames_name_the_field() {
    let db = TestDb::new();
    let long_email = format!("{}@example.com", "a".repeat(250));
    let long_user = "u".repeat(101);
    let cases: &[(&str, &str, &str)] = &[
        ("", "alice", "email"),
        ("no-at-sign", "alice", "email"),
        ("two@@example.com", "alice", "email"),
        ("a@b@example.com", "alice", "email"),
        ("@example.com", "alice", "email"),
        ("a@localhost", "alice", "email"),
        ("a b@example.com", "alice", "email"),
        ("tab\t@example.com", "alice", "email"),
        (&long_email, "alice", "email"),
        ("a@example.com", "al", "username"),
        ("a@example.com", &long_user, "username"),
        ("a@example.com", "al ice", "username"),
        ("a@example.com", "alice!", "username"),
        ("a@example.com", "ålice", "username"),
        ("a@example.com", "x'; DROP TABLE users;--", "username"),
    ];
    for (email, username, field) in cases {
        let r = db.user_add(email, username, "password123\n").run().fails(2);
        assert!(
            r.stderr.contains(&format!("invalid {field}")),
            "{email} {username}: {r:#?}"
        );
    }
    let r = db
        .user_add("a@example.com", "alice", "password123\n")
        .args(&["--full-name", "bad\u{7}name"])
        .run()
        .fails(2);
    assert!(r.stderr.contains("full name"), "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "0");
}

#[test]
fn email_and_username_conflicts_ignore_case() {
    let db = TestDb::new();
    db.add_user("bob@example.com", "bob");
    let before = db.checksum();
    for (email, username) in [
        ("BOB@Example.com", "other"),
        ("bob@example.com", "other"),
        ("new@example.com", "BOB"),
        ("new@example.com", "bob"),
    ] {
        let r = db.user_add(email, username, "password123\n").run().fails(4);
        assert!(r.stderr.contains("already exists"), "{r:#?}");
    }
    db.add_user("carol@example.com", "carol");
    let before2 = db.checksum();
    assert_ne!(before, before2);
    db.run(&["user", "update", "carol", "--email", "Bob@EXAMPLE.com"])
        .fails(4);
    db.run(&["user", "update", "carol", "--username", "Bob"])
        .fails(4);
    assert_eq!(db.checksum(), before2);
    // A user may change the case of their own email.
    let u = db.json(&["user", "update", "carol", "--email", "Carol@Example.com"]);
    assert_eq!(u["email"], "Carol@Example.com");
}

#[test]
fn eight_concurrent_adds_of_one_email_give_one_success() {
    let db = TestDb::new();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let url = db.url.clone();
            let dir = db.dir.path().to_path_buf();
            std::thread::spawn(move || {
                Cmd::bare(&dir)
                    .env("DATABASE_URL", &url)
                    .args(&[
                        "user",
                        "add",
                        "--email",
                        "race@example.com",
                        "--username",
                        &format!("racer{i}"),
                        "--password-stdin",
                    ])
                    .stdin("password123\n")
                    .run()
            })
        })
        .collect();
    let runs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(runs.iter().filter(|r| r.code == 0).count(), 1, "{runs:#?}");
    for r in runs.iter().filter(|r| r.code != 0) {
        assert_eq!(r.code, 4, "{r:#?}");
        let errors: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| !l.starts_with("hint:"))
            .collect();
        assert_eq!(
            errors,
            ["error: a user with email 'race@example.com' already exists"],
            "{r:#?}"
        );
    }
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
}

fn emails(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_filters_sorts_and_pages() {
    let db = TestDb::new();
    for (e, u) in [
        ("carol@example.com", "carol"),
        ("alice@example.com", "alice"),
        ("bob@example.com", "bob"),
        ("dan_x@example.com", "dan"),
        ("eve%@example.com", "eve"),
    ] {
        db.add_user(e, u);
    }
    db.ok(&["user", "deactivate", "bob"]);
    db.ok(&[
        "user",
        "update",
        "alice",
        "--superuser",
        "--full-name",
        "Alice Wonder",
    ]);

    assert_eq!(
        emails(&db.json(&["user", "list"])),
        [
            "carol@example.com",
            "alice@example.com",
            "bob@example.com",
            "dan_x@example.com",
            "eve%@example.com"
        ]
    );
    assert_eq!(
        emails(&db.json(&["user", "list", "--sort", "email"])),
        [
            "alice@example.com",
            "bob@example.com",
            "carol@example.com",
            "dan_x@example.com",
            "eve%@example.com"
        ]
    );
    assert_eq!(
        emails(&db.json(&["user", "list", "--sort", "username", "--desc"])),
        [
            "eve%@example.com",
            "dan_x@example.com",
            "carol@example.com",
            "bob@example.com",
            "alice@example.com"
        ]
    );
    assert_eq!(
        emails(&db.json(&["user", "list", "--inactive"])),
        ["bob@example.com"]
    );
    assert_eq!(
        db.json(&["user", "list", "--active"])
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        emails(&db.json(&["user", "list", "--superuser"])),
        ["alice@example.com"]
    );
    assert_eq!(
        emails(&db.json(&["user", "list", "--search", "WONDER"])),
        ["alice@example.com"]
    );
    assert_eq!(
        emails(&db.json(&["user", "list", "--search", "AR"])),
        ["carol@example.com"]
    );
    // Wildcards are literal.
    assert_eq!(
        emails(&db.json(&["user", "list", "--search", "_x"])),
        ["dan_x@example.com"]
    );
    assert_eq!(
        emails(&db.json(&["user", "list", "--search", "%"])),
        ["eve%@example.com"]
    );
    assert!(emails(&db.json(&["user", "list", "--search", "\\"])).is_empty());
    // Paging.
    assert_eq!(
        emails(&db.json(&["user", "list", "--sort", "email", "--limit", "2", "--offset", "1"])),
        ["bob@example.com", "carol@example.com"]
    );
    assert_eq!(
        db.json(&["user", "list", "--all"])
            .as_array()
            .unwrap()
            .len(),
        5
    );
    db.run(&["user", "list", "--all", "--limit", "3"]).fails(2);
    // CSV: the same keys, parsed.
    let (header, rows) = db
        .ok(&["-o", "csv", "user", "list", "--sort", "email"])
        .csv();
    assert_eq!(header, crate::support::USER_KEYS);
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0][1], "alice@example.com");
    assert_eq!(rows[0][3], "Alice Wonder");
    assert_eq!(rows[1][3], "", "absent values are empty in CSV");
    // The table never shows a hash.
    let table = db.ok(&["user", "list"]).stdout;
    assert!(
        table.contains("alice@example.com") && !table.contains("$2b$"),
        "{table}"
    );
}

#[test]
fn many_users_page_by_default_and_stream_with_all() {
    let db = TestDb::new();
    db.sql("INSERT INTO users (email, username, hashed_password) SELECT 'u' || g || '@example.com', 'user' || g, 'x' FROM generate_series(1, 3000) g");
    assert_eq!(db.json(&["user", "list"]).as_array().unwrap().len(), 50);
    let all = db.json(&["user", "list", "--all", "--sort", "email"]);
    assert_eq!(all.as_array().unwrap().len(), 3000);
    let (_, rows) = db.ok(&["-o", "csv", "user", "list", "--all"]).csv();
    assert_eq!(rows.len(), 3000);
    let paged = db.json(&["user", "list", "--sort", "email", "--limit", "3000"]);
    assert_eq!(all, paged);
}

#[test]
fn deactivate_and_activate_are_idempotent() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    db.add_user("b@example.com", "bob");
    let changed = db.json(&["user", "deactivate", "alice", "B@example.com"]);
    assert_eq!(changed.as_array().unwrap().len(), 2);
    assert!(changed
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["is_active"] == false));
    let r = db.ok(&["-o", "json", "user", "deactivate", "alice"]);
    assert_eq!(r.json(), serde_json::json!([]));
    assert!(r.stderr.contains("already inactive"), "{r:#?}");
    // An unknown user: exit 3, and nobody changes.
    let before = db.checksum();
    db.run(&["user", "activate", "alice", "nobody@example.com"])
        .fails(3);
    assert_eq!(db.checksum(), before);
    let changed = db.json(&["user", "activate", "alice"]);
    assert_eq!(changed[0]["is_active"], true);
    assert_eq!(db.sql("SELECT is_active FROM users ORDER BY email"), "t\nf");
}

#[test]
fn show_resolves_by_id_email_and_username_with_items() {
    let db = TestDb::new();
    let u = db.add_user("Show@Example.com", "shower");
    let id = u["id"].as_str().unwrap();
    db.ok(&[
        "item", "add", "--owner", "shower", "--title", "One", "--price", "1.5",
    ]);
    db.ok(&["item", "add", "--owner", "shower", "--title", "Two"]);
    for who in [id, "show@example.com", "SHOWER", "shower"] {
        let s = db.json(&["user", "show", who]);
        assert_eq!(s["id"], id);
        let items = s["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["price"], "1.50");
        assert_eq!(items[0]["owner_email"], "Show@Example.com");
    }
    db.run(&["user", "show", "nobody"]).fails(3);
    db.run(&["user", "show", "00000000-0000-0000-0000-000000000000"])
        .fails(3);
    let table = db.ok(&["user", "show", "shower"]).stdout;
    assert!(
        table.contains("items: 2") && table.contains("One"),
        "{table}"
    );
}

#[test]
fn update_changes_fields_and_updated_at() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    db.sql("UPDATE users SET updated_at = '2000-01-01'");
    let u = db.json(&[
        "user",
        "update",
        "alice",
        "--username",
        "alice2",
        "--full-name",
        "A. Person",
        "--superuser",
    ]);
    assert_eq!(u["username"], "alice2");
    assert_eq!(u["full_name"], "A. Person");
    assert_eq!(u["is_superuser"], true);
    assert!(!u["updated_at"].as_str().unwrap().starts_with("2000"));
    let u = db.json(&[
        "user",
        "update",
        "alice2",
        "--clear-full-name",
        "--no-superuser",
    ]);
    assert_eq!(u["full_name"], Value::Null);
    assert_eq!(u["is_superuser"], false);
    db.run(&["user", "update", "alice2"]).fails(2);
    db.run(&["user", "update", "ghost", "--superuser"]).fails(3);
    db.run(&[
        "user",
        "update",
        "alice2",
        "--full-name",
        "x",
        "--clear-full-name",
    ])
    .fails(2);
}

#[test]
fn set_password_replaces_the_hash() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    db.cmd()
        .args(&["user", "set-password", "alice", "--password-stdin"])
        .stdin("brand-new-pw\n")
        .run()
        .success();
    assert!(bcrypt::verify("brand-new-pw", &hash_of(&db, "a@example.com")).unwrap());
    db.cmd()
        .args(&["user", "set-password", "ghost", "--password-stdin"])
        .stdin("brand-new-pw\n")
        .run()
        .fails(3);
    db.run(&["user", "set-password", "alice"]).fails(2);
    db.run(&[
        "user",
        "set-password",
        "alice",
        "--password-stdin",
        "--random-password",
    ])
    .fails(2);
}

#[test]
fn delete_cascades_and_needs_yes_without_a_terminal() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    db.add_user("b@example.com", "bob");
    for t in ["x", "y", "z"] {
        db.ok(&["item", "add", "--owner", "alice", "--title", t]);
    }
    db.ok(&["item", "add", "--owner", "bob", "--title", "keep"]);
    let before = db.checksum();
    let r = db.run(&["user", "delete", "alice"]).fails(2);
    assert!(
        r.stderr.contains("3 item(s)") && r.stderr.contains("--yes"),
        "{r:#?}"
    );
    assert_eq!(db.checksum(), before);
    let r = db.ok(&["user", "delete", "alice", "--yes"]);
    assert!(r.stderr.contains("3 item(s)"), "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
    assert_eq!(db.sql("SELECT title FROM items"), "keep");
    db.run(&["user", "delete", "alice", "--yes"]).fails(3);
}

#[test]
fn rows_written_by_the_application_are_shown() {
    let db = TestDb::new();
    db.sql("INSERT INTO users (id, email, username, hashed_password, full_name, is_active, is_superuser, created_at, updated_at) \
            VALUES ('33333333-3333-3333-3333-333333333333', 'app@example.com', 'appuser', '$2b$12$x', NULL, true, false, now(), NULL)");
    let list = db.json(&["user", "list"]);
    assert_eq!(list[0]["updated_at"], Value::Null);
    assert_eq!(list[0]["full_name"], Value::Null);
    let (_, rows) = db.ok(&["-o", "csv", "user", "list"]).csv();
    assert_eq!(rows[0][7], "");
    db.ok(&["user", "show", "appuser"]);
    let u = db.json(&["user", "deactivate", "appuser"]);
    assert!(
        u[0]["updated_at"].is_string(),
        "every update sets updated_at"
    );
}

#[test]
fn closed_stdout_is_not_an_error() {
    use std::io::BufRead;
    let db = TestDb::new();
    db.sql("INSERT INTO users (email, username, hashed_password) SELECT 'u' || g || '@example.com', 'user' || g, 'x' FROM generate_series(1, 20000) g");
    let mut child = std::process::Command::new(crate::support::BIN)
        .current_dir(db.dir.path())
        .env("DATABASE_URL", &db.url)
        .args(["-o", "csv", "user", "list", "--all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("id,email"), "{first}");
    // The reader is dropped here, as `| head -n 1` would.
    let out = crate::support::wait_output(child, None, "stackctl user list --all");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("error") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// Where the foreign key from items to users has no ON DELETE CASCADE (the schema
/// StackWizard's generator writes), user delete deletes the user's items itself, in the
/// same transaction.
#[test]
fn delete_removes_the_items_where_the_foreign_key_does_not_cascade() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    db.ok(&["item", "add", "--owner", "alice", "--title", "x"]);
    db.ok(&["item", "add", "--owner", "alice", "--title", "y"]);
    db.sql(
        "ALTER TABLE items DROP CONSTRAINT fk_items_owner; \
         ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (owner_id) REFERENCES users (id)",
    );
    let r = db.ok(&["user", "delete", "alice", "--yes"]);
    assert!(r.stderr.contains("2 item(s)"), "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "0");
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");
}
