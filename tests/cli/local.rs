//! The embedded default: with no URL anywhere, stackctl runs its own PostgreSQL under
//! HOME (a temporary directory here), on a Unix socket only.

use crate::support::Timed as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{Cmd, Run};

/// A temporary HOME with no database configured; stops its instance when dropped.
struct Home {
    dir: tempfile::TempDir,
    /// XDG_DATA_HOME for every command, when set.
    xdg: Option<PathBuf>,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("temp dir"),
            xdg: None,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the contract puts the data: under XDG_DATA_HOME when set, else HOME.
    fn data_dir(&self) -> PathBuf {
        match &self.xdg {
            Some(x) => x.join("stackctl"),
            None => self.path().join(".local/share/stackctl"),
        }
    }

    fn cmd(&self) -> Cmd {
        match &self.xdg {
            Some(x) => Cmd::bare(self.path()).env("XDG_DATA_HOME", x.to_str().unwrap()),
            None => Cmd::bare(self.path()),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).run()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["-o", "json"];
        all.extend_from_slice(args);
        self.run(&all).success().json()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = self.cmd().args(&["-q", "local", "stop"]).run();
    }
}

fn psql(socket: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-h", socket, "-U", "stackctl", "-d", "stackctl", "-XAtc", sql,
        ])
        .timed_output()
        .expect("run psql");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn no_url_means_a_private_instance_that_keeps_its_data_across_restarts() {
    let home = Home::new();
    let before = home.json(&["local", "status"]);
    assert_eq!(before["state"], "not created");

    let added = home
        .cmd()
        .args(&["-o", "json", "user", "add", "--email", "a@example.com"])
        .args(&["--username", "alice", "--password-stdin"])
        .stdin("embedded-pw-1\n")
        .run()
        .success();
    assert!(
        added.stderr.contains("creating the embedded PostgreSQL"),
        "{added:#?}"
    );
    let users = home.json(&["user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["email"], "a@example.com");

    let st = home.json(&["local", "status"]);
    let data_dir = home.data_dir();
    assert_eq!(st["state"], "running");
    assert_eq!(st["data_dir"], data_dir.to_str().unwrap());
    let socket = st["socket"].as_str().unwrap().to_string();
    assert_eq!(socket, data_dir.join("socket").to_str().unwrap());
    assert!(st["server_version"]
        .as_str()
        .unwrap()
        .starts_with(char::is_numeric));
    assert!(st["pid"].as_u64().unwrap() > 0);
    assert!(st["size_bytes"].as_u64().unwrap() > 1_000_000);
    let status = home.json(&["status"]);
    assert_eq!(status["schema"], "up to date");
    assert_eq!(status["database"], "stackctl");
    assert!(status["source"].as_str().unwrap().starts_with("embedded"));

    // Unix socket only, in a directory nobody else can enter; no TCP at all.
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    assert_eq!(psql(&socket, "SHOW listen_addresses"), "");
    let hba = psql(
        &socket,
        "SELECT string_agg(DISTINCT type, ',') FROM pg_hba_file_rules",
    );
    assert_eq!(hba, "local");
    // The server's zone is the one every stackctl session sets, so that setting it finds
    // the zone already loaded (scale: the `user list` floor).
    assert_eq!(psql(&socket, "SHOW timezone"), "UTC");

    let stopped = home.run(&["-o", "json", "local", "stop"]).success();
    assert_eq!(stopped.json()["state"], "stopped");
    assert!(!Path::new(&socket).join(".s.PGSQL.5432").exists());
    let again = home.run(&["-o", "json", "local", "stop"]).success();
    assert!(again.stderr.contains("not running"), "{again:#?}");

    // The next command starts it again, and the data is there.
    let users = home.json(&["user", "list"]);
    assert_eq!(users[0]["username"], "alice");
    assert_eq!(home.json(&["local", "status"])["state"], "running");
    assert_eq!(home.log().matches("ready to accept connections").count(), 2);
}

/// The embedded server keeps the environment it was started with for as long as it runs,
/// readable in /proc by its account: it must hold none of the caller's secrets.
#[test]
fn the_embedded_server_inherits_no_secret_from_the_environment() {
    let home = Home::new();
    let sentinel = "Sentinel-Env-Secret-5521";
    home.cmd()
        .env(
            "STACKCTL_NOTIFY_URL",
            &format!("https://hc.example/{sentinel}"),
        )
        .env("AWS_SECRET_ACCESS_KEY", sentinel)
        .env("STACKCTL_TEST_SENTINEL", sentinel)
        .args(&["local", "start"])
        .run()
        .success();
    let pid = home.json(&["local", "status"])["pid"].as_u64().unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ).replace('\0', "\n");
    assert!(!environ.contains(sentinel), "{environ}");
    assert!(environ.contains("PATH="), "{environ}");
    // Its children (the checkpointer, walwriter, ...) inherit the same clean environment.
    for line in std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
    {
        let child = std::fs::read(format!("/proc/{line}/environ")).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&child).contains(sentinel));
    }
}

