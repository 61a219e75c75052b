use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{Cmd, TestDb};

fn seeded() -> TestDb {
    let db = TestDb::new();
    let u = db.add_user("a@example.com", "alice");
    let id = u["id"].as_str().unwrap();
    db.sql(&format!(
        "INSERT INTO items (title, price, owner_id) SELECT 'item ' || g, g * 1.25, '{id}' FROM generate_series(1, 40) g"
    ));
    db
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dump" || e == "sql"))
        .collect();
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn create_verify_manifest_and_private_modes() {
    let db = seeded();
    let dir = db.dir.path().join("new-backups");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    assert_eq!(mode(&dir), 0o700);
    let files = backups(&dir);
    assert_eq!(files.len(), 1);
    let file = &files[0];
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(&format!("{}-", db.name)) && name.ends_with("Z.dump"),
        "{name}"
    );
    assert_eq!(mode(file), 0o600);
    let manifest_path = PathBuf::from(format!("{}.manifest.json", file.display()));
    assert_eq!(mode(&manifest_path), 0o600);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest, m);
    assert_eq!(m["database"], db.name.as_str());
    assert_eq!(m["format"], "custom");
    assert_eq!(m["row_counts"]["users"], 1);
    assert_eq!(m["row_counts"]["items"], 40);
    assert_eq!(m["size"], std::fs::metadata(file).unwrap().len());
    assert_eq!(m["sha256"].as_str().unwrap().len(), 64);
    for key in [
        "server_version",
        "pg_dump_version",
        "started_at",
        "duration_ms",
    ] {
        assert!(!m[key].is_null(), "{key}");
    }
    let v = db.json(&["backup", "verify", file.to_str().unwrap()]);
    assert_eq!(v["ok"], true);
    // Nothing but the backup, its manifest and the lock file is left behind.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn list_and_damage_detection() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    db.ok(&["backup", "create", "--dir", d]);
    db.ok(&["backup", "--dir", d, "--format", "plain"]);
    let list = db.json(&["backup", "list", "--dir", d]);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r["checksum_ok"] == true && r["users"] == 1 && r["items"] == 40));
    // Flip one byte in the middle of the custom dump.
    let file = backups(&dir)
        .into_iter()
        .find(|p| p.extension().unwrap() == "dump")
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let r = db
        .run(&["backup", "verify", file.to_str().unwrap()])
        .fails(1);
    assert!(r.stderr.contains("checksum"), "{r:#?}");
    let list = db.json(&["backup", "list", "--dir", d]);
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["checksum_ok"] == false)
            .count(),
        1
    );
    db.run(&["backup", "verify", dir.join("nope.dump").to_str().unwrap()])
        .fails(3);
    db.run(&[
        "backup",
        "restore",
        dir.join("nope.dump").to_str().unwrap(),
        "--yes",
    ])
    .fails(3);
}

#[test]
fn restore_brings_back_the_rows() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    db.ok(&["backup", "--dir", d]);
    let sum = db.sql("SELECT sum(price) FROM items");
    let before = db.checksum();
    db.sql("DELETE FROM items WHERE price > 10");
    db.sql("UPDATE users SET full_name = 'changed'");
    let file = backups(&dir).remove(0);
    let f = file.to_str().unwrap();
    let r = db.run(&["backup", "restore", f]).fails(2);
    assert!(
        r.stderr.contains("--yes") && r.stderr.contains("items 40"),
        "{r:#?}"
    );
    assert_ne!(db.checksum(), before);
    db.ok(&["backup", "restore", f, "--yes"]);
    assert_eq!(db.sql("SELECT sum(price) FROM items"), sum);
    assert_eq!(db.checksum(), before);
    db.ok(&["user", "list"]);
    // The plain format restores too.
    db.ok(&["backup", "--dir", d, "--format", "plain"]);
    db.sql("DELETE FROM items");
    let plain = backups(&dir)
        .into_iter()
        .find(|p| p.extension().unwrap() == "sql")
        .unwrap();
    db.ok(&["backup", "restore", plain.to_str().unwrap(), "--yes"]);
    assert_eq!(db.checksum(), before);
}

#[test]
fn keep_prunes_only_our_own_old_files() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "operator's file").unwrap();
    std::fs::write(
        dir.join("otherdb-20000101T000000Z.dump"),
        "another database's backup",
    )
    .unwrap();
    for _ in 0..3 {
        db.ok(&["backup", "--dir", d]);
    }
    db.ok(&["backup", "--dir", d, "--keep", "2"]);
    let ours: Vec<PathBuf> = backups(&dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&db.name)
        })
        .collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(dir.join("notes.txt").exists());
    assert!(dir.join("otherdb-20000101T000000Z.dump").exists());
    let manifests = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".manifest.json"))
        .count();
    assert_eq!(manifests, 2);
    db.run(&["backup", "--dir", d, "--keep", "0"]).fails(2);
}

#[test]
fn killed_backup_leaves_no_final_file_and_the_next_succeeds() {
    let db = seeded();
    let id = db.sql("SELECT id FROM users LIMIT 1");
    db.sql(&format!(
        "INSERT INTO items (title, description, price, owner_id) \
         SELECT 'bulk ' || g, repeat(md5(g::text), 20), g % 1000, '{id}' FROM generate_series(1, 300000) g"
    ));
    let dir = db.dir.path().join("b");
    let mut child = std::process::Command::new(crate::support::BIN)
        .current_dir(db.dir.path())
        .env("DATABASE_URL", &db.url)
        .args([
            "backup",
            "--format",
            "plain",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the dump has started writing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let writing = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten().any(|e| {
                    e.file_name().to_string_lossy().ends_with(".partial")
                        && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
                })
            })
            .unwrap_or(false);
        if writing || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(backups(&dir).is_empty(), "no final-named file after a kill");
    db.ok(&["backup", "--dir", dir.to_str().unwrap()]);
    let files = backups(&dir);
    assert_eq!(files.len(), 1);
    let leftovers = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .count();
    assert_eq!(leftovers, 0, "the next run cleans leftovers");
    db.ok(&["backup", "verify", files[0].to_str().unwrap()]);
}

