//! Safe scripted changes: --dry-run, user add --if-not-exists, impact previews,
//! user delete --reassign-items-to, the audit trail and JSON errors.

use serde_json::Value;

use crate::support::{Run, TestDb};

/// alice owns two items (112.50 in all); bob owns none.
fn seeded() -> (TestDb, String) {
    let db = TestDb::new();
    db.add_user("alice@example.com", "alice");
    db.add_user("bob@example.com", "bob");
    let lamp = db.json(&[
        "item", "add", "--owner", "alice", "--title", "Lamp", "--price", "12.50",
    ]);
    db.ok(&[
        "item", "add", "--owner", "alice", "--title", "Desk", "--price", "100",
    ]);
    (db, lamp["id"].as_str().unwrap().to_string())
}

/// The plan a JSON dry run printed.
fn plan(r: &Run) -> Vec<Value> {
    let v = r.json();
    assert_eq!(v["dry_run"], true, "{r:#?}");
    assert!(r.stderr.contains("dry run: nothing was written"), "{r:#?}");
    v["changes"].as_array().unwrap().clone()
}

#[test]
fn dry_runs_write_nothing_and_print_the_plan() {
    let (db, lamp) = seeded();
    let backup_dir = db.dir.path().join("b");
    let made = db.json(&["backup", "--dir", backup_dir.to_str().unwrap()]);
    let backup = backup_dir.join(made["file"].as_str().unwrap());
    let before = db.checksum_all();
    let audit_before = db.audit_rows();

    let dry = |args: &[&str]| {
        let mut all = vec!["-o", "json", "--dry-run"];
        all.extend_from_slice(args);
        let r = db.ok(&all);
        assert_eq!(db.checksum_all(), before, "{args:?} wrote something");
        plan(&r)
    };
    let p = db
        .user_add("carol@example.com", "carol", "password123\n")
        .args(&["-o", "json", "--dry-run"])
        .run()
        .success();
    let p = plan(&p);
    assert_eq!(p[0]["action"], "create");
    assert_eq!(p[0]["after"]["email"], "carol@example.com");
    assert_eq!(db.checksum_all(), before);

    let p = dry(&["user", "update", "alice", "--full-name", "Alice A"]);
    assert_eq!(p[0]["action"], "update");
    assert_eq!(p[0]["before"]["full_name"], Value::Null);
    assert_eq!(p[0]["after"]["full_name"], "Alice A");
    let p = dry(&["user", "deactivate", "alice", "bob"]);
    assert_eq!(p.len(), 2);
    assert_eq!(p[1]["after"]["is_active"], false);
    dry(&["user", "activate", "alice"]);
    let p = db
        .cmd()
        .args(&[
            "-o",
            "json",
            "--dry-run",
            "user",
            "set-password",
            "alice",
            "--password-stdin",
        ])
        .stdin("another-pass-1\n")
        .run()
        .success();
    assert_eq!(plan(&p)[0]["detail"]["password"], "replaced");
    assert_eq!(db.checksum_all(), before);

    // No --yes needed: nothing is deleted. The plan names the cascade.
    let p = dry(&["user", "delete", "alice"]);
    assert_eq!(p[0]["action"], "delete");
    assert_eq!(p[0]["before"]["username"], "alice");
    assert_eq!(p[0]["detail"]["items_deleted"], 2);
    assert_eq!(p[0]["detail"]["items_total_price"], "112.50");
    let p = dry(&["user", "delete", "alice", "--reassign-items-to", "bob"]);
    assert_eq!(p[0]["detail"]["items_reassigned"], 2);

    let p = dry(&[
        "item", "add", "--owner", "bob", "--title", "Pen", "--price", "1",
    ]);
    assert_eq!(p[0]["after"]["price"], "1.00");
    let p = dry(&["item", "update", &lamp, "--price", "13"]);
    assert_eq!(p[0]["before"]["price"], "12.50");
    assert_eq!(p[0]["after"]["price"], "13.00");
    let p = dry(&["item", "delete", &lamp]);
    assert_eq!(p[0]["before"]["title"], "Lamp");

    let p = dry(&["backup", "restore", backup.to_str().unwrap()]);
    assert_eq!(p[0]["action"], "restore");
    assert_eq!(p[0]["after"]["users"], 2);
    let p = dry(&["migrate", "revert", "--steps", "5"]);
    assert_eq!(p.len(), 5);
    assert_eq!(p[0]["action"], "revert");
    assert_eq!(p[0]["id"], "2026-12-04-000006_column_defaults");
    assert_eq!(p[1]["id"], "2026-12-04-000005_own_schema");
    // Its indexes would be dropped concurrently: planned, never run in a dry run.
    assert_eq!(p[2]["id"], "2026-11-24-000004_query_indexes");
    assert!(p[2]["detail"]
        .as_str()
        .unwrap()
        .contains("not run in a dry run"));
    assert_eq!(p[3]["id"], "2026-11-22-000003_migration_checksums");
    assert_eq!(p[4]["id"], "2026-11-22-000002_audit_trail");
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'stackctl_items_%'"),
        "3"
    );
    assert_eq!(db.audit_rows(), audit_before);

    // Table output: one row per changed field.
    let r = db.ok(&[
        "--dry-run",
        "user",
        "update",
        "bob",
        "--email",
        "robert@example.com",
    ]);
    assert!(r.stdout.contains("robert@example.com"), "{r:#?}");
    assert!(r.stdout.contains("bob@example.com"), "{r:#?}");
    assert_eq!(db.checksum_all(), before);
}