#[test]
fn local_start_and_backup_of_the_embedded_instance() {
    let home = Home::new();
    home.run(&["local", "start"]).success();
    assert_eq!(home.json(&["local", "status"])["state"], "running");
    home.run(&[
        "user",
        "add",
        "--email",
        "b@example.com",
        "--username",
        "bob",
        "--random-password",
    ])
    .success();
    let backups = home.path().join("backups");
    let made = home.json(&["backup", "--dir", backups.to_str().unwrap()]);
    assert_eq!(made["database"], "stackctl");
    assert_eq!(made["row_counts"]["users"], 1);
    let file = backups.join(made["file"].as_str().unwrap());
    home.run(&["backup", "verify", file.to_str().unwrap()])
        .success();

    home.run(&["user", "delete", "bob", "--yes"]).success();
    assert_eq!(home.json(&["user", "list"]).as_array().unwrap().len(), 0);
    home.run(&["backup", "restore", file.to_str().unwrap(), "--yes"])
        .success();
    assert_eq!(home.json(&["user", "list"])[0]["username"], "bob");
}

/// `backup restore --into` against the embedded instance: a second database in it, the
/// instance's own database untouched.
#[test]
fn restore_into_a_new_database_of_the_embedded_instance() {
    let home = Home::new();
    home.run(&[
        "user",
        "add",
        "--email",
        "c@example.com",
        "--username",
        "carol",
        "--random-password",
    ])
    .success();
    let backups = home.path().join("backups");
    let made = home.json(&["backup", "--dir", backups.to_str().unwrap()]);
    let file = backups.join(made["file"].as_str().unwrap());
    home.run(&["user", "delete", "carol", "--yes"]).success();
    let out = home.json(&[
        "backup",
        "restore",
        file.to_str().unwrap(),
        "--into",
        "copy",
    ]);
    assert_eq!(out["database"], "copy");
    assert_eq!(out["users"], 1);
    let socket = home.json(&["local", "status"])["socket"]
        .as_str()
        .unwrap()
        .to_string();
    let copy = std::process::Command::new("psql")
        .args([
            "-h",
            &socket,
            "-U",
            "stackctl",
            "-d",
            "copy",
            "-XAtc",
            "SELECT username FROM users",
        ])
        .timed_output()
        .expect("run psql");
    assert_eq!(String::from_utf8_lossy(&copy.stdout).trim(), "carol");
    assert_eq!(psql(&socket, "SELECT count(*) FROM users"), "0");
}

#[test]
fn concurrent_first_runs_create_and_start_one_server() {
    let mut home = Home::new();
    let xdg = home.path().join("xdg");
    home.xdg = Some(xdg.clone());
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let cmd = home.cmd().args(&["-o", "json", "user", "list"]);
            std::thread::spawn(move || cmd.run())
        })
        .collect();
    for r in runs {
        let r = r.join().unwrap().success();
        assert_eq!(r.json(), serde_json::json!([]));
    }
    let log = std::fs::read_to_string(xdg.join("stackctl/server.log")).unwrap();
    assert_eq!(
        log.matches("ready to accept connections").count(),
        1,
        "{log}"
    );
    let created = std::fs::read_dir(xdg.join("stackctl")).unwrap().count();
    assert!(created >= 3, "pgdata, socket, server.log expected");
    assert!(
        !home.path().join(".local/share/stackctl").exists(),
        "XDG_DATA_HOME beats HOME"
    );
    assert_eq!(home.json(&["local", "stop"])["state"], "stopped");
}

#[test]
fn missing_server_binaries_are_exit_5_with_an_install_hint() {
    let home = Home::new();
    let empty = home.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let r = home
        .cmd()
        .env("STACKCTL_PG_BIN", empty.to_str().unwrap())
        .env("PATH", empty.to_str().unwrap())
        .args(&["user", "list"])
        .run()
        .fails(5);
    assert!(r.stderr.contains("initdb"), "{r:#?}");
    assert!(
        r.stderr
            .contains("hint: install the PostgreSQL server package"),
        "{r:#?}"
    );
    assert!(r.stdout.is_empty());
    assert!(!home.data_dir().join("pgdata").exists());
}

