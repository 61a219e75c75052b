//! Unattended operations: status --check, test restores, calendar retention, cron pings,
//! the table lock for migrations, completions and the man page.

use crate::support::Timed as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use chrono::{Datelike, TimeZone, Utc};
use serde_json::Value;

use crate::support::{Cmd, Run, TestDb};

fn backup(db: &TestDb, dir: &Path, extra: &[&str]) -> (PathBuf, Value) {
    let mut args = vec!["backup", "--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let m = db.json(&args);
    (dir.join(m["file"].as_str().unwrap()), m)
}

fn manifest_of(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.manifest.json", file.display()))
}

fn edit_manifest(file: &Path, f: impl FnOnce(&mut Value)) {
    let p = manifest_of(file);
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut m);
    std::fs::write(&p, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

fn first_line(r: &Run) -> &str {
    r.stdout.lines().next().unwrap_or_default()
}

#[test]
fn check_ok_with_a_fresh_backup() {
    let db = TestDb::new();
    let dir = db.dir.path().join("b");
    backup(&db, &dir, &[]);
    let d = dir.to_str().unwrap();
    let r = db.run(&[
        "status",
        "--check",
        "--backup-dir",
        d,
        "--max-backup-age",
        "1h",
    ]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(first_line(&r).starts_with("STACKCTL OK - "), "{r:#?}");
    assert!(first_line(&r).contains("| latency="), "{r:#?}");
    for name in [
        "connection",
        "migrations",
        "migration_checksums",
        "backup_age",
        "backup_space",
        "schema_drift",
    ] {
        assert!(
            r.stdout.contains(&format!("\n{name}: OK")),
            "{name}: {r:#?}"
        );
    }
    let j = db.json(&["status", "--check", "--backup-dir", d]);
    assert_eq!(j["status"], "OK");
    assert_eq!(j["exit_code"], 0);
    let checks = j["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 6);
    // The drift check comes last, so the others keep their places.
    assert_eq!(checks[5]["name"], "schema_drift");
    assert_eq!(checks[0]["threshold"]["warning_ms"], 1000);
    assert_eq!(checks[3]["threshold"]["warning_s"], 26 * 3600);
}

#[test]
fn check_states_map_to_nagios_codes() {
    // Pending migrations: CRITICAL.
    let empty = TestDb::empty();
    let r = empty.run(&["status", "--check"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(first_line(&r).starts_with("STACKCTL CRITICAL - "), "{r:#?}");
    assert!(first_line(&r).contains("6 pending migration(s)"), "{r:#?}");
    assert!(!r.stderr.contains("error:"), "{r:#?}");

    // A backup older than the limit: WARNING; older than twice it: CRITICAL.
    let db = TestDb::new();
    let dir = db.dir.path().join("b");
    let (file, _) = backup(&db, &dir, &[]);
    let d = dir.to_str().unwrap();
    let at = |hours: i64| (Utc::now() - chrono::TimeDelta::hours(hours)).to_rfc3339();
    edit_manifest(&file, |m| m["started_at"] = at(30).into());
    let r = db.run(&[
        "status",
        "--check",
        "--backup-dir",
        d,
        "--max-backup-age",
        "24h",
    ]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        first_line(&r).starts_with("STACKCTL WARNING - newest backup"),
        "{r:#?}"
    );
    edit_manifest(&file, |m| m["started_at"] = at(50).into());
    let r = db.run(&[
        "status",
        "--check",
        "--backup-dir",
        d,
        "--max-backup-age",
        "24h",
    ]);
    assert_eq!(r.code, 2, "{r:#?}");
    // No backup at all in the directory: CRITICAL.
    let none = db.dir.path().join("none");
    std::fs::create_dir(&none).unwrap();
    let r = db.run(&["status", "--check", "--backup-dir", none.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{r:#?}");

    // Unreachable: CRITICAL, one line, no password.
    let dir = tempfile::tempdir().unwrap();
    let r = Cmd::bare(dir.path())
        .args(&[
            "--database-url",
            "postgresql://u:CheckPw55@127.0.0.1:1/db?connect_timeout=2",
            "status",
            "--check",
        ])
        .run();
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        first_line(&r).starts_with("STACKCTL CRITICAL - cannot connect"),
        "{r:#?}"
    );
    assert!(!r.stdout.contains("CheckPw55") && !r.stderr.contains("CheckPw55"));

    // Plain status keeps the contract's codes.
    empty.ok(&["status"]);
}

#[test]
fn check_detects_migration_checksum_drift() {
    let db = TestDb::new();
    assert_eq!(db.run(&["status", "--check"]).code, 0);
    db.sql("UPDATE stackctl_migration_checksums SET sha256 = 'edited' WHERE version = '20261122000001'");
    let r = db.run(&["status", "--check"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        first_line(&r)
            .contains("migration(s) 20261122000001 were applied from SQL other than this binary's"),
        "{r:#?}"
    );
}

#[test]
fn test_restore_passes_for_a_good_dump_and_fails_for_a_tampered_manifest() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    db.ok(&[
        "item", "add", "--owner", "alice", "--title", "Lamp", "--price", "3",
    ]);
    let dir = db.dir.path().join("b");
    let (file, m) = backup(&db, &dir, &["--verify-restore"]);
    assert!(m["table_checksums"]["users"]
        .as_str()
        .unwrap()
        .starts_with("1:"));
    assert_eq!(m["schema_version"], "20261204000006");
    let f = file.to_str().unwrap();
    let r = db.ok(&["-o", "json", "backup", "verify", f, "--restore"]);
    assert_eq!(r.json()["ok"], true);
    assert!(r.stderr.contains("checksums of"), "{r:#?}");
    // No scratch database is left behind.
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'stackctl_verify_%'"),
        "0"
    );

    // As if a row had been deleted in the source after the manifest was written.
    edit_manifest(&file, |m| m["row_counts"]["users"] = 2.into());
    let r = db
        .run(&["-o", "json", "backup", "verify", f, "--restore"])
        .fails(1);
    assert_eq!(r.json()["ok"], false);
    assert!(
        r.stderr
            .contains("users: 2 row(s) in the manifest, 1 restored"),
        "{r:#?}"
    );
    edit_manifest(&file, |m| {
        m["row_counts"]["users"] = 1.into();
        m["table_checksums"]["items"] = "1:12345".into();
    });
    let r = db.run(&["backup", "verify", f, "--restore"]).fails(1);
    assert!(r.stderr.contains("items: checksum"), "{r:#?}");
    assert_eq!(
        db.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'stackctl_verify_%'"),
        "0"
    );
}

#[test]
fn restore_refuses_an_unknown_schema_version_unless_forced() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let dir = db.dir.path().join("b");
    let (file, _) = backup(&db, &dir, &[]);
    edit_manifest(&file, |m| m["schema_version"] = "29990101000000".into());
    let f = file.to_str().unwrap();
    let r = db.run(&["backup", "restore", f, "--yes"]).fails(6);
    assert!(r.stderr.contains("29990101000000"), "{r:#?}");
    db.ok(&["backup", "restore", f, "--yes", "--force"]);
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
}

/// 60 daily backups, 02:00 UTC each, the newest on 2026-11-22; each with a manifest whose
/// checksum holds (retention counts no other).
fn sixty_days(dir: &Path) -> Vec<chrono::DateTime<Utc>> {
    use sha2::Digest;
    std::fs::create_dir_all(dir).unwrap();
    let newest = Utc.with_ymd_and_hms(2026, 11, 22, 2, 0, 0).unwrap();
    let body = b"not a real dump";
    let sha: String = sha2::Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut times = Vec::new();
    for d in 0..60 {
        let t = newest - chrono::TimeDelta::days(d);
        let name = format!("appdb-{}.dump", t.format("%Y%m%dT%H%M%SZ"));
        std::fs::write(dir.join(&name), body).unwrap();
        let m = serde_json::json!({
            "file": name, "database": "appdb", "server_version": "15", "pg_dump_version": "15",
            "format": "custom", "size": body.len(), "sha256": sha, "started_at": t.to_rfc3339(),
            "duration_ms": 1, "row_counts": {"users": 0, "items": 0}, "stackctl_version": "0.1.0"
        });
        std::fs::write(dir.join(format!("{name}.manifest.json")), m.to_string()).unwrap();
        times.push(t);
    }
    // Not ours: never touched.
    std::fs::write(dir.join("notes.txt"), b"keep me").unwrap();
    std::fs::write(dir.join("otherdb-20200101T000000Z.dump"), b"other").unwrap();
    times
}

#[test]
fn calendar_retention_keeps_exactly_the_expected_backups() {
    let db = TestDb::new();
    let dir = db.dir.path().join("gfs");
    let times = sixty_days(&dir);
    // What grandfather-father-son keeps, computed here independently: the newest backup of
    // each of the last 7 days, 4 ISO weeks and 3 months.
    let mut expected = std::collections::BTreeSet::new();
    let mut take = |key: &dyn Fn(&chrono::DateTime<Utc>) -> String, n: usize| {
        let mut seen = Vec::new();
        for t in &times {
            let k = key(t);
            if !seen.contains(&k) && seen.len() < n {
                seen.push(k);
                expected.insert(format!("appdb-{}.dump", t.format("%Y%m%dT%H%M%SZ")));
            }
        }
    };
    take(&|t| t.format("%F").to_string(), 7);
    take(&|t| format!("{:?}", t.iso_week()), 4);
    take(&|t| format!("{}-{}", t.year(), t.month()), 3);
    assert_eq!(expected.len(), 7 + 3 + 2, "{expected:?}");

    let d = dir.to_str().unwrap();
    let rules = [
        "--keep-daily",
        "7",
        "--keep-weekly",
        "4",
        "--keep-monthly",
        "3",
        "--database",
        "appdb",
    ];
    let count = || {
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count()
    };
    let before = count();
    let mut args = vec!["-o", "json", "--dry-run", "backup", "prune", "--dir", d];
    args.extend_from_slice(&rules);
    let plan = db.ok(&args).json();
    assert_eq!(count(), before, "a dry run deletes nothing");
    let kept: std::collections::BTreeSet<String> = plan
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["keep"] == true)
        .map(|r| r["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kept, expected);

    let mut args = vec!["backup", "prune", "--dir", d];
    args.extend_from_slice(&rules);
    db.ok(&args);
    let left: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("appdb-") && n.ends_with(".dump"))
        .collect();
    assert_eq!(left, expected);
    for name in &expected {
        assert!(dir.join(format!("{name}.manifest.json")).exists());
    }
    assert!(dir.join("notes.txt").exists());
    assert!(dir.join("otherdb-20200101T000000Z.dump").exists());
    // The newest is kept even by the smallest rule.
    let mut args = vec![
        "backup",
        "prune",
        "--dir",
        d,
        "--keep-monthly",
        "1",
        "--database",
        "appdb",
    ];
    args.truncate(args.len());
    db.ok(&args);
    assert!(dir.join("appdb-20261122T020000Z.dump").exists());
}

/// A one-thread HTTP listener on 127.0.0.1 that answers 200 and reports (path, body).
fn listener() -> (String, mpsc::Receiver<(String, String)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ping/abc-123", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let mut len = 0;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut w = stream;
            let _ =
                w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tx.send((path, String::from_utf8_lossy(&body).into_owned()));
        }
    });
    (url, rx)
}

#[test]
fn notify_pings_start_then_success_or_failure_and_a_dead_url_fails_nothing() {
    let db = TestDb::new();
    let (url, rx) = listener();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    let url_with_pw = db.url.replace("postgres@", "postgres:NotifyPw77@");
    db.cmd()
        .env("DATABASE_URL", &url_with_pw)
        .args(&["backup", "--dir", d, "--notify-url", &url])
        .run()
        .success();
    // URL/start as the backup begins, then the outcome.
    let (path, body) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/ping/abc-123/start");
    let j: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(j["status"], "start");
    assert_eq!(j["command"], "backup");
    assert!(!body.contains("NotifyPw77"), "{body}");
    let (path, body) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/ping/abc-123");
    let j: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(j["status"], "success");
    assert_eq!(j["command"], "backup");
    assert_eq!(j["database"], db.name.as_str());
    assert!(!body.contains("NotifyPw77"), "{body}");

    // A failing backup pings URL/fail, through the environment variable.
    db.cmd()
        .env("STACKCTL_NOTIFY_URL", &url)
        .args(&["backup", "--dir", d, "--pg-dump", "/nonexistent/pg_dump"])
        .run()
        .fails(1);
    let (path, _) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/ping/abc-123/start");
    let (path, body) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/ping/abc-123/fail");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "failure"
    );

    // status --check pings too: OK is a success (and it sends no start ping).
    db.ok(&["status", "--check", "--notify-url", &url]);
    let (path, _) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/ping/abc-123");
    assert!(rx
        .recv_timeout(std::time::Duration::from_millis(300))
        .is_err());

    // Nobody listens: the backup still succeeds, with one warning line.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("http://{a}/ping/secret-token")
    };
    let r = db
        .run(&["backup", "--dir", d, "--notify-url", &dead])
        .success();
    assert!(r.stderr.contains("warning: notify"), "{r:#?}");
    assert!(!r.stderr.contains("secret-token"), "{r:#?}");
}

#[test]
fn table_lock_mode_serialises_concurrent_migrations() {
    let db = TestDb::empty();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (url, dir) = (db.url.clone(), db.dir.path().to_path_buf());
            std::thread::spawn(move || {
                Cmd::bare(&dir)
                    .env("DATABASE_URL", &url)
                    .args(&["migrate", "--lock-mode", "table"])
                    .run()
            })
        })
        .collect();
    for r in runs {
        r.join().unwrap().success();
    }
    assert_eq!(
        db.sql("SELECT count(*) FROM __diesel_schema_migrations"),
        "6"
    );
    assert_eq!(db.sql("SELECT count(*) FROM stackctl.stackctl_lock"), "0");

    // A lock held by someone else: wait, then exit 4 naming the holder.
    db.sql("INSERT INTO stackctl_lock (name, holder) VALUES ('migrate', 'ops@elsewhere pid 42')");
    let r = db
        .run(&["migrate", "--lock-mode", "table", "--lock-timeout", "1s"])
        .fails(4);
    assert!(r.stderr.contains("ops@elsewhere pid 42"), "{r:#?}");
    // The advisory mode is unaffected by the table.
    db.ok(&["migrate", "--lock-mode", "advisory"]);
}

#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Cmd::bare(dir.path()).args(args).run().success();
    let bash = run(&["completions", "bash"]).stdout;
    assert!(
        bash.contains("_stackctl") && bash.contains("import"),
        "{bash}"
    );
    let script = dir.path().join("stackctl.bash");
    std::fs::write(&script, &bash).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .timed_output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]).stdout;
        assert!(out.contains("stackctl") && out.len() > 1000, "{shell}");
    }
    let man = run(&["man"]).stdout;
    assert!(
        man.starts_with(".ie") || man.contains(".TH stackctl"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(man.contains("completions"));
    Cmd::bare(dir.path())
        .args(&["completions", "tcsh"])
        .run()
        .fails(2);
}