#[test]
fn concurrent_backups_give_0_or_4_and_valid_files() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    std::fs::create_dir_all(&dir).unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (url, cwd, d) = (db.url.clone(), db.dir.path().to_path_buf(), dir.clone());
            std::thread::spawn(move || {
                Cmd::bare(&cwd)
                    .env("DATABASE_URL", &url)
                    .args(&["backup", "--dir", d.to_str().unwrap()])
                    .run()
            })
        })
        .collect();
    let runs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(runs.iter().all(|r| r.code == 0 || r.code == 4), "{runs:#?}");
    assert!(runs.iter().any(|r| r.code == 0));
    for r in runs.iter().filter(|r| r.code == 4) {
        assert!(r.stderr.contains("another backup is running"), "{r:#?}");
    }
    let files = backups(&dir);
    assert_eq!(files.len(), runs.iter().filter(|r| r.code == 0).count());
    for f in files {
        db.ok(&["backup", "verify", f.to_str().unwrap()]);
    }
}

#[test]
fn unreachable_server_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let r = Cmd::bare(dir.path())
        .args(&[
            "--database-url",
            "postgresql://u:BackupPw77@127.0.0.1:1/db?connect_timeout=2",
            "backup",
            "--dir",
            "b",
        ])
        .run()
        .fails(5);
    assert!(!r.stderr.contains("BackupPw77"), "{r:#?}");
    assert!(!dir.path().join("b").exists() || backups(&dir.path().join("b")).is_empty());
}

#[test]
fn backup_dir_from_the_environment_and_default() {
    let db = seeded();
    let env_dir = db.dir.path().join("from-env");
    db.cmd()
        .env("STACKCTL_BACKUP_DIR", env_dir.to_str().unwrap())
        .args(&["backup"])
        .run()
        .success();
    assert_eq!(backups(&env_dir).len(), 1);
    db.ok(&["-q", "backup"]);
    assert_eq!(backups(&db.dir.path().join("backups")).len(), 1);
}

/// A database of its own named `name` on the test server (dropped by the caller), and the
/// URL reaching it, its name percent-encoded.
fn odd_database(db: &TestDb, name: &str) -> String {
    db.sql(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"));
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    db.url
        .replacen(&format!("/{}", db.name), &format!("/{encoded}"), 1)
}

#[test]
fn database_names_become_safe_file_names_inside_the_directory() {
    let db = TestDb::new();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    for (name, stem) in [
        (format!("../{}", db.name), format!("___{}", db.name)),
        (format!("{}/b", db.name), format!("{}_b", db.name)),
    ] {
        let url = odd_database(&db, &name);
        let run = |args: &[&str]| db.cmd_url(&url).args(args).run();
        let m = run(&["-o", "json", "backup", "--dir", d]).success().json();
        let file = m["file"].as_str().unwrap().to_string();
        assert!(file.starts_with(&format!("{stem}-")), "{file}");
        assert!(dir.join(&file).is_file(), "{file} is not in {d}");
        assert_eq!(m["database"], name.as_str());
        // Nothing lands beside the directory.
        let beside: Vec<_> = std::fs::read_dir(db.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "b")
            .collect();
        assert!(beside.is_empty(), "{beside:?}");
        run(&["backup", "verify", dir.join(&file).to_str().unwrap()]).success();
        // The catalog finds it under that database: list, --keep and status --check.
        run(&["backup", "--dir", d, "--keep", "1"]).success();
        let ours: Vec<_> = backups(&dir)
            .into_iter()
            .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&stem))
            .collect();
        assert_eq!(ours.len(), 1, "{ours:?}");
        let list = run(&["-o", "json", "backup", "list", "--dir", d])
            .success()
            .json();
        assert!(list
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["database"] == name.as_str() && r["checksum_ok"] == true));
        let check = run(&["-o", "json", "status", "--check", "--backup-dir", d]).json();
        let age = check["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "backup_age")
            .unwrap()
            .clone();
        assert_eq!(age["state"], "OK", "{check:#}");
        db.sql(&format!("DROP DATABASE \"{name}\""));
    }
}

/// `<stem>-<yyyymmddTHHMMSSZ>.dump` for each of the next `secs` seconds.
fn next_names(stem: &str, secs: i64) -> Vec<String> {
    let now = chrono::Utc::now();
    (0..secs)
        .map(|s| {
            let t = now + chrono::TimeDelta::seconds(s);
            format!("{stem}-{}.dump", t.format("%Y%m%dT%H%M%SZ"))
        })
        .collect()
}

