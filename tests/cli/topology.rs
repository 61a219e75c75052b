//! Production topologies: stackctl through a real PgBouncer (transaction and session
//! pooling) and against a real hot standby. The first tests prove the harness itself
//! (the pooler really pools, the standby really replays); the rest hold stackctl to the
//! contract there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{hold, pgbouncer, psql_bin, standby, Bouncer, Cmd, PoolMode, Run, TestDb};

fn transaction() -> &'static Bouncer {
    pgbouncer(PoolMode::Transaction)
}

fn session() -> &'static Bouncer {
    pgbouncer(PoolMode::Session)
}

/// `-o json` output of a command that must succeed.
fn json(cmd: Cmd, args: &[&str]) -> Value {
    cmd.args(&["-o", "json"]).args(args).run().success().json()
}

/// `user add` with a password on stdin.
fn user_add(cmd: Cmd, email: &str, username: &str) -> Cmd {
    cmd.args(&["user", "add", "--email", email, "--username", username])
        .args(&["--password-stdin"])
        .stdin("password123\n")
}

fn usernames(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_string())
        .collect();
    names.sort();
    names
}

/// How many migrations this source tree has.
fn migrations() -> usize {
    std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
        .expect("migrations/")
        .flatten()
        .filter(|e| e.path().join("up.sql").is_file())
        .count()
}

/// A psql session that ran one query, wrote its result to a file, and stays connected
/// (idle) until dropped.
struct Session {
    child: Child,
    _stdin: ChildStdin,
    /// What the query returned.
    result: String,
}

