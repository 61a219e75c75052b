//! Least-privilege roles: an application role with DML grants only, `stackctl grant`,
//! a read-only role, a database owner that is not a superuser, and a role that may not
//! create extensions.

use crate::support::Timed as _;
use crate::support::{psql, TestDb};

static ROLE_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A new login role (roles are cluster-wide: unique per test run and call).
pub(crate) fn role(db: &TestDb, prefix: &str, extra: &str) -> String {
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        ROLE_COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    db.sql(&format!("CREATE ROLE {name} LOGIN {extra}"));
    name
}

/// `db`'s URL as `role` (the harness's cluster trusts local TCP logins).
pub(crate) fn url_as(db: &TestDb, role: &str) -> String {
    let url = db.url.replacen("://postgres@", &format!("://{role}@"), 1);
    assert_ne!(
        url, db.url,
        "the test URL names no postgres user: {}",
        db.url
    );
    url
}

/// What an application role usually has: CONNECT and DML on the two tables, nothing else.
pub(crate) fn dml_only(db: &TestDb, role: &str) {
    db.sql(&format!(
        "GRANT CONNECT ON DATABASE {} TO {role}; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON users, items TO {role}",
        db.name
    ));
}

#[test]
fn a_dml_only_role_gets_exit_7_and_the_grant_then_works_after_stackctl_grant() {
    let db = TestDb::new();
    let app = role(&db, "lp_app", "");
    dml_only(&db, &app);
    let url = url_as(&db, &app);
    let before = db.checksum_all();
    for args in [
        vec!["user", "list"],
        vec!["status"],
        vec![
            "user",
            "add",
            "--email",
            "a@example.com",
            "--username",
            "alice",
            "--random-password",
        ],
    ] {
        let r = db.cmd_url(&url).args(&args).run().fails(7);
        assert!(
            r.stderr.contains("permission denied for schema stackctl"),
            "{args:?}: {r:#?}"
        );
        assert!(
            r.stderr
                .contains("hint: as the owner run `GRANT USAGE ON SCHEMA stackctl TO ROLE;`"),
            "{args:?}: {r:#?}"
        );
    }
    assert_eq!(
        db.checksum_all(),
        before,
        "a refused command changed something"
    );

    // The plan is printed as a script; nothing applied without --apply.
    let plan = db.ok(&["grant", &app]);
    assert!(
        plan.stdout.lines().all(|l| l.starts_with("GRANT ")),
        "{plan:#?}"
    );
    assert!(plan
        .stdout
        .contains(&format!("GRANT USAGE ON SCHEMA stackctl TO {app};")));
    assert!(plan.stdout.contains(&format!(
        "GRANT SELECT ON stackctl.__diesel_schema_migrations TO {app};"
    )));
    assert!(plan.stdout.contains(&format!(
        "GRANT SELECT, INSERT, UPDATE ON stackctl.stackctl_audit TO {app};"
    )));
    db.cmd_url(&url).args(&["user", "list"]).run().fails(7);
    let json = db.json(&["grant", &app]);
    assert_eq!(
        json.as_array().map(Vec::len),
        Some(plan.stdout.lines().count())
    );
    assert!(json[0]["statement"].is_string() && json[0]["object"].is_string());

    db.ok(&["grant", &app, "--apply"]);
    let run = |args: &[&str]| db.cmd_url(&url).args(args).run().success();
    let user = run(&[
        "-o",
        "json",
        "user",
        "add",
        "--email",
        "a@example.com",
        "--username",
        "alice",
        "--random-password",
    ])
    .json();
    let id = user["id"].as_str().unwrap().to_string();
    let item = run(&[
        "-o", "json", "item", "add", "--owner", "alice", "--title", "Lamp", "--price", "12.50",
    ])
    .json();
    run(&["user", "update", "alice", "--full-name", "Alice A"]);
    run(&[
        "item",
        "update",
        item["id"].as_str().unwrap(),
        "--price",
        "13",
    ]);
    assert_eq!(
        run(&["-o", "json", "user", "list"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        run(&["-o", "json", "item", "list"]).json()[0]["price"],
        "13.00"
    );
    // An item import as this role: it locks items as its COPY does, reads the column
    // types, and sends binary.
    let items_csv = db.dir.path().join("items.csv");
    std::fs::write(
        &items_csv,
        "title,price,owner_email
Chair,3.50,a@example.com
",
    )
    .unwrap();
    let r = run(&["-v", "item", "import", items_csv.to_str().unwrap()]);
    assert!(r.stderr.contains("COPY in binary"), "{r:#?}");
    assert_eq!(
        db.sql("SELECT price FROM items WHERE title = 'Chair'"),
        "3.50"
    );
    run(&["status"]);
    run(&["status", "--check"]);
    run(&["audit", "list"]);
    run(&["user", "deactivate", "alice"]);
    run(&["user", "delete", "alice", "--yes"]);
    assert_eq!(db.sql("SELECT count(*) FROM users"), "0");
    assert_eq!(
        db.sql(&format!(
            "SELECT count(*) FROM stackctl_audit WHERE db_user = '{app}' AND target_id = '{id}'"
        )),
        "4",
        "add, update, deactivate and delete are audited as the role"
    );
}

#[test]
fn a_read_only_role_reads_but_never_writes_or_sees_hashes() {
    let db = TestDb::new();
    db.add_user("ro@example.com", "reader_target");
    let ro = role(&db, "lp_ro", "");
    db.ok(&["grant", &ro, "--read-only", "--apply"]);
    let url = url_as(&db, &ro);
    let run = |args: &[&str]| db.cmd_url(&url).args(args).run();
    assert_eq!(
        run(&["-o", "json", "user", "list"]).success().json()[0]["email"],
        "ro@example.com"
    );
    run(&["user", "show", "reader_target"]).success();
    run(&["item", "list", "--all", "-o", "csv"]).success();
    run(&["status"]).success();
    let before = db.checksum_all();
    let r = run(&["user", "deactivate", "reader_target"]).fails(7);
    assert!(
        r.stderr.contains("permission denied for table users"),
        "{r:#?}"
    );
    run(&[
        "user",
        "add",
        "--email",
        "x@example.com",
        "--username",
        "xuser",
        "--random-password",
    ])
    .fails(7);
    let items_csv = db.dir.path().join("items.csv");
    std::fs::write(
        &items_csv,
        "title,owner_email
Chair,ro@example.com
",
    )
    .unwrap();
    let r = run(&["item", "import", items_csv.to_str().unwrap()]).fails(7);
    assert!(
        r.stderr.contains("permission denied for table items"),
        "{r:#?}"
    );
    assert_eq!(db.checksum_all(), before);
    // The hashes stay unreadable to this role, whatever it asks.
    let out = std::process::Command::new(crate::support::psql_bin())
        .args([
            "-X",
            "-A",
            "-t",
            "-d",
            &url,
            "-c",
            "SELECT hashed_password FROM users",
        ])
        .timed_output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission denied"));
}

#[test]
fn an_owner_that_is_not_a_superuser_migrates_and_backs_up() {
    let db = TestDb::empty();
    let owner = role(&db, "lp_owner", "");
    let name = format!("{}_own", db.name);
    db.sql(&format!(
        "CREATE DATABASE {name} OWNER {owner} TEMPLATE template0"
    ));
    let url = db
        .url
        .replacen("://postgres@", &format!("://{owner}@"), 1)
        .replacen(&format!("/{}", db.name), &format!("/{name}"), 1);
    let backups = db.dir.path().join("b");
    let run = |args: &[&str]| db.cmd_url(&url).args(args).run();
    run(&["migrate"]).success();
    run(&[
        "user",
        "add",
        "--email",
        "o@example.com",
        "--username",
        "owneruser",
        "--random-password",
    ])
    .success();
    run(&["backup", "--dir", backups.to_str().unwrap()]).success();
    let listed = run(&[
        "-o",
        "json",
        "backup",
        "list",
        "--dir",
        backups.to_str().unwrap(),
    ])
    .success()
    .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    psql(&db.url, &format!("DROP DATABASE {name} WITH (FORCE)"));
}

#[test]
fn without_uuid_ossp_migrate_falls_back_to_gen_random_uuid_and_adoption_creates_no_extension() {
    // uuid-ossp is a trusted extension: a database owner may create it. A role that owns
    // the schema's tables but has no CREATE on the database may not.
    let db = TestDb::empty();
    let noext = role(&db, "lp_noext", "");
    db.sql(&format!(
        "GRANT CREATE, USAGE ON SCHEMA public TO {noext}; GRANT CONNECT ON DATABASE {} TO {noext}",
        db.name
    ));
    let url = url_as(&db, &noext);
    let r = db.cmd_url(&url).args(&["migrate"]).run().success();
    assert!(r.stderr.contains("gen_random_uuid()"), "{r:#?}");
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_extension WHERE extname = 'uuid-ossp'"),
        "0"
    );
    assert_eq!(
        db.sql("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE adrelid = 'users'::regclass AND attname = 'id'"),
        "gen_random_uuid()"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM __diesel_schema_migrations"),
        "6"
    );
    // Nor a schema: stackctl's tables stay in public, and migrate says so.
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = '__diesel_schema_migrations'"),
        "1"
    );
    assert!(r.stderr.contains("stay in the schema public"), "{r:#?}");
    // pg_trgm cannot be created either: the query indexes are built without the trigram
    // one (user list --search scans), and migrate says so.
    assert!(
        r.stderr.contains("stackctl_users_search not built"),
        "{r:#?}"
    );
    assert_eq!(
        db.sql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE indexname LIKE 'stackctl\\_%' AND tablename IN ('users', 'items')"),
        "stackctl_items_created_id,stackctl_items_price_id,stackctl_items_title_id,\
         stackctl_users_created_id,stackctl_users_email_lower,stackctl_users_username_lower"
    );
    db.cmd_url(&url)
        .args(&[
            "user",
            "add",
            "--email",
            "n@example.com",
            "--username",
            "noext",
            "--random-password",
        ])
        .run()
        .success();
    db.cmd_url(&url)
        .args(&["item", "add", "--owner", "noext", "--title", "T"])
        .run()
        .success();
    // The schema is a normal one from then on: migrate again is a no-op, and status --check
    // finds no checksum drift.
    db.cmd_url(&url).args(&["migrate"]).run().success();
    db.cmd_url(&url)
        .args(&["status", "--check"])
        .run()
        .success();

    // Adoption of an application-made schema whose ids come from the client.
    let app = TestDb::empty();
    app.sql(&format!(
        "GRANT CREATE, USAGE ON SCHEMA public TO {noext}; GRANT CONNECT ON DATABASE {} TO {noext}",
        app.name
    ));
    let app_url = url_as(&app, &noext);
    psql(&app_url, crate::migrate::CREATE_ALL_SQL);
    let r = app.cmd_url(&app_url).args(&["migrate"]).run().success();
    assert!(r.stderr.contains("adopted"), "{r:#?}");
    assert_eq!(
        app.sql("SELECT count(*) FROM pg_extension WHERE extname = 'uuid-ossp'"),
        "0"
    );
    app.cmd_url(&app_url)
        .args(&[
            "user",
            "add",
            "--email",
            "m@example.com",
            "--username",
            "adopted",
            "--random-password",
        ])
        .run()
        .success();
}