#[test]
fn links_planted_in_the_backup_directory_are_never_followed() {
    use std::os::unix::fs::symlink;
    let db = seeded();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = db.dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();

    // A link at the lock file's path, to an existing file and to a missing one: refused,
    // and neither target is opened or created.
    let missing = db.dir.path().join("created-through-the-lock");
    for target in [&victim, &missing] {
        let lock = dir.join(".stackctl-backup.lock");
        let _ = std::fs::remove_file(&lock);
        symlink(target, &lock).unwrap();
        let r = db.run(&["backup", "--dir", d]).fails(1);
        assert!(
            r.stderr.contains("symbolic link") && r.stderr.lines().count() <= 3,
            "{r:#?}"
        );
        std::fs::remove_file(&lock).unwrap();
    }
    assert!(!missing.exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(backups(&dir).is_empty());

    // Links at every temporary name the next seconds' backup could have used (a manifest's
    // temp file was `<backup>.manifest.json.partial`): the victim stays as it was.
    for name in next_names(&db.name, 20) {
        symlink(&victim, dir.join(format!("{name}.manifest.json.partial"))).unwrap();
        symlink(&victim, dir.join(format!(".{name}.partial"))).unwrap();
    }
    db.ok(&["backup", "--dir", d]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let files = backups(&dir);
    assert_eq!(files.len(), 1);
    db.ok(&["backup", "verify", files[0].to_str().unwrap()]);
}

#[test]
fn leftovers_of_killed_runs_are_removed_under_the_lock() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    db.ok(&["backup", "--dir", d]);
    let old = format!("{}-20200101T000000Z.dump", db.name);
    let leftovers = [
        format!(".{old}.Ab12Cd.partial"),
        format!(".{old}.manifest.json.Xy34Zw.partial"),
        // What an older stackctl left when killed while writing a manifest.
        format!("{old}.manifest.json.partial"),
    ];
    for l in &leftovers {
        std::fs::write(dir.join(l), "half").unwrap();
    }
    std::fs::write(dir.join("operator.partial"), "not ours").unwrap();
    // A killed directory dump's half-written directory, with a link in it that removing
    // it must not follow; and an operator's directory that merely ends the same way.
    let half_dir = dir.join(format!(".{}-20200101T000000Z.dir.Qw56Er.partial", db.name));
    std::fs::create_dir(&half_dir).unwrap();
    std::fs::write(half_dir.join("toc.dat"), "half").unwrap();
    let outside = db.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), "keep").unwrap();
    std::os::unix::fs::symlink(&outside, half_dir.join("3001.dat.gz")).unwrap();
    std::fs::create_dir(dir.join("operator-dir.partial")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    db.ok(&["backup", "--dir", d]);
    for l in &leftovers {
        assert!(!dir.join(l).exists(), "{l} is left");
    }
    assert!(!half_dir.exists(), "the partial directory dump is left");
    assert!(outside.join("keep.txt").exists());
    assert!(dir.join("operator-dir.partial").exists());
    assert!(dir.join("operator.partial").exists());
    assert_eq!(backups(&dir).len(), 2);
}

#[test]
fn a_directory_others_can_write_to_gets_a_warning() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let r = db.ok(&["backup", "--dir", d]);
    assert!(!r.stderr.contains("warning"), "{r:#?}");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    // Even with -q: cron mails it.
    let r = db.ok(&["-q", "backup", "--dir", d]);
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{r:#?}");
    assert!(
        warnings[0].contains(d) && warnings[0].contains("0777"),
        "{r:#?}"
    );
    let r = db.ok(&["backup", "prune", "--dir", d, "--keep", "1"]);
    assert!(r.stderr.contains("warning: backup directory"), "{r:#?}");
}

fn manifest_path(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.manifest.json", file.display()))
}

/// Move a backup's manifest time `hours` into the past.
fn age_backup(file: &Path, hours: i64) {
    let p = manifest_path(file);
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    m["started_at"] = (chrono::Utc::now() - chrono::TimeDelta::hours(hours))
        .to_rfc3339()
        .into();
    std::fs::write(&p, m.to_string()).unwrap();
}

fn take(db: &TestDb, dir: &Path) -> PathBuf {
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    dir.join(m["file"].as_str().unwrap())
}

/// A `--pg-dump` that dumps (the real pg_dump, linked) but whose sibling `pg_restore`
/// refuses `--list`, as it would a dump it cannot read.
fn pg_dump_whose_dumps_fail_verification(db: &TestDb) -> PathBuf {
    let bin = db.dir.path().join("tools");
    std::fs::create_dir(&bin).unwrap();
    let real = crate::support::find_bindir().unwrap().join("pg_dump");
    std::os::unix::fs::symlink(real, bin.join("pg_dump")).unwrap();
    let restore = bin.join("pg_restore");
    std::fs::write(
        &restore,
        "#!/bin/sh\necho 'pg_restore: error: input file appears to be corrupt' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&restore, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin.join("pg_dump")
}

fn status_check(db: &TestDb, dir: &Path) -> crate::support::Run {
    db.run(&[
        "status",
        "--check",
        "--backup-dir",
        dir.to_str().unwrap(),
        "--max-backup-age",
        "24h",
    ])
}

#[test]
fn a_backup_that_fails_verification_never_carries_a_final_name() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    let good = take(&db, &dir);
    age_backup(&good, 30);
    let bad = pg_dump_whose_dumps_fail_verification(&db);
    let r = db
        .run(&["backup", "--dir", d, "--pg-dump", bad.to_str().unwrap()])
        .fails(1);
    assert!(
        r.stderr.contains("did not verify") && r.stderr.contains("corrupt"),
        "{r:#?}"
    );
    // Nothing of it is left: no final name, no manifest, no partial file.
    assert_eq!(backups(&dir), vec![good.clone()]);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // So status --check still sees the 30-hour-old backup as the newest: WARNING.
    let r = status_check(&db, &dir);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stdout.starts_with("STACKCTL WARNING - newest backup"),
        "{r:#?}"
    );
    let list = db.json(&["backup", "list", "--dir", d]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    // And --keep 2 after the next good backup keeps the old good one.
    db.ok(&["backup", "--dir", d, "--keep", "2"]);
    assert!(good.exists());
    assert_eq!(backups(&dir).len(), 2);
}