impl Session {
    fn open(url: &str, sql: &str, dir: &Path) -> Session {
        let file = dir.join(format!(
            "session-{}.out",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut child = Command::new(psql_bin())
            .args(["-X", "-A", "-t", "-q", "-d", url])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql");
        let mut stdin = child.stdin.take().expect("psql's stdin");
        writeln!(stdin, "{sql} \\g {}", file.display()).expect("write to psql");
        stdin.flush().expect("flush psql's stdin");
        let deadline = Instant::now() + Duration::from_secs(10);
        let result = loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if text.ends_with('\n') {
                break text.trim().to_string();
            }
            assert!(Instant::now() < deadline, "psql never answered {sql}");
            std::thread::sleep(Duration::from_millis(10));
        };
        Session {
            child,
            _stdin: stdin,
            result,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dump" || e == "sql"))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// The harness itself.

/// Both bouncers answer queries for a per-test database (the `*` wildcard entry).
#[test]
fn harness_bouncers_answer_for_any_database() {
    let db = TestDb::new();
    for b in [transaction(), session()] {
        assert_eq!(b.psql(&db.name, "SELECT 1"), "1", "{:?}", b.mode);
        assert_eq!(b.psql(&db.name, "SELECT current_database()"), db.name);
    }
}

/// The admin console shows the configuration the tests rely on.
#[test]
fn harness_bouncer_config_is_what_the_tests_assume() {
    for (b, mode) in [(transaction(), "transaction"), (session(), "session")] {
        let config = b.admin("SHOW CONFIG");
        for want in [
            format!("pool_mode|{mode}|"),
            "default_pool_size|2|".to_string(),
            "max_client_conn|200|".to_string(),
            "server_reset_query|DISCARD ALL|".to_string(),
        ] {
            assert!(
                config.lines().any(|l| l.starts_with(&want)),
                "{want} not in:\n{config}"
            );
        }
    }
}

/// Transaction pooling is really on: an idle client holds no backend, so a second client
/// gets the very backend the first one used. Session pooling gives it another.
#[test]
fn harness_transaction_pooling_shares_a_backend_session_pooling_does_not() {
    let db = TestDb::new();
    let sql = "SELECT pg_backend_pid()";
    let b = transaction();
    let a = Session::open(&db.via(b), sql, db.dir.path());
    assert_eq!(b.psql(&db.name, sql), a.result);
    drop(a);

    let b = session();
    let a = Session::open(&db.via(b), sql, db.dir.path());
    assert_ne!(b.psql(&db.name, sql), a.result);
}

/// A role added to the auth file after the start can log in (RELOAD picks it up).
#[test]
fn harness_allow_role_lets_a_new_role_through() {
    let db = TestDb::new();
    let role = format!("stackctl_topo_{}", std::process::id());
    db.sql(&format!("DROP ROLE IF EXISTS {role}"));
    db.sql(&format!("CREATE ROLE {role} LOGIN"));
    let b = transaction();
    b.allow_role(&role);
    let who = crate::support::psql(&b.url_as(&role, &db.name), "SELECT current_user");
    db.sql(&format!("DROP ROLE {role}"));
    assert_eq!(who, role);
}

/// The standby is in recovery and replays what the primary writes after it started.
#[test]
fn harness_standby_replays_the_primary() {
    let db = TestDb::new();
    db.sql(
        "INSERT INTO users (email, username, hashed_password) \
         VALUES ('r@example.com', 'replayed', 'x')",
    );
    let s = standby();
    s.catch_up(&db.name);
    assert_eq!(s.sql(&db.name, "SELECT pg_is_in_recovery()"), "t");
    assert_eq!(db.sql("SELECT pg_is_in_recovery()"), "f");
    assert_eq!(s.sql(&db.name, "SELECT username FROM users"), "replayed");
}

// ---------------------------------------------------------------------------------------
// stackctl through the transaction pooler.

/// Through transaction pooling a statement still runs in UTC and UTF-8 when the backend it
/// lands on was left in Tokyo time and LATIN1 by another client: PgBouncer puts the
/// client's values back on the backend before the statement runs.
#[test]
fn transaction_pooler_keeps_utc_and_utf8_on_a_backend_left_otherwise() {
    let db = TestDb::new();
    crate::connect::database_defaults(&db, "UTC", "UTF8");
    let b = transaction();
    for _ in 0..2 {
        b.psql(
            &db.name,
            "SET timezone = 'Asia/Tokyo'; SET client_encoding = 'LATIN1'",
        );
    }
    let [zone, encoding] = crate::connect::session_settings(&db.via(b));
    assert_eq!((zone.0.as_str(), encoding.0.as_str()), ("UTC", "UTF8"));
}

/// Everyday commands work through a transaction pooler, from an empty database on.
#[test]
fn transaction_pooler_everyday_commands() {
    let db = TestDb::empty();
    let b = transaction();
    db.cmd_via(b).args(&["migrate"]).run().success();
    let alice = user_add(db.cmd_via(b), "a@example.com", "alice")
        .args(&["-o", "json"])
        .run()
        .success()
        .json();
    assert_eq!(alice["username"], "alice");
    assert_eq!(
        usernames(&json(db.cmd_via(b), &["user", "list"])),
        ["alice"]
    );
    let item = json(
        db.cmd_via(b),
        &[
            "item", "add", "--owner", "alice", "--title", "Lamp", "--price", "12.5",
        ],
    );
    assert_eq!(item["price"], "12.50");
    assert_eq!(item["owner_email"], "a@example.com");
    let items = json(db.cmd_via(b), &["item", "list"]);
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["title"], "Lamp");
    assert_eq!(items[0]["owner_id"], alice["id"]);
    let status = json(db.cmd_via(b), &["status"]);
    assert_eq!(status["schema"], "up to date", "{status}");
    assert_eq!(status["database"], db.name.as_str());
    assert_eq!(
        (status["users"].clone(), status["items"].clone()),
        (1.into(), 1.into())
    );
    let migrations_status = json(db.cmd_via(b), &["migrate", "status"]);
    let states: Vec<&Value> = migrations_status
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| &m["state"])
        .collect();
    assert_eq!(states, vec![&Value::from("applied"); migrations()]);
    let audit = json(db.cmd_via(b), &["audit", "list"]);
    let mut commands: Vec<&str> = audit
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["command"].as_str())
        .collect();
    commands.sort();
    assert!(
        commands.contains(&"user add") && commands.contains(&"item add"),
        "{audit}"
    );
}

/// Sixteen processes at once through a pool of two server connections: adds of distinct
/// users and listings all succeed, and exactly the added users are there afterwards.
#[test]
fn transaction_pooler_sixteen_concurrent_clients() {
    let db = TestDb::new();
    let url = db.via(transaction());
    let dir = db.dir.path().to_path_buf();
    let runs: Vec<_> = (0..16)
        .map(|i| {
            let cmd = Cmd::bare(&dir).env("DATABASE_URL", &url);
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    user_add(cmd, &format!("u{i}@example.com"), &format!("user{i}")).run()
                } else {
                    cmd.args(&["-o", "json", "user", "list"]).run()
                }
            })
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        let r = run.join().expect("thread");
        assert_eq!(r.code, 0, "client {i}: {r:#?}");
        if i % 2 == 1 {
            r.json();
        }
    }
    let mut want: Vec<String> = (0..16).step_by(2).map(|i| format!("user{i}")).collect();
    want.sort();
    assert_eq!(
        db.sql("SELECT string_agg(username, ',' ORDER BY username) FROM users"),
        want.join(",")
    );
}

