//! The Simple DB layout (shared/seeds/003): its schema made from the design's own SQL and
//! by `migrate --layout simple`, every supported user command in every output format,
//! each refusal with the database unchanged, rows written by the application's SQLAlchemy
//! model read by stackctl and the other way round (one id sequence), and backups made the
//! seed's way (`pg_dump > backup.sql`, `psql < backup.sql`).

use crate::support::Timed as _;
use crate::support::{psql_bin, python, TestDb};

/// The design document's SQL, exactly.
const SEED_SQL: &str = "CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    email VARCHAR UNIQUE NOT NULL,
    name VARCHAR NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX ix_users_email ON users(email);";

/// A database made the application's way: the design's SQL, nothing of stackctl's.
fn seeded() -> TestDb {
    let db = TestDb::empty();
    db.sql(SEED_SQL);
    db
}

/// Every row of users, to prove a command changed nothing.
fn rows(db: &TestDb) -> String {
    db.sql("SELECT coalesce(string_agg(u::text, '|' ORDER BY id), '') FROM users u")
}

/// users as the catalog describes it: columns, defaults, nullability, constraints, indexes.
fn shape(db: &TestDb) -> String {
    db.sql(
        "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
           SELECT format('column %s %s %s %s', column_name, data_type, is_nullable,
                         coalesce(column_default, '-')) AS x
           FROM information_schema.columns WHERE table_name = 'users'
           UNION ALL SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
           FROM pg_constraint WHERE conrelid = 'users'::regclass
           UNION ALL SELECT format('index %s', indexdef) FROM pg_indexes WHERE tablename = 'users'
         ) s",
    )
}

#[test]
fn migrate_layout_simple_makes_the_designs_schema() {
    let from_design = seeded();
    let ours = TestDb::empty();
    let r = ours.ok(&["--layout", "simple", "migrate"]);
    assert!(r.stderr.contains("created the Simple DB schema"), "{r:#?}");
    let (a, b) = (shape(&from_design), shape(&ours));
    assert!(
        a.contains("column id integer NO nextval('users_id_seq'::regclass)"),
        "{a}"
    );
    assert!(
        a.contains("column created_at timestamp without time zone YES CURRENT_TIMESTAMP"),
        "{a}"
    );
    assert!(a.contains("index CREATE INDEX ix_users_email"), "{a}");
    assert_eq!(a, b, "the design's SQL and migrate --layout simple differ");
    // Beside it, stackctl's audit trail only; a second run changes nothing.
    assert_eq!(
        ours.sql("SELECT to_regclass('stackctl_audit') IS NOT NULL"),
        "t"
    );
    assert_eq!(
        ours.sql("SELECT to_regclass('__diesel_schema_migrations') IS NULL"),
        "t"
    );
    let again = ours.ok(&["migrate"]);
    assert!(again.stderr.contains("nothing to apply"), "{again:#?}");
    assert_eq!(shape(&ours), b);
}

#[test]
fn migrate_adds_only_the_audit_trail_beside_the_applications_table() {
    let db = seeded();
    let before = shape(&db);
    let status = db.json(&["migrate", "status"]);
    assert_eq!(status[0]["state"], "pending", "{status}");
    let r = db.ok(&["migrate"]);
    assert!(
        r.stderr.contains("created stackctl's audit trail"),
        "{r:#?}"
    );
    assert_eq!(
        shape(&db),
        before,
        "migrate altered the application's table"
    );
    let status = db.run(&["-o", "json", "migrate", "status"]).success();
    assert_eq!(status.json()[0]["state"], "applied");
    assert!(status.stderr.contains("layout: simple"), "{status:#?}");
    let r = db.run(&["migrate", "revert", "--yes"]).fails(2);
    assert!(r.stderr.contains("the simple layout"), "{r:#?}");
    assert_eq!(shape(&db), before);
}

