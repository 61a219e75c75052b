//! Secrets: the URL's password and users' passwords appear in no output, no message at
//! -vv, no manifest, no child's command line; backups are private; listing users never
//! reads a hash.

use crate::support::Timed as _;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::support::{Run, TestDb};

const URL_PW: &str = "Sentinel-Url-Pw-7319";
const USER_PW: &str = "Sentinel-User-Pw-4682";

fn clean(r: &Run, what: &str) {
    for s in [URL_PW, USER_PW] {
        assert!(!r.stdout.contains(s), "{what}: {s} on stdout: {r:#?}");
        assert!(!r.stderr.contains(s), "{what}: {s} on stderr: {r:#?}");
    }
}

#[test]
fn no_password_reaches_any_output_manifest_or_command_line() {
    let db = TestDb::new();
    db.sql(
        "INSERT INTO users (id, email, username, hashed_password, is_active, created_at, updated_at) \
         VALUES (uuid_generate_v4(), 'owner@example.com', 'owner', 'x', true, now(), now())",
    );
    db.sql(
        "INSERT INTO items (id, title, price, owner_id, is_available, created_at, updated_at) \
         SELECT uuid_generate_v4(), 'Item ' || g, 1, (SELECT id FROM users), true, now(), now() \
         FROM generate_series(1, 200000) g",
    );
    // The test server trusts local connections, so the password is carried but unused.
    let url = db.url.replace("postgres@", &format!("postgres:{URL_PW}@"));
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut c = db.cmd().env("DATABASE_URL", &url).args(&["-vv"]).args(args);
        if let Some(s) = stdin {
            c = c.stdin(s);
        }
        c.run()
    };
    let add = run(
        &[
            "user",
            "add",
            "--email",
            "s@example.com",
            "--username",
            "sentinel",
            "--password-stdin",
        ],
        Some(&format!("{USER_PW}\n")),
    );
    assert_eq!(add.code, 0, "{add:#?}");
    clean(&add, "user add");
    let pw_file = db.dir.path().join("pw");
    std::fs::write(&pw_file, format!("{USER_PW}\n")).unwrap();
    for (args, code) in [
        (vec!["user", "list"], 0),
        (vec!["-o", "json", "user", "show", "sentinel"], 0),
        (vec!["-o", "csv", "user", "list", "--all"], 0),
        (
            vec![
                "user",
                "set-password",
                "sentinel",
                "--password-file",
                pw_file.to_str().unwrap(),
            ],
            0,
        ),
        (vec!["status"], 0),
        (vec!["-o", "json", "status", "--check"], 0),
        (vec!["migrate", "status"], 0),
        (vec!["audit", "list", "-o", "json"], 0),
        (vec!["user", "show", "nobody"], 3),
        (vec!["-o", "json", "user", "show", "nobody"], 3),
        (vec!["--dry-run", "user", "delete", "sentinel"], 0),
    ] {
        let r = run(&args, None);
        assert_eq!(r.code, code, "{args:?}: {r:#?}");
        clean(&r, &format!("{args:?}"));
    }
    // A wrong port: the failure message carries the URL, never its password.
    let bad = url.replace(
        &format!(
            ":{}/",
            db.url.split(':').nth(2).unwrap().split('/').next().unwrap()
        ),
        ":1/",
    );
    let r = db
        .cmd()
        .env("DATABASE_URL", &bad)
        .args(&["-vv", "user", "list"])
        .run();
    assert_eq!(r.code, 5, "{r:#?}");
    clean(&r, "unreachable");

    // Backup: watch every child's command line while pg_dump runs.
    let dir = db.dir.path().join("b");
    let child =
        db.cmd()
            .env("DATABASE_URL", &url)
            .args(&["-vv", "backup", "--dir", dir.to_str().unwrap()]);
    let handle = std::thread::spawn(move || child.run());
    let mut seen_pg_dump = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !handle.is_finished() && Instant::now() < deadline {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains("pg_dump") && text.contains("--snapshot") {
                seen_pg_dump = true;
                assert!(!text.contains(URL_PW), "pg_dump's command line: {text}");
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = handle.join().unwrap();
    assert_eq!(r.code, 0, "{r:#?}");
    clean(&r, "backup");
    assert!(seen_pg_dump, "pg_dump was never seen running");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let mode = e.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
        if name.ends_with(".manifest.json") {
            let text = std::fs::read_to_string(e.path()).unwrap();
            assert!(
                !text.contains(URL_PW) && !text.contains("postgres@"),
                "{text}"
            );
        }
    }
    let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    // The audit trail holds no password and no hash.
    let audit = db.sql("SELECT coalesce(string_agg(a::text, '|'), '') FROM stackctl_audit a");
    assert!(
        !audit.contains(USER_PW) && !audit.contains("$2b$"),
        "{audit}"
    );
    // The help offers no way to pass a password as an argument.
    let help = db.ok(&["user", "add", "--help"]).stdout;
    assert!(
        !help.contains("--password ")
            && !help.contains("--password=")
            && !help.contains("--password <"),
        "{help}"
    );
}