/// Only the owner of `items` may drop its indexes: `item import --rebuild-indexes always`
/// as an application role is refused (exit 7) before anything is dropped or imported,
/// and the same import under `auto` keeps the indexes and imports.
#[test]
fn only_the_owner_of_items_may_drop_its_indexes_for_a_load() {
    let db = TestDb::new();
    let owner = db.add_user_id("a@example.com", "alice");
    let app = role(&db, "lp_load", "");
    dml_only(&db, &app);
    db.ok(&["grant", &app, "--apply"]);
    let url = url_as(&db, &app);
    let file = db.dir.path().join("items.csv");
    std::fs::write(
        &file,
        format!("title,owner_id\nLamp,{owner}\nChair,{owner}\n"),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let indexes = || {
        db.sql(
            "SELECT string_agg(c.relname || '=' || c.oid, ',' ORDER BY c.relname) FROM pg_class c \
             WHERE c.relname LIKE 'stackctl\\_items\\_%'",
        )
    };
    let before = indexes();
    assert_eq!(before.matches('=').count(), 3, "{before}");
    for dry in [true, false] {
        let mut args = vec!["item", "import", "--rebuild-indexes", "always", file];
        if dry {
            args.insert(0, "--dry-run");
        }
        let r = db.cmd_url(&url).args(&args).run().fails(7);
        assert!(
            r.stderr
                .contains("only the owner of table items may drop and build its indexes"),
            "{args:?}: {r:#?}"
        );
        assert!(r.stderr.contains("hint: "), "{r:#?}");
    }
    assert_eq!(indexes(), before);
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");
    db.cmd_url(&url)
        .args(&["item", "import", file])
        .run()
        .success();
    assert_eq!(indexes(), before);
    assert_eq!(db.sql("SELECT count(*) FROM items"), "2");
}

/// `grant` names only a role the server has: `public` (which unquoted means every role)
/// and `current_user` are refused before anything is granted.
#[test]
fn grant_refuses_names_that_are_not_real_roles() {
    let db = TestDb::new();
    let public_grants = || {
        db.sql(
            "SELECT count(*) FROM information_schema.role_table_grants \
             WHERE grantee = 'PUBLIC' AND table_name IN ('users', 'items')",
        )
    };
    let before = public_grants();
    for name in [
        "public",
        "PUBLIC",
        "current_user",
        "session_user",
        "nobody_here",
    ] {
        let r = db.run(&["grant", name, "--apply"]).fails(2);
        assert!(r.stderr.contains("not an existing role"), "{name}: {r:#?}");
        assert!(r.stdout.is_empty(), "{name}: {r:#?}");
    }
    assert_eq!(public_grants(), before);
    // A real role still gets its plan.
    let app = role(&db, "grant_real", "");
    db.ok(&["grant", &app, "--apply"]);
}