#[test]
fn failed_backups_count_for_nothing() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    let good = take(&db, &dir);
    age_backup(&good, 30);
    // A newer backup whose manifest is not a manifest, and a newest one whose bytes changed.
    let unreadable = take(&db, &dir);
    std::fs::write(manifest_path(&unreadable), "{ not json").unwrap();
    let damaged = take(&db, &dir);
    let mut bytes = std::fs::read(&damaged).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let name = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();

    // status --check: the newest good backup is 30 hours old, and the failed ones are named.
    let r = status_check(&db, &dir);
    assert_eq!(r.code, 1, "{r:#?}");
    let first = r.stdout.lines().next().unwrap();
    assert!(
        first.contains(&format!("newest backup {}", name(&good)))
            && first.contains(&name(&unreadable))
            && first.contains(&name(&damaged)),
        "{r:#?}"
    );

    // list: both fail their check; an unreadable manifest is not "no manifest".
    let list = db.json(&["backup", "list", "--dir", d]);
    let ok: Vec<&serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["checksum_ok"])
        .collect();
    assert_eq!(ok, [true, false, false], "{list:#}");

    // verify and restore refuse the one with the unreadable manifest.
    let u = unreadable.to_str().unwrap();
    let r = db.run(&["-o", "json", "backup", "verify", u]).fails(1);
    assert_eq!(r.json()["ok"], false);
    assert!(r.stderr.contains("not a valid manifest"), "{r:#?}");
    let before = db.checksum();
    db.sql("DELETE FROM items");
    let r = db.run(&["backup", "restore", u, "--yes"]).fails(1);
    assert!(r.stderr.contains("damaged"), "{r:#?}");
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");

    // Retention counts neither: --keep 1 keeps the good one and leaves the failed ones.
    let r = db.ok(&["backup", "prune", "--dir", d, "--keep", "1"]);
    assert_eq!(
        r.stderr.matches("not counted by retention").count(),
        2,
        "{r:#?}"
    );
    assert_eq!(backups(&dir), vec![good.clone(), unreadable, damaged]);
    db.ok(&["backup", "restore", good.to_str().unwrap(), "--yes"]);
    assert_eq!(db.checksum(), before);
}

/// Make a backup's manifest agree with the file as it is now (size and sha256), as someone
/// who tampered with both would.
fn reseal(file: &Path) {
    use sha2::Digest;
    let bytes = std::fs::read(file).unwrap();
    let sha: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let p = manifest_path(file);
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    m["sha256"] = sha.into();
    m["size"] = bytes.len().into();
    std::fs::write(&p, m.to_string()).unwrap();
}

fn error_lines(r: &crate::support::Run) -> usize {
    r.stderr.lines().filter(|l| l.starts_with("error:")).count()
}

#[test]
fn a_plain_restore_runs_no_psql_meta_command() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let file = db.backup_file(&dir, &["--format", "plain"]);
    let f = file.to_str().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let marker = db.dir.path().join("meta-command-ran");
    let touch = format!("\\! touch {}", marker.display());
    // pg_dump 15.14 and later put psql in restricted mode (`\restrict KEY`), but the key
    // to leave it is in the file for anyone who edits it.
    let unrestrict = text
        .lines()
        .find_map(|l| l.strip_prefix("\\restrict "))
        .map(|key| format!("\\unrestrict {key}\n"))
        .unwrap_or_default();
    let before = db.checksum();
    db.sql("DELETE FROM items");

    // A meta-command line, with the manifest resealed so only the scan can catch it:
    // exit 2, one error line, nothing run (not even the connection's first SQL).
    let tampered = text.replacen(
        "SET statement_timeout",
        &format!("{unrestrict}{touch}\nSET statement_timeout"),
        1,
    );
    assert_ne!(tampered, text);
    std::fs::write(&file, &tampered).unwrap();
    reseal(&file);
    let r = db.run(&["backup", "restore", f, "--yes"]).fails(2);
    assert!(
        r.stderr.contains("meta-command") && error_lines(&r) == 1,
        "{r:#?}"
    );
    assert!(!marker.exists(), "the meta-command ran");
    let r = db.run(&["backup", "verify", f]).fails(1);
    assert!(r.stderr.contains("meta-command"), "{r:#?}");

    // Inside a line, where psql also takes it: psql runs in restricted mode and refuses it;
    // the single transaction rolls back.
    let tampered = text.replacen(
        "SET statement_timeout = 0;",
        &format!("{unrestrict}SET statement_timeout = 0; {touch}"),
        1,
    );
    assert_ne!(tampered, text);
    std::fs::write(&file, &tampered).unwrap();
    reseal(&file);
    let r = db.run(&["backup", "restore", f, "--yes"]).fails(1);
    assert!(r.stderr.contains("restricted"), "{r:#?}");
    assert!(!marker.exists(), "the meta-command ran");
    assert_eq!(db.sql("SELECT count(*) FROM items"), "0");

    // A file pg_dump did not write is not run at all.
    let other = dir.join("script.sql");
    std::fs::write(&other, format!("{touch}\nSELECT 1;\n")).unwrap();
    let r = db
        .run(&["backup", "restore", other.to_str().unwrap(), "--yes"])
        .fails(2);
    assert!(
        r.stderr.contains("not a pg_dump") && error_lines(&r) == 1,
        "{r:#?}"
    );
    assert!(!marker.exists(), "the meta-command ran");

    // The dump as pg_dump wrote it restores (through the same checks).
    std::fs::write(&file, &text).unwrap();
    reseal(&file);
    db.ok(&["backup", "restore", f, "--yes"]);
    assert_eq!(db.checksum(), before);
    db.ok(&["backup", "verify", f, "--restore"]);
}

/// The URL of another database on the test's server.
fn url_of(db: &TestDb, name: &str) -> String {
    db.url
        .replacen(&format!("/{}", db.name), &format!("/{name}"), 1)
}

/// The database a `-v` restore beside the live one went into first (its debug line names
/// it), and whether it is still there: only the final name may remain.
fn scratch_remains(db: &TestDb, r: &crate::support::Run) -> bool {
    let name: String = r
        .stderr
        .split("into stackctl_restore_")
        .nth(1)
        .expect("-v names the restore's own database")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    db.sql(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = 'stackctl_restore_{name}'"
    )) != "0"
}

/// Each table's `rows:sum` of the first 60 bits of its rows' md5, as manifests record it
/// (the application's tables by name, stackctl's as `stackctl.<name>`).
fn table_checksum(url: &str, table: &str) -> String {
    let (schema, name) = table.split_once('.').unwrap_or(("public", table));
    crate::support::psql(
        url,
        &format!(
            "SELECT count(*)::text || ':' || coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0)::text FROM \"{schema}\".\"{name}\" t"
        ),
    )
}

