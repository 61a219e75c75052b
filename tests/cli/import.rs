//! Bulk export (`list --all`) and import (`user import`, `item import`).

use crate::support::{Run, TestDb};

const VECTORS: &[(&str, &str)] = include!("../data/passlib_vectors.in");

/// `users` users and `items` items spread over them, written by SQL (fast), with the
/// awkward values an export must carry: NULLs, quotes, commas, newlines, case.
fn bulk(users: usize, items: usize) -> TestDb {
    let db = TestDb::new();
    db.sql(&format!(
        "INSERT INTO users (id, email, username, hashed_password, full_name, is_active, is_superuser, created_at, updated_at) \
         SELECT uuid_generate_v4(), 'User' || g || '@Example.com', 'user' || g, \
                '$2b$04$abcdefghijklmnopqrstuu0123456789012345678901234567890', \
                CASE WHEN g % 3 = 0 THEN NULL ELSE 'Name, \"' || g || '\"' END, \
                CASE WHEN g % 5 = 0 THEN NULL ELSE g % 2 = 0 END, g % 7 = 0, \
                timestamptz '2026-01-01' + g * interval '1 minute', \
                CASE WHEN g % 4 = 0 THEN NULL ELSE timestamptz '2026-02-01' + g * interval '1.5 second' END \
         FROM generate_series(1, {users}) g"
    ));
    db.sql(&format!(
        "INSERT INTO items (id, title, description, price, owner_id, is_available, created_at, updated_at) \
         SELECT uuid_generate_v4(), 'Item ' || g, \
                CASE WHEN g % 3 = 0 THEN NULL ELSE E'line one\\nline \"two\", ' || g END, \
                CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 5000) / 100.0 END, \
                (SELECT id FROM users ORDER BY email OFFSET (g % {users}) LIMIT 1), \
                CASE WHEN g % 13 = 0 THEN NULL ELSE g % 2 = 1 END, \
                timestamptz '2026-03-01' + g * interval '1 second', \
                CASE WHEN g % 6 = 0 THEN NULL ELSE now() END \
         FROM generate_series(1, {items}) g"
    ));
    db
}