#[test]
fn user_commands_work_in_every_format() {
    let db = seeded();
    // No audit table yet: writes work and record nothing; audit list says why it cannot.
    let ada = db.json(&[
        "user",
        "add",
        "--email",
        "Ada@Example.com",
        "--full-name",
        "Ada L",
    ]);
    let keys: Vec<&str> = ada
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "email", "name", "created_at"]);
    assert_eq!(ada["id"], 1);
    assert_eq!(ada["name"], "Ada L");
    assert!(ada["created_at"].as_str().unwrap().ends_with('Z'), "{ada}");
    db.run(&["audit", "list"]).fails(6);
    // The probe is OK on the application's own schema: the audit trail is stackctl's extra.
    let probe = db.run(&["status", "--check"]);
    assert_eq!(probe.code, 0, "{probe:#?}");
    assert!(probe.stdout.contains("audit trail not added"), "{probe:#?}");
    db.ok(&["migrate"]);

    let bob = db.ok(&[
        "-o",
        "csv",
        "user",
        "add",
        "--email",
        "bob@example.com",
        "--name",
        "Bob",
    ]);
    let (header, body) = bob.csv();
    assert_eq!(header, ["id", "email", "name", "created_at"]);
    assert_eq!(body[0][..3], ["2", "bob@example.com", "Bob"]);
    let table = db.ok(&["user", "add", "--email", "cy@example.com", "--name", "Cy"]);
    assert!(
        table.stdout.contains("cy@example.com") && table.stdout.contains("│ id"),
        "{table:#?}"
    );

    // The same email in another letter case is taken (exit 4); --if-not-exists finds it.
    db.run(&["user", "add", "--email", "ADA@example.com", "--name", "X"])
        .fails(4);
    let same = db.json(&[
        "user",
        "add",
        "--email",
        "ada@example.com",
        "--name",
        "X",
        "--if-not-exists",
    ]);
    assert_eq!(
        (same["id"].clone(), same["created"].clone()),
        (1.into(), false.into())
    );

    // list: formats, search over email and name, sorts, paging, --all.
    let all = db.json(&["user", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let by_email = db.json(&["user", "list", "--sort", "email", "--desc"]);
    let emails: Vec<&str> = by_email
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["cy@example.com", "bob@example.com", "Ada@Example.com"]
    );
    let found = db.json(&["user", "list", "--search", "bo"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    let by_name = db.json(&["user", "list", "--search", "ada l"]);
    assert_eq!(by_name[0]["id"], 1);
    let page = db.json(&["user", "list", "--limit", "1", "--offset", "1"]);
    assert_eq!(page[0]["id"], 2);
    let (h, streamed) = db.ok(&["-o", "csv", "user", "list", "--all"]).csv();
    assert_eq!((h.len(), streamed.len()), (4, 3));

    // show by id and by email in any case; update; a dry run; delete.
    assert_eq!(db.json(&["user", "show", "ADA@EXAMPLE.COM"])["id"], 1);
    assert_eq!(db.json(&["user", "show", "2"])["email"], "bob@example.com");
    db.run(&["user", "show", "99"]).fails(3);
    db.run(&["user", "show", "bob"]).fails(2);
    let moved = db.json(&[
        "user",
        "update",
        "2",
        "--email",
        "robert@example.com",
        "--full-name",
        "Robert",
    ]);
    assert_eq!(
        (moved["email"].as_str(), moved["name"].as_str()),
        (Some("robert@example.com"), Some("Robert"))
    );
    db.run(&["user", "update", "2", "--email", "ada@EXAMPLE.com"])
        .fails(4);
    let before = rows(&db);
    db.ok(&["--dry-run", "user", "delete", "2"]);
    assert_eq!(rows(&db), before);
    db.ok(&["user", "delete", "2", "--yes"]);
    assert_eq!(db.sql("SELECT count(*) FROM users WHERE id = 2"), "0");
    let audit = db.json(&["audit", "list"]);
    let commands: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands[..4],
        ["user delete", "user update", "user add", "user add"],
        "{audit}"
    );

    // status shows the layout and the row count; the probe is OK.
    let status = db.json(&["status"]);
    assert_eq!(
        (status["layout"].as_str(), status["users"].as_i64()),
        (Some("simple"), Some(2))
    );
    assert!(status["items"].is_null(), "{status}");
    let probe = db.run(&["status", "--check"]);
    assert_eq!(probe.code, 0, "{probe:#?}");
}

#[test]
fn what_the_layout_lacks_is_refused_and_nothing_changes() {
    let db = seeded();
    db.ok(&["migrate"]);
    db.ok(&["user", "add", "--email", "a@example.com", "--name", "A"]);
    let before = (rows(&db), db.sql("SELECT count(*) FROM stackctl_audit"));
    let refused: &[(&[&str], &str)] = &[
        (
            &[
                "user",
                "add",
                "--email",
                "b@example.com",
                "--name",
                "B",
                "--username",
                "bee",
            ],
            "username",
        ),
        (
            &[
                "user",
                "add",
                "--email",
                "b@example.com",
                "--name",
                "B",
                "--superuser",
            ],
            "is_superuser",
        ),
        (
            &[
                "user",
                "add",
                "--email",
                "b@example.com",
                "--name",
                "B",
                "--inactive",
            ],
            "is_active",
        ),
        (
            &[
                "user",
                "add",
                "--email",
                "b@example.com",
                "--name",
                "B",
                "--random-password",
            ],
            "password",
        ),
        (&["user", "list", "--active"], "is_active"),
        (&["user", "list", "--superuser"], "is_superuser"),
        (&["user", "list", "--sort", "username"], "username"),
        (&["user", "update", "1", "--username", "xavier"], "username"),
        (&["user", "update", "1", "--superuser"], "is_superuser"),
        (&["user", "update", "1", "--clear-full-name"], "name"),
        (&["user", "deactivate", "1"], "is_active"),
        (&["user", "activate", "1"], "is_active"),
        (
            &["user", "set-password", "1", "--random-password"],
            "password",
        ),
        (
            &["user", "delete", "1", "--reassign-items-to", "2", "--yes"],
            "items",
        ),
        (&["item", "list"], "items"),
        (&["item", "add", "--owner", "1", "--title", "t"], "items"),
        (
            &["item", "show", "00000000-0000-0000-0000-000000000000"],
            "items",
        ),
    ];
    for (args, lacks) in refused {
        let r = db.run(args).fails(2);
        assert!(
            r.stderr.contains("error: the simple layout has no") && r.stderr.contains(lacks),
            "{args:?}: {r:#?}"
        );
    }
    // With -o json the refusal is a JSON error, as every error is.
    let r = db.run(&["-o", "json", "item", "list"]).fails(2);
    let last: serde_json::Value = serde_json::from_str(r.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(last["exit_code"], 2, "{r:#?}");
    assert!(last["error"]
        .as_str()
        .unwrap()
        .contains("the simple layout has no items table"));
    // The name is required here, and a contradicting --layout is refused.
    db.run(&["user", "add", "--email", "b@example.com"])
        .fails(2);
    db.run(&["--layout", "stackwizard", "user", "list"])
        .fails(2);
    assert_eq!(
        (rows(&db), db.sql("SELECT count(*) FROM stackctl_audit")),
        before
    );
    // And the other way round: a StackWizard database named simple.
    let sw = TestDb::new();
    let r = sw
        .cmd()
        .env("STACKCTL_LAYOUT", "simple")
        .args(&["user", "list"])
        .run()
        .fails(2);
    assert!(r.stderr.contains("the stackwizard layout"), "{r:#?}");
    assert_eq!(sw.json(&["status"])["layout"], "stackwizard");
}

#[test]
fn user_import_takes_ids_from_the_same_sequence() {
    let db = seeded();
    let file = db.dir.path().join("users.csv");
    std::fs::write(
        &file,
        "id,email,name,created_at\n10,x@example.com,X,2020-01-02T03:04:05Z\n,y@example.com,Y,\n",
    )
    .unwrap();
    let r = db.json(&["user", "import", file.to_str().unwrap()]);
    assert_eq!(r["imported"], 2);
    assert_eq!(
        db.sql("SELECT string_agg(id || ' ' || email || ' ' || coalesce(created_at::text, '-'), ',' ORDER BY id) FROM users"),
        "10 x@example.com 2020-01-02 03:04:05,11 y@example.com -"
    );
    // Rows with ids go in first and move the sequence past them: the rows without one and
    // the next add (the application's too) take the ids after.
    assert_eq!(
        db.json(&["user", "add", "--email", "z@example.com", "--name", "Z"])["id"],
        12
    );
    // A repeat is a bad row (2); an existing email a conflict (4) unless skipped.
    std::fs::write(&file, "email,name\nq@example.com,Q\nQ@example.com,Q2\n").unwrap();
    db.run(&["user", "import", file.to_str().unwrap()]).fails(2);
    std::fs::write(&file, "email,name\nX@EXAMPLE.COM,X\nw@example.com,W\n").unwrap();
    db.run(&["user", "import", file.to_str().unwrap()]).fails(4);
    assert_eq!(db.sql("SELECT count(*) FROM users"), "3");
    let skipped = db.json(&[
        "user",
        "import",
        "--on-conflict",
        "skip",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        (skipped["imported"].clone(), skipped["skipped"].clone()),
        (1.into(), 1.into())
    );
}

/// An explicit id the column cannot hold, or one that would exhaust the id sequence (after
/// it, every insert, the application's included, fails), is a bad row with its line:
/// exit 2, nothing written, and the application's next insert still works.
#[test]
fn user_import_refuses_ids_that_would_exhaust_the_sequence() {
    let db = seeded();
    let before = rows(&db);
    let file = db.dir.path().join("users.csv");
    for (id, says) in [
        ("2147483647", "would leave the id sequence no value"),
        ("2147483648", "outside the id column's range"),
        ("99999999999999999999", "not an integer"),
        ("0", "outside the id column's range"),
        ("-5", "outside the id column's range"),
    ] {
        std::fs::write(
            &file,
            format!("id,email,name\n7,ok@example.com,Ok\n{id},x@example.com,X\n"),
        )
        .unwrap();
        let r = db.run(&["user", "import", file.to_str().unwrap()]).fails(2);
        assert!(
            r.stderr.contains("line 3") && r.stderr.contains(says),
            "{id}: {r:#?}"
        );
        assert_eq!(rows(&db), before, "{id}");
    }
    // The largest id that leaves the sequence a value: the application's insert after it
    // still gets one.
    std::fs::write(&file, "id,email,name\n2147483646,x@example.com,X\n").unwrap();
    db.ok(&["user", "import", file.to_str().unwrap()]);
    assert!(app(&db, &["write", "app@example.com"]).contains("2147483647 app@example.com"));
}

/// The application's model, as the design document gives it, through SQLAlchemy.
const MODEL: &str = r#"
import sys, datetime
from sqlalchemy import create_engine, Column, Integer, String, DateTime, select
from sqlalchemy.orm import declarative_base, Session
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True, index=True)
    email = Column(String, unique=True, index=True)
    name = Column(String)
    created_at = Column(DateTime, default=datetime.datetime.utcnow)
engine = create_engine(sys.argv[1])
with Session(engine) as db:
    if sys.argv[2] == "write":
        for email in sys.argv[3:]:
            db.add(User(email=email, name="App " + email))
        db.commit()
    for u in db.scalars(select(User).order_by(User.id)):
        print(u.id, u.email, u.name, u.created_at.isoformat())
"#;

fn app(db: &TestDb, args: &[&str]) -> String {
    let url = db.url.replacen("postgresql://", "postgresql+psycopg://", 1);
    let out = std::process::Command::new(python())
        .args(["-c", MODEL, &url])
        .args(args)
        .timed_output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_applications_rows_and_ours_share_one_model_and_one_sequence() {
    let db = seeded();
    let written = app(&db, &["write", "app1@example.com", "app2@example.com"]);
    // Rows the application wrote read correctly: the naive utcnow value taken as UTC.
    let first = written.lines().next().unwrap();
    let stored = first.rsplit(' ').next().unwrap();
    let shown = db.json(&["user", "show", "app1@example.com"]);
    assert_eq!(shown["id"], 1);
    assert_eq!(shown["name"], "App app1@example.com");
    let shown_at =
        chrono::DateTime::parse_from_rfc3339(shown["created_at"].as_str().unwrap()).unwrap();
    let stored_at = chrono::NaiveDateTime::parse_from_str(stored, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
    assert_eq!(shown_at.naive_utc(), stored_at, "{shown} vs {stored}");
    assert_eq!(shown_at.offset().local_minus_utc(), 0);
    // Ours take the sequence's next id and load in the model; the application's next
    // insert does not collide.
    assert_eq!(
        db.json(&[
            "user",
            "add",
            "--email",
            "ours@example.com",
            "--name",
            "Ours"
        ])["id"],
        3
    );
    let after = app(&db, &["write", "app3@example.com"]);
    let lines: Vec<&str> = after.lines().collect();
    assert_eq!(lines.len(), 4, "{after}");
    assert!(lines[2].starts_with("3 ours@example.com Ours "), "{after}");
    assert!(lines[3].starts_with("4 app3@example.com "), "{after}");
    // created_at as stackctl wrote it is UTC without a zone, as utcnow writes it.
    let ours_at = lines[2].rsplit(' ').next().unwrap();
    let ours_at = chrono::NaiveDateTime::parse_from_str(ours_at, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
    let drift = (chrono::Utc::now().naive_utc() - ours_at)
        .num_seconds()
        .abs();
    assert!(drift < 600, "created_at {ours_at} is not UTC now");
}

#[test]
fn backups_restore_the_seeds_way_and_ours() {
    let db = seeded();
    db.ok(&[
        "user",
        "add",
        "--email",
        "keep@example.com",
        "--name",
        "Keep",
    ]);
    let kept = rows(&db);
    // The seed's way: pg_dump > backup.sql, restored by stackctl.
    let dump = db.dir.path().join("backup.sql");
    let pg_dump = psql_bin().with_file_name("pg_dump");
    let out = std::process::Command::new(&pg_dump)
        .args(["-d", &db.url, "-f", dump.to_str().unwrap()])
        .timed_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.ok(&[
        "user",
        "add",
        "--email",
        "later@example.com",
        "--name",
        "Later",
    ]);
    db.ok(&["backup", "restore", dump.to_str().unwrap(), "--yes"]);
    assert_eq!(rows(&db), kept);
    // Ours, plain, restored with the seed's own psql -d DB < backup.sql.
    let dir = db.dir.path().join("backups");
    let made = db.json(&[
        "backup",
        "--format",
        "plain",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let file = dir.join(made["file"].as_str().unwrap());
    let fresh = TestDb::empty();
    let out = std::process::Command::new(psql_bin())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &fresh.url])
        .stdin(std::fs::File::open(&file).unwrap())
        .timed_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rows(&fresh), kept);
    assert_eq!(fresh.json(&["status"])["layout"], "simple");
    // And a custom-format backup verifies with a test restore.
    let custom = db.json(&["backup", "--dir", dir.to_str().unwrap(), "--verify-restore"]);
    assert_eq!(custom["row_counts"]["users"], 1, "{custom}");
}

/// Where production databases live: through PgBouncer's transaction pooling, as a role
/// with only what `stackctl grant` gives it (the id sequence included), with a hostile
/// row the application stored, and against a hot standby.
#[test]
fn the_simple_layout_in_production() {
    use crate::support::{pgbouncer, PoolMode};
    let db = seeded();
    db.ok(&["migrate"]);
    // A name the application stored with a terminal escape and a bidi override.
    db.sql("INSERT INTO users (email, name) VALUES ('evil@example.com', E'\\x1b]0;pwned\\x07\\u202eX')");
    let app = crate::privileges::role(&db, "sp_app", "");
    let r = db.ok(&["grant", &app, "--apply"]);
    assert!(
        r.stdout
            .contains("GRANT USAGE, SELECT, UPDATE ON SEQUENCE users_id_seq"),
        "{r:#?}"
    );
    let pool = pgbouncer(PoolMode::Transaction);
    pool.allow_role(&app);
    let via = || db.cmd_url(&pool.url_as(&app, &db.name));
    let added = via()
        .args(&[
            "-o",
            "json",
            "user",
            "add",
            "--email",
            "p@example.com",
            "--name",
            "P",
        ])
        .run()
        .success()
        .json();
    assert_eq!(added["id"], 2);
    // An import with an explicit id moves the sequence (setval): the grant covers it.
    let file = db.dir.path().join("ids.csv");
    std::fs::write(&file, "id,email,name\n50,i@example.com,I\n").unwrap();
    via()
        .args(&["user", "import", file.to_str().unwrap()])
        .run()
        .success();
    via()
        .args(&["user", "delete", "50", "--yes"])
        .run()
        .success();
    via()
        .args(&["user", "update", "2", "--name", "Pat"])
        .run()
        .success();
    let table = via().args(&["user", "list"]).run().success();
    assert!(
        !table.stdout.contains('\u{1b}') && !table.stdout.contains('\u{202e}'),
        "{table:#?}"
    );
    assert!(
        table.stdout.contains("\\x1b]0;pwned\\x07\\u{202e}X"),
        "{table:#?}"
    );
    let csv = via()
        .args(&["-o", "csv", "user", "list", "--all"])
        .run()
        .success();
    assert_eq!(csv.csv().1.len(), 2);
    via()
        .args(&["user", "delete", "2", "--yes"])
        .run()
        .success();
    let audit = via()
        .args(&["-o", "json", "audit", "list"])
        .run()
        .success()
        .json();
    assert_eq!(audit[0]["command"], "user delete", "{audit}");
    assert_eq!(
        via().args(&["-o", "json", "status"]).run().success().json()["layout"],
        "simple"
    );
    // Nothing is left on the pooled server connections.
    assert_eq!(pool.psql(&db.name, "SHOW statement_timeout"), "0");

    // A read-only role reads and is refused writes with exit 7.
    let reader = crate::privileges::role(&db, "sp_ro", "");
    db.ok(&["grant", &reader, "--read-only", "--apply"]);
    let as_reader = db.url.replacen("://postgres@", &format!("://{reader}@"), 1);
    db.cmd_url(&as_reader)
        .args(&["user", "list"])
        .run()
        .success();
    let before = rows(&db);
    db.cmd_url(&as_reader)
        .args(&["user", "add", "--email", "r@example.com", "--name", "R"])
        .run()
        .fails(7);

    // On the standby: reads work, every write is exit 7, and the primary is unchanged.
    let listed = db
        .cmd_standby()
        .args(&["-o", "json", "user", "list"])
        .run()
        .success()
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    for args in [
        vec!["user", "add", "--email", "s@example.com", "--name", "S"],
        vec!["user", "update", "1", "--name", "S"],
        vec!["user", "delete", "1", "--yes"],
    ] {
        let r = db.cmd_standby().args(&args).run().fails(7);
        assert!(r.stderr.contains("standby"), "{args:?}: {r:#?}");
    }
    assert_eq!(rows(&db), before);
}
