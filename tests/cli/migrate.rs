use crate::support::TestDb;

/// The SQL SQLAlchemy's `create_all` emits for the seed's models: no server defaults
/// but `created_at`, indexes named `ix_*`, no uuid-ossp.
pub(crate) const CREATE_ALL_SQL: &str = "
CREATE TABLE users (
    id UUID NOT NULL,
    email VARCHAR(255) NOT NULL,
    username VARCHAR(100) NOT NULL,
    hashed_password VARCHAR(255) NOT NULL,
    full_name VARCHAR(255),
    is_active BOOLEAN,
    is_superuser BOOLEAN,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now(),
    updated_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE UNIQUE INDEX ix_users_username ON users (username);
CREATE TABLE items (
    id UUID NOT NULL,
    title VARCHAR(255) NOT NULL,
    description TEXT,
    price NUMERIC(10, 2),
    owner_id UUID,
    is_available BOOLEAN,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now(),
    updated_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id),
    FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE CASCADE
);
INSERT INTO users (id, email, username, hashed_password, full_name, is_active, is_superuser)
VALUES ('11111111-1111-1111-1111-111111111111', 'app@example.com', 'appuser',
        '$2b$12$Fge5r3QKy2IfdNaAD2o5I.29IcQTEwYHLK5jzGhDgaLQHF4k..RD2', NULL, true, false);
INSERT INTO items (id, title, price, owner_id, is_available)
VALUES ('22222222-2222-2222-2222-222222222222', 'Widget', 7.5, '11111111-1111-1111-1111-111111111111', true);
";

#[test]
fn migrate_creates_exactly_the_seed_schema() {
    let db = TestDb::empty();
    db.ok(&["migrate"]);
    let columns = db.sql(
        "SELECT table_name, column_name, data_type, coalesce(character_maximum_length::text, ''), \
                coalesce(numeric_precision::text || ',' || numeric_scale::text, ''), is_nullable, \
                coalesce(column_default, '') \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN ('users', 'items') \
         ORDER BY table_name, ordinal_position",
    );
    let expected = "\
items|id|uuid|||NO|uuid_generate_v4()
items|title|character varying|255||NO|
items|description|text|||YES|
items|price|numeric||10,2|YES|0.00
items|owner_id|uuid|||YES|
items|is_available|boolean|||YES|true
items|created_at|timestamp with time zone|||YES|now()
items|updated_at|timestamp with time zone|||YES|now()
users|id|uuid|||NO|uuid_generate_v4()
users|email|character varying|255||NO|
users|username|character varying|100||NO|
users|hashed_password|character varying|255||NO|
users|full_name|character varying|255||YES|
users|is_active|boolean|||YES|true
users|is_superuser|boolean|||YES|false
users|created_at|timestamp with time zone|||YES|now()
users|updated_at|timestamp with time zone|||YES|now()";
    assert_eq!(columns, expected);
    let indexes = db.sql(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'idx_%' \
         AND tablename IN ('users', 'items') ORDER BY 1",
    );
    assert_eq!(
        indexes,
        "idx_items_created_at\nidx_items_is_available\nidx_items_owner_id\nidx_users_email\nidx_users_is_active\nidx_users_username"
    );
    let fk = db.sql(
        "SELECT conname, confdeltype, pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = 'items'::regclass AND contype = 'f'",
    );
    assert_eq!(
        fk,
        "fk_items_owner|c|FOREIGN KEY (owner_id) REFERENCES users(id) ON DELETE CASCADE"
    );
    let uniques = db.sql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'u' ORDER BY 1",
    );
    assert_eq!(uniques, "UNIQUE (email)\nUNIQUE (username)");
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_extension WHERE extname = 'uuid-ossp'"),
        "1"
    );
}