/// `backup restore FILE --into NAME` while the live database keeps taking writes (a
/// thread adding users): the live rows are exactly what they were plus the writer's, and
/// NAME holds what the manifest says (row counts and every table's checksum), with the
/// restore audited there and not in the live database.
#[test]
fn restore_into_leaves_the_live_database_taking_writes_untouched() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let db = seeded();
    let dir = db.dir.path().join("b");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap(), "--verify-restore"]);
    let file = dir.join(m["file"].as_str().unwrap());
    let seeded_rows = || {
        db.sql(
            "SELECT md5(string_agg(u::text, '|' ORDER BY id)) FROM users u WHERE email NOT LIKE 'writer%'",
        ) + &db.sql("SELECT md5(string_agg(i::text, '|' ORDER BY id)) FROM items i")
    };
    let before = seeded_rows();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, url, dir) = (stop.clone(), db.url.clone(), db.dir.path().to_path_buf());
        std::thread::spawn(move || {
            let mut added = Vec::new();
            for i in 0.. {
                if stop.load(Ordering::SeqCst) && i > 2 {
                    break;
                }
                let email = format!("writer{i}@example.com");
                let r = Cmd::bare(&dir)
                    .env("DATABASE_URL", &url)
                    .args(&[
                        "user",
                        "add",
                        "--email",
                        &email,
                        "--username",
                        &format!("writer{i}"),
                    ])
                    .args(&["--password-stdin"])
                    .stdin("password123\n")
                    .run();
                assert_eq!(r.code, 0, "{r:#?}");
                added.push(email);
            }
            added
        })
    };
    while db.sql("SELECT count(*) FROM users WHERE email LIKE 'writer%'") == "0" {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let writers = || db.sql("SELECT count(*) FROM users WHERE email LIKE 'writer%'");
    let name = format!("{}_beside", db.name);
    let writers_before = writers();
    let r = db
        .run(&[
            "-v",
            "-o",
            "json",
            "backup",
            "restore",
            file.to_str().unwrap(),
            "--into",
            &name,
        ])
        .success();
    let writers_after = writers();
    stop.store(true, Ordering::SeqCst);
    let added = writer.join().expect("writer");
    assert_ne!(
        writers_before, writers_after,
        "the writer wrote nothing during the restore"
    );

    let out = r.json();
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["database", "file", "replaced", "users", "items", "checked"]
    );
    assert_eq!(out["database"], name.as_str());
    assert_eq!(out["replaced"], false);
    assert_eq!(out["users"], m["row_counts"]["users"]);
    assert_eq!(out["items"], m["row_counts"]["items"]);
    assert!(r.stderr.contains("was not touched"), "{r:#?}");

    // The live database: its rows as they were, plus every user the writer added.
    assert_eq!(seeded_rows(), before);
    assert_eq!(
        db.sql("SELECT count(*) FROM users")
            .parse::<usize>()
            .unwrap(),
        1 + added.len()
    );
    for email in &added {
        assert_eq!(
            db.sql(&format!(
                "SELECT count(*) FROM users WHERE email = '{email}'"
            )),
            "1"
        );
    }
    assert_eq!(
        db.sql("SELECT count(*) FROM stackctl_audit WHERE command LIKE 'backup restore%'"),
        "0"
    );

    // The new database: what the manifest says, table by table.
    let new = url_of(&db, &name);
    assert_eq!(
        crate::support::psql(&new, "SELECT count(*) FROM users"),
        "1"
    );
    assert_eq!(
        crate::support::psql(&new, "SELECT count(*) FROM items"),
        "40"
    );
    let sums = m["table_checksums"]
        .as_object()
        .expect("checksums in the manifest");
    assert!(sums.contains_key("users") && sums.contains_key("items"));
    for (table, sum) in sums {
        if table == "stackctl.stackctl_audit" {
            continue; // the restore appends its own row there
        }
        assert_eq!(
            &table_checksum(&new, table),
            sum.as_str().unwrap(),
            "{table}"
        );
    }
    assert_eq!(
        crate::support::psql(
            &new,
            "SELECT count(*) FROM stackctl_audit WHERE command = 'backup restore --into'"
        ),
        "1"
    );
    assert!(
        !scratch_remains(&db, &r),
        "renamed, so gone under its own name"
    );
    crate::support::psql(&db.url, &format!("DROP DATABASE {name} WITH (FORCE)"));
}