/// Four `migrate` at once through the pooler: all succeed, each migration recorded once.
#[test]
fn transaction_pooler_concurrent_migrations_apply_once() {
    let db = TestDb::empty();
    let url = db.via(transaction());
    let dir = db.dir.path().to_path_buf();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let cmd = Cmd::bare(&dir).env("DATABASE_URL", &url).args(&["migrate"]);
            std::thread::spawn(move || cmd.run())
        })
        .collect();
    for run in runs {
        let r = run.join().expect("thread");
        assert_eq!(r.code, 0, "{r:#?}");
    }
    let n = migrations().to_string();
    assert_eq!(
        db.sql("SELECT count(*) || ',' || count(DISTINCT version) FROM __diesel_schema_migrations"),
        format!("{n},{n}")
    );
}

/// --statement-timeout still cancels through the pooler (exit 5), and the timeout does not
/// stay behind on the pooled server connection for the next client.
#[test]
fn transaction_pooler_statement_timeout_cancels() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let b = transaction();
    let mut locker = hold(&db, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE", 8);
    let started = Instant::now();
    let r = db
        .cmd_via(b)
        .args(&["--statement-timeout", "100ms", "user", "list"])
        .run();
    let elapsed = started.elapsed();
    let _ = locker.kill();
    let _ = locker.wait();
    let r = r.fails(5);
    assert!(r.stderr.contains("statement timeout"), "{r:#?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(b.psql(&db.name, "SHOW statement_timeout"), "0");
}

/// With DIRECT_DATABASE_URL, backup and restore go around the pooler and succeed.
#[test]
fn transaction_pooler_backup_and_restore_with_a_direct_url() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let b = transaction();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().expect("utf-8 path");
    let m = json(
        db.cmd_via(b).env("DIRECT_DATABASE_URL", &db.url),
        &["backup", "--dir", d],
    );
    assert_eq!(m["row_counts"]["users"], 1, "{m}");
    let files = backups(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let file = files[0].to_str().expect("utf-8 path");
    db.sql("DELETE FROM users");
    db.cmd_via(b)
        .env("DIRECT_DATABASE_URL", &db.url)
        .args(&["backup", "restore", file, "--yes"])
        .run()
        .success();
    assert_eq!(db.sql("SELECT username FROM users"), "alice");
    assert_eq!(
        usernames(&json(db.cmd_via(b), &["user", "list"])),
        ["alice"]
    );
    // Beside the live database too, through the direct URL.
    let name = format!("{}_beside", db.name);
    let out = json(
        db.cmd_via(b).env("DIRECT_DATABASE_URL", &db.url),
        &["backup", "restore", file, "--into", &name],
    );
    assert_eq!(out["users"], 1, "{out}");
    db.sql(&format!("DROP DATABASE {name} WITH (FORCE)"));
    // A directory dump, taken with jobs and restored with jobs, each a direct connection;
    // without the direct URL its restore is refused like any other.
    let m = json(
        db.cmd_via(b).env("DIRECT_DATABASE_URL", &db.url),
        &["backup", "--dir", d, "--format", "directory", "--jobs", "2"],
    );
    let dumped = dir.join(m["file"].as_str().expect("a file name"));
    let dumped = dumped.to_str().expect("utf-8 path");
    let out = json(
        db.cmd_via(b).env("DIRECT_DATABASE_URL", &db.url),
        &["backup", "restore", dumped, "--into", &name, "--jobs", "2"],
    );
    assert_eq!(out["users"], 1, "{out}");
    db.sql(&format!("DROP DATABASE {name} WITH (FORCE)"));
    let r = db
        .cmd_via(b)
        .args(&["backup", "restore", dumped, "--into", &name])
        .run()
        .fails(2);
    assert!(r.stderr.contains("DIRECT_DATABASE_URL"), "{r:#?}");
}

/// A backup checked by a test restore, through the pooler with a direct URL, of a database
/// with its own DateStyle: the checksums are made with fixed output settings (`SET LOCAL`,
/// so nothing stays on a pooled connection) and match after the restore.
#[test]
fn transaction_pooler_verified_backup_of_a_database_with_its_own_date_style() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    db.sql(&format!(
        "ALTER DATABASE {} SET DateStyle = 'SQL, DMY'",
        db.name
    ));
    let b = transaction();
    let dir = db.dir.path().join("b");
    let m = json(
        db.cmd_via(b).env("DIRECT_DATABASE_URL", &db.url),
        &[
            "backup",
            "--dir",
            dir.to_str().expect("utf-8 path"),
            "--verify-restore",
        ],
    );
    assert!(m["table_checksums"]["users"].is_string(), "{m}");
    assert_eq!(b.psql(&db.name, "SHOW DateStyle"), "SQL, DMY");
}