/// As root, stackctl writes and changes the ownership of files inside a data directory that
/// belongs to `postgres`: a symbolic link planted there (by anyone who can act as
/// `postgres`) must never make root overwrite or take over the file it points to.
#[test]
fn as_root_links_planted_in_the_data_directory_are_never_followed() {
    crate::support::require_root();
    let home = Home::new();
    home.run(&["local", "start"]).success();
    home.run(&["local", "stop"]).success();
    let victim_dir = home.path().join("victim");
    std::fs::create_dir(&victim_dir).unwrap();
    let victim = victim_dir.join("important.conf");
    std::fs::write(&victim, "root's own\n").unwrap();
    let conf = home.data_dir().join("pgdata/stackctl.conf");
    std::fs::remove_file(&conf).unwrap();
    std::os::unix::fs::symlink(&victim, &conf).unwrap();
    let r = home.run(&["local", "start"]).fails(1);
    assert!(r.stderr.contains("symbolic link"), "{r:#?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's own\n");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0);
    // The socket directory replaced by a link to a directory of root's: not taken over.
    std::fs::remove_file(&conf).unwrap();
    let socket = home.data_dir().join("socket");
    std::fs::remove_dir_all(&socket).unwrap();
    std::os::unix::fs::symlink(&victim_dir, &socket).unwrap();
    let r = home.run(&["local", "start"]).fails(1);
    assert!(r.stderr.contains("symbolic link"), "{r:#?}");
    assert_eq!(std::fs::metadata(&victim_dir).unwrap().uid(), 0);
    assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0);
}

/// As root, a data directory the `postgres` account cannot reach is refused with a hint,
/// and nothing outside it changes: no ACL entry is added to the directory that stops it.
#[test]
fn as_root_an_unreachable_data_directory_is_refused_without_changing_its_parents() {
    crate::support::require_root();
    let home = Home::new();
    let closed = home.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let r = home
        .cmd()
        .env("STACKCTL_DATA_DIR", closed.join("data").to_str().unwrap())
        .args(&["user", "list"])
        .run()
        .fails(5);
    assert!(r.stderr.contains("cannot enter"), "{r:#?}");
    assert!(r.stderr.contains("/var/lib/stackctl"), "{r:#?}");
    let out = std::process::Command::new(crate::support::python())
        .args([
            "-c",
            "import os, sys; print(','.join(os.listxattr(sys.argv[1])))",
            closed.to_str().unwrap(),
        ])
        .timed_output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("posix_acl"),
        "an ACL was added: {out:?}"
    );
    assert_eq!(
        std::fs::metadata(&closed).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // Root's default, when nothing is configured, is /var/lib/stackctl (shown, not made).
    let mut c = Cmd::bare(home.path()).args(&["-o", "json", "local", "status"]);
    c.cmd.env_remove("HOME").env_remove("XDG_DATA_HOME");
    let st = c.run().success().json();
    assert_eq!(st["data_dir"], "/var/lib/stackctl");
}

/// `STACKCTL_LAYOUT=simple` with no URL: the embedded instance is made with the Simple DB
/// design's schema (and stackctl's audit trail) on first use, and the user commands work.
#[test]
fn an_embedded_instance_can_have_the_simple_layout() {
    let home = Home::new();
    let add = home
        .cmd()
        .env("STACKCTL_LAYOUT", "simple")
        .args(&[
            "-o",
            "json",
            "user",
            "add",
            "--email",
            "e@example.com",
            "--name",
            "E",
        ])
        .run()
        .success();
    assert!(
        add.stderr.contains("created the Simple DB schema"),
        "{add:#?}"
    );
    assert_eq!(add.json()["id"], 1);
    // Detected from then on, without the variable.
    let status = home.json(&["status"]);
    assert_eq!(status["layout"], "simple", "{status}");
    assert_eq!(status["users"], 1);
    let socket = home.data_dir().join("socket");
    assert_eq!(
        psql(
            socket.to_str().unwrap(),
            "SELECT count(*) FROM stackctl_audit WHERE command = 'user add'"
        ),
        "1"
    );
    home.run(&["item", "list"]).fails(2);
}
