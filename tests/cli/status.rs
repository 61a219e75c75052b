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

#[test]
fn status_of_an_unmigrated_database_says_pending() {
    let db = TestDb::empty();
    let s = db.json(&["status"]);
    assert_eq!(s["pending_migrations"], 4);
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
