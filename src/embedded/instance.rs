//! One embedded instance: created with the machine's `initdb`, started on demand with
//! `pg_ctl` and left running, on a Unix socket in a 0700 directory and no TCP port, with
//! `local` lines only in `pg_hba.conf`; stopped by `local stop`.

use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use super::account::{check_reach, refuse_link, server_account, write_private, Account};
use super::binaries::{find_binaries, Binaries};
use super::DATABASE;
use crate::config::{Source, Target};
use crate::error::{redact, Error, Result};
use crate::url::PgUrl;

const SUPERUSER: &str = "stackctl";

/// Names the socket file only: the server listens on no TCP port.
const PORT: u16 = 5432;

/// Seconds `pg_ctl` waits for the server to accept connections.
const START_TIMEOUT_SECS: u32 = 60;

/// The PATH the server tools run with (`runuser` and the shell pg_ctl uses are found there).
const SERVER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Longest Unix socket path the kernel accepts (sun_path less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The embedded instance under one data directory.
#[derive(Debug, Clone)]
pub struct Instance {
    pub dir: PathBuf,
    pub pgdata: PathBuf,
    pub socket_dir: PathBuf,
    pub log: PathBuf,
}

impl Instance {
    pub fn new(dir: PathBuf) -> Result<Self> {
        let socket_dir = dir.join("socket");
        let socket_file = socket_dir.join(format!(".s.PGSQL.{PORT}"));
        if socket_file.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::usage(format!(
                "the data directory {} is too deep: its socket path would exceed {MAX_SOCKET_PATH} bytes",
                dir.display()
            ))
            .with_hint("choose a shorter --data-dir / STACKCTL_DATA_DIR"));
        }
        if dir.to_str().is_none() || dir.to_string_lossy().contains(['\'', '\n']) {
            return Err(Error::usage(format!(
                "the data directory {} must be valid UTF-8 without quotes or newlines",
                dir.display()
            )));
        }
        Ok(Instance {
            pgdata: dir.join("pgdata"),
            log: dir.join("server.log"),
            socket_dir,
            dir,
        })
    }

    pub(super) fn socket_str(&self) -> &str {
        self.socket_dir.to_str().unwrap_or_default()
    }

    fn url_for(&self, database: &str, timeout: u32) -> String {
        format!(
            "postgresql://{SUPERUSER}@/{database}?host={}&port={PORT}&connect_timeout={timeout}",
            utf8_percent_encode(self.socket_str(), NON_ALPHANUMERIC)
        )
    }

    /// How commands connect to the embedded database.
    pub fn target(&self) -> Result<Target> {
        Ok(Target {
            url: PgUrl::parse(&self.url_for(DATABASE, 10), None)?,
            display: format!(
                "postgresql://{SUPERUSER}@/{DATABASE}?host={}",
                self.socket_str()
            ),
            source: Source::Embedded(self.dir.clone()),
        })
    }

    pub fn is_created(&self) -> bool {
        self.pgdata.join("PG_VERSION").is_file()
    }

    /// The major version the cluster was made with.
    pub(super) fn data_major(&self) -> Option<u32> {
        std::fs::read_to_string(self.pgdata.join("PG_VERSION"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// A connection to the maintenance database, if the server accepts one.
    pub(super) fn probe(&self) -> Option<PgConnection> {
        PgConnection::establish(&self.url_for("postgres", 2)).ok()
    }

    /// Create (first use) and start the instance, and make sure its database exists.
    /// Serialised by a lock so concurrent first runs do this once.
    pub fn ensure_running(&self, info: &dyn Fn(&str)) -> Result<()> {
        let account = server_account()?;
        let bin = find_binaries(self.data_major())?;
        self.make_dir(&self.dir, account.as_ref())?;
        let lock = self.lock()?;
        if !self.is_created() {
            info(&format!(
                "creating the embedded PostgreSQL {} instance in {}",
                bin.version,
                self.dir.display()
            ));
            if let Some(a) = &account {
                check_reach(&self.dir, a)?;
            }
            self.initdb(&bin, account.as_ref())?;
        }
        if self.probe().is_none() {
            self.start(&bin, account.as_ref())?;
        }
        self.ensure_database()?;
        drop(lock);
        Ok(())
    }

    fn lock(&self) -> Result<File> {
        let path = self.dir.join(".lock");
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(|e| refuse_link(&path, e))?
        };
        file.lock()
            .map_err(|e| Error::failure(format!("cannot lock {}: {e}", path.display())))?;
        Ok(file)
    }

    /// Create `dir` with mode 0700 (its parents with the usual mode), owned by the
    /// server's account.
    fn make_dir(&self, dir: &Path, account: Option<&Account>) -> Result<()> {
        let cannot =
            |e: std::io::Error| Error::failure(format!("cannot create {}: {e}", dir.display()));
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(cannot)?;
        }
        match DirBuilder::new().mode(0o700).create(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(cannot(e)),
            _ => {}
        }
        if let Some(a) = account {
            use std::os::unix::fs::OpenOptionsExt;
            // An existing entry may have been replaced by a link: open it without
            // following one, then change the ownership of what was opened.
            let opened = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
                .open(dir)
                .map_err(|e| refuse_link(dir, e))?;
            std::os::unix::fs::fchown(&opened, Some(a.uid), Some(a.gid)).map_err(|e| {
                Error::failure(format!(
                    "cannot give {} to the {} account: {e}",
                    dir.display(),
                    a.name
                ))
            })?;
        }
        Ok(())
    }

    /// A server tool, run as the server's account, in the data directory.
    fn tool(&self, bin: &Binaries, name: &str, account: Option<&Account>) -> Command {
        let exe = bin.dir.join(name);
        let mut c = match account {
            Some(a) => {
                let mut c = Command::new("runuser");
                c.args(["-u", &a.name, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        // The server keeps the environment it starts with for as long as it runs, readable
        // in /proc by its account: it gets only what it needs, never the caller's
        // DATABASE_URL, notify URL or cloud credentials.
        c.current_dir(&self.dir)
            .stdin(Stdio::null())
            .env_clear()
            .env("PATH", SERVER_PATH)
            .env("LC_ALL", "C");
        if let Some(tz) = std::env::var_os("TZ") {
            c.env("TZ", tz);
        }
        c
    }

    /// Run a server tool; a failure is exit 5 with the tool's last error line.
    fn run_tool(&self, mut c: Command, what: &str) -> Result<()> {
        let out = c
            .output()
            .map_err(|e| Error::unreachable(format!("cannot run {what}: {e}")))?;
        crate::pgtools::check_status(out, what)
            .map(drop)
            .map_err(|e| Error::unreachable(e.message))
    }

    fn initdb(&self, bin: &Binaries, account: Option<&Account>) -> Result<()> {
        // initdb into a scratch directory, renamed when complete: a crash half-way
        // leaves nothing that looks like a cluster.
        let scratch = self.dir.join("pgdata.init");
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)?;
        }
        let mut c = self.tool(bin, "initdb", account);
        c.arg("-D").arg(&scratch).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        ]);
        self.run_tool(c, "initdb")?;
        write_private(
            &scratch.join("pg_hba.conf"),
            "# stackctl: only the instance's own Unix socket (in a 0700 directory) is accepted.\n\
             local all all trust\n",
            false,
            account,
        )?;
        write_private(
            &scratch.join("postgresql.conf"),
            "\n# stackctl rewrites stackctl.conf before each start.\ninclude_if_exists = 'stackctl.conf'\n",
            true,
            account,
        )?;
        std::fs::rename(&scratch, &self.pgdata)?;
        Ok(())
    }

    fn start(&self, bin: &Binaries, account: Option<&Account>) -> Result<()> {
        self.make_dir(&self.socket_dir, account)?;
        write_private(
            &self.pgdata.join("stackctl.conf"),
            &format!(
                "# Written by stackctl before each start.\n\
                 listen_addresses = ''\n\
                 unix_socket_directories = '{}'\n\
                 unix_socket_permissions = 0700\n\
                 port = {PORT}\n\
                 # Every stackctl session works in UTC, and so does the server.\n\
                 timezone = 'UTC'\n",
                self.socket_str()
            ),
            false,
            account,
        )?;
        let mut c = self.tool(bin, "pg_ctl", account);
        c.arg("start")
            .arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-s", "-t", &START_TIMEOUT_SECS.to_string()]);
        self.run_tool(c, "pg_ctl start").map_err(|e| {
            let why = last_log_error(&self.log).unwrap_or(e.message);
            Error::unreachable(format!("the embedded PostgreSQL did not start: {why}"))
                .with_hint(format!("see {}", self.log.display()))
        })
    }

    fn ensure_database(&self) -> Result<()> {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = Text)]
            #[expect(dead_code, reason = "only its presence is asked")]
            datname: String,
        }
        let mut conn = self.probe().ok_or_else(|| {
            Error::unreachable("the embedded PostgreSQL started but accepts no connection")
                .with_hint(format!("see {}", self.log.display()))
        })?;
        let found: Vec<Found> =
            diesel::sql_query("SELECT datname FROM pg_database WHERE datname = $1")
                .bind::<Text, _>(DATABASE)
                .load(&mut conn)?;
        if found.is_empty() {
            conn.batch_execute(&format!("CREATE DATABASE {DATABASE}"))?;
        }
        Ok(())
    }

    /// Fast shutdown; `Ok(false)` when it was not running.
    pub fn stop(&self) -> Result<bool> {
        if !self.is_created() {
            return Ok(false);
        }
        let account = server_account()?;
        let bin = find_binaries(self.data_major())?;
        let mut status = self.tool(&bin, "pg_ctl", account.as_ref());
        status.arg("status").arg("-D").arg(&self.pgdata);
        let running = status
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !running {
            return Ok(false);
        }
        let mut c = self.tool(&bin, "pg_ctl", account.as_ref());
        c.arg("stop")
            .arg("-D")
            .arg(&self.pgdata)
            .args(["-m", "fast", "-w", "-s"]);
        self.run_tool(c, "pg_ctl stop")?;
        Ok(true)
    }
}

/// The server's own words for why it stopped, from the end of its log.
fn last_log_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .take(20)
        .find(|l| l.contains("FATAL") || l.contains("PANIC") || l.contains("ERROR"))
        .map(|l| redact(l.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_reaches_the_socket_only() {
        let i = Instance::new(PathBuf::from("/d i/r")).unwrap();
        let t = i.target().unwrap();
        assert_eq!(
            t.url.libpq(),
            "postgresql://stackctl@/stackctl?host=%2Fd%20i%2Fr%2Fsocket&port=5432&connect_timeout=10"
        );
        assert!(!t.display.contains("5432"));
        let long = PathBuf::from(format!("/{}", "x".repeat(100)));
        assert_eq!(Instance::new(long).unwrap_err().exit_code(), 2);
    }
}
