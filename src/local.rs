//! The embedded default (contract, *Connecting*, point 4): when no database is configured,
//! stackctl keeps a private PostgreSQL cluster of its own under the data directory.
//!
//! It is made with the machine's `initdb`, started on demand with `pg_ctl` and left
//! running; it listens on a Unix socket in a 0700 directory and on no TCP port, and its
//! `pg_hba.conf` has `local` lines only. As root, the cluster belongs to the `postgres`
//! account and the server tools run as that account through `runuser`.
//!
//! Layout of the data directory:
//! `pgdata/` (the cluster), `socket/` (0700, the server's socket), `server.log`,
//! `.lock` (taken while creating or starting, so two commands never both do it).

use std::ffi::CString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use crate::config::{Source, Target};
use crate::error::{redact, Error, Result};
use crate::url::PgUrl;

/// The database, and the superuser, of the embedded cluster.
pub const DATABASE: &str = "stackctl";
const SUPERUSER: &str = "stackctl";
/// Names the socket file only: the server listens on no TCP port.
const PORT: u16 = 5432;
/// Seconds `pg_ctl` waits for the server to accept connections.
const START_TIMEOUT_SECS: u32 = 60;
/// The PATH the server tools run with (`runuser` and the shell pg_ctl uses are found there).
const SERVER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Longest Unix socket path the kernel accepts (sun_path less its NUL).
const MAX_SOCKET_PATH: usize = 107;

const INSTALL_HINT: &str = "install the PostgreSQL server package (Debian: apt-get install -y postgresql), point STACKCTL_PG_BIN at its bin directory, or set DATABASE_URL to use an existing database";

/// The account the server runs as when stackctl runs as root.
#[derive(Debug, Clone)]
struct Account {
    name: String,
    uid: u32,
    gid: u32,
}

/// A directory holding `initdb` and `pg_ctl`, and their version.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
    pub version: String,
    pub major: u32,
}

/// The embedded instance under one data directory.
#[derive(Debug, Clone)]
pub struct Instance {
    pub dir: PathBuf,
    pub pgdata: PathBuf,
    pub socket_dir: PathBuf,
    pub log: PathBuf,
}

/// What `local status` reports.
#[derive(Debug, serde::Serialize)]
pub struct State {
    pub state: &'static str,
    pub data_dir: String,
    pub socket: String,
    pub server_version: Option<String>,
    pub pid: Option<u32>,
    pub size_bytes: u64,
}

pub const STATE_COLUMNS: &[&str] = &[
    "state",
    "data_dir",
    "socket",
    "server_version",
    "pid",
    "size_bytes",
];

/// `--data-dir` / `STACKCTL_DATA_DIR`, else `$XDG_DATA_HOME/stackctl`, else
/// `~/.local/share/stackctl`; made absolute against the current directory.
pub fn data_dir(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
    let dir = match flag.filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => match nonempty("XDG_DATA_HOME").filter(|v| Path::new(v).is_absolute()) {
            Some(xdg) => Path::new(&xdg).join("stackctl"),
            None => match nonempty("HOME") {
                Some(home) => Path::new(&home).join(".local/share/stackctl"),
                None => {
                    return Err(Error::usage(
                        "no database configured and no home directory for the embedded one",
                    )
                    .with_hint("set DATABASE_URL, or STACKCTL_DATA_DIR for the embedded instance"))
                }
            },
        },
    };
    if dir.is_absolute() {
        Ok(dir)
    } else {
        Ok(std::env::current_dir()?.join(dir))
    }
}