fn write(db: &TestDb, name: &str, text: &str) -> String {
    let p = db.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// Lines of stderr that list bad rows.
fn bad_lines(r: &Run) -> Vec<String> {
    r.stderr
        .lines()
        .filter(|l| l.starts_with("  line "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn export_of_everything_equals_the_paged_listing() {
    let db = bulk(120, 2500);
    for noun in ["user", "item"] {
        let all = db.ok(&["-o", "csv", noun, "list", "--all"]).csv();
        let mut paged = Vec::new();
        for offset in (0..3000).step_by(1000) {
            let page = db
                .ok(&[
                    "-o",
                    "csv",
                    noun,
                    "list",
                    "--limit",
                    "1000",
                    "--offset",
                    &offset.to_string(),
                ])
                .csv();
            assert_eq!(page.0, all.0);
            paged.extend(page.1);
        }
        assert_eq!(all.1, paged, "{noun}");
        let json_all = db.json(&[noun, "list", "--all"]);
        let json_paged: Vec<serde_json::Value> = (0..3000)
            .step_by(1000)
            .flat_map(|o| {
                db.json(&[noun, "list", "--limit", "1000", "--offset", &o.to_string()])
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .collect();
        assert_eq!(json_all.as_array().unwrap(), &json_paged, "{noun}");
    }
    let items = db.ok(&["-o", "csv", "item", "list", "--all"]).csv();
    assert_eq!(items.1.len(), 2500);
    // Tables too: --all prints blocks of 1,000 rows, exactly the pages of 1,000.
    for noun in ["user", "item"] {
        let all = db.ok(&[noun, "list", "--all"]).stdout;
        let paged: String = (0..3000)
            .step_by(1000)
            .map(|o| {
                db.ok(&[noun, "list", "--limit", "1000", "--offset", &o.to_string()])
                    .stdout
            })
            .filter(|page| page.lines().count() > 4)
            .collect();
        assert_eq!(all, paged, "{noun}");
    }
}

#[test]
fn items_round_trip_byte_for_byte_in_csv_and_json() {
    let db = bulk(30, 1500);
    let before = db.ok(&["-o", "csv", "item", "list", "--all"]).stdout;
    let json = db.ok(&["-o", "json", "item", "list", "--all"]).stdout;
    let csv_file = write(&db, "items.csv", &before);
    let json_file = write(&db, "items.json", &json);

    db.sql("DELETE FROM items");
    let r = db.ok(&["-o", "json", "item", "import", &csv_file]);
    assert_eq!(r.json()["imported"], 1500);
    assert_eq!(
        db.ok(&["-o", "csv", "item", "list", "--all"]).stdout,
        before
    );

    db.sql("DELETE FROM items");
    db.ok(&["item", "import", &json_file]);
    assert_eq!(
        db.ok(&["-o", "csv", "item", "list", "--all"]).stdout,
        before
    );
    assert_eq!(db.ok(&["-o", "json", "item", "list", "--all"]).stdout, json);
}

#[test]
fn users_round_trip_with_their_hashes() {
    let db = bulk(200, 0);
    let before = db.ok(&["-o", "csv", "user", "list", "--all"]).stdout;
    // The export has no hashes (nothing prints them); add them back from the database.
    let hashes = db.sql("SELECT id || ',' || hashed_password FROM users");
    let by_id: std::collections::HashMap<&str, &str> =
        hashes.lines().map(|l| l.split_once(',').unwrap()).collect();
    let mut file = String::new();
    for (i, line) in before.lines().enumerate() {
        if i == 0 {
            file.push_str(&format!("{line},hashed_password\n"));
        } else {
            let id = &line[..36];
            file.push_str(&format!("{line},{}\n", by_id[id]));
        }
    }
    let file = write(&db, "users.csv", &file);
    db.sql("DELETE FROM users");
    db.ok(&["user", "import", &file]);
    assert_eq!(
        db.ok(&["-o", "csv", "user", "list", "--all"]).stdout,
        before
    );
}

#[test]
fn bad_rows_are_all_reported_with_line_numbers_and_nothing_is_written() {
    let db = TestDb::new();
    db.add_user("alice@example.com", "alice");
    let bob = db.add_user("bob@example.com", "bob");
    let bob_id = bob["id"].as_str().unwrap();
    let before = db.checksum_all();
    let items = format!(
        "title,price,owner_email,owner_id,is_available,id,created_at\n\
         Good,1.00,alice@example.com,,,,\n\
         ,1.00,alice@example.com,,,,\n\
         Lamp,12.345,alice@example.com,,,,\n\
         Lamp,1,nobody@example.com,,,,\n\
         Lamp,1,,not-a-uuid,,,\n\
         Lamp,1,alice@example.com,,maybe,,\n\
         Lamp,1,alice@example.com,,,xyz,\n\
         Lamp,1,alice@example.com,,,,yesterday\n\
         Lamp,1,alice@example.com,{bob_id},,,\n\
         Lamp,1,,{},,,\n\
         Lamp,-1,alice@example.com,,,,\n",
        uuid_like_other()
    );
    let r = db
        .run(&["item", "import", &write(&db, "bad.csv", &items)])
        .fails(2);
    let lines = bad_lines(&r);
    let at: Vec<&str> = lines.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        at,
        [
            "line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9", "line 10",
            "line 11", "line 12"
        ],
        "{r:#?}"
    );
    assert!(lines[0].contains("title"), "{lines:?}");
    assert!(lines[1].contains("price"), "{lines:?}");
    assert!(lines[2].contains("nobody@example.com"), "{lines:?}");
    assert!(lines[7].contains("different users"), "{lines:?}");
    assert!(lines[8].contains("is not a user"), "{lines:?}");
    assert!(
        r.stderr.contains("10 bad row(s); nothing was imported"),
        "{r:#?}"
    );
    assert_eq!(db.checksum_all(), before);

    let users = "email,username,password,hashed_password,is_superuser\n\
                 ok@example.com,okay,long-enough-pw,,\n\
                 bad-email,someone,long-enough-pw,,\n\
                 x@example.com,no,long-enough-pw,,\n\
                 y@example.com,yuser,short,,\n\
                 z@example.com,zuser,,$2b$04$nope,\n\
                 w@example.com,wuser,,,\n\
                 v@example.com,vuser,long-enough-pw,,perhaps\n\
                 OK@example.com,okay2,long-enough-pw,,\n";
    let r = db
        .run(&["user", "import", &write(&db, "bad-users.csv", users)])
        .fails(2);
    let lines = bad_lines(&r);
    let at: Vec<&str> = lines.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        at,
        ["line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9"],
        "{r:#?}"
    );
    assert!(lines[6].contains("the same email as line 2"), "{lines:?}");
    assert_eq!(db.checksum_all(), before);

    // An unknown column is refused before any row is read.
    let r = db
        .run(&[
            "user",
            "import",
            &write(&db, "cols.csv", "email,username,colour\n"),
        ])
        .fails(2);
    assert!(r.stderr.contains("unknown column 'colour'"), "{r:#?}");
}

/// A valid UUID that is no user's.
fn uuid_like_other() -> &'static str {
    "00000000-0000-4000-8000-000000000001"
}

#[test]
fn many_bad_rows_show_fifty_and_a_count() {
    let db = TestDb::new();
    let mut text = String::from("title,owner_email\n");
    for i in 0..120 {
        text.push_str(&format!("t{i},nobody{i}@example.com\n"));
    }
    let r = db
        .run(&["item", "import", &write(&db, "many.csv", &text)])
        .fails(2);
    assert_eq!(bad_lines(&r).len(), 50);
    assert!(r.stderr.contains("... and 70 more"), "{r:#?}");
}

#[test]
fn duplicates_inside_a_file_are_bad_rows() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let id = "11111111-1111-4111-8111-111111111111";
    let text = format!(
        "{{\"id\": \"{id}\", \"title\": \"one\", \"owner_email\": \"a@example.com\"}}\n\
         {{\"id\": \"{id}\", \"title\": \"two\", \"owner_email\": \"A@EXAMPLE.COM\"}}\n"
    );
    let r = db
        .run(&["item", "import", &write(&db, "dup.ndjson", &text)])
        .fails(2);
    assert_eq!(bad_lines(&r), ["line 2: the same id as line 1"]);
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");
    let users =
        "email,username,password\nx@example.com,xuser,password-1\nX@Example.com,other,password-2\n";
    let r = db
        .run(&["user", "import", &write(&db, "dup.csv", users)])
        .fails(2);
    assert_eq!(bad_lines(&r), ["line 3: the same email as line 2"]);
}

#[test]
fn conflicts_fail_with_4_or_are_skipped() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let users = "email,username,password\nA@example.com,newname,password-1\nb@example.com,ALICE,password-2\nc@example.com,carol,password-3\n";
    let file = write(&db, "users.csv", users);
    let r = db.run(&["user", "import", &file]).fails(4);
    assert_eq!(bad_lines(&r).len(), 2, "{r:#?}");
    assert!(r.stderr.contains("--on-conflict skip"), "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
    let r = db.ok(&[
        "-o",
        "json",
        "user",
        "import",
        &file,
        "--on-conflict",
        "skip",
    ]);
    assert_eq!(r.json()["imported"], 1);
    assert_eq!(r.json()["skipped"], 2);
    assert_eq!(
        db.sql("SELECT username FROM users ORDER BY email"),
        "alice\ncarol"
    );

    let item = db.json(&["item", "add", "--owner", "alice", "--title", "Lamp"]);
    let text = format!(
        "id,title,owner_email\n{},Again,a@example.com\n,New,a@example.com\n",
        item["id"].as_str().unwrap()
    );
    let file = write(&db, "items.csv", &text);
    db.run(&["item", "import", &file]).fails(4);
    assert_eq!(db.sql("SELECT count(*) FROM items"), "1");
    let r = db.ok(&[
        "-o",
        "json",
        "item",
        "import",
        &file,
        "--on-conflict",
        "skip",
    ]);
    assert_eq!(
        (r.json()["imported"].clone(), r.json()["skipped"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(
        db.sql("SELECT string_agg(title, ',' ORDER BY title) FROM items"),
        "Lamp,New"
    );
}

#[test]
fn imported_passwords_verify_in_passlib() {
    let db = TestDb::new();
    let mut text = String::from("email,username,hashed_password,password\n");
    for (i, (_, hash)) in VECTORS.iter().enumerate() {
        text.push_str(&format!("v{i}@example.com,vector{i},{hash},\n"));
    }
    text.push_str("plain@example.com,plain,,\"plain, \"\"quoted\"\" pw\"\n");
    db.ok(&["user", "import", &write(&db, "pw.csv", &text)]);
    for (i, (pw, hash)) in VECTORS.iter().enumerate() {
        let stored = db.sql(&format!(
            "SELECT hashed_password FROM users WHERE username = 'vector{i}'"
        ));
        assert_eq!(&stored, hash);
        assert!(bcrypt::verify(pw, &stored).unwrap());
    }
    let stored = db.sql("SELECT hashed_password FROM users WHERE username = 'plain'");
    assert!(stored.starts_with("$2b$04$"), "{stored}");
    assert!(crate::support::passlib_verifies(
        "plain, \"quoted\" pw",
        &[&stored]
    ));
}

#[test]
fn import_from_stdin_dry_run_and_audit() {
    let db = TestDb::new();
    db.sql("DELETE FROM stackctl_audit");
    let users = "[{\"email\": \"s@example.com\", \"username\": \"stdin\", \"password\": \"from-stdin-1\", \"is_active\": false}]";
    let before = db.checksum_all();
    let r = db
        .cmd()
        .args(&["-o", "json", "--dry-run", "user", "import", "-"])
        .stdin(users)
        .run()
        .success();
    assert_eq!(r.json()["changes"][0]["after"]["rows"], 1);
    assert_eq!(db.checksum_all(), before);
    let r = db
        .cmd()
        .args(&["-o", "json", "user", "import", "-"])
        .stdin(users)
        .run()
        .success();
    assert_eq!(r.json()["file"], "stdin");
    assert_eq!(
        db.sql("SELECT is_active FROM users WHERE username = 'stdin'"),
        "f"
    );
    let items = "title,owner_email,price\nA,s@example.com,\nB,s@example.com,2\n";
    db.cmd()
        .args(&["item", "import", "-", "--format", "csv"])
        .stdin(items)
        .run()
        .success();
    // An empty price is NULL; an absent column takes the default.
    assert_eq!(
        db.sql("SELECT string_agg(title || '=' || coalesce(price::text, 'NULL'), ',' ORDER BY title) FROM items"),
        "A=NULL,B=2.00"
    );
    assert_eq!(
        db.sql("SELECT string_agg(command || ':' || target_kind || ':' || (summary->'after'->>'rows'), ',' ORDER BY id) FROM stackctl_audit"),
        "user import:users:1,item import:items:2"
    );
}

/// Peak resident memory (VmHWM, KiB) of a stackctl run, sampled from /proc while it runs.
fn peak_kib(cmd: crate::support::Cmd) -> (Run, u64) {
    use std::process::Stdio;
    let mut cmd = cmd;
    cmd.cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.cmd.spawn().expect("spawn stackctl");
    let status = format!("/proc/{}/status", child.id());
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        peak
    });
    let out = crate::support::wait_output(child, None, "stackctl import");
    (Run::from(out), sampler.join().unwrap())
}

/// An item CSV of `n` rows with ids, owned by `owner`.
fn items_csv(db: &TestDb, name: &str, n: usize, owner: &str) -> String {
    let mut text = String::with_capacity(n * 90);
    text.push_str("id,title,description,price,owner_id\n");
    for i in 0..n {
        text.push_str(&format!(
            "{},Item {i},\"A thing, \"\"quoted\"\" {i}\",{}.{:02},{owner}\n",
            uuid::Uuid::new_v4(),
            i % 1000,
            i % 100
        ));
    }
    write(db, name, &text)
}

/// `item import` holds no set of ids or owners: importing eight times the rows into a
/// table that already has rows costs no more memory (it used to keep every id of the file
/// and of the table, about 80 MiB per million).
#[test]
fn item_import_memory_does_not_grow_with_the_rows() {
    let db = TestDb::new();
    let owner = db.add_user_id("a@example.com", "alice");
    let small = items_csv(&db, "small.csv", 40_000, &owner);
    let large = items_csv(&db, "large.csv", 320_000, &owner);
    let (r, small_kib) = peak_kib(db.cmd().args(&["item", "import", &small]));
    r.success();
    let (r, large_kib) = peak_kib(db.cmd().args(&["item", "import", &large]));
    r.success();
    assert_eq!(db.sql("SELECT count(*) FROM items"), "360000");
    assert!(
        large_kib < small_kib + 8 * 1024,
        "40,000 rows: {small_kib} KiB, 320,000 rows: {large_kib} KiB"
    );
}

/// An id repeated far apart (in different batches of the import's checks) is caught by
/// the table's primary key and reported with both lines, read again from the file; from
/// stdin, with the id. An owner that is no user, far down the file, is a bad row too.
#[test]
fn duplicates_far_apart_are_found_by_the_primary_key() {
    let db = TestDb::new();
    let owner = db.add_user_id("a@example.com", "alice");
    let dup = "22222222-2222-4222-8222-222222222222";
    let mut text = String::from("id,title,owner_id\n");
    text.push_str(&format!("{dup},first,{owner}\n"));
    for i in 0..25_000 {
        text.push_str(&format!("{},t{i},{owner}\n", uuid::Uuid::new_v4()));
    }
    text.push_str(&format!("{dup},again,{owner}\n"));
    let file = write(&db, "far.csv", &text);
    let r = db.run(&["item", "import", &file]).fails(2);
    assert_eq!(
        bad_lines(&r),
        ["line 25003: the same id as line 2"],
        "{r:#?}"
    );
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");
    let r = db
        .cmd()
        .args(&["item", "import", "-", "--format", "csv"])
        .stdin(&text)
        .run()
        .fails(2);
    assert!(
        r.stderr.contains(&format!("id {dup} appears twice")),
        "{r:#?}"
    );
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");

    let mut text = String::from("title,owner_id\n");
    for i in 0..25_000 {
        text.push_str(&format!("t{i},{owner}\n"));
    }
    text.push_str("late,00000000-0000-4000-8000-000000000009\n");
    let r = db
        .run(&["item", "import", &write(&db, "owner.csv", &text)])
        .fails(2);
    assert_eq!(
        bad_lines(&r),
        ["line 25002: owner_id 00000000-0000-4000-8000-000000000009 is not a user"]
    );
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");
}

/// `user import` of precomputed hashes holds no row, id, email or username in memory: the
/// rows are staged in a temporary table and checked there. Eight times the rows into a
/// table that has users costs no more memory (it used to hold every row of the file and
/// every existing user's identities).
#[test]
fn user_import_of_hashes_memory_does_not_grow_with_the_rows() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let hash = "$2b$04$abcdefghijklmnopqrstuu0123456789012345678901234567890";
    let file = |name: &str, from: usize, n: usize| {
        let mut text = String::with_capacity(n * 120);
        text.push_str("email,username,full_name,hashed_password\n");
        for i in from..from + n {
            text.push_str(&format!(
                "person{i}@example.com,person{i},Person Number {i},{hash}\n"
            ));
        }
        write(&db, name, &text)
    };
    let small = file("small.csv", 0, 20_000);
    let large = file("large.csv", 20_000, 160_000);
    let (r, small_kib) = peak_kib(db.cmd().args(&["user", "import", &small]));
    r.success();
    let (r, large_kib) = peak_kib(db.cmd().args(&["user", "import", &large]));
    r.success();
    assert_eq!(db.sql("SELECT count(*) FROM users"), "180001");
    assert!(
        large_kib < small_kib + 8 * 1024,
        "20,000 users: {small_kib} KiB, 160,000 users: {large_kib} KiB"
    );
    // The checks still hold on the server: a repeat far down the file, in another case.
    let mut text = String::from("email,username,hashed_password\n");
    for i in 0..3000 {
        text.push_str(&format!("late{i}@example.com,late{i},{hash}\n"));
    }
    text.push_str(&format!("LATE7@Example.com,someone,{hash}\n"));
    text.push_str(&format!("new@example.com,PERSON5,{hash}\n"));
    let r = db
        .run(&["user", "import", &write(&db, "dup.csv", &text)])
        .fails(2);
    assert_eq!(
        bad_lines(&r),
        ["line 3002: the same email as line 9"],
        "{r:#?}"
    );
    let text = format!("email,username,hashed_password\nnew@example.com,PERSON5,{hash}\n");
    let r = db
        .run(&["user", "import", &write(&db, "clash.csv", &text)])
        .fails(4);
    assert_eq!(
        bad_lines(&r),
        ["line 2: a user with username 'PERSON5' already exists"]
    );
}

/// An item import sends binary COPY where every column it fills is the application's type,
/// and CSV where one is not (a domain, a column changed to another type): the two store
/// the same rows, edges of every type included (prices, NULLs, quotes and newlines,
/// sub-microsecond times rounded as the server rounds text, a leap second, year 1).
#[test]
fn binary_and_csv_item_copies_store_the_same_rows() {
    let db = bulk(1, 0);
    let file = write(
        &db,
        "edges.csv",
        "id,title,description,price,is_available,owner_email,created_at,updated_at\n\
         00000000-0000-4000-8000-000000000001,\"漢字 ✓ \"\"quoted\"\", comma\",,0,t,user1@example.com,2026-11-22T10:00:00.0000015Z,2026-11-22 10:00:00.1234565+05:30\n\
         00000000-0000-4000-8000-000000000002,plain,\"\",0.5,f,USER1@example.com,2016-12-31T23:59:60.5Z,0001-01-01T00:00:00Z\n\
         00000000-0000-4000-8000-000000000003,big,\"multi\nline\",99999999.99,,user1@example.com,1999-12-31T23:59:59.9999995Z,2000-01-01T00:00:00.0000025Z\n\
         00000000-0000-4000-8000-000000000004,nulls,d,,true,user1@example.com,,\n\
         00000000-0000-4000-8000-000000000005,ten thousand,d,10000,1,,2026-01-01T00:00:00Z,2026-01-01T00:00:00.000001Z\n\
         00000000-0000-4000-8000-000000000006,cents,d,1234.05,0,user1@example.com,2026-01-01T00:00:00.0001255Z,2026-01-01T00:00:00.0001265Z\n",
    );
    let rows = || {
        db.sql(
            "SELECT id, title, description IS NULL, description, price, is_available, owner_id, \
             created_at, updated_at FROM items ORDER BY id",
        )
    };
    let r = db.ok(&["-v", "item", "import", &file]);
    assert!(r.stderr.contains("COPY in binary"), "{}", r.stderr);
    let binary = rows();
    assert_eq!(db.sql("SELECT count(*) FROM items"), "6");
    // What the server stores when it reads these times as text.
    assert_eq!(
        db.sql(
            "SELECT created_at = '2026-11-22T10:00:00.0000015Z' AND updated_at = '2026-11-22 10:00:00.1234565+05:30' \
             FROM items WHERE title LIKE '漢字%'"
        ),
        "t"
    );
    // Ties in decimal that are not ties in the server's doubles.
    assert_eq!(
        db.sql(
            "SELECT created_at = '2026-01-01T00:00:00.0001255Z' AND updated_at = '2026-01-01T00:00:00.0001265Z' \
             FROM items WHERE title = 'cents'"
        ),
        "t"
    );

    db.sql("DELETE FROM items");
    db.sql("CREATE DOMAIN item_title AS varchar(255); ALTER TABLE items ALTER COLUMN title TYPE item_title");
    let r = db.ok(&["-v", "item", "import", &file]);
    assert!(r.stderr.contains("COPY in CSV"), "{}", r.stderr);
    assert_eq!(rows(), binary);

    // A price column of floats would read numeric's binary form as garbage or refuse it;
    // as text it takes the prices.
    db.sql("DELETE FROM items");
    db.sql("ALTER TABLE items ALTER COLUMN title TYPE varchar(255), ALTER COLUMN price TYPE double precision");
    db.ok(&["item", "import", &file]);
    assert_eq!(
        db.sql("SELECT string_agg(coalesce(price::text, 'NULL'), ' ' ORDER BY id) FROM items"),
        "0 0.5 99999999.99 NULL 10000 1234.05"
    );
}

/// The oids of stackctl's three indexes on `items` and of the application's indexes and
/// constraints on it, by name: a dropped and rebuilt index has a new oid.
fn item_index_oids(db: &TestDb) -> (String, String) {
    let of = |filter: &str| {
        db.sql(&format!(
            "SELECT string_agg(c.relname || '=' || c.oid || ':' || i.indisvalid, ',' ORDER BY c.relname) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = 'items'::regclass AND c.relname {filter} 'stackctl\\_items\\_%'"
        ))
    };
    (of("LIKE"), of("NOT LIKE"))
}

/// `--rebuild-indexes always` loads without stackctl's three indexes on `items` and builds
/// them again (new oids, valid); the application's indexes are never touched. A small file
/// under `auto` (and `never`, and a dry run) keeps them. A file with a bad row imports
/// nothing and still leaves the indexes built.
#[test]
fn a_load_may_drop_stackctls_item_indexes_and_builds_them_again() {
    let db = TestDb::new();
    let owner = db.add_user_id("a@example.com", "alice");
    let (ours, theirs) = item_index_oids(&db);
    assert_eq!(ours.matches(":true").count(), 3, "{ours}");
    assert!(theirs.contains("items_pkey="), "{theirs}");

    let small = items_csv(&db, "small.csv", 2_000, &owner);
    for args in [
        vec![
            "--dry-run",
            "item",
            "import",
            "--rebuild-indexes",
            "always",
            &small,
        ],
        vec!["item", "import", &small],
        vec!["item", "import", "--rebuild-indexes", "never", &small],
    ] {
        db.sql("TRUNCATE items");
        let r = db.ok(&args);
        assert!(!r.stderr.contains("dropping"), "{args:?}: {r:#?}");
        assert_eq!(
            item_index_oids(&db),
            (ours.clone(), theirs.clone()),
            "{args:?}"
        );
    }
    assert_eq!(db.sql("SELECT count(*) FROM items"), "2000");

    // With a statement timeout the command's reads run in a transaction, which must be
    // over before DROP INDEX CONCURRENTLY, which cannot run in one.
    db.sql("TRUNCATE items");
    let r = db.ok(&[
        "--statement-timeout",
        "60s",
        "item",
        "import",
        "--rebuild-indexes",
        "always",
        &small,
    ]);
    assert!(
        r.stderr.contains("item import: dropping stackctl's indexes on items for the load (stackctl_items_created_id, stackctl_items_price_id, stackctl_items_title_id)"),
        "{r:#?}"
    );
    assert!(
        r.stderr
            .contains("item import: built stackctl's indexes on items again in "),
        "{r:#?}"
    );
    assert_eq!(db.sql("SELECT count(*) FROM items"), "2000");
    let (rebuilt, untouched) = item_index_oids(&db);
    assert_eq!(untouched, theirs);
    assert_eq!(rebuilt.matches(":true").count(), 3, "{rebuilt}");
    for (before, after) in ours.split(',').zip(rebuilt.split(',')) {
        assert_eq!(before.split('=').next(), after.split('=').next());
        assert_ne!(before, after, "not built again");
    }
    db.ok(&["schema", "diff"]);

    // Bad input: nothing imported, the indexes built again all the same.
    let bad = write(
        &db,
        "bad.csv",
        &format!("title,price,owner_id\nLamp,1.00,{owner}\nChair,-3,{owner}\n"),
    );
    let r = db.run(&["item", "import", "--rebuild-indexes", "always", &bad]);
    let r = r.fails(2);
    assert_eq!(bad_lines(&r).len(), 1, "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM items"), "2000");
    let (again, untouched) = item_index_oids(&db);
    assert_eq!(untouched, theirs);
    assert_eq!(again.matches(":true").count(), 3, "{again}");
    assert_ne!(again, rebuilt);
}

/// `item import - --rebuild-indexes always` fed one row on stdin and left waiting for the
/// rest, returned once it has dropped stackctl's indexes on items (stdout and stderr piped).
fn import_waiting_after_the_drop(db: &TestDb) -> (std::process::Child, std::process::ChildStdin) {
    use std::io::Write;
    let owner = db.add_user_id("a@example.com", "alice");
    let mut cmd = db.cmd().args(&[
        "item",
        "import",
        "-",
        "--format",
        "csv",
        "--rebuild-indexes",
        "always",
    ]);
    cmd.cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.cmd.spawn().expect("spawn stackctl");
    let mut input = child.stdin.take().unwrap();
    writeln!(input, "title,owner_id\nLamp,{owner}").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while db.sql("SELECT count(*) FROM pg_class WHERE relname LIKE 'stackctl\\_items\\_%'") != "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "the indexes were never dropped"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child, input)
}

/// stackctl killed mid-load, after it dropped its indexes: the load is rolled back, the
/// indexes are missing, and the next `migrate` builds them again, even with a migration
/// pending.
#[test]
fn an_import_stopped_after_dropping_the_indexes_leaves_them_to_migrate() {
    let db = TestDb::new();
    let (mut child, input) = import_waiting_after_the_drop(&db);
    let gone =
        || db.sql("SELECT count(*) FROM pg_class WHERE relname LIKE 'stackctl\\_items\\_%'") == "0";
    child.kill().expect("kill stackctl");
    let _ = child.wait();
    drop(input);
    assert!(gone());
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");
    let r = db.run(&["schema", "diff"]);
    assert!(r.stdout.contains("stackctl_items_title_id"), "{r:#?}");

    // With a migration pending too (its SQL is `CREATE TABLE IF NOT EXISTS`): the missing
    // indexes are not drift that refuses the run; they are built after it.
    db.sql("DELETE FROM __diesel_schema_migrations WHERE version = '20261122000003'");
    let r = db.ok(&["migrate"]);
    assert!(
        r.stderr
            .contains("applied 2026-11-22-000003_migration_checksums"),
        "{r:#?}"
    );
    assert!(
        r.stderr.contains("2026-11-24-000004_query_indexes"),
        "{r:#?}"
    );
    let (ours, _) = item_index_oids(&db);
    assert_eq!(ours.matches(":true").count(), 3, "{ours}");
    db.ok(&["schema", "diff"]);
    assert_eq!(
        db.sql("SELECT count(*) FROM __diesel_schema_migrations WHERE version = '20261124000004'"),
        "1"
    );
}

/// A table created under one of stackctl's index names while `item import
/// --rebuild-indexes always` loads (after the drop) does not make the rebuild skip that
/// index silently: the import's rows stand, the command is exit 6 naming the object and
/// the repair, the other indexes are built, and `migrate` builds the last one once the
/// name is free.
#[test]
fn a_squatted_index_name_is_an_error_naming_it() {
    let db = TestDb::new();
    let (child, input) = import_waiting_after_the_drop(&db);
    db.sql("CREATE TABLE stackctl_items_price_id (x int)");
    drop(input);
    let r = crate::support::Run::from(crate::support::wait_output(
        child,
        None,
        "stackctl item import",
    ))
    .fails(6);
    assert!(
        r.stderr.contains("the rows are imported, but the name public.stackctl_items_price_id is taken by a table"),
        "{r:#?}"
    );
    assert!(
        r.stderr.contains("hint: rename or drop that object"),
        "{r:#?}"
    );
    assert_eq!(db.sql("SELECT count(*) FROM items"), "1");
    let valid = || {
        db.sql(
            "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = 'items'::regclass AND i.indisvalid AND c.relname LIKE 'stackctl\\_%'",
        )
    };
    assert_eq!(valid(), "stackctl_items_created_id,stackctl_items_title_id");
    // migrate says the same until the name is free, then builds it.
    let r = db.run(&["migrate"]).fails(6);
    assert!(
        r.stderr
            .contains("stackctl_items_price_id is taken by a table"),
        "{r:#?}"
    );
    db.sql("ALTER TABLE stackctl_items_price_id RENAME TO squatter");
    db.ok(&["migrate"]);
    assert_eq!(
        valid(),
        "stackctl_items_created_id,stackctl_items_price_id,stackctl_items_title_id"
    );
}
