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
/// `~/.local/share/stackctl` (as root: `/var/lib/stackctl`, which the `postgres` account
/// reaches without stackctl changing the permissions of anything outside it); made
/// absolute against the current directory.
pub fn data_dir(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    data_dir_for(flag, env, is_root())
}

/// The directory root's embedded instance lives in when nothing else is configured.
pub const ROOT_DATA_DIR: &str = "/var/lib/stackctl";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn data_dir_for(
    flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    root: bool,
) -> Result<PathBuf> {
    let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
    let dir = match flag.filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => match nonempty("XDG_DATA_HOME").filter(|v| Path::new(v).is_absolute()) {
            Some(xdg) => Path::new(&xdg).join("stackctl"),
            None if root => PathBuf::from(ROOT_DATA_DIR),
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
    if !is_root() {
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
                 port = {PORT}\n",
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

/// As root, the server account must be able to reach the data directory through every
/// parent. stackctl never changes the permissions of anything outside the data directory to
/// make it so: it says which directory stops the account and what to use instead.
fn check_reach(dir: &Path, account: &Account) -> Result<()> {
    for parent in dir.ancestors().skip(1) {
        let meta = std::fs::metadata(parent)?;
        let mode = meta.mode();
        let searchable = if meta.uid() == account.uid {
            mode & 0o100 != 0
        } else if meta.gid() == account.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            return Err(Error::unreachable(format!(
                "the {} account, which runs the embedded server, cannot enter {} to reach {}",
                account.name,
                parent.display(),
                dir.display()
            ))
            .with_hint(format!(
                "leave --data-dir / STACKCTL_DATA_DIR / XDG_DATA_HOME unset to use {ROOT_DATA_DIR}, or choose a directory the {} account can reach",
                account.name
            )));
        }
    }
    Ok(())
}

/// Open `path` for writing inside a directory another account owns (the cluster's, as
/// root), never following a symbolic link there, and give the file to `account`: a link
/// planted by whoever can act as that account must not make root write or take over any
/// other file.
fn write_private(
    path: &Path,
    contents: &str,
    append: bool,
    account: Option<&Account>,
) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = OpenOptions::new();
    opts.write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW);
    if append {
        opts.append(true);
    } else {
        opts.truncate(true);
    }
    let mut file = opts.open(path).map_err(|e| refuse_link(path, e))?;
    if let Some(a) = account {
        std::os::unix::fs::fchown(&file, Some(a.uid), Some(a.gid))?;
    }
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// A symbolic link where stackctl expected its own file or directory: refused.
fn refuse_link(path: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) {
        Error::failure(format!(
            "{} is a symbolic link, or not what stackctl made there: refusing to follow it",
            path.display()
        ))
        .with_hint("remove it, then run the command again")
    } else {
        Error::failure(format!("cannot open {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_defaults_to_var_lib_stackctl() {
        let home = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(
            data_dir_for(None, &home, true).unwrap(),
            PathBuf::from(ROOT_DATA_DIR)
        );
        assert_eq!(
            data_dir_for(None, &|_| None, true).unwrap(),
            PathBuf::from(ROOT_DATA_DIR)
        );
        let xdg = |k: &str| (k == "XDG_DATA_HOME").then(|| "/srv/x".to_string());
        assert_eq!(
            data_dir_for(None, &xdg, true).unwrap(),
            PathBuf::from("/srv/x/stackctl")
        );
    }

    #[test]
    fn data_dir_follows_the_contract_order() {
        let env = |k: &str| match k {
            "XDG_DATA_HOME" => Some("/x/data".to_string()),
            "HOME" => Some("/home/op".to_string()),
            _ => None,
        };
        assert_eq!(
            data_dir_for(Some(Path::new("/srv/s")), &env, false).unwrap(),
            PathBuf::from("/srv/s")
        );
        assert_eq!(
            data_dir_for(None, &env, false).unwrap(),
            PathBuf::from("/x/data/stackctl")
        );
        let no_xdg = |k: &str| (k == "HOME").then(|| "/home/op".to_string());
        assert_eq!(
            data_dir_for(None, &no_xdg, false).unwrap(),
            PathBuf::from("/home/op/.local/share/stackctl")
        );
        assert_eq!(
            data_dir_for(None, &|_| None, false)
                .unwrap_err()
                .exit_code(),
            2
        );
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
