//! A real PgBouncer in front of the test server, started on demand, one per pool mode
//! per test run: production puts one between stackctl and PostgreSQL, and transaction
//! pooling breaks anything that keeps state in a session.

use super::Timed as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{apt_install, free_port, is_root, psql_at, server, server_dir, watchdog};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// A server connection per transaction: sessions share backends.
    Transaction,
    /// A server connection per client connection.
    Session,
}

impl PoolMode {
    fn name(self) -> &'static str {
        match self {
            PoolMode::Transaction => "transaction",
            PoolMode::Session => "session",
        }
    }
}

/// Roles a client may log in as through a bouncer from the start; `allow_role` adds more.
/// (PgBouncer's `trust` still wants every user named in its auth_file.)
const ROLES: &[&str] = &[
    "postgres",
    "stackctl_app",
    "stackctl_ro",
    "stackctl_owner",
    "stackctl_noext",
];

/// A running PgBouncer on 127.0.0.1.
pub struct Bouncer {
    pub port: u16,
    pub mode: PoolMode,
    pub dir: PathBuf,
    /// The user (as written in the server's URL) the harness connects as.
    user: String,
    /// Serialises edits of the auth file.
    auth: Mutex<()>,
}

/// The bouncer for `mode`, started on first use and stopped when the test process ends.
pub fn pgbouncer(mode: PoolMode) -> &'static Bouncer {
    static TRANSACTION: OnceLock<Bouncer> = OnceLock::new();
    static SESSION: OnceLock<Bouncer> = OnceLock::new();
    let cell = match mode {
        PoolMode::Transaction => &TRANSACTION,
        PoolMode::Session => &SESSION,
    };
    cell.get_or_init(|| start(mode))
}

impl Bouncer {
    /// A URL for database `db` through this bouncer (no password: the bouncer trusts).
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://{}@127.0.0.1:{}/{db}", self.user, self.port)
    }

    /// A URL for database `db` through this bouncer, logging in as `role` (see `allow_role`).
    pub fn url_as(&self, role: &str, db: &str) -> String {
        format!("postgresql://{role}@127.0.0.1:{}/{db}", self.port)
    }

    /// Run SQL on `db` through this bouncer with the harness's psql.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        psql_at(server(), &self.url(db), sql)
    }

    /// A command on PgBouncer's admin console (`SHOW CONFIG`, `SHOW POOLS`, `RELOAD`).
    pub fn admin(&self, command: &str) -> String {
        psql_at(
            server(),
            &format!("postgresql://postgres@127.0.0.1:{}/pgbouncer", self.port),
            command,
        )
    }

    /// Let clients log in as `role` too (the role itself must exist on the server).
    pub fn allow_role(&self, role: &str) {
        let _guard = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        let file = self.dir.join("userlist.txt");
        let list = std::fs::read_to_string(&file).expect("read the bouncer's auth file");
        let line = format!("{} \"\"\n", quoted(role));
        if list.lines().any(|l| l.starts_with(&quoted(role))) {
            return;
        }
        std::fs::write(&file, list + &line).expect("write the bouncer's auth file");
        self.admin("RELOAD");
    }
}

/// A name in auth_file syntax: double quotes, a quote doubled.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The pgbouncer binary: PGBOUNCER_BIN, Debian's /usr/sbin, PATH, or installed by apt
/// when we are root.
fn binary() -> PathBuf {
    let find = || {
        if let Some(p) = std::env::var_os("PGBOUNCER_BIN") {
            return Some(PathBuf::from(p));
        }
        let sbin = PathBuf::from("/usr/sbin/pgbouncer");
        if sbin.is_file() {
            return Some(sbin);
        }
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("pgbouncer"))
                .find(|b| b.is_file())
        })
    };
    if let Some(b) = find() {
        return b;
    }
    // Debian's package may also start a system service on port 6432; ours never uses it.
    if apt_install(&["pgbouncer"]) {
        if let Some(b) = find() {
            return b;
        }
    }
    panic!(
        "PgBouncer is needed for the pooler tests and was not found: \
         `apt-get install -y pgbouncer` (or set PGBOUNCER_BIN to the binary)"
    );
}