/// An existing NAME is exit 4 and left as it is; --replace without a terminal needs --yes
/// (exit 2, naming what it would drop); with --yes the old database is replaced. Bad
/// names, the live database's name and --replace alone are usage errors; a dry run
/// creates nothing; a restore that does not match its manifest creates nothing either.
#[test]
fn restore_into_an_existing_name_needs_replace_and_its_confirmation() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let file = dir.join(m["file"].as_str().unwrap());
    let f = file.to_str().unwrap();
    let name = format!("{}_other", db.name);
    db.sql(&format!("CREATE DATABASE {name} TEMPLATE template0"));
    let other = url_of(&db, &name);
    // The application's layout: only such a database may be replaced.
    db.cmd_url(&other).args(&["migrate"]).run().success();
    crate::support::psql(
        &other,
        "CREATE TABLE marker (x int); INSERT INTO marker VALUES (1)",
    );
    let marker = || crate::support::psql(&other, "SELECT to_regclass('marker') IS NOT NULL");
    let live = db.checksum_all();

    let r = db.run(&["backup", "restore", f, "--into", &name]).fails(4);
    assert!(
        r.stderr
            .contains(&format!("database {name} already exists")),
        "{r:#?}"
    );
    assert!(r.stderr.contains("--replace"), "{r:#?}");
    assert_eq!(marker(), "t");

    let r = db
        .run(&["backup", "restore", f, "--into", &name, "--replace"])
        .fails(2);
    assert!(
        r.stderr
            .contains(&format!("drops the existing database {name} (")),
        "{r:#?}"
    );
    assert!(r.stderr.contains("--yes"), "{r:#?}");
    assert_eq!(marker(), "t");

    // Never the cluster's postgres database, never one that is not this application's.
    let foreign = format!("{}_foreign", db.name);
    db.sql(&format!("CREATE DATABASE {foreign} TEMPLATE template0"));
    for target in ["postgres", foreign.as_str()] {
        let r = db
            .run(&[
                "backup",
                "restore",
                f,
                "--into",
                target,
                "--replace",
                "--yes",
            ])
            .fails(2);
        assert!(r.stderr.contains("--replace refuses to drop"), "{r:#?}");
    }
    assert_eq!(
        db.sql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname IN ('postgres', '{foreign}')"
        )),
        "2"
    );
    db.sql(&format!("DROP DATABASE {foreign}"));

    // A dry run shows the plan and creates nothing.
    let fresh = format!("{}_dry", db.name);
    let r = db.ok(&["--dry-run", "backup", "restore", f, "--into", &fresh]);
    assert!(r.stderr.contains("nothing was written"), "{r:#?}");
    assert_eq!(
        db.sql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{fresh}'"
        )),
        "0"
    );

    // A backup whose manifest does not match what it restores: nothing replaced.
    let tampered = dir.join("tampered.dump");
    std::fs::copy(&file, &tampered).unwrap();
    let mut mf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest_path(&file)).unwrap()).unwrap();
    mf["row_counts"]["items"] = 41.into();
    std::fs::write(manifest_path(&tampered), mf.to_string()).unwrap();
    let r = db
        .run(&[
            "backup",
            "restore",
            tampered.to_str().unwrap(),
            "--into",
            &name,
            "--replace",
            "--yes",
            "-v",
        ])
        .fails(1);
    assert!(
        r.stderr
            .contains("was not created and the existing one was kept"),
        "{r:#?}"
    );
    assert!(
        r.stderr
            .contains("items: 41 row(s) in the manifest, 40 restored"),
        "{r:#?}"
    );
    assert_eq!(marker(), "t");
    assert!(
        !scratch_remains(&db, &r),
        "the mismatching restore was left behind"
    );

    let out = db.json(&[
        "backup",
        "restore",
        f,
        "--into",
        &name,
        "--replace",
        "--yes",
    ]);
    assert_eq!(out["replaced"], true);
    assert_eq!(marker(), "f");
    assert_eq!(
        crate::support::psql(&other, "SELECT count(*) FROM items"),
        "40"
    );

    for args in [
        vec!["backup", "restore", f, "--into", "bad-name"],
        vec!["backup", "restore", f, "--into", "1abc"],
        vec![
            "backup",
            "restore",
            f,
            "--into",
            "template1",
            "--replace",
            "--yes",
        ],
        vec![
            "backup",
            "restore",
            f,
            "--into",
            &db.name,
            "--replace",
            "--yes",
        ],
    ] {
        db.run(&args).fails(2);
    }
    let r = db.run(&["backup", "restore", f, "--replace", "--yes"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert_eq!(db.checksum_all(), live, "the live database changed");
    crate::support::psql(&db.url, &format!("DROP DATABASE {name} WITH (FORCE)"));
}

/// Table checksums are of each row's text, which the session's output settings shape: a
/// database of its own DateStyle, IntervalStyle, bytea_output and float digits must
/// still verify after a restore into a database without those settings.
#[test]
fn checksums_do_not_depend_on_the_database_output_settings() {
    let db = seeded();
    let name = &db.name;
    db.sql(&format!(
        "ALTER DATABASE {name} SET DateStyle = 'SQL, DMY'; \
         ALTER DATABASE {name} SET IntervalStyle = 'sql_standard'; \
         ALTER DATABASE {name} SET extra_float_digits = -3; \
         ALTER DATABASE {name} SET bytea_output = 'escape'"
    ));
    let dir = db.dir.path().join("b");
    // Checksums are taken and compared with a test restore.
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap(), "--verify-restore"]);
    assert!(m["table_checksums"]["users"].is_string(), "{m}");
    let file = backups(&dir).remove(0);
    let v = db.json(&["backup", "verify", file.to_str().unwrap(), "--restore"]);
    assert_eq!(v["ok"], true, "{v}");
    // The verifying session's own settings (libpq sends PGDATESTYLE at its start) do not
    // count either.
    let v = db
        .cmd()
        .env("PGDATESTYLE", "Postgres, DMY")
        .args(&[
            "-o",
            "json",
            "backup",
            "verify",
            file.to_str().unwrap(),
            "--restore",
        ])
        .run()
        .success()
        .json();
    assert_eq!(v["ok"], true, "{v}");
}