#[test]
fn listing_users_never_reads_the_hash_column() {
    let db = TestDb::new();
    db.add_user("alice@example.com", "alice");
    db.ok(&["item", "add", "--owner", "alice", "--title", "Lamp"]);
    let role = format!("lister_{}", db.name);
    db.sql(&format!(
        "CREATE ROLE {role} LOGIN; \
         GRANT USAGE ON SCHEMA public, stackctl TO {role}; \
         GRANT SELECT (id, email, username, full_name, is_active, is_superuser, created_at, updated_at) ON users TO {role}; \
         GRANT SELECT ON items, stackctl.__diesel_schema_migrations, stackctl.stackctl_migration_checksums, stackctl.stackctl_audit TO {role}"
    ));
    let url = db.url.replacen("postgres@", &format!("{role}@"), 1);
    let as_lister = |args: &[&str]| db.cmd().env("DATABASE_URL", &url).args(args).run();
    // The control: this role really cannot read the hash.
    let r = as_lister(&["-o", "json", "user", "list"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(r.json()[0]["username"], "alice");
    for args in [
        &["-o", "csv", "user", "list", "--all"][..],
        &["user", "show", "alice"],
        &["-o", "json", "item", "list"],
        &["audit", "list"],
    ] {
        let r = as_lister(args);
        assert_eq!(r.code, 0, "{args:?}: {r:#?}");
    }
    let out = std::process::Command::new("psql")
        .args(["-X", "-d", &url, "-c", "SELECT hashed_password FROM users"])
        .timed_output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the role could read the hash: {out:?}"
    );
    db.sql(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
}

/// Every form libpq accepts a password in: in the userinfo (plain, percent-encoded, with a
/// raw `?`) and as a `password=` query parameter. None reaches stdout, stderr (at -vv, also
/// when the server cannot be reached), a manifest, or a child's command line: the client
/// tools are wrapped by scripts that log their argv and run the real ones.
#[test]
fn a_password_in_any_url_form_reaches_no_output_and_no_child_argv() {
    let db = TestDb::new();
    db.add_user("owner@example.com", "owner");
    let log = db.dir.path().join("argv.log");
    let pg_dump = crate::backup::logging_tools(&db, &log);
    let (base, rest) = db.url.split_once("postgres@").unwrap();
    let forms = [
        format!("{base}postgres:{URL_PW}@{rest}"),
        format!("{base}postgres:Sentinel%3FUrl%2DPw-7319@{rest}"),
        format!("{base}postgres:Sentinel?Url-Pw-7319@{rest}"),
        format!("{base}postgres@{rest}?password={URL_PW}"),
        format!("{base}postgres@{rest}?sslmode=disable&password=Sentinel%3FUrl-Pw-7319"),
        // As SQLAlchemy reads the application's URL: `/` and `#` raw in the password.
        format!("{base}postgres:Sentinel/Url#Pw-7319@{rest}"),
        // A client key's passphrase is a secret too (ignored with sslmode=disable).
        format!("{base}postgres@{rest}?sslmode=disable&sslpassword=Sentinel-Key-Pass-4410"),
    ];
    let secrets = [
        URL_PW,
        "Sentinel?Url-Pw-7319",
        "Sentinel%3FUrl",
        "Sentinel/Url",
        "Url#Pw",
        "Sentinel-Key-Pass-4410",
    ];
    for url in &forms {
        let dir = db.dir.path().join("b");
        let _ = std::fs::remove_dir_all(&dir);
        let dir_s = dir.to_str().unwrap();
        let run = |args: &[&str]| {
            db.cmd()
                .env("DATABASE_URL", url)
                .args(&["-vv"])
                .args(args)
                .run()
        };
        let mut runs = vec![
            run(&["status"]).success(),
            run(&["-o", "json", "user", "list"]).success(),
            run(&[
                "backup",
                "--dir",
                dir_s,
                "--pg-dump",
                pg_dump.to_str().unwrap(),
            ])
            .success(),
        ];
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "dump"))
            .expect("a backup file");
        let file_s = file.to_str().unwrap();
        runs.push(
            run(&[
                "backup",
                "verify",
                file_s,
                "--pg-dump",
                pg_dump.to_str().unwrap(),
            ])
            .success(),
        );
        runs.push(
            run(&[
                "backup",
                "restore",
                file_s,
                "--yes",
                "--pg-dump",
                pg_dump.to_str().unwrap(),
            ])
            .success(),
        );
        // Unreachable: the message quotes the URL, never its password.
        let port = db.url.split(':').nth(2).unwrap().split('/').next().unwrap();
        let bad = url.replace(&format!(":{port}/"), ":1/");
        let r = db
            .cmd()
            .env("DATABASE_URL", &bad)
            .args(&["-vv", "user", "list"])
            .run();
        assert_eq!(r.code, 5, "{r:#?}");
        runs.push(r);
        for r in &runs {
            for s in secrets {
                assert!(
                    !r.stdout.contains(s) && !r.stderr.contains(s),
                    "{url}: {s} shown: {r:#?}"
                );
            }
        }
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            for s in secrets {
                assert!(!text.contains(s), "{url}: {s} in {}", e.path().display());
            }
        }
        let argv = std::fs::read_to_string(&log).unwrap();
        assert!(
            argv.contains("pg_dump") && argv.contains("pg_restore"),
            "{argv}"
        );
        for s in secrets {
            assert!(!argv.contains(s), "{url}: {s} in a child's argv: {argv}");
        }
    }
}