#[test]
fn migrate_twice_is_a_no_op() {
    let db = TestDb::empty();
    db.ok(&["migrate", "run"]);
    db.add_user("a@example.com", "alice");
    let before = db.sql("SELECT version, run_on FROM __diesel_schema_migrations");
    let r = db.ok(&["migrate"]);
    assert!(r.stderr.contains("up to date"), "{r:#?}");
    assert_eq!(
        db.sql("SELECT version, run_on FROM __diesel_schema_migrations"),
        before
    );
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
}

#[test]
fn three_concurrent_migrations_apply_once() {
    let db = TestDb::empty();
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn({
                let url = db.url.clone();
                let dir = db.dir.path().to_path_buf();
                move || {
                    crate::support::Cmd::bare(&dir)
                        .env("DATABASE_URL", &url)
                        .args(&["migrate"])
                        .run()
                }
            })
        })
        .collect();
    for c in children {
        let r = c.join().unwrap();
        assert_eq!(r.code, 0, "{r:#?}");
    }
    assert_eq!(
        db.sql("SELECT count(*) FROM __diesel_schema_migrations"),
        "6"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'items', 'stackctl_audit', 'stackctl_migration_checksums')"),
        "4"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM stackctl_migration_checksums"),
        "6"
    );
    // Each migration was applied by one run: one audit row each, and the concurrently
    // built indexes are all there and valid.
    assert_eq!(
        db.sql("SELECT string_agg(target_id, ',' ORDER BY target_id) FROM stackctl_audit"),
        "2026-11-22-000001_initial_schema,2026-11-22-000002_audit_trail,\
         2026-11-22-000003_migration_checksums,2026-11-24-000004_query_indexes,\
         2026-12-04-000005_own_schema,2026-12-04-000006_column_defaults"
    );
    assert_eq!(
        db.sql("SELECT count(*) FILTER (WHERE i.indisvalid) || '/' || count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'stackctl_users_%' OR c.relname LIKE 'stackctl_items_%'"),
        "7/7"
    );
}

#[test]
fn migrate_status_json() {
    let db = TestDb::empty();
    let before = db.json(&["migrate", "status"]);
    assert_eq!(before.as_array().unwrap().len(), 6);
    assert_eq!(before[0]["state"], "pending");
    assert_eq!(before[0]["version"], "20261122000001");
    assert_eq!(before[0]["name"], "2026-11-22-000001_initial_schema");
    assert_eq!(before[1]["name"], "2026-11-22-000002_audit_trail");
    assert_eq!(before[2]["name"], "2026-11-22-000003_migration_checksums");
    assert_eq!(before[3]["name"], "2026-11-24-000004_query_indexes");
    assert_eq!(before[4]["name"], "2026-12-04-000005_own_schema");
    db.ok(&["migrate"]);
    let after = db.json(&["migrate", "status"]);
    for m in after.as_array().unwrap() {
        assert_eq!(m["state"], "applied");
    }
}

#[test]
fn data_commands_on_an_unmigrated_database_exit_6() {
    let db = TestDb::empty();
    let r = db.run(&["user", "list"]).fails(6);
    assert!(r.stderr.contains("hint: run stackctl migrate"), "{r:#?}");
}

#[test]
fn revert_needs_yes_then_data_commands_exit_6() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let r = db.run(&["migrate", "revert"]).fails(2);
    assert!(r.stderr.contains("--yes"), "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
    db.ok(&["migrate", "revert", "--steps", "6", "--yes"]);
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'items', 'stackctl_audit', 'stackctl_migration_checksums')"),
        "0"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'stackctl'"),
        "0"
    );
    db.run(&["user", "list"]).fails(6);
    db.run(&["item", "add", "--owner", "alice", "--title", "x"])
        .fails(6);
    db.ok(&["migrate"]);
    db.ok(&["user", "list"]);
}