/// Host, port, user (as written) and password (decoded) of the server's base URL.
struct Upstream {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
}

fn upstream() -> Upstream {
    let server = server();
    if let Some((_, port)) = &server.own {
        return Upstream {
            host: "127.0.0.1".into(),
            port: *port,
            user: "postgres".into(),
            password: None,
        };
    }
    // TEST_DATABASE_URL: scheme://[user[:password]@]host[:port], maybe ?host=... and ?port=...
    let base = &server.base;
    let rest = base.split_once("://").map_or(base.as_str(), |(_, r)| r);
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((u, p)) => (u.to_string(), Some(percent_decode(p))),
            None => (u.to_string(), None),
        },
        None => (
            std::env::var("USER").unwrap_or_else(|_| "postgres".into()),
            None,
        ),
    };
    let (mut host, mut port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, p) = h.split_once(']').unwrap_or((h, ""));
        (h.to_string(), p.trim_start_matches(':').to_string())
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (hostport.to_string(), String::new()),
        }
    };
    for pair in server.query.trim_start_matches('?').split('&') {
        match pair.split_once('=') {
            Some(("host", v)) => host = percent_decode(v),
            Some(("port", v)) => port = v.to_string(),
            _ => {}
        }
    }
    Upstream {
        host: if host.is_empty() {
            "localhost".into()
        } else {
            percent_decode(&host)
        },
        port: port.parse().unwrap_or(5432),
        user,
        password,
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'%', Some(v)) = (b[i], hex) {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn start(mode: PoolMode) -> Bouncer {
    let bin = binary();
    let up = upstream();
    let port = free_port();
    let name = format!("pgbouncer-{}", mode.name());
    let write_config = |dir: &Path| {
        // The harness's user logs in to the server with its own password, if it has one.
        let me = percent_decode(&up.user);
        let mut users: Vec<String> = ROLES
            .iter()
            .filter(|r| **r != me)
            .map(|r| format!("{} \"\"", quoted(r)))
            .collect();
        let pw = up.password.as_deref().unwrap_or("").replace('"', "\"\"");
        users.insert(0, format!("{} \"{pw}\"", quoted(&me)));
        std::fs::write(dir.join("userlist.txt"), users.join("\n") + "\n")
            .expect("write the bouncer's auth file");
        let ini = format!(
            "[databases]\n\
             * = host={host} port={upstream_port}\n\
             \n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir = {dir}\n\
             auth_type = trust\n\
             auth_file = {dir}/userlist.txt\n\
             admin_users = postgres\n\
             pool_mode = {mode}\n\
             default_pool_size = 2\n\
             max_client_conn = 200\n\
             ignore_startup_parameters = extra_float_digits,options\n\
             server_reset_query = DISCARD ALL\n\
             server_tls_sslmode = {tls}\n\
             logfile = {dir}/pgbouncer.log\n\
             pidfile = {dir}/pgbouncer.pid\n",
            host = up.host,
            upstream_port = up.port,
            dir = dir.display(),
            mode = mode.name(),
            tls = if server().own.is_some() {
                "disable"
            } else {
                "prefer"
            },
        );
        std::fs::write(dir.join("pgbouncer.ini"), ini).expect("write pgbouncer.ini");
    };
    let dir = server_dir(&name, &write_config);
    // PgBouncer refuses to run as root.
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd
        .arg("-d")
        .arg(dir.join("pgbouncer.ini"))
        .stdin(Stdio::null())
        .timed_output()
        .expect("run pgbouncer");
    // SIGTERM: immediate shutdown.
    watchdog(&format!(
        "kill -TERM $(cat '{dir}/pgbouncer.pid') 2>/dev/null; sleep 1; rm -rf '{dir}'",
        dir = dir.display()
    ));
    let log = || std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "pgbouncer -d failed: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        log()
    );
    // It forks before it writes its pid file; it is ready once the pid file is there and
    // the port answers.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !dir.join("pgbouncer.pid").is_file()
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    {
        assert!(
            Instant::now() < deadline,
            "pgbouncer did not start listening on {port}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Bouncer {
        port,
        mode,
        dir,
        user: up.user,
        auth: Mutex::new(()),
    }
}