/// Without a direct URL, a backup through the pooler either works or says to set one;
/// either way the pooled connections are left clean for the next client (pg_dump's
/// session settings, such as its empty search_path, must not stay behind).
#[test]
fn transaction_pooler_backup_without_a_direct_url() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let b = transaction();
    let dir = db.dir.path().join("b");
    let r: Run = db
        .cmd_via(b)
        .args(&["backup", "--dir", dir.to_str().expect("utf-8 path")])
        .run();
    if r.code != 0 {
        let code = r.code;
        let r = r.fails(code);
        assert!(
            r.stderr.contains("DIRECT_DATABASE_URL") || r.stderr.contains("--direct-url"),
            "{r:#?}"
        );
    }
    for _ in 0..3 {
        assert_eq!(
            usernames(&json(db.cmd_via(b), &["user", "list"])),
            ["alice"]
        );
    }
    assert_eq!(b.psql(&db.name, "SHOW search_path"), "\"$user\", public");
}

// ---------------------------------------------------------------------------------------
// stackctl through the session pooler.

/// Everyday commands work through a session pooler, from an empty database on.
#[test]
fn session_pooler_everyday_commands() {
    let db = TestDb::empty();
    let b = session();
    db.cmd_via(b).args(&["migrate"]).run().success();
    user_add(db.cmd_via(b), "a@example.com", "alice")
        .run()
        .success();
    assert_eq!(
        usernames(&json(db.cmd_via(b), &["user", "list"])),
        ["alice"]
    );
    let status = json(db.cmd_via(b), &["status"]);
    assert_eq!(status["schema"], "up to date", "{status}");
    assert_eq!(status["users"], 1);
}

// ---------------------------------------------------------------------------------------
// stackctl on a hot standby.

/// Listings read from the standby.
#[test]
fn standby_user_list_reads() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    assert_eq!(
        usernames(&json(db.cmd_standby(), &["user", "list"])),
        ["alice"]
    );
}

/// `status` says which side it is connected to.
#[test]
fn status_reports_standby_or_primary() {
    let db = TestDb::new();
    let on_standby = json(db.cmd_standby(), &["status"]);
    assert_eq!(on_standby["role"], "standby", "{on_standby}");
    let on_primary = json(db.cmd(), &["status"]);
    assert_eq!(on_primary["role"], "primary", "{on_primary}");
}

/// A backup can be taken from the standby.
#[test]
fn standby_backup_succeeds() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let dir = db.dir.path().join("b");
    let m = json(
        db.cmd_standby(),
        &["backup", "--dir", dir.to_str().expect("utf-8 path")],
    );
    assert_eq!(m["row_counts"]["users"], 1, "{m}");
    assert_eq!(backups(&dir).len(), 1);
}

/// A write on the standby is refused by the server: exit 7, says why, nothing changed.
#[test]
fn standby_user_add_is_refused_with_7() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let before = db.checksum_all();
    let r = user_add(db.cmd_standby(), "b@example.com", "bob")
        .run()
        .fails(7);
    let stderr = r.stderr.to_lowercase();
    assert!(
        stderr.contains("standby") || stderr.contains("read-only"),
        "{r:#?}"
    );
    assert_eq!(db.checksum_all(), before);
}