#[test]
fn dry_run_of_migrate_applies_nothing() {
    let db = TestDb::empty();
    let r = db.ok(&["-o", "json", "--dry-run", "migrate"]);
    let p = plan(&r);
    assert_eq!(p.len(), 6);
    assert_eq!(p[0]["id"], "2026-11-22-000001_initial_schema");
    assert_eq!(p[3]["id"], "2026-11-24-000004_query_indexes");
    assert_eq!(p[4]["id"], "2026-12-04-000005_own_schema");
    assert!(p[3]["detail"]
        .as_str()
        .unwrap()
        .contains("not run in a dry run"));
    assert_eq!(db.sql("SELECT to_regclass('users') IS NULL"), "t");
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );
}

#[test]
fn dry_runs_exit_as_the_real_run_would() {
    let (db, _) = seeded();
    let before = db.checksum_all();
    for dry in [true, false] {
        let flag: &[&str] = if dry { &["--dry-run"] } else { &[] };
        db.user_add("ALICE@example.com", "other", "password123\n")
            .args(flag)
            .run()
            .fails(4);
        db.cmd()
            .args(flag)
            .args(&["user", "update", "nobody", "--full-name", "X"])
            .run()
            .fails(3);
        db.cmd()
            .args(flag)
            .args(&["user", "delete", "nobody", "--yes"])
            .run()
            .fails(3);
        db.cmd()
            .args(flag)
            .args(&["item", "add", "--owner", "nobody", "--title", "x"])
            .run()
            .fails(3);
        db.cmd()
            .args(flag)
            .args(&["user", "update", "bob", "--username", "ALICE"])
            .run()
            .fails(4);
    }
    assert_eq!(db.checksum_all(), before);
}

#[test]
fn if_not_exists_is_idempotent_and_still_refuses_clashes() {
    let db = TestDb::new();
    let add = |email: &str, username: &str| {
        db.user_add(email, username, "password123\n")
            .args(&["-o", "json", "--if-not-exists"])
            .run()
    };
    let first = add("dana@example.com", "dana").success().json();
    assert_eq!(first["created"], true);
    let audit = db.audit_rows();
    let second = add("DANA@example.com", "Dana").success().json();
    assert_eq!(second["created"], false);
    assert_eq!(second["id"], first["id"]);
    assert_eq!(db.audit_rows(), audit, "no write, no audit row");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
    // Same email, another username; or another email with a taken username: exit 4.
    add("dana@example.com", "someone").fails(4);
    db.add_user("erin@example.com", "erin");
    add("new@example.com", "erin").fails(4);
    // Without the flag, output has no `created` key (the contract's shape).
    let plain = db.add_user("fay@example.com", "fay");
    assert!(plain.get("created").is_none());
}

#[test]
fn delete_names_the_impact_and_can_reassign_items() {
    let (db, _) = seeded();
    let r = db.run(&["user", "delete", "alice"]).fails(2);
    assert!(
        r.stderr.contains("deletes 2 item(s) (total price 112.50)"),
        "{r:#?}"
    );
    db.run(&[
        "user",
        "delete",
        "alice",
        "--reassign-items-to",
        "alice",
        "--yes",
    ])
    .fails(2);
    db.run(&[
        "user",
        "delete",
        "alice",
        "--reassign-items-to",
        "nobody",
        "--yes",
    ])
    .fails(3);
    let r = db.ok(&[
        "user",
        "delete",
        "alice",
        "--reassign-items-to",
        "BOB",
        "--yes",
    ]);
    assert!(r.stderr.contains("2 item(s) now belong to bob"), "{r:#?}");
    let items = db.json(&["item", "list", "--owner", "bob"]);
    assert_eq!(items.as_array().unwrap().len(), 2);
    assert_eq!(items[0]["owner_email"], "bob@example.com");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
    assert_eq!(db.sql("SELECT count(*) FROM items"), "2");
}