/// While a restore beside the live database is built, no other role may connect to it (a
/// session there would make the final rename fail); PUBLIC may connect again once it has
/// its name. A database to replace that cannot be set aside (a session of another role,
/// which a non-superuser owner may not end) is kept as it was, and nothing else remains.
#[test]
fn restore_into_admits_no_one_while_building_and_replace_keeps_the_old_database_on_failure() {
    use crate::privileges::role;
    let db = seeded();
    // Enough rows that the restore takes a moment to watch.
    db.sql(
        "INSERT INTO items (id, title, price, owner_id, is_available, created_at, updated_at) \
         SELECT gen_random_uuid(), 'bulk ' || g, 1, (SELECT id FROM users LIMIT 1), true, now(), now() \
         FROM generate_series(1, 20000) g",
    );
    let dir = db.dir.path().join("b");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let file = dir.join(m["file"].as_str().unwrap());
    let f = file.to_str().unwrap().to_string();
    let intruder = role(&db, "intruder", "");

    let name = format!("{}_copy", db.name);
    let cmd = db.cmd().args(&["backup", "restore", &f, "--into", &name]);
    let restore = std::thread::spawn(move || cmd.run());
    let mut watched = Vec::new();
    while !restore.is_finished() {
        let seen = db.sql(&format!(
            "SELECT coalesce(string_agg((datallowconn AND has_database_privilege('{intruder}', datname, 'CONNECT'))::text, ','), '') \
             FROM pg_database WHERE datname LIKE 'stackctl\\_restore\\_%'"
        ));
        if !seen.is_empty() {
            watched.push(seen);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    restore.join().unwrap().success();
    assert!(!watched.is_empty(), "the restore's database was never seen");
    assert!(
        watched.iter().all(|w| w.split(',').all(|p| p == "false")),
        "another role could connect while it was built: {watched:?}"
    );
    assert_eq!(
        db.sql(&format!(
            "SELECT has_database_privilege('{intruder}', '{name}', 'CONNECT')"
        )),
        "t"
    );

    // A non-superuser owner replacing NAME while the intruder sits in it.
    let owner = role(&db, "restorer", "CREATEDB");
    db.sql(&format!("ALTER DATABASE {name} OWNER TO {owner}"));
    let as_owner = db.url.replacen("://postgres@", &format!("://{owner}@"), 1);
    // The copy holds what the live database held when the backup was taken.
    let marker = db.sql("SELECT count(*) FROM items");
    let in_copy = url_of(&db, &name).replacen("://postgres@", &format!("://{intruder}@"), 1);
    let mut sitter = std::process::Command::new(crate::support::psql_bin())
        .args(["-X", "-q", "-d", &in_copy, "-c", "SELECT pg_sleep(60)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.sql(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND usename = '{intruder}'"
    )) == "0"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the intruder never connected"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = db
        .cmd_url(&as_owner)
        .args(&[
            "backup",
            "restore",
            &f,
            "--into",
            &name,
            "--replace",
            "--yes",
        ])
        .run()
        .fails(1);
    assert!(r.stderr.contains("was kept as it was"), "{r:#?}");
    let _ = sitter.kill();
    let _ = sitter.wait();
    assert_eq!(
        crate::support::psql(&url_of(&db, &name), "SELECT count(*) FROM items"),
        marker
    );
    // Nothing of the failed run's remains (other tests' restores run meanwhile: only
    // this test's role owns what this run made).
    assert_eq!(
        db.sql(&format!(
            "SELECT count(*) FROM pg_database \
             WHERE datname LIKE 'stackctl\\_%' AND datdba = '{owner}'::regrole"
        )),
        "0"
    );
    db.sql(&format!("DROP DATABASE {name} WITH (FORCE)"));
}

/// Client tools wrapped by scripts that append their command line to `log` and run the
/// real ones; the returned pg_dump names the directory (`--pg-dump`).
pub(crate) fn logging_tools(db: &TestDb, log: &Path) -> PathBuf {
    let real = crate::support::find_bindir().expect("PostgreSQL binaries");
    let tools = db.dir.path().join("logged-tools");
    std::fs::create_dir_all(&tools).unwrap();
    for tool in ["pg_dump", "pg_restore", "psql"] {
        let script = tools.join(tool);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$0 $*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real.join(tool).display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    tools.join("pg_dump")
}

/// A custom-format restore into a database of its own (`--into`, `verify --restore`) runs
/// pg_restore with `--jobs` (said with -v); a restore in place stays one transaction, one
/// job; a plain dump goes through psql in one job, and says so.
#[test]
fn restores_into_a_database_of_their_own_use_several_jobs() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let log = db.dir.path().join("argv.log");
    let pg_dump = logging_tools(&db, &log);
    let pg_dump = pg_dump.to_str().unwrap();
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let file = dir.join(m["file"].as_str().unwrap());
    let f = file.to_str().unwrap();
    let restores = || -> Vec<String> {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines()
            .filter(|l| {
                l.contains("pg_restore") && !l.contains("--list") && !l.contains("--version")
            })
            .map(String::from)
            .collect()
    };

    let name = format!("{}_jobs", db.name);
    let r = db.ok(&[
        "-v",
        "backup",
        "restore",
        f,
        "--into",
        &name,
        "--jobs",
        "3",
        "--pg-dump",
        pg_dump,
    ]);
    assert!(r.stderr.contains("pg_restore with 3 jobs"), "{r:#?}");
    let ran = restores();
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert!(
        ran[0].contains("--jobs=3") && !ran[0].contains("--single-transaction"),
        "{ran:?}"
    );
    let copy = url_of(&db, &name);
    assert_eq!(
        crate::support::psql(&copy, "SELECT count(*) FROM items"),
        db.sql("SELECT count(*) FROM items")
    );
    crate::support::psql(&db.url, &format!("DROP DATABASE {name} WITH (FORCE)"));

    db.ok(&[
        "backup",
        "verify",
        f,
        "--restore",
        "--jobs",
        "2",
        "--pg-dump",
        pg_dump,
    ]);
    let ran = restores();
    assert!(ran.iter().any(|l| l.contains("--jobs=2")), "{ran:?}");

    // The default: the client's cores, at most 8 (one job where there is one core).
    let r = db.ok(&[
        "-v",
        "backup",
        "verify",
        f,
        "--restore",
        "--pg-dump",
        pg_dump,
    ]);
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let ran = restores();
    if cores > 1 {
        assert!(
            r.stderr.contains(&format!("pg_restore with {cores} jobs")),
            "{r:#?}"
        );
        assert!(
            ran.iter().any(|l| l.contains(&format!("--jobs={cores}"))),
            "{ran:?}"
        );
    } else {
        assert!(
            ran.iter().all(|l| l.contains("--single-transaction")),
            "{ran:?}"
        );
    }

    // In place: one transaction, whatever --jobs says.
    db.ok(&[
        "backup",
        "restore",
        f,
        "--yes",
        "--jobs",
        "4",
        "--pg-dump",
        pg_dump,
    ]);
    let ran = restores();
    assert!(
        ran.iter()
            .all(|l| l.contains("--single-transaction") && !l.contains("--jobs")),
        "{ran:?}"
    );

    // A plain dump: psql, one job.
    let m = db.json(&[
        "backup",
        "--dir",
        dir.to_str().unwrap(),
        "--format",
        "plain",
    ]);
    let plain = dir.join(m["file"].as_str().unwrap());
    let name = format!("{}_plain", db.name);
    let r = db.ok(&[
        "-v",
        "backup",
        "restore",
        plain.to_str().unwrap(),
        "--into",
        &name,
        "--jobs",
        "4",
    ]);
    assert!(
        r.stderr
            .contains("a plain dump restores through psql, in one job"),
        "{r:#?}"
    );
    crate::support::psql(&db.url, &format!("DROP DATABASE {name} WITH (FORCE)"));
    // --jobs out of range is a usage error.
    db.run(&["backup", "verify", f, "--restore", "--jobs", "0"])
        .fails(2);
}

/// A directory dump through its whole life: taken with jobs, listed with its format,
/// verified, test-restored, restored in place and into a database of its own, retained and
/// pruned; a changed, added or planted file inside it is caught.
#[test]
fn a_directory_backup_through_its_whole_life() {
    let db = seeded();
    let dir = db.dir.path().join("b");
    let d = dir.to_str().unwrap();
    let log = db.dir.path().join("argv.log");
    let pg_dump = logging_tools(&db, &log);
    let pg_dump = pg_dump.to_str().unwrap();
    let before = db.checksum();

    let r = db.ok(&[
        "-v",
        "-o",
        "json",
        "backup",
        "--dir",
        d,
        "--format",
        "directory",
        "--jobs",
        "2",
        "--pg-dump",
        pg_dump,
    ]);
    assert!(r.stderr.contains("with 2 job(s)"), "{r:#?}");
    let m: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(m["format"], "directory");
    let ran = std::fs::read_to_string(&log).unwrap();
    assert!(
        ran.lines().any(|l| l.contains("pg_dump")
            && l.contains("--format=directory")
            && l.contains("--jobs=2")),
        "{ran}"
    );
    let name = m["file"].as_str().unwrap();
    assert!(name.ends_with("Z.dir"), "{name}");
    let path = dir.join(name);
    assert!(path.is_dir());
    assert_eq!(mode(&path), 0o700);
    let files = m["files"].as_object().unwrap();
    assert!(files.contains_key("toc.dat"), "{files:?}");
    let total: u64 = files.values().map(|f| f["size"].as_u64().unwrap()).sum();
    assert_eq!(m["size"], total);
    assert_eq!(m["row_counts"]["items"], 40);
    // Only the backup, its manifest and the lock: no partial directory is left.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);

    let list = db.json(&["backup", "list", "--dir", d]);
    assert_eq!(list[0]["format"], "directory", "{list}");
    assert_eq!(list[0]["checksum_ok"], true, "{list}");
    let f = path.to_str().unwrap();
    assert_eq!(db.json(&["backup", "verify", f])["ok"], true);
    assert_eq!(
        db.json(&["backup", "verify", f, "--restore", "--jobs", "2"])["ok"],
        true
    );

    // Restored into a database of its own, with jobs.
    let copy = format!("{}_dir", db.name);
    let _ = std::fs::remove_file(&log);
    db.ok(&[
        "backup",
        "restore",
        f,
        "--into",
        &copy,
        "--jobs",
        "2",
        "--pg-dump",
        pg_dump,
    ]);
    let ran = std::fs::read_to_string(&log).unwrap();
    assert!(
        ran.lines()
            .any(|l| l.contains("pg_restore") && l.contains("--jobs=2") && l.contains(name)),
        "{ran}"
    );
    assert_eq!(
        crate::support::psql(&url_of(&db, &copy), "SELECT count(*) FROM items"),
        "40"
    );
    crate::support::psql(&db.url, &format!("DROP DATABASE {copy} WITH (FORCE)"));

    // In place, in one transaction.
    db.sql("DELETE FROM items WHERE price > 10");
    assert_ne!(db.checksum(), before);
    db.ok(&["backup", "restore", f, "--yes"]);
    assert_eq!(db.checksum(), before);

    // A file inside changed: verify names it, list marks it, restore refuses.
    let data = files
        .keys()
        .find(|n| n.as_str() != "toc.dat")
        .expect("a data file");
    let data_path = path.join(data);
    let original = std::fs::read(&data_path).unwrap();
    let mut bytes = original.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data_path, &bytes).unwrap();
    let r = db.run(&["backup", "verify", f]).fails(1);
    assert!(
        r.stderr.contains("checksum") && r.stderr.contains(data.as_str()),
        "{r:#?}"
    );
    assert_eq!(
        db.json(&["backup", "list", "--dir", d])[0]["checksum_ok"],
        false
    );
    db.run(&["backup", "restore", f, "--yes"]).fails(1);
    std::fs::write(&data_path, &original).unwrap();
    // A file added, then a link planted in its place: neither is ever read as part of it.
    let extra = path.join("9999.dat.gz");
    std::fs::write(&extra, b"x").unwrap();
    let r = db.run(&["backup", "verify", f]).fails(1);
    assert!(r.stderr.contains("9999.dat.gz"), "{r:#?}");
    std::fs::remove_file(&extra).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &extra).unwrap();
    let r = db.run(&["backup", "verify", f]).fails(1);
    assert!(r.stderr.contains("not a regular file"), "{r:#?}");
    std::fs::remove_file(&extra).unwrap();
    assert_eq!(db.json(&["backup", "verify", f])["ok"], true);

    // Retention counts it like any backup and deletes it whole.
    age_backup(&path, 48);
    db.ok(&["backup", "--dir", d, "--format", "directory", "--keep", "1"]);
    assert!(!path.exists(), "the older directory backup was kept");
    assert!(!manifest_path(&path).exists());
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dir"))
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}
