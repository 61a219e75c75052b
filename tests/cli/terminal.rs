//! Values the application stored can hold terminal control sequences (ESC, CSI, OSC 52
//! clipboard writes, BEL, C1 controls, bidirectional overrides). Tables and messages show
//! them escaped; JSON and CSV carry them exactly.

use crate::support::{TestDb, Timed as _};

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

/// Run stackctl in a real pseudo-terminal `columns` wide (the window size set on the
/// terminal, no COLUMNS): its exit code and what the terminal received, lines joined by
/// `\n`.
fn in_terminal(db: &TestDb, columns: u16, args: &[&str]) -> (i32, String) {
    const RUN: &str = r#"
import fcntl, os, pty, struct, sys, termios
columns, argv = int(sys.argv[1]), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    os.execv(argv[0], argv)
out = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let out = std::process::Command::new(crate::support::python())
        .args(["-c", RUN, &columns.to_string(), crate::support::BIN])
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("STACKCTL_BCRYPT_COST", "4")
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .timed_output()
        .expect("run stackctl in a pseudo-terminal");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
    )
}

/// Every command's table output fits terminals 80 and 120 columns wide, with hostile,
/// wide (CJK, emoji) and very long values; `-o wide` prints them in full; under a pipe the
/// table is as it always was.
#[test]
fn tables_fit_the_terminal_they_are_printed_in() {
    use unicode_width::UnicodeWidthStr;
    let db = TestDb::new();
    db.add_user("ada@example.com", "ada");
    db.sql(
        "UPDATE users SET full_name = E'Ada \\x1b]0;pwned\\x07 漢字のなまえ 🙂 ' || repeat('long ', 40)",
    );
    for title in ["Lamp", "漢字のタイトル🙂", &"a very long title ".repeat(8)] {
        db.ok(&[
            "item", "add", "--owner", "ada", "--title", title, "--price", "12.50",
        ]);
    }
    db.sql("UPDATE items SET description = repeat('description ', 30)");
    let dir = db.dir.path().join("b");
    db.ok(&["backup", "--dir", dir.to_str().unwrap()]);
    let commands: Vec<Vec<&str>> = vec![
        vec!["item", "list"],
        vec!["user", "list"],
        vec!["audit", "list"],
        vec!["user", "show", "ada"],
        vec!["backup", "list", "--dir", dir.to_str().unwrap()],
        vec!["status"],
        vec!["schema", "diff"],
        vec!["migrate", "status"],
    ];
    for columns in [80u16, 120] {
        for args in &commands {
            let (code, screen) = in_terminal(&db, columns, args);
            assert_eq!(code, 0, "{args:?}:\n{screen}");
            // The tables' lines (messages on stderr are prose, which the terminal wraps).
            let table_line = |l: &&str| {
                l.starts_with(['┌', '│', '╞', '└'])
                    || l.starts_with("-[ RECORD")
                    || l.contains(" | ")
            };
            for line in screen.lines().filter(table_line) {
                assert!(
                    line.width() <= usize::from(columns),
                    "{args:?} at {columns} columns: a line of {}:\n{screen}",
                    line.width()
                );
            }
            assert!(!screen.contains('\u{1b}'), "{args:?}: raw ESC:\n{screen}");
        }
    }
    // item list at 80: the reading columns, the id shortened, long text cut.
    let (_, screen) = in_terminal(&db, 80, &["item", "list"]);
    assert!(
        screen.contains("owner_email") && !screen.contains("updated_at"),
        "{screen}"
    );
    assert!(screen.contains('…'), "{screen}");
    let full_id = db.sql("SELECT id FROM items ORDER BY created_at LIMIT 1");
    assert!(
        !screen.contains(&full_id) && screen.contains(&full_id[..8]),
        "{screen}"
    );
    // backup list: sizes as people read them.
    let (_, screen) = in_terminal(&db, 80, &["backup", "list", "--dir", dir.to_str().unwrap()]);
    assert!(
        screen.contains(" KiB") || screen.contains(" MiB"),
        "{screen}"
    );
    // -o wide: every column in full, at any width.
    let (_, screen) = in_terminal(&db, 80, &["-o", "wide", "item", "list"]);
    assert!(
        screen.contains("updated_at") && screen.contains(&full_id),
        "{screen}"
    );
    assert!(screen.lines().any(|l| l.width() > 80), "{screen}");
    // Under a pipe, -o table is the full table, as scripts have parsed it.
    let piped = db.ok(&["item", "list"]);
    assert!(piped.stdout.contains("updated_at") && piped.stdout.contains(&full_id));
}
