//! A real hot standby of the harness's own cluster (pg_basebackup -R, streaming), started
//! on demand once per test run: production reads from replicas, and a replica refuses
//! every write.

use super::Timed as _;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{free_port, pg_command, pg_start, psql_at, server, server_dir};

/// A running hot standby on 127.0.0.1.
pub struct Standby {
    pub port: u16,
}

/// The standby, made and started on first use; stopped when the test process ends.
pub fn standby() -> &'static Standby {
    static STANDBY: OnceLock<Standby> = OnceLock::new();
    STANDBY.get_or_init(start)
}

impl Standby {
    /// A URL for database `db` on the standby.
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Run SQL on `db` on the standby with the harness's psql.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        psql_at(server(), &self.url(db), sql)
    }

    /// Wait (up to ~10 s) until the standby has replayed everything the primary had
    /// written when this was called, and database `db` answers there.
    pub fn catch_up(&self, db: &str) {
        let server = server();
        // The cluster runs with synchronous_commit=off, and the WAL writer flushes only up
        // to the last asynchronous commit, so WAL inserted after it may never reach the
        // standby on an idle primary. A synchronous commit of our own flushes everything
        // before it (a commit flushes only when its transaction wrote WAL: hence a
        // catalog change, not just txid_current()); the flush position after it is what
        // the standby must reach.
        let out = std::process::Command::new(&server.psql)
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(format!("{}/postgres{}", server.base, server.query))
            .args(["-c", "SET synchronous_commit = on"])
            .args(["-c", "CREATE TEMP TABLE stackctl_flush ()"])
            .args(["-c", "SELECT pg_current_wal_flush_lsn()"])
            .stdin(Stdio::null())
            .timed_output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "flushing the primary's WAL failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lsn = stdout.lines().last().unwrap_or_default().trim().to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        let replayed = || {
            self.try_sql(
                "postgres",
                &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
            )
            .is_some_and(|r| r == "t")
        };
        while !replayed() {
            assert!(
                Instant::now() < deadline,
                "the standby on port {} did not replay up to {lsn} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        while self.try_sql(db, "SELECT 1").is_none() {
            assert!(
                Instant::now() < deadline,
                "database {db} did not appear on the standby within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SQL on the standby; None when psql fails (not there yet, say).
    fn try_sql(&self, db: &str, sql: &str) -> Option<String> {
        let out = std::process::Command::new(&server().psql)
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(db))
            .args(["-c", sql])
            .stdin(Stdio::null())
            .timed_output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

fn start() -> Standby {
    let server = server();
    let Some((_, primary_port)) = &server.own else {
        panic!(
            "the standby tests need the harness's own cluster to replicate from; \
             unset TEST_DATABASE_URL to run them"
        );
    };
    let bindir = server
        .psql
        .parent()
        .expect("the server binaries' directory")
        .to_path_buf();
    let dir = server_dir("standby", &|_| {});
    let data = dir.join("data");
    // initdb's trust pg_hba.conf has `host replication all 127.0.0.1/32 trust`.
    let out = pg_command(&bindir.join("pg_basebackup"))
        .arg("-D")
        .arg(&data)
        .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"])
        .args(["-h", "127.0.0.1", "-p", &primary_port.to_string()])
        .args(["-U", "postgres"])
        .stdin(Stdio::null())
        .timed_output()
        .expect("run pg_basebackup");
    assert!(
        out.status.success(),
        "pg_basebackup from the test cluster failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    // The primary's options; hot_standby is on by default.
    pg_start(&bindir, &dir, &data, port, "");
    Standby { port }
}