fn server_account() -> Result<Option<Account>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new("postgres").expect("no NUL");
    // SAFETY: getpwnam returns NULL or a pointer to a static record we copy at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(Error::unreachable(
            "stackctl runs as root, and PostgreSQL refuses to; but there is no postgres account to run it as",
        )
        .with_hint(INSTALL_HINT));
    }
    // SAFETY: pw is non-null and points at a valid passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some(Account {
        name: "postgres".into(),
        uid,
        gid,
    }))
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

    fn socket_str(&self) -> &str {
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
    fn data_major(&self) -> Option<u32> {
        std::fs::read_to_string(self.pgdata.join("PG_VERSION"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// A connection to the maintenance database, if the server accepts one.
    fn probe(&self) -> Option<PgConnection> {
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
                grant_reach(&self.dir, a, info)?;
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
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::failure(format!("cannot open {}: {e}", path.display())))?;
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
            std::os::unix::fs::chown(dir, Some(a.uid), Some(a.gid)).map_err(|e| {
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
        std::fs::write(
            scratch.join("pg_hba.conf"),
            "# stackctl: only the instance's own Unix socket (in a 0700 directory) is accepted.\n\
             local all all trust\n",
        )?;
        let mut conf = OpenOptions::new()
            .append(true)
            .open(scratch.join("postgresql.conf"))?;
        writeln!(
            conf,
            "\n# stackctl rewrites stackctl.conf before each start.\ninclude_if_exists = 'stackctl.conf'"
        )?;
        std::fs::rename(&scratch, &self.pgdata)?;
        Ok(())
    }

    fn start(&self, bin: &Binaries, account: Option<&Account>) -> Result<()> {
        self.make_dir(&self.socket_dir, account)?;
        let conf = self.pgdata.join("stackctl.conf");
        std::fs::write(
            &conf,
            format!(
                "# Written by stackctl before each start.\n\
                 listen_addresses = ''\n\
                 unix_socket_directories = '{}'\n\
                 unix_socket_permissions = 0700\n\
                 port = {PORT}\n",
                self.socket_str()
            ),
        )?;
        if let Some(a) = account {
            std::os::unix::fs::chown(&conf, Some(a.uid), Some(a.gid))?;
        }
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
            #[allow(dead_code)]
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

    pub fn state(&self) -> State {
        let conn = self.probe();
        let state = if !self.is_created() {
            "not created"
        } else if conn.is_some() {
            "running"
        } else {
            "stopped"
        };
        let server_version = match conn {
            Some(mut c) => crate::db::server_version(&mut c).ok(),
            None => self.data_major().map(|m| m.to_string()),
        };
        let pid = (state == "running")
            .then(|| std::fs::read_to_string(self.pgdata.join("postmaster.pid")).ok())
            .flatten()
            .and_then(|s| s.lines().next()?.trim().parse().ok());
        State {
            state,
            data_dir: self.dir.display().to_string(),
            socket: self.socket_str().to_string(),
            server_version,
            pid,
            size_bytes: dir_size(&self.pgdata),
        }
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(path) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
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

fn probe_binaries(dir: &Path) -> Option<Binaries> {
    if !dir.join("initdb").is_file() || !dir.join("pg_ctl").is_file() {
        return None;
    }
    let out = Command::new(dir.join("pg_ctl"))
        .arg("--version")
        .output()
        .ok()?;
    let (version, major) = crate::pgtools::parse_version(&String::from_utf8_lossy(&out.stdout))?;
    Some(Binaries {
        dir: dir.to_path_buf(),
        version,
        major,
    })
}

/// Where the server binaries are looked for: `STACKCTL_PG_BIN` alone when it is set,
/// else `pg_config --bindir`, `PATH`, and `/usr/lib/postgresql/<major>/bin` newest first.
fn binary_dirs() -> (Vec<PathBuf>, String) {
    if let Some(dir) = std::env::var_os("STACKCTL_PG_BIN").filter(|v| !v.is_empty()) {
        let shown = format!("STACKCTL_PG_BIN={}", Path::new(&dir).display());
        return (vec![PathBuf::from(dir)], shown);
    }
    let mut dirs = Vec::new();
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        if o.status.success() {
            dirs.push(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    dirs.extend(versioned.into_iter().map(|(_, d)| d));
    (
        dirs,
        "pg_config --bindir, PATH or /usr/lib/postgresql/*/bin".into(),
    )
}

/// The first server binaries found, or those of the cluster's major version when it exists.
pub fn find_binaries(data_major: Option<u32>) -> Result<Binaries> {
    let (dirs, looked) = binary_dirs();
    let found: Vec<Binaries> = dirs.iter().filter_map(|d| probe_binaries(d)).collect();
    let pick = match data_major {
        Some(m) => found.iter().find(|b| b.major == m),
        None => found.first(),
    };
    match (pick, data_major) {
        (Some(b), _) => Ok(b.clone()),
        (None, Some(m)) if !found.is_empty() => Err(Error::unreachable(format!(
            "the embedded instance was made by PostgreSQL {m}, but only PostgreSQL {} server binaries were found",
            found[0].version
        ))
        .with_hint(format!(
            "install PostgreSQL {m} (Debian: apt-get install -y postgresql-{m}) or point STACKCTL_PG_BIN at its bin directory"
        ))),
        _ => Err(Error::unreachable(format!(
            "no PostgreSQL server binaries (initdb, pg_ctl) found in {looked}"
        ))
        .with_hint(INSTALL_HINT)),
    }
}

/// As root, make sure the server account can reach the data directory: where a parent
/// directory (say a 0700 home) stops it, add an ACL entry giving that account search
/// permission there and nothing more.
fn grant_reach(dir: &Path, account: &Account, info: &dyn Fn(&str)) -> Result<()> {
    for parent in dir
        .ancestors()
        .skip(1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let meta = std::fs::metadata(parent)?;
        let mode = meta.mode();
        let searchable = if meta.uid() == account.uid {
            mode & 0o100 != 0
        } else if meta.gid() == account.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if searchable {
            continue;
        }
        add_search_acl(parent, mode, account).map_err(|e| {
            Error::unreachable(format!(
                "the {} account cannot reach {} and an ACL granting it could not be set: {e}",
                account.name,
                parent.display()
            ))
            .with_hint("set STACKCTL_DATA_DIR to a directory the postgres account can reach, e.g. /var/lib/stackctl")
        })?;
        info(&format!(
            "gave the {} account search permission (ACL user:{}:--x) on {} so the server can reach its data",
            account.name,
            account.name,
            parent.display()
        ));
    }
    Ok(())
}

/// Write a POSIX access ACL equal to the directory's mode plus `user:<account>:--x`.
/// A directory that already carries an ACL is left alone (reported as an error).
fn add_search_acl(path: &Path, mode: u32, account: &Account) -> std::io::Result<()> {
    const NAME: &[u8] = b"system.posix_acl_access\0";
    const UNDEFINED: u32 = u32::MAX;
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: both strings are NUL-terminated; a zero-sized buffer only asks the size.
    let existing = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            NAME.as_ptr().cast(),
            std::ptr::null_mut(),
            0,
        )
    };
    if existing > 0 {
        return Err(std::io::Error::other("it already has an ACL"));
    }
    let group = (mode >> 3) & 7;
    let entries: [(u16, u32, u32); 5] = [
        (0x01, (mode >> 6) & 7, UNDEFINED), // owner
        (0x02, 1, account.uid),             // the server account: search only
        (0x04, group, UNDEFINED),           // owning group
        (0x10, group | 1, UNDEFINED),       // mask
        (0x20, mode & 7, UNDEFINED),        // others
    ];
    let mut buf = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        buf.extend(tag.to_le_bytes());
        buf.extend((perm as u16).to_le_bytes());
        buf.extend(id.to_le_bytes());
    }
    // SAFETY: valid NUL-terminated strings and a buffer of the length given.
    let rc = unsafe {
        libc::setxattr(
            c_path.as_ptr(),
            NAME.as_ptr().cast(),
            buf.as_ptr().cast(),
            buf.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_follows_the_contract_order() {
        let env = |k: &str| match k {
            "XDG_DATA_HOME" => Some("/x/data".to_string()),
            "HOME" => Some("/home/op".to_string()),
            _ => None,
        };
        assert_eq!(
            data_dir(Some(Path::new("/srv/s")), &env).unwrap(),
            PathBuf::from("/srv/s")
        );
        assert_eq!(
            data_dir(None, &env).unwrap(),
            PathBuf::from("/x/data/stackctl")
        );
        let no_xdg = |k: &str| (k == "HOME").then(|| "/home/op".to_string());
        assert_eq!(
            data_dir(None, &no_xdg).unwrap(),
            PathBuf::from("/home/op/.local/share/stackctl")
        );
        assert_eq!(data_dir(None, &|_| None).unwrap_err().exit_code(), 2);
    }

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
