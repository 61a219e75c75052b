//! Schema drift: `schema diff` against hand-made drift of every class (its row, its
//! severity, and SQL that undoes it when psql runs it), the `schema_drift` check of
//! `status --check`, `migrate run` refusing a drifted schema, and no drift where there is
//! none (migrated, adopted, restored, and migrated without uuid-ossp).

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{psql, psql_bin, Run, TestDb};

const KEYS: [&str; 5] = ["object", "kind", "expected", "actual", "severity"];

/// A user with an item, so that every fix runs against tables holding rows.
fn seeded() -> TestDb {
    let db = TestDb::new();
    db.add_user("ada@example.com", "ada");
    db.ok(&[
        "item", "add", "--owner", "ada", "--title", "Engine", "--price", "12.50",
    ]);
    db
}

/// `-q -o json schema diff` at `url`: the run and its rows, each checked to have exactly
/// the contract's keys.
fn diff_at(db: &TestDb, url: &str) -> (Run, Vec<Value>) {
    let r = db
        .cmd_url(url)
        .args(&["-q", "-o", "json", "schema", "diff"])
        .run();
    assert!(
        r.code == 0 || r.code == 6,
        "schema diff exit {}: {r:#?}",
        r.code
    );
    assert!(!r.stderr.contains("error:"), "{r:#?}");
    let rows = r.json().as_array().expect("a JSON array").clone();
    for row in &rows {
        let keys: Vec<&str> = row
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, KEYS, "{row}");
    }
    (r, rows)
}

fn diff(db: &TestDb) -> (Run, Vec<Value>) {
    diff_at(db, &db.url)
}