#[test]
fn every_write_leaves_one_audit_row_without_secrets() {
    let db = TestDb::new();
    // The template's own migration left its rows; start from none.
    assert_eq!(
        db.sql("SELECT string_agg(DISTINCT command, ',') FROM stackctl_audit"),
        "migrate run"
    );
    db.sql("DELETE FROM stackctl_audit");
    let alice = db
        .user_add("alice@example.com", "alice", "Secret-Pass-42\n")
        .args(&["-o", "json"])
        .run()
        .success()
        .json();
    let alice_id = alice["id"].as_str().unwrap();
    let item = db.json(&["item", "add", "--owner", "alice", "--title", "Lamp"]);
    let item_id = item["id"].as_str().unwrap();
    db.ok(&["item", "update", item_id, "--price", "3"]);
    db.ok(&["user", "deactivate", "alice"]);
    db.cmd()
        .args(&["user", "set-password", "alice", "--password-stdin"])
        .stdin("Other-Pass-43\n")
        .run()
        .success();
    db.ok(&["item", "delete", item_id, "--yes"]);
    // Failed and dry-run writes leave nothing.
    db.run(&["user", "update", "nobody", "--full-name", "x"])
        .fails(3);
    db.ok(&["--dry-run", "user", "delete", "alice"]);
    db.ok(&["user", "delete", "alice", "--yes"]);

    let rows = db.json(&["audit", "list"]);
    let rows = rows.as_array().unwrap();
    let got: Vec<(String, String, String)> = rows
        .iter()
        .rev()
        .map(|r| {
            (
                r["command"].as_str().unwrap().to_string(),
                r["target_kind"].as_str().unwrap().to_string(),
                r["target_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("user add", "user", alice_id),
        ("item add", "item", item_id),
        ("item update", "item", item_id),
        ("user deactivate", "user", alice_id),
        ("user set-password", "user", alice_id),
        ("item delete", "item", item_id),
        ("user delete", "user", alice_id),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    for r in rows {
        assert!(!r["os_user"].as_str().unwrap().is_empty());
        assert!(!r["hostname"].as_str().unwrap().is_empty());
        assert_eq!(r["db_user"], "postgres");
    }
    let all = db.sql("SELECT string_agg(a::text, '|') FROM stackctl_audit a");
    for secret in ["Secret-Pass-42", "Other-Pass-43", "$2b$", "hashed_password"] {
        assert!(!all.contains(secret), "{secret} in the audit trail: {all}");
    }

    // Filters: a deleted user is still found by name; --since; --limit.
    let by_name = db.json(&["audit", "list", "--target", "ALICE"]);
    assert_eq!(by_name.as_array().unwrap().len(), 4);
    let by_item = db.json(&["audit", "list", "--target", item_id]);
    assert_eq!(by_item.as_array().unwrap().len(), 3);
    assert_eq!(
        db.json(&["audit", "list", "--limit", "2"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        db.json(&["audit", "list", "--since", "1h"])
            .as_array()
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        db.json(&["audit", "list", "--since", "2999-01-01"]),
        serde_json::json!([])
    );
    db.run(&["audit", "list", "--since", "soon"]).fails(2);
    let (header, csv_rows) = db.ok(&["-o", "csv", "audit", "list"]).csv();
    assert_eq!(
        header,
        [
            "id",
            "at",
            "os_user",
            "db_user",
            "hostname",
            "command",
            "target_kind",
            "target_id",
            "summary"
        ]
    );
    assert_eq!(csv_rows.len(), 7);
    let summary: Value = serde_json::from_str(&csv_rows[0][8]).unwrap();
    assert_eq!(summary["action"], "delete");
    let table = db.ok(&["audit", "list"]).stdout;
    assert!(table.contains("user set-password"), "{table}");
}

#[test]
fn json_errors_are_one_parsable_object_on_stderr() {
    let db = TestDb::new();
    let last_json = |r: &Run| -> Value {
        let line = r.stderr.lines().last().unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {r:#?}"))
    };
    let r = db.run(&["-o", "json", "user", "show", "nobody"]).fails(3);
    let e = last_json(&r);
    assert_eq!(e["exit_code"], 3);
    assert!(e["error"].as_str().unwrap().contains("nobody"));
    assert!(r.stdout.is_empty());
    db.add_user("a@example.com", "alice");
    let r = db
        .user_add("A@example.com", "xx1", "password123\n")
        .args(&["--output=json"])
        .run()
        .fails(4);
    let e = last_json(&r);
    assert_eq!(e["exit_code"], 4);
    assert!(e["hint"].as_str().unwrap().contains("letter case"));
    // A usage error found by the argument parser.
    let r = db.run(&["-o", "json", "user", "add", "--email", "x@example.com"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert_eq!(last_json(&r)["exit_code"], 2);
    // Without -o json, no JSON.
    let r = db.run(&["user", "show", "nobody"]).fails(3);
    assert!(!r.stderr.contains("exit_code"), "{r:#?}");
}