#[test]
fn reverting_the_audit_migration_drops_only_the_audit_table() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let r = db.ok(&["migrate", "revert", "--yes"]);
    assert!(r.stderr.contains("column_defaults"), "{r:#?}");
    assert_eq!(
        db.sql("SELECT to_regclass('stackctl.stackctl_column_defaults') IS NULL"),
        "t"
    );
    let r = db.ok(&["migrate", "revert", "--yes"]);
    assert!(r.stderr.contains("own_schema"), "{r:#?}");
    // stackctl's tables are back in public, with their rows.
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'stackctl_audit'"),
        "1"
    );
    let r = db.ok(&["migrate", "revert", "--yes"]);
    assert!(r.stderr.contains("query_indexes"), "{r:#?}");
    let r = db.ok(&["migrate", "revert", "--yes"]);
    assert!(r.stderr.contains("migration_checksums"), "{r:#?}");
    assert_eq!(
        db.sql("SELECT to_regclass('stackctl_migration_checksums') IS NULL"),
        "t"
    );
    assert_eq!(db.sql("SELECT to_regclass('stackctl_audit') IS NULL"), "f");
    let r = db.ok(&["migrate", "revert", "--yes"]);
    assert!(r.stderr.contains("audit_trail"), "{r:#?}");
    assert_eq!(db.sql("SELECT to_regclass('stackctl_audit') IS NULL"), "t");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'idx_%'"),
        "6"
    );
    db.ok(&["migrate"]);
    // Applying them again is itself audited: one row per migration.
    assert_eq!(db.sql("SELECT count(*) FROM stackctl_audit"), "5");
}

#[test]
fn newer_migrations_than_the_binary_exit_6() {
    let db = TestDb::new();
    db.sql("INSERT INTO __diesel_schema_migrations (version) VALUES ('29990101000000')");
    let r = db.run(&["migrate"]).fails(6);
    assert!(r.stderr.contains("29990101000000"), "{r:#?}");
    db.run(&["user", "list"]).fails(6);
    let status = db.json(&["migrate", "status"]);
    assert_eq!(status[6]["state"], "unknown");
}

#[test]
fn adopts_a_create_all_schema_keeping_rows() {
    let db = TestDb::empty();
    db.sql(CREATE_ALL_SQL);
    let r = db.ok(&["migrate"]);
    assert!(r.stderr.contains("adopted"), "{r:#?}");
    assert_eq!(
        db.sql("SELECT count(*) FROM __diesel_schema_migrations"),
        "6"
    );
    assert_eq!(
        db.sql("SELECT to_regclass('stackctl_audit') IS NOT NULL"),
        "t"
    );
    assert_eq!(db.sql("SELECT email FROM users"), "app@example.com");
    let idx = db.sql(
        "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'idx_%' AND tablename IN ('users', 'items')",
    );
    assert_eq!(idx, "6");
    // The application's rows read fine, and stackctl writes every column itself.
    let items = db.json(&["item", "list"]);
    assert_eq!(items[0]["price"], "7.50");
    assert_eq!(items[0]["updated_at"], serde_json::Value::Null);
    let u = db.add_user("new@example.com", "newbie");
    assert_eq!(u["is_active"], true);
    assert_eq!(u["is_superuser"], false);
    assert!(u["updated_at"].is_string());
    let r = db.ok(&["migrate"]);
    assert!(!r.stderr.contains("adopted"));
}