/// Feed an SQL script to psql as an operator would (`psql -v ON_ERROR_STOP=1 -f -`).
fn run_script(url: &str, script: &str) {
    let mut child = Command::new(psql_bin())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("feed psql");
    let out = crate::support::wait_output(child, None, "psql -f fix.sql");
    assert!(
        out.status.success(),
        "psql refused the script:\n{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rows of both tables, to prove a fix kept the data.
fn rows(db: &TestDb) -> String {
    db.sql(
        "SELECT u.email || '|' || u.username || '|' || i.title || '|' || i.price \
         FROM users u JOIN items i ON i.owner_id = u.id",
    )
}

struct Case {
    drift: &'static str,
    object: &'static str,
    kind: &'static str,
    expected: Option<&'static str>,
    actual: Option<&'static str>,
    severity: &'static str,
    /// A statement the fix must hold.
    fix: &'static str,
}

const CASES: &[Case] = &[
    Case {
        drift: "DROP INDEX idx_users_is_active",
        object: "users.idx_users_is_active",
        kind: "missing_index",
        expected: Some("CREATE INDEX idx_users_is_active ON public.users USING btree (is_active)"),
        actual: None,
        severity: "WARNING",
        fix: "CREATE INDEX idx_users_is_active ON users (is_active);",
    },
    Case {
        drift: "ALTER TABLE items ALTER COLUMN title TYPE text",
        object: "items.title",
        kind: "changed_type",
        expected: Some("character varying(255)"),
        actual: Some("text"),
        severity: "CRITICAL",
        fix: "ALTER TABLE items ALTER COLUMN title TYPE character varying(255) USING title::character varying(255);",
    },
    Case {
        drift: "ALTER TABLE items DROP CONSTRAINT fk_items_owner",
        object: "items.fk_items_owner",
        kind: "missing_foreign_key",
        expected: Some("FOREIGN KEY (owner_id) REFERENCES users(id) ON DELETE CASCADE"),
        actual: None,
        severity: "CRITICAL",
        fix: "ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (owner_id) REFERENCES users(id) ON DELETE CASCADE;",
    },
    Case {
        drift: "ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
        object: "users.email",
        kind: "changed_nullability",
        expected: Some("NOT NULL"),
        actual: Some("NULL"),
        severity: "CRITICAL",
        fix: "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    },
];

/// What the application's own Alembic adds or changes (a column, a NOT NULL column it
/// fills itself, a check constraint, an index, another default, a table) is listed as the
/// application's (INFO), with no SQL: `schema diff` exits 0, `status --check` is OK, and
/// a pending migration is applied.
#[test]
fn the_applications_additions_are_listed_as_its_own_and_never_undone() {
    let db = seeded();
    db.ok(&["migrate", "revert", "--yes"]);
    db.sql(
        "ALTER TABLE users ADD COLUMN nickname text; UPDATE users SET nickname = 'Countess'; \
         ALTER TABLE users ADD COLUMN tenant_id integer NOT NULL DEFAULT 1; \
         ALTER TABLE users ALTER COLUMN tenant_id DROP DEFAULT; \
         ALTER TABLE items ADD CONSTRAINT price_positive CHECK (price >= 0); \
         CREATE INDEX ix_users_nickname ON users (nickname); \
         ALTER TABLE users ALTER COLUMN is_active SET DEFAULT false; \
         CREATE TABLE tags (id serial PRIMARY KEY, name text)",
    );
    let (r, found) = diff(&db);
    assert_eq!(r.code, 0, "{r:#?}");
    let mut listed: Vec<(String, String, String)> = found
        .iter()
        .map(|d| {
            (
                d["object"].as_str().unwrap().to_string(),
                d["kind"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    listed.sort();
    let want: Vec<(String, String, String)> = [
        ("items.price_positive", "application_constraint"),
        ("tags", "application_table"),
        ("users.is_active", "application_default"),
        ("users.ix_users_nickname", "application_index"),
        ("users.nickname", "application_column"),
        ("users.tenant_id", "application_column"),
    ]
    .iter()
    .map(|(o, k)| (o.to_string(), k.to_string(), "INFO".to_string()))
    .collect();
    assert_eq!(listed, want);
    assert!(
        !r.stderr.contains("BEGIN;"),
        "no SQL for the application's additions: {r:#?}"
    );
    let table = db.ok(&["schema", "diff"]);
    assert!(!table.stdout.contains("DROP"), "{table:#?}");
    assert!(
        table.stderr.contains("addition(s) of the application's"),
        "{table:#?}"
    );
    let r = db.ok(&["migrate"]);
    assert!(r.stderr.contains("applied"), "{r:#?}");
    db.ok(&["status", "--check"]);
    assert_eq!(db.sql("SELECT nickname FROM users"), "Countess");
}

/// Each class of drift made by hand: `schema diff` exits 6 with exactly that row (JSON,
/// CSV and a table followed by the SQL), the SQL it prints removes the drift when psql runs
/// it, keeping the rows, and `schema diff` then exits 0 with no row.
#[test]
fn each_hand_made_drift_is_named_and_its_sql_removes_it() {
    for case in CASES {
        let db = seeded();
        let before = rows(&db);
        db.sql(case.drift);

        let (r, found) = diff(&db);
        assert_eq!(r.code, 6, "{}: {r:#?}", case.kind);
        assert_eq!(found.len(), 1, "{}: {found:?}", case.kind);
        let row = &found[0];
        assert_eq!(row["object"], case.object, "{row}");
        assert_eq!(row["kind"], case.kind, "{row}");
        assert_eq!(row["expected"].as_str(), case.expected, "{row}");
        assert_eq!(row["actual"].as_str(), case.actual, "{row}");
        assert_eq!(row["severity"], case.severity, "{row}");
        // With JSON the SQL is stderr, and stderr is nothing but that script.
        let script = r.stderr.clone();
        assert!(
            script.starts_with("-- stackctl schema diff: 1 difference(s)"),
            "{r:#?}"
        );
        assert!(script.contains(case.fix), "{}: {script}", case.kind);
        assert!(script.trim_end().ends_with("COMMIT;"), "{script}");

        let csv = db.run(&["-o", "csv", "schema", "diff"]);
        assert_eq!(csv.code, 6, "{csv:#?}");
        let (header, csv_rows) = csv.csv();
        assert_eq!(header, KEYS);
        assert_eq!(csv_rows.len(), 1);
        assert_eq!(csv_rows[0][0], case.object);
        assert_eq!(csv_rows[0][4], case.severity);

        let table = db.run(&["schema", "diff"]);
        assert_eq!(table.code, 6, "{table:#?}");
        let (grid, sql) = table
            .stdout
            .split_once("\n\n-- stackctl schema diff")
            .expect("the SQL after the table");
        assert!(
            grid.contains(case.object) && grid.contains(case.kind),
            "{grid}"
        );
        assert!(sql.contains(case.fix), "{sql}");
        assert!(!table.stderr.contains("error:"), "{table:#?}");

        run_script(&db.url, &script);
        let (r, found) = diff(&db);
        assert_eq!(
            r.code, 0,
            "{}: still drifted after its fix: {found:?}",
            case.kind
        );
        assert!(found.is_empty());
        assert!(r.stderr.is_empty(), "{r:#?}");
        assert_eq!(rows(&db), before, "{}: the fix changed the rows", case.kind);
        db.ok(&["user", "show", "ada"]);
    }
}

/// All six at once: six rows, critical ones and warnings, and one script that removes
/// them all in an order that runs.
#[test]
fn several_drifts_at_once_are_undone_by_one_script() {
    let db = seeded();
    let before = rows(&db);
    for case in CASES {
        db.sql(case.drift);
    }
    let (r, found) = diff(&db);
    assert_eq!(r.code, 6);
    let mut objects: Vec<&str> = found
        .iter()
        .map(|d| d["object"].as_str().unwrap())
        .collect();
    objects.sort_unstable();
    let mut want: Vec<&str> = CASES.iter().map(|c| c.object).collect();
    want.sort_unstable();
    assert_eq!(objects, want);
    run_script(&db.url, &r.stderr);
    assert_eq!(diff(&db).0.code, 0);
    assert_eq!(rows(&db), before);
}

/// `status --check`: schema_drift is OK on a clean schema, WARNING (exit 1) for a missing
/// index, CRITICAL (exit 2) once a foreign key is gone too; JSON gives value and threshold,
/// and the summary line carries its perfdata.
#[test]
fn status_check_states_schema_drift() {
    let db = seeded();
    let check = |db: &TestDb| -> (Run, Value) {
        let r = db.run(&["status", "--check"]);
        let j = db.run(&["-o", "json", "status", "--check"]).json();
        let drift = j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "schema_drift")
            .cloned()
            .expect("a schema_drift check");
        (r, drift)
    };
    let (r, c) = check(&db);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("\nschema_drift: OK - "), "{r:#?}");
    assert!(
        r.stdout
            .lines()
            .next()
            .unwrap()
            .contains("schema_drift_critical=0;;0;0 schema_drift_warning=0;0;;0"),
        "{r:#?}"
    );
    assert_eq!(c["state"], "OK");
    assert_eq!(c["value"], serde_json::json!({"critical": 0, "warning": 0}));
    assert!(c["threshold"]["warning"].is_string() && c["threshold"]["critical"].is_string());

    db.sql("DROP INDEX idx_items_created_at");
    let (r, c) = check(&db);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stdout
            .starts_with("STACKCTL WARNING - schema drift: 1 difference(s)"),
        "{r:#?}"
    );
    assert!(
        r.stdout
            .contains("items.idx_items_created_at missing_index"),
        "{r:#?}"
    );
    assert_eq!(c["state"], "WARNING");
    assert_eq!(c["value"], serde_json::json!({"critical": 0, "warning": 1}));

    db.sql("ALTER TABLE items DROP CONSTRAINT fk_items_owner");
    let (r, c) = check(&db);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(r.stdout.starts_with("STACKCTL CRITICAL - "), "{r:#?}");
    assert!(r.stdout.contains("\nschema_drift: CRITICAL - "), "{r:#?}");
    assert_eq!(c["state"], "CRITICAL");
    assert_eq!(c["value"], serde_json::json!({"critical": 1, "warning": 1}));
    assert!(r.stderr.is_empty(), "{r:#?}");
}

/// `migrate run` with a migration pending on a drifted schema: exit 6 listing each
/// difference, nothing applied; `--allow-drift` applies it. `migrate status` keeps its
/// stdout and says the drift in one stderr line.
#[test]
fn migrate_refuses_a_drifted_schema_unless_allowed() {
    let db = seeded();
    db.ok(&["migrate", "revert", "--steps", "4", "--yes"]);
    db.sql("DROP INDEX idx_users_email; ALTER TABLE users ALTER COLUMN full_name TYPE text");
    let applied = || db.sql("SELECT count(*) FROM __diesel_schema_migrations");
    assert_eq!(applied(), "2");

    for args in [&["migrate"][..], &["migrate", "run"]] {
        let r = db.run(args).fails(6);
        assert!(r.stderr.contains("nothing was applied"), "{r:#?}");
        assert!(
            r.stderr
                .contains("  WARNING users.idx_users_email missing_index"),
            "{r:#?}"
        );
        assert!(
            r.stderr.contains("  CRITICAL users.full_name changed_type: expected character varying(255), found text"),
            "{r:#?}"
        );
        assert!(r.stderr.contains("--allow-drift"), "{r:#?}");
        assert_eq!(applied(), "2");
        assert_eq!(
            db.sql("SELECT to_regclass('stackctl_migration_checksums') IS NULL"),
            "t"
        );
    }

    let status = db.run(&["-o", "json", "migrate", "status"]).success();
    let listed = status.json();
    assert_eq!(listed.as_array().unwrap().len(), 6);
    for m in listed.as_array().unwrap() {
        let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["version", "name", "state"]);
    }
    assert_eq!(listed[2]["state"], "pending");
    assert_eq!(listed[3]["state"], "pending");
    assert_eq!(listed[4]["state"], "pending");
    let lines: Vec<&str> = status.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{status:#?}");
    assert!(
        lines[0].starts_with("schema drift: 2 difference(s) (1 CRITICAL, 1 WARNING)"),
        "{status:#?}"
    );
    assert!(db
        .run(&["-q", "migrate", "status"])
        .success()
        .stderr
        .is_empty());

    let r = db.ok(&["migrate", "run", "--allow-drift"]);
    assert!(r.stderr.contains("applying despite schema drift"), "{r:#?}");
    assert!(
        r.stderr
            .contains("applied 2026-11-22-000003_migration_checksums"),
        "{r:#?}"
    );
    assert_eq!(applied(), "6");
    // The drift is still there; allowing it fixed nothing.
    assert_eq!(diff(&db).1.len(), 2);
    let clean = TestDb::new();
    let r = clean.ok(&["migrate", "status"]);
    assert!(
        r.stderr
            .contains("schema drift: none (users and items match the applied migrations)"),
        "{r:#?}"
    );
}

/// No drift where there is none: a freshly migrated database, an empty one (nothing to
/// compare, and `migrate` creates the tables), an application's `create_all` schema before
/// adoption (nothing applied yet) and after it, and a database restored from a backup.
#[test]
fn no_drift_on_migrated_adopted_and_restored_databases() {
    let db = seeded();
    let (r, found) = diff(&db);
    assert_eq!((r.code, found.len()), (0, 0), "{r:#?}");
    assert!(db.ok(&["schema", "diff"]).stderr.contains("no drift"));

    let empty = TestDb::empty();
    let r = empty.ok(&["schema", "diff"]);
    assert!(r.stderr.contains("nothing to compare"), "{r:#?}");
    empty.ok(&["migrate"]);
    assert_eq!(diff(&empty).0.code, 0);

    let app = TestDb::empty();
    app.sql(crate::migrate::CREATE_ALL_SQL);
    let r = app.ok(&["schema", "diff"]);
    assert!(r.stderr.contains("nothing to compare"), "{r:#?}");
    let r = app.ok(&["migrate"]);
    assert!(r.stderr.contains("adopted"), "{r:#?}");
    let (r, found) = diff(&app);
    assert_eq!((r.code, found.len()), (0, 0), "adopted: {found:?}");
    app.ok(&["status", "--check"]);
    // Adoption's schema is judged as create_all makes it: a default the application gave
    // a column later is the application's own.
    app.sql("ALTER TABLE items ALTER COLUMN price SET DEFAULT 1");
    let (r, found) = diff(&app);
    assert_eq!(r.code, 0);
    assert_eq!(found[0]["object"], "items.price");
    assert_eq!(found[0]["kind"], "application_default");
    assert_eq!(found[0]["expected"], Value::Null);

    // Restored in place into an empty database, and beside the live one.
    let dir = db.dir.path().join("b");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let file = dir.join(m["file"].as_str().unwrap());
    let target = TestDb::empty();
    target.ok(&["backup", "restore", file.to_str().unwrap(), "--yes"]);
    assert_eq!(target.sql("SELECT count(*) FROM users"), "1");
    let (r, found) = diff(&target);
    assert_eq!((r.code, found.len()), (0, 0), "restored: {found:?}");
    let name = format!("{}_copy", db.name);
    db.ok(&["backup", "restore", file.to_str().unwrap(), "--into", &name]);
    let copy_url = db
        .url
        .replace(&format!("/{}", db.name), &format!("/{name}"));
    let (r, found) = diff_at(&db, &copy_url);
    assert_eq!((r.code, found.len()), (0, 0), "restored --into: {found:?}");
    psql(&db.url, &format!("DROP DATABASE {name} WITH (FORCE)"));
}

static ROLE_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Migrated where uuid-ossp could not be created (a role without CREATE on the database):
/// ids default to gen_random_uuid(), which is no drift.
#[test]
fn no_drift_when_migrated_without_uuid_ossp() {
    let db = TestDb::empty();
    let role = format!(
        "drift_noext_{}_{}",
        std::process::id(),
        ROLE_COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    db.sql(&format!(
        "CREATE ROLE {role} LOGIN; GRANT CREATE, USAGE ON SCHEMA public TO {role}; \
         GRANT CONNECT ON DATABASE {} TO {role}",
        db.name
    ));
    let url = db.url.replacen("://postgres@", &format!("://{role}@"), 1);
    assert_ne!(url, db.url);
    let r = db.cmd_url(&url).args(&["migrate"]).run().success();
    assert!(r.stderr.contains("gen_random_uuid()"), "{r:#?}");
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_extension WHERE extname = 'uuid-ossp'"),
        "0"
    );
    for at in [&url, &db.url] {
        let (r, found) = diff_at(&db, at);
        assert_eq!((r.code, found.len()), (0, 0), "{found:?}");
    }
    db.cmd_url(&url)
        .args(&["status", "--check"])
        .run()
        .success();
    // A default the application changes there is its own: listed against the core
    // function, and stackctl (which writes ids itself) still adds users.
    db.sql("ALTER TABLE users ALTER COLUMN id DROP DEFAULT");
    let (r, found) = diff(&db);
    assert_eq!(r.code, 0);
    assert_eq!(found[0]["kind"], "application_default");
    assert_eq!(found[0]["expected"], "gen_random_uuid()");
    db.add_user("nodefault@example.com", "nodefault");
}

/// Names an attacker chose (a database name holding a psql meta-command on a line of its
/// own; a column and an index holding SQL, listed as the application's) never become
/// lines of the fix script: psql runs the script, the meta-command never runs, no table
/// is dropped, and the drift is undone.
#[test]
fn hostile_names_stay_inside_the_fix_scripts_comments_and_quotes() {
    let db = seeded();
    let marker = std::env::temp_dir().join(format!("stackctl-pwned-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let hostile = format!("{}\n\\! touch {}\n", db.name, marker.display());
    let admin = db.url.replacen(&format!("/{}", db.name), "/postgres", 1);
    psql(
        &admin,
        &format!(
            "CREATE DATABASE \"{}\" TEMPLATE {}",
            hostile.replace('"', "\"\""),
            db.name
        ),
    );
    let encoded: String = hostile
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let url = db
        .url
        .replacen(&format!("/{}", db.name), &format!("/{encoded}"), 1);
    psql(
        &url,
        "ALTER TABLE users ADD COLUMN \"x\n\\! touch nothing\n\" text; \
         CREATE INDEX \"i\nDROP TABLE items;--\" ON users (email); \
         DROP INDEX idx_users_is_active",
    );
    let r = db.cmd_url(&url).args(&["schema", "diff"]).run();
    assert_eq!(r.code, 6, "{r:#?}");
    let start = r.stdout.find("-- stackctl schema diff").expect("a script");
    let script = &r.stdout[start..];
    for line in script.lines() {
        assert!(
            line.is_empty()
                || line.starts_with("--")
                || line == "BEGIN;"
                || line == "COMMIT;"
                || line.starts_with("CREATE INDEX "),
            "a line the script should not have: {line:?}\n{script}"
        );
    }
    run_script(&url, script);
    assert!(!marker.exists(), "the fix script ran a shell command");
    assert_eq!(psql(&url, "SELECT to_regclass('items') IS NOT NULL"), "t");
    let (r, rows) = diff_at(&db, &url);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(rows.iter().all(|d| d["severity"] == "INFO"), "{rows:?}");
    psql(
        &admin,
        &format!(
            "DROP DATABASE \"{}\" WITH (FORCE)",
            hostile.replace('"', "\"\"")
        ),
    );
}