/// Every kind of write on the standby stops before changing anything, naming the standby
/// (exit 7); reads, checks and an up-to-date `migrate` work there.
#[test]
fn standby_refuses_every_write_and_serves_every_read() {
    let db = TestDb::new();
    let alice = db.add_user("a@example.com", "alice");
    let item = db
        .ok(&[
            "-o", "json", "item", "add", "--owner", "alice", "--title", "Lamp",
        ])
        .json();
    let dir = db.dir.path().join("b");
    let dir_s = dir.to_str().expect("utf-8 path");
    db.ok(&["backup", "--dir", dir_s]);
    let file = backups(&dir).pop().expect("a backup");
    let file_s = file.to_str().expect("utf-8 path");
    let items_csv = db.dir.path().join("items.csv");
    std::fs::write(&items_csv, "title,owner_email\nChair,a@example.com\n").unwrap();
    let before = db.checksum_all();
    let writes: Vec<Vec<&str>> = vec![
        vec!["item", "add", "--owner", "alice", "--title", "Desk"],
        vec!["user", "deactivate", "alice"],
        vec!["user", "update", "alice", "--full-name", "A"],
        vec!["item", "delete", item["id"].as_str().unwrap(), "--yes"],
        vec!["user", "delete", alice["id"].as_str().unwrap(), "--yes"],
        vec!["item", "import", items_csv.to_str().unwrap()],
        // Nothing is dropped on a standby: the import is refused as any write.
        vec![
            "item",
            "import",
            "--rebuild-indexes",
            "always",
            items_csv.to_str().unwrap(),
        ],
        vec!["migrate", "revert", "--yes"],
        vec!["backup", "restore", file_s, "--yes"],
        vec!["backup", "restore", file_s, "--into", "standby_copy"],
    ];
    for args in &writes {
        let r = db.cmd_standby().args(args).run().fails(7);
        assert!(r.stderr.contains("hot standby"), "{args:?}: {r:#?}");
        assert!(
            r.stderr.contains("hint: run writes against the primary"),
            "{args:?}: {r:#?}"
        );
    }
    assert_eq!(
        db.checksum_all(),
        before,
        "a refused write changed the primary"
    );
    for args in [
        vec!["migrate"],
        vec!["migrate", "status"],
        vec!["status", "--check"],
        vec!["item", "list", "--all", "-o", "csv"],
        vec!["audit", "list"],
        vec!["backup", "verify", file_s],
        vec!["schema", "diff"],
    ] {
        db.cmd_standby().args(&args).run().success();
    }
    // Only this test's own name: other tests' scratch restores (stackctl_restore_*) come
    // and go on the shared cluster while this one runs.
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_database WHERE datname = 'standby_copy'"),
        "0"
    );
}

/// A multi-host URL goes to libpq as it is: `target_session_attrs` picks the primary for
/// writes even when the standby is listed first, and the standby for reports.
#[test]
fn multi_host_urls_pick_the_server_by_its_role() {
    let db = TestDb::new();
    let standby = crate::support::standby();
    standby.catch_up(&db.name);
    let primary_port = db.url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let both = format!(
        "postgresql://postgres@127.0.0.1:{},127.0.0.1:{primary_port}/{}",
        standby.port, db.name
    );
    let rw = format!("{both}?target_session_attrs=read-write");
    user_add(db.cmd_url(&rw), "m@example.com", "multi")
        .run()
        .success();
    assert_eq!(db.sql("SELECT username FROM users"), "multi");
    assert_eq!(json(db.cmd_url(&rw), &["status"])["role"], "primary");
    let ro = format!("{both}?target_session_attrs=standby");
    assert_eq!(json(db.cmd_url(&ro), &["status"])["role"], "standby");
}

