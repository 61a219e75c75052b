use crate::support::TestDb;

#[test]
fn status_reports_target_version_schema_and_counts() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let s = db.json(&["status"]);
    assert_eq!(s["schema"], "up to date");
    assert_eq!(s["users"], 1);
    assert_eq!(s["items"], 0);
    assert_eq!(s["database"], db.name.as_str());
    assert_eq!(s["source"], "DATABASE_URL");
    assert!(s["server_version"]
        .as_str()
        .unwrap()
        .chars()
        .next()
        .unwrap()
        .is_ascii_digit());
    let table = db.ok(&["status"]).stdout;
    assert!(table.contains("up to date"), "{table}");
}

/// Small tables are counted; above 100,000 rows the planner's estimate is shown, marked
/// as such in JSON, CSV and the table; `--exact` counts. Counts keep their integer type.
#[test]
fn status_estimates_large_tables_marks_them_and_counts_with_exact() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let s = db.json(&["status"]);
    assert_eq!(
        (
            &s["users"],
            &s["users_estimated"],
            &s["items"],
            &s["items_estimated"]
        ),
        (&1.into(), &false.into(), &0.into(), &false.into())
    );
    db.sql(
        "INSERT INTO items (id, title, created_at) \
         SELECT md5(g::text)::uuid, 'Item ' || g, now() FROM generate_series(1, 150000) g",
    );
    db.sql("VACUUM ANALYZE items");
    let s = db.json(&["status"]);
    assert_eq!(s["items_estimated"], true, "{s}");
    assert_eq!(s["users_estimated"], false, "{s}");
    let estimate = s["items"].as_i64().expect("an integer");
    assert!(
        (140_000..=160_000).contains(&estimate),
        "estimate {estimate}"
    );
    let s = db.json(&["status", "--exact"]);
    assert_eq!(
        (&s["items"], &s["items_estimated"]),
        (&150000.into(), &false.into())
    );

    let (header, rows) = db.ok(&["-o", "csv", "status"]).csv();
    let col = |k: &str| header.iter().position(|h| h == k).unwrap();
    assert_eq!(rows[0][col("items_estimated")], "true");
    assert_eq!(rows[0][col("users_estimated")], "false");
    let table = db.ok(&["status"]).stdout;
    let line = table
        .lines()
        .find(|l| l.contains("items_estimated"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("true"), "{table}");
    db.run(&["status", "--exact", "--check"]).fails(2);
}

#[test]
fn status_of_an_unmigrated_database_says_pending() {
    let db = TestDb::empty();
    let s = db.json(&["status"]);
    assert_eq!(s["pending_migrations"], 6);
    assert_eq!(s["users"], serde_json::Value::Null);
}

#[test]
fn status_redacts_the_url_password() {
    let db = TestDb::new();
    let url = db.url.replace("postgres@", "postgres:Hidden9Pw@");
    let r = db
        .cmd()
        .args(&["--database-url", &url, "-o", "json", "status"])
        .run()
        .success();
    assert!(!r.stdout.contains("Hidden9Pw") && !r.stderr.contains("Hidden9Pw"));
    assert!(r.json()["target"]
        .as_str()
        .unwrap()
        .contains("postgres:***@"));
}

/// A restore beside the live database that was killed leaves its database behind:
/// `status` names it, with the statement that drops it; stdout keeps its shape.
#[test]
fn status_names_a_database_a_killed_restore_left() {
    let db = TestDb::new();
    let left = "stackctl_restore_1_0badcafe";
    db.sql(&format!("CREATE DATABASE {left}"));
    let r = db.ok(&["-o", "json", "status"]);
    db.sql(&format!("DROP DATABASE {left}"));
    assert!(
        r.stderr.lines().any(
            |l| l.starts_with("warning: database stackctl_restore_1_0badcafe (")
                && l.ends_with(&format!("DROP DATABASE {left} WITH (FORCE);"))
        ),
        "{r:#?}"
    );
    let s: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON object");
    assert_eq!(s["database"], db.name.as_str());
}
