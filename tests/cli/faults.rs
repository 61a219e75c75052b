//! Faults: a killed backend, a stopped server, a server that never answers, a statement
//! over --statement-timeout. Each ends in exit 5, one error line, and nothing half-written.

use crate::support::Timed as _;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{hold, Cmd, Run, TestDb};

/// Terminate the newest backend of this test's database (not ours) that matches
/// `condition` on pg_stat_activity, once it appears; returns whether one was found.
fn kill_backend(db: &TestDb, condition: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let pid = db.sql(&format!(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND ({condition}) \
             AND query NOT LIKE '%pg_stat_activity%' AND pid <> pg_backend_pid() \
             ORDER BY backend_start DESC LIMIT 1"
        ));
        if !pid.is_empty() {
            db.sql(&format!("SELECT pg_terminate_backend({pid})"));
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn spawn(cmd: Cmd) -> std::thread::JoinHandle<Run> {
    std::thread::spawn(move || cmd.run())
}

#[test]
fn a_killed_backend_during_item_import_leaves_no_row() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let mut text = String::from("title,owner_email,price\n");
    for i in 0..400_000 {
        text.push_str(&format!("Item {i},a@example.com,{}.50\n", i % 1000));
    }
    let file = db.dir.path().join("big.csv");
    std::fs::write(&file, text).unwrap();
    let run = spawn(db.cmd().args(&["item", "import", file.to_str().unwrap()]));
    assert!(
        kill_backend(&db, "query LIKE 'COPY%'"),
        "the import's COPY never showed up"
    );
    let r = run.join().unwrap().fails(5);
    assert!(r.stderr.contains("database"), "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");
}

#[test]
fn a_killed_backend_during_deactivate_changes_no_user() {
    let db = TestDb::new();
    db.sql(
        "INSERT INTO users (id, email, username, hashed_password, is_active, created_at, updated_at) \
         SELECT uuid_generate_v4(), 'u' || g || '@example.com', 'user' || g, 'x', true, now(), now() \
         FROM generate_series(1, 200) g",
    );
    let names: Vec<String> = (1..=200).map(|g| format!("user{g}")).collect();
    let mut args = vec!["user", "deactivate"];
    args.extend(names.iter().map(String::as_str));
    // Row locks held elsewhere make the UPDATE wait, so it can be killed mid-statement.
    let mut locker = hold(
        &db,
        "SELECT 1 FROM users WHERE username = 'user200' FOR UPDATE",
        30,
    );
    let run = spawn(db.cmd().args(&args));
    assert!(
        kill_backend(&db, "query LIKE 'UPDATE%users%'"),
        "the UPDATE never showed up"
    );
    run.join().unwrap().fails(5);
    let _ = locker.kill();
    let _ = locker.wait();
    assert_eq!(db.sql("SELECT count(*) FROM users WHERE is_active"), "200");
}

#[test]
fn a_killed_pg_dump_leaves_no_backup_file() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    db.sql(
        "INSERT INTO items (id, title, price, owner_id, is_available, created_at, updated_at) \
         SELECT uuid_generate_v4(), 'Item ' || g, 1, (SELECT id FROM users), true, now(), now() \
         FROM generate_series(1, 300000) g",
    );
    let dir = db.dir.path().join("b");
    let run = spawn(db.cmd().args(&["backup", "--dir", dir.to_str().unwrap()]));
    assert!(
        kill_backend(&db, "application_name = 'pg_dump'"),
        "pg_dump never connected"
    );
    let r = run.join().unwrap().fails(5);
    assert!(r.stderr.contains("pg_dump failed"), "{r:#?}");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".stackctl-backup.lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn statement_timeout_cancels_and_rolls_back() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let mut locker = hold(&db, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE", 20);
    let r = db
        .run(&["--statement-timeout", "300ms", "user", "list"])
        .fails(5);
    assert!(r.stderr.contains("statement timeout"), "{r:#?}");
    let r = db
        .user_add("b@example.com", "bob", "password123\n")
        .args(&["--statement-timeout", "300ms"])
        .run()
        .fails(5);
    assert!(r.stderr.contains("statement timeout"), "{r:#?}");
    let _ = locker.kill();
    let _ = locker.wait();
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
    db.run(&["--statement-timeout", "soon", "user", "list"])
        .fails(2);
}

/// A typo in --statement-timeout is a usage error found before connecting: exit 2 even
/// when the server is unreachable, and no embedded instance is started for it.
#[test]
fn a_statement_timeout_typo_is_exit_2_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let r = Cmd::bare(dir.path())
        .args(&["--statement-timeout", "5x", "user", "list"])
        .args(&["--database-url", "postgresql://nobody@127.0.0.1:1/none"])
        .run()
        .fails(2);
    assert!(r.stderr.contains("--statement-timeout"), "{r:#?}");
    Cmd::bare(dir.path())
        .args(&["--statement-timeout", "5x", "status"])
        .run()
        .fails(2);
    assert!(
        !dir.path().join(".local/share/stackctl").exists(),
        "the embedded instance was created for a typo"
    );
}

#[test]
fn a_server_that_never_answers_is_given_up_within_the_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold every connection, saying nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let r = Cmd::bare(dir.path())
        .args(&[
            "--database-url",
            &format!("postgresql://u:SilentPw1@127.0.0.1:{port}/db?connect_timeout=2"),
            "user",
            "list",
        ])
        .run()
        .fails(5);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        r.stderr.contains("timeout") || r.stderr.contains("timed out"),
        "{r:#?}"
    );
    assert!(!r.stderr.contains("SilentPw1"));
}

#[test]
fn a_server_stopped_during_an_import_keeps_nothing() {
    let home = tempfile::tempdir().unwrap();
    let cmd = || Cmd::bare(home.path());
    cmd()
        .args(&[
            "-q",
            "user",
            "add",
            "--email",
            "a@example.com",
            "--username",
            "alice",
            "--random-password",
        ])
        .run()
        .success();
    let mut text = String::from("title,owner_email\n");
    for i in 0..400_000 {
        text.push_str(&format!("Item {i},a@example.com\n"));
    }
    let file = home.path().join("big.csv");
    std::fs::write(&file, text).unwrap();
    let run = spawn(cmd().args(&["item", "import", file.to_str().unwrap()]));
    // Stop the server (fast shutdown) once the import's COPY is running.
    let socket = home.path().join(".local/share/stackctl/socket");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("psql")
            .args(["-X", "-At", "-h", socket.to_str().unwrap(), "-U", "stackctl", "-d", "stackctl", "-c"])
            .arg("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid()")
            .timed_output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "the import's COPY never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    cmd().args(&["-q", "local", "stop"]).run().success();
    let r = run.join().unwrap().fails(5);
    assert!(r.stderr.contains("database"), "{r:#?}");
    let status = cmd().args(&["-o", "json", "status"]).run().success().json();
    assert_eq!(status["items"], 0, "a stopped import kept rows");
    cmd().args(&["-q", "local", "stop"]).run().success();
}