#[test]
fn mismatched_application_tables_are_refused_and_kept() {
    let db = TestDb::empty();
    db.sql(
        &CREATE_ALL_SQL
            .replace(
                "username VARCHAR(100) NOT NULL",
                "username VARCHAR(50) NOT NULL",
            )
            .replace(
                "    description TEXT,\n",
                "    description TEXT,\n    colour TEXT,\n",
            ),
    );
    let r = db.run(&["migrate"]).fails(6);
    assert!(
        r.stderr
            .contains("users.username is character varying(50), expected character varying(100)"),
        "{r:#?}"
    );
    // A column the application added is no difference: it is the application's.
    assert!(!r.stderr.contains("items.colour"), "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
    assert_eq!(
        db.sql("SELECT to_regclass('__diesel_schema_migrations') IS NULL"),
        "t"
    );
}

/// A run that waits longer than --lock-timeout for another run's migration lock exits 4,
/// naming the holder (its application_name says which stackctl), and applies nothing.
#[test]
fn a_held_migration_lock_times_out_with_exit_4_naming_the_holder() {
    let db = TestDb::empty();
    let holder = crate::support::hold(
        &db,
        "SET LOCAL application_name = 'stackctl op@deploy-1 pid 4242'; \
         SELECT pg_advisory_xact_lock(8319381491291485292)",
        20,
    );
    let started = std::time::Instant::now();
    let r = db.run(&["migrate", "--lock-timeout", "1s"]).fails(4);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        r.stderr
            .contains("the migration lock is held by stackctl op@deploy-1 pid 4242"),
        "{r:#?}"
    );
    assert_eq!(db.sql("SELECT to_regclass('users') IS NULL"), "t");
    let mut holder = holder;
    let _ = holder.kill();
    let _ = holder.wait();
}

/// stackctl's query indexes on users/items: "valid/all".
fn query_indexes(db: &TestDb) -> String {
    db.sql(
        "SELECT count(*) FILTER (WHERE i.indisvalid) || '/' || count(*) FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname LIKE 'stackctl\\_users\\_%' OR c.relname LIKE 'stackctl\\_items\\_%'",
    )
}