/// Through the transaction pooler every command gives what it gives over a direct
/// connection: the same exit codes, the same number of rows, the same database afterwards.
/// The script covers streaming exports, imports, dry runs, updates, deletes, status --check,
/// the audit trail and a migrate revert / migrate round trip.
#[test]
fn transaction_pooler_gives_what_a_direct_connection_gives() {
    let (direct, pooled) = (TestDb::new(), TestDb::new());
    let files = direct.dir.path().to_path_buf();
    let users_csv = files.join("users.csv");
    std::fs::write(
        &users_csv,
        "email,username,password\nb@example.com,bob,password-bob\nc@example.com,carol,password-carol\n",
    )
    .unwrap();
    let items_csv = files.join("items.csv");
    std::fs::write(
        &items_csv,
        "title,price,owner_email\nChair,3.50,b@example.com\nDesk,120,c@example.com\nNope,1,x@example.com\n",
    )
    .unwrap();
    let items_ok = files.join("items-ok.csv");
    std::fs::write(
        &items_ok,
        "title,price,owner_email\nChair,3.50,b@example.com\nDesk,120,c@example.com\n",
    )
    .unwrap();
    let (u, i, iok) = (
        users_csv.to_str().unwrap(),
        items_csv.to_str().unwrap(),
        items_ok.to_str().unwrap(),
    );
    let script: Vec<Vec<&str>> = vec![
        vec![
            "user",
            "add",
            "--email",
            "a@example.com",
            "--username",
            "alice",
            "--random-password",
        ],
        vec![
            "user",
            "add",
            "--email",
            "A@EXAMPLE.COM",
            "--username",
            "alice2",
            "--random-password",
        ],
        vec![
            "--dry-run",
            "user",
            "add",
            "--email",
            "d@example.com",
            "--username",
            "dave",
            "--random-password",
        ],
        vec!["user", "import", u],
        vec!["item", "import", i],
        vec!["item", "import", iok],
        vec!["--dry-run", "item", "import", iok],
        vec![
            "item", "add", "--owner", "alice", "--title", "Lamp", "--price", "12.5",
        ],
        vec!["user", "list", "--all", "-o", "csv"],
        vec!["item", "list", "--all", "-o", "json"],
        vec![
            "item",
            "list",
            "--owner",
            "b@example.com",
            "--sort",
            "price",
            "--desc",
        ],
        vec![
            "user", "list", "--search", "example", "--limit", "2", "--offset", "1",
        ],
        vec!["user", "update", "bob", "--full-name", "Bob B"],
        vec!["user", "deactivate", "carol", "bob"],
        vec!["user", "deactivate", "carol"],
        vec!["user", "activate", "carol"],
        vec!["user", "show", "nobody"],
        vec!["user", "delete", "carol", "--yes"],
        vec!["user", "delete", "carol"],
        vec!["status"],
        vec!["status", "--check"],
        vec!["audit", "list", "--limit", "100"],
        vec!["--dry-run", "migrate", "revert", "--steps", "3", "--yes"],
        vec!["migrate", "status"],
        vec!["--statement-timeout", "5s", "user", "list"],
        vec![
            "--statement-timeout",
            "5s",
            "user",
            "add",
            "--email",
            "e@example.com",
            "--username",
            "erin",
            "--random-password",
        ],
    ];
    let rows = |r: &Run| -> Option<usize> {
        serde_json::from_str::<Value>(&r.stdout)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            .or_else(|| (!r.stdout.is_empty()).then(|| r.stdout.lines().count()))
    };
    let b = transaction();
    for args in &script {
        let want = direct.cmd().args(&["-o", "json"]).args(args).run();
        let got = pooled.cmd_via(b).args(&["-o", "json"]).args(args).run();
        assert_eq!(
            got.code, want.code,
            "{args:?}: pooled {got:#?} direct {want:#?}"
        );
        if !args.contains(&"--random-password") {
            assert_eq!(
                rows(&got),
                rows(&want),
                "{args:?}: pooled {got:#?} direct {want:#?}"
            );
        }
    }
    let shape = "SELECT string_agg(email || '/' || username || '/' || coalesce(full_name, '') || '/' || is_active, ',' ORDER BY email) FROM users";
    assert_eq!(pooled.sql(shape), direct.sql(shape));
    let items = "SELECT string_agg(title || '/' || price, ',' ORDER BY title) FROM items";
    assert_eq!(pooled.sql(items), direct.sql(items));
    // The pooled server connections carry no state of ours for the next client.
    assert_eq!(b.psql(&pooled.name, "SHOW statement_timeout"), "0");
}

/// An item import that drops stackctl's indexes for its load and builds them again works
/// through a transaction pooler: each DROP and CREATE INDEX CONCURRENTLY is a statement of
/// its own, and the build lock's guard holds a transaction of its own.
#[test]
fn transaction_pooler_item_import_builds_the_indexes_it_dropped() {
    let db = TestDb::new();
    let b = transaction();
    let owner = db.add_user_id("a@example.com", "alice");
    let file = db.dir.path().join("items.csv");
    std::fs::write(
        &file,
        format!("title,owner_id\nLamp,{owner}\nChair,{owner}\n"),
    )
    .unwrap();
    let oids = || {
        db.sql(
            "SELECT string_agg(c.oid::text || ':' || i.indisvalid, ',' ORDER BY c.relname) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relname LIKE 'stackctl\\_items\\_%'",
        )
    };
    let before = oids();
    let r = db
        .cmd_via(b)
        .args(&[
            "item",
            "import",
            "--rebuild-indexes",
            "always",
            file.to_str().unwrap(),
        ])
        .run()
        .success();
    assert!(
        r.stderr
            .contains("item import: built stackctl's indexes on items again"),
        "{r:#?}"
    );
    let after = oids();
    assert_eq!(after.matches(":true").count(), 3, "{after}");
    assert_ne!(after, before);
    assert_eq!(db.sql("SELECT count(*) FROM items"), "2");
}
