//! Values the application stored can hold terminal control sequences (ESC, CSI, OSC 52
//! clipboard writes, BEL, C1 controls, bidirectional overrides). Tables and messages show
//! them escaped; JSON and CSV carry them exactly.

use crate::support::TestDb;

/// One value per class of sequence, as the application could have written them.
const HOSTILE: &[&str] = &[
    "\u{1b}]0;pwned title\u{7}", // OSC: retitle the window, ended by BEL
    "\u{1b}]52;c;cm0gLXJmIH4=\u{1b}\\", // OSC 52: set the clipboard, ended by ST
    "\u{1b}[2J\u{1b}[H",         // CSI: clear the screen, home the cursor
    "\u{9b}31mred\u{9b}0m",      // C1 CSI
    "bell\u{7}and\u{8}backspace\rreturn", // BEL, BS, CR
    "evil\u{202e}txt.exe",       // right-to-left override
];

/// Bytes that must not reach a terminal raw: C0 controls but newline, DEL, and (as UTF-8)
/// C1 controls and bidirectional overrides.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| {
            (c.is_control() && *c != '\n')
                || matches!(*c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn stored_control_sequences_are_escaped_in_tables_and_messages_and_exact_in_json_and_csv() {
    let db = TestDb::new();
    for (i, h) in HOSTILE.iter().enumerate() {
        let q = h.replace('\'', "''");
        db.sql(&format!(
            "INSERT INTO users (id, email, username, hashed_password, full_name) \
             VALUES (gen_random_uuid(), 'u{i}@example.com', 'user{i}', 'x', E'{}');
             INSERT INTO items (id, title, description, owner_id) \
             SELECT gen_random_uuid(), E'{0}', E'{0}', id FROM users WHERE username = 'user{i}'",
            q.replace('\\', "\\\\")
        ));
    }
    let tables = [
        db.ok(&["user", "list"]),
        db.ok(&["item", "list"]),
        db.ok(&["user", "show", "user1"]),
        db.ok(&[
            "--dry-run",
            "user",
            "update",
            "user2",
            "--full-name",
            "Plain",
        ]),
    ];
    for r in &tables {
        assert!(
            raw_controls(&r.stdout).is_empty(),
            "raw control in {:?}",
            r.stdout
        );
        assert!(
            raw_controls(&r.stderr).is_empty(),
            "raw control in {:?}",
            r.stderr
        );
    }
    assert!(
        tables[1].stdout.contains("\\x1b]0;pwned title\\x07"),
        "{}",
        tables[1].stdout
    );
    assert!(
        tables[1].stdout.contains("evil\\u{202e}txt.exe"),
        "{}",
        tables[1].stdout
    );
    // A message quoting a value: the lookup of a hostile username is not found (exit 3).
    let r = db.run(&["user", "show", "\u{1b}]0;x\u{7}"]).fails(3);
    assert!(raw_controls(&r.stderr).is_empty(), "{:?}", r.stderr);
    // JSON and CSV are data for programs: exact.
    let json = db.json(&["item", "list", "--limit", "100"]);
    let mut titles: Vec<String> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    let mut want: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(titles, want);
    let (_, rows) = db
        .ok(&["-o", "csv", "user", "list", "--limit", "100"])
        .csv();
    let mut names: Vec<String> = rows.iter().map(|r| r[3].clone()).collect();
    names.sort();
    assert_eq!(names, want);
}

/// JSON (listings and errors) escapes C1 controls too: a raw U+009B is a CSI to some
/// terminals. The value read back is the one stored.
#[test]
fn json_escapes_c1_controls() {
    let db = TestDb::new();
    db.add_user("c1@example.com", "cone");
    db.sql("UPDATE users SET full_name = E'a\\u009b31mred\\u0085' WHERE username = 'cone'");
    let r = db.ok(&["-o", "json", "user", "list"]);
    assert!(
        !r.stdout.contains('\u{9b}') && !r.stdout.contains('\u{85}'),
        "{r:#?}"
    );
    assert!(r.stdout.contains("\\u009b31mred\\u0085"), "{r:#?}");
    assert_eq!(r.json()[0]["full_name"], "a\u{9b}31mred\u{85}");
    let r = db.run(&["-o", "json", "user", "show", "nobody\u{9b}2J"]);
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(!r.stderr.contains('\u{9b}'), "{r:#?}");
}