/// A writer's transaction on `items`, idle (no snapshot, so the builds on `users` do not
/// wait for it; the builds on `items` wait for its lock): psql in a transaction, waiting
/// for more input. Killing it ends the transaction.
fn idle_writer(db: &TestDb) -> std::process::Child {
    use std::io::Write;
    use std::process::Stdio;
    let mut psql = std::process::Command::new(crate::support::psql_bin())
        .args(["-X", "-q", "-d", &db.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    // The pipe stays open with the child, so psql waits on it, in its transaction.
    psql.stdin
        .as_mut()
        .expect("psql's stdin")
        .write_all(b"BEGIN;\nLOCK TABLE items IN ROW EXCLUSIVE MODE;\n")
        .expect("write to psql");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.sql(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.relation = 'items'::regclass AND l.mode = 'RowExclusiveLock' \
           AND a.state = 'idle in transaction'",
    ) == "0"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never took its lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    psql
}

/// `migrate` started in the background while a writer holds `items` (so the concurrent
/// build of the first items index waits for it, after the users indexes are built);
/// returns once that build waits, with the writer and stackctl, and the building
/// backend's pid.
#[expect(
    clippy::zombie_processes,
    reason = "both children are returned to the caller, which waits for them"
)]
fn migrate_stuck_in_a_build(db: &TestDb) -> (std::process::Child, std::process::Child, String) {
    use std::process::Stdio;
    let writer = idle_writer(db);
    let mut cmd = db.cmd().args(&["migrate"]);
    cmd.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.cmd.spawn().expect("spawn stackctl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let pid = db.sql(
            "SELECT a.pid FROM pg_stat_activity a JOIN pg_stat_progress_create_index p ON p.pid = a.pid \
             WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' \
               AND p.index_relid = to_regclass('stackctl_items_created_id')",
        );
        if !pid.is_empty() {
            // The build has made its catalog entry and committed it: an invalid index.
            assert_eq!(
                db.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'stackctl_items_created_id'::regclass"),
                "f"
            );
            return (writer, child, pid);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the concurrent build never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The concurrent index build interrupted, and finished by the next `migrate`: once with
/// its backend terminated mid-build (stackctl exits 5, the index it was building stays
/// invalid, the migration pending; the next run drops and rebuilds it), once with stackctl
/// killed mid-build (its backend goes on building; the next run waits for it rather than
/// dropping it). Each time every index ends valid, the migration is recorded once, and
/// `schema diff` finds no drift.
#[test]
fn an_interrupted_concurrent_index_build_is_finished_by_the_next_migrate() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    db.ok(&["item", "add", "--owner", "alice", "--title", "Lamp"]);
    let recorded = || {
        db.sql("SELECT count(*) FROM __diesel_schema_migrations WHERE version = '20261124000004'")
    };
    assert_eq!(query_indexes(&db), "7/7");

    // The building backend terminated.
    db.ok(&["migrate", "revert", "--steps", "3", "--yes"]);
    assert_eq!(query_indexes(&db), "0/0");
    let (mut writer, child, pid) = migrate_stuck_in_a_build(&db);
    assert_eq!(db.sql(&format!("SELECT pg_terminate_backend({pid})")), "t");
    let r = crate::support::Run::from(crate::support::wait_output(child, None, "stackctl migrate"));
    r.fails(5);
    let _ = writer.kill();
    let _ = writer.wait();
    assert_eq!(recorded(), "0");
    assert_eq!(
        db.sql("SELECT string_agg(c.relname, ',') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid"),
        "stackctl_items_created_id"
    );
    let r = db.ok(&["migrate"]);
    assert!(
        r.stderr.contains(
            "dropping stackctl_items_created_id: an interrupted concurrent build left it invalid"
        ),
        "{r:#?}"
    );
    assert!(
        r.stderr.contains("applied 2026-11-24-000004_query_indexes"),
        "{r:#?}"
    );
    assert_eq!(query_indexes(&db), "7/7");
    assert_eq!(recorded(), "1");
    db.ok(&["schema", "diff"]);

    // stackctl killed: its backend still builds; the next run waits for that build.
    db.ok(&["migrate", "revert", "--steps", "3", "--yes"]);
    let (mut writer, mut child, _) = migrate_stuck_in_a_build(&db);
    child.kill().expect("kill stackctl");
    let _ = child.wait();
    let mut cmd = db.cmd().args(&["migrate"]);
    cmd.cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let next = cmd.cmd.spawn().expect("spawn stackctl");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(recorded(), "0");
    let _ = writer.kill();
    let _ = writer.wait();
    let r = crate::support::Run::from(crate::support::wait_output(next, None, "stackctl migrate"))
        .success();
    assert!(
        r.stderr
            .contains("waiting for another backend still building stackctl_items_created_id"),
        "{r:#?}"
    );
    assert!(!r.stderr.contains("dropping"), "{r:#?}");
    assert_eq!(query_indexes(&db), "7/7");
    assert_eq!(recorded(), "1");
    db.ok(&["schema", "diff"]);
}

/// The application's second release grew its tables (a nullable column, a NOT NULL
/// column it fills itself, an index, a check constraint, a table): `migrate` adopts them
/// as they are, says what it saw, and the everyday commands work; the NOT NULL column
/// stackctl cannot fill makes a user add exit 6 naming it, with nothing written.
#[test]
fn a_schema_the_application_grew_is_adopted_as_a_superset() {
    let db = TestDb::empty();
    db.sql(CREATE_ALL_SQL);
    db.sql(
        "ALTER TABLE users ADD COLUMN phone VARCHAR(32); \
         CREATE INDEX ix_users_phone ON users (phone); \
         ALTER TABLE items ADD COLUMN sku TEXT NOT NULL DEFAULT ''; \
         ALTER TABLE items ADD CONSTRAINT items_price_nonnegative CHECK (price >= 0); \
         CREATE TABLE tags (id SERIAL PRIMARY KEY, name TEXT NOT NULL)",
    );
    let r = db.ok(&["migrate"]);
    assert!(r.stderr.contains("adopted"), "{r:#?}");
    for seen in ["column users.phone", "column items.sku", "table tags"] {
        assert!(r.stderr.contains(seen), "{seen}: {r:#?}");
    }
    db.add_user("grown@example.com", "grown");
    db.ok(&[
        "item", "add", "--owner", "grown", "--title", "Lamp", "--price", "3",
    ]);
    assert_eq!(
        db.json(&["item", "list", "--owner", "grown"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    db.ok(&["user", "deactivate", "grown"]);
    assert_eq!(db.ok(&["schema", "diff"]).code, 0);

    // A NOT NULL column without a default that stackctl cannot fill.
    db.sql(
        "ALTER TABLE users ADD COLUMN tenant_id integer NOT NULL DEFAULT 1; \
            ALTER TABLE users ALTER COLUMN tenant_id DROP DEFAULT",
    );
    let before = db.checksum_all();
    let r = db
        .user_add("other@example.com", "other", "password123\n")
        .args(&["-o", "json"])
        .run()
        .fails(6);
    assert!(r.stderr.contains("users.tenant_id"), "{r:#?}");
    let json: serde_json::Value = serde_json::from_str(r.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(json["exit_code"], 6);
    assert!(
        json["error"].as_str().unwrap().contains("users.tenant_id"),
        "{json}"
    );
    assert_eq!(db.checksum_all(), before);
}

/// A database the previous release migrated (stackctl's tables in public, four
/// migrations) is moved by this release's `migrate` into the schema stackctl with its
/// audit history; a backup taken before the move restores and is migrated the same way.
/// Afterwards nothing of stackctl's is left in public but its indexes on the application's
/// tables.
#[test]
fn an_older_release_s_tables_move_into_the_stackctl_schema_with_their_history() {
    let db = TestDb::new();
    db.add_user("old@example.com", "old");
    db.ok(&["user", "deactivate", "old"]);
    // The previous release's state: 000005 not applied, every table of stackctl's in public.
    db.ok(&["migrate", "revert", "--steps", "2", "--yes"]);
    let in_public = |url: &str| {
        crate::support::psql(
            url,
            "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables \
             WHERE schemaname = 'public' AND tablename NOT IN ('users', 'items')",
        )
    };
    assert_eq!(
        in_public(&db.url),
        "__diesel_schema_migrations,stackctl_audit,stackctl_migration_checksums"
    );
    let history = db.sql("SELECT count(*) FROM public.stackctl_audit");
    // Data commands wait for the move.
    db.run(&["user", "list"]).fails(6);
    let dir = db.dir.path().join("b");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let file = dir.join(m["file"].as_str().unwrap());

    let r = db.ok(&["migrate"]);
    assert!(
        r.stderr.contains("applied 2026-12-04-000005_own_schema"),
        "{r:#?}"
    );
    assert_eq!(in_public(&db.url), "");
    let moved = |url: &str| {
        crate::support::psql(
            url,
            "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables \
             WHERE schemaname = 'stackctl'",
        )
    };
    assert_eq!(
        moved(&db.url),
        "__diesel_schema_migrations,stackctl_audit,stackctl_column_defaults,stackctl_migration_checksums"
    );
    // The history came along; the migration itself is audited beside it.
    assert_eq!(
        db.sql("SELECT count(*) - 2 FROM stackctl.stackctl_audit"),
        history
    );
    db.ok(&["user", "activate", "old"]);
    assert_eq!(
        db.json(&["audit", "list", "--target", "old"])
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    // The backup taken before the move: restored beside, then migrated.
    let name = format!("{}_old", db.name);
    db.ok(&["backup", "restore", file.to_str().unwrap(), "--into", &name]);
    let copy = db
        .url
        .replacen(&format!("/{}", db.name), &format!("/{name}"), 1);
    assert_eq!(
        in_public(&copy),
        "__diesel_schema_migrations,stackctl_audit,stackctl_migration_checksums"
    );
    db.cmd_url(&copy).args(&["migrate"]).run().success();
    assert_eq!(in_public(&copy), "");
    assert_eq!(
        moved(&copy),
        "__diesel_schema_migrations,stackctl_audit,stackctl_column_defaults,stackctl_migration_checksums"
    );
    db.cmd_url(&copy)
        .args(&["user", "show", "old"])
        .run()
        .success();
    crate::support::psql(&db.url, &format!("DROP DATABASE {name} WITH (FORCE)"));
}
