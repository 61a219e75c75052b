//! The PostgreSQL harness. One cluster per test run (TEST_DATABASE_URL, or a throwaway
//! cluster from the machine's server binaries), a migrated template database made once
//! by the real binary, and a fresh copy of it for each test. A failed test keeps its
//! database for inspection. On demand: a PgBouncer per pool mode in front of that server
//! (bouncer.rs), a hot standby of it (standby.rs), a second cluster with TLS on, and the
//! Python venv with the application's libraries (python.rs).

mod bouncer;
mod child;
pub mod generated;
mod python;
mod standby;

pub use bouncer::{pgbouncer, Bouncer, PoolMode};
pub use child::{wait_output, Timed};
pub use python::{passlib_verifies, python};
pub use standby::standby;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

pub const BIN: &str = env!("CARGO_BIN_EXE_stackctl");

/// The contract's keys for a user and an item, written out here on their own so that a
/// change to the code's lists cannot silently change what the tests expect.
pub const USER_KEYS: [&str; 8] = [
    "id",
    "email",
    "username",
    "full_name",
    "is_active",
    "is_superuser",
    "created_at",
    "updated_at",
];
pub const ITEM_KEYS: [&str; 9] = [
    "id",
    "title",
    "description",
    "price",
    "is_available",
    "owner_id",
    "owner_email",
    "created_at",
    "updated_at",
];
const TEMPLATE: &str = "stackctl_template";

struct Server {
    /// URL of the server without a database name, e.g. `postgresql://postgres@127.0.0.1:5433`.
    base: String,
    /// Query string to append (from TEST_DATABASE_URL), starting with `?` or empty.
    query: String,
    psql: PathBuf,
    /// Our own cluster's directory and port, when we started one.
    own: Option<(PathBuf, u16)>,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => external(&url),
            _ => {
                // Before the server starts: a server process never sees a locale made
                // after it began (glibc maps the locale archive once).
                make_german_locale();
                start_cluster()
            }
        };
        make_template(&server);
        server
    })
}

fn external(url: &str) -> Server {
    let (without_query, query) = match url.split_once('?') {
        Some((a, q)) => (a.to_string(), format!("?{q}")),
        None => (url.to_string(), String::new()),
    };
    let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
    let base = match without_query[scheme_end..].find('/') {
        Some(i) => without_query[..scheme_end + i].to_string(),
        None => without_query.clone(),
    };
    Server {
        base,
        query,
        psql: find_bindir()
            .map(|d| d.join("psql"))
            .unwrap_or_else(|| PathBuf::from("psql")),
        own: None,
    }
}

/// The server binaries: `pg_config --bindir`, the newest `/usr/lib/postgresql/*/bin`, or PATH.
pub fn find_bindir() -> Option<PathBuf> {
    let has_initdb = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Ok(d) = std::env::var("PG_BIN") {
        let d = PathBuf::from(d);
        if has_initdb(&d) {
            return Some(d);
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").timed_output() {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_initdb(&d) {
            return Some(d);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let d = e.path().join("bin");
            has_initdb(&d).then_some((v, d))
        })
        .collect();
    versions.sort();
    if let Some((_, d)) = versions.pop() {
        return Some(d);
    }
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).find(|d| has_initdb(d)))
}

/// Whether the machine has the locale de_DE.UTF-8 (a server speaking German: the
/// language tests), made with `localedef` when it lacks it and this runs as root.
pub fn make_german_locale() -> bool {
    static MADE: OnceLock<bool> = OnceLock::new();
    *MADE.get_or_init(|| {
        let has = || {
            Command::new("locale")
                .arg("-a")
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .any(|l| l.eq_ignore_ascii_case("de_DE.utf8"))
                })
                .unwrap_or(false)
        };
        if has() || !is_root() {
            return has();
        }
        if !Path::new("/usr/share/i18n/locales/de_DE").exists() && !apt_install(&["locales"]) {
            return false;
        }
        Command::new("localedef")
            .args(["-i", "de_DE", "-f", "UTF-8", "de_DE.UTF-8"])
            .status()
            .is_ok_and(|s| s.success())
            && has()
    })
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// A command for a server binary, run as `postgres` when we are root.
fn pg_command(bin: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn start_cluster() -> Server {
    start_cluster_in("pg", "", &|_| {})
}

/// A cluster of our own in `<tmp>/stackctl-test-<name>-<pid>`, with extra `postgres`
/// options; `prep` runs on the directory (owned by the server's account) before start.
fn start_cluster_in(name: &str, extra: &str, prep: &dyn Fn(&Path)) -> Server {
    let bindir = find_bindir().unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found.\n\
             Install them: `apt-get install -y postgresql` (Debian/Ubuntu) or \
             `dnf install postgresql-server` (Fedora), or set PG_BIN to their directory, \
             or set TEST_DATABASE_URL to a server the tests may create databases on."
        )
    });
    let dir = server_dir(name, prep);
    let data = dir.join("data");
    let out = pg_command(&bindir.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .timed_output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    pg_start(&bindir, &dir, &data, port, extra);
    Server {
        base: format!("postgresql://postgres@127.0.0.1:{port}"),
        query: String::new(),
        psql: bindir.join("psql"),
        own: Some((dir, port)),
    }
}

/// A fresh directory `<tmp>/stackctl-test-<name>-<pid>` for a server of ours, owned by the
/// account the servers run as; `prep` fills it first.
fn server_dir(name: &str, prep: &dyn Fn(&Path)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stackctl-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a server directory");
    prep(&dir);
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .timed_status()
            .expect("chown")
            .success();
        assert!(ok, "cannot give {} to the postgres account", dir.display());
    }
    dir
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Start the cluster in `data` on `port` (sockets and log in `dir`), and a watchdog that
/// stops it and removes `dir` once this test process is gone.
fn pg_start(bindir: &Path, dir: &Path, data: &Path, port: u16, extra: &str) {
    // Each log line names its database, so a test can read the plans auto_explain logs for
    // its own database (plans.rs) while other tests run.
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=200 -c log_line_prefix='%m [%p] db=%d ' {extra}",
        dir.display()
    );
    let out = pg_command(&bindir.join("pg_ctl"))
        .arg("-D")
        .arg(data)
        .args(["-w", "-t", "60", "-l"])
        .arg(dir.join("server.log"))
        .args(["-o", &opts, "start"])
        .stdout(Stdio::null())
        .timed_output()
        .expect("run pg_ctl");
    assert!(
        out.status.success(),
        "pg_ctl start failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
    let prefix = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    watchdog(&format!(
        "{prefix}'{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pg_ctl = bindir.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    ));
}

/// Run the shell command `cleanup` once this test process is gone (however it ends).
fn watchdog(cleanup: &str) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {cleanup}",
        pid = std::process::id(),
    );
    use std::os::unix::process::CommandExt;
    // It must outlive this process, so it is never waited for.
    #[expect(clippy::zombie_processes)]
    let _watchdog = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start a watchdog");
}

/// Install Debian packages as root: `apt-get install`, and once more after `apt-get
/// update` if that failed (a fresh machine has no package lists). False when not root
/// or apt cannot get them.
pub(crate) fn apt_install(packages: &[&str]) -> bool {
    static APT: Mutex<()> = Mutex::new(());
    if !is_root() {
        return false;
    }
    let _guard = APT.lock().unwrap_or_else(|e| e.into_inner());
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .timed_status()
            .is_ok_and(|s| s.success())
    };
    if install() {
        return true;
    }
    let _ = Command::new("apt-get")
        .args(["update", "-qq"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .timed_status();
    install()
}

/// A second cluster of our own with TLS on: a CA and a server certificate for
/// `localhost` and 127.0.0.1 made here with openssl. Returns (port, CA certificate path).
pub fn tls_server() -> &'static (u16, PathBuf) {
    static TLS: OnceLock<(u16, PathBuf)> = OnceLock::new();
    TLS.get_or_init(|| {
        // The certificates live in the cluster's directory, removed with it.
        let prep = move |dir: &Path| {
            let ssl = |args: &[&str]| {
                let out = Command::new("openssl")
                    .args(args)
                    .current_dir(dir)
                    .timed_output()
                    .expect("openssl is needed for the TLS tests: apt-get install -y openssl");
                assert!(
                    out.status.success(),
                    "openssl {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            // A self-signed CA: `name.key`, `name.crt`.
            let ca = |name: &str, subject: &str| {
                let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
                ssl(&[
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &crt,
                    "-days", "2", "-subj", subject,
                ]);
            };
            ca("ca", "/CN=stackctl test CA");
            ssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ]);
            std::fs::write(
                dir.join("ext"),
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
            )
            .unwrap();
            ssl(&[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "ext",
            ]);
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            // Another CA, which did not sign the server's certificate.
            ca("other-ca", "/CN=some other CA");
        };
        let tmp = std::env::temp_dir().join(format!("stackctl-test-tls-{}", std::process::id()));
        let server = start_cluster_in(
            "tls",
            &format!(
                "-c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                tmp.display()
            ),
            &prep,
        );
        let (dir, port) = server.own.expect("own cluster");
        (port, dir)
    })
}

/// A server of our own with TLS off: the main cluster when we started it, else one more.
pub fn plain_server_port() -> u16 {
    if let Some((_, port)) = &server().own {
        return *port;
    }
    static PLAIN: OnceLock<u16> = OnceLock::new();
    *PLAIN.get_or_init(|| {
        start_cluster_in("plain", "", &|_| {})
            .own
            .map(|(_, p)| p)
            .expect("own cluster")
    })
}

fn make_template(server: &Server) {
    let admin = format!("{}/postgres{}", server.base, server.query);
    psql_at(
        server,
        &admin,
        &format!("DROP DATABASE IF EXISTS {TEMPLATE}"),
    );
    psql_at(
        server,
        &admin,
        &format!("CREATE DATABASE {TEMPLATE} TEMPLATE template0"),
    );
    let url = format!("{}/{TEMPLATE}{}", server.base, server.query);
    let out = Command::new(BIN)
        .args(["migrate", "--database-url", &url])
        .timed_output()
        .expect("run stackctl migrate");
    assert!(
        out.status.success(),
        "migrating the template failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test that checks what stackctl does as root (CI runs the suite as root) fails, never
/// passes, when run as another account.
pub fn require_root() {
    assert!(
        is_root(),
        "this test checks what stackctl does as root: run the suite as root (CI does), or \
         leave it out with `cargo test -- --skip as_root_`"
    );
}

/// The server log of the cluster the harness started (none with TEST_DATABASE_URL).
pub fn server_log() -> Option<PathBuf> {
    server().own.as_ref().map(|(dir, _)| dir.join("server.log"))
}

/// Run SQL at any URL with the harness's psql; psql's unaligned, tuples-only output.
pub fn psql(url: &str, sql: &str) -> String {
    psql_at(server(), url, sql)
}

/// The harness's psql (from the server binaries' directory when there is one).
pub fn psql_bin() -> PathBuf {
    server().psql.clone()
}

fn psql_at(server: &Server, url: &str, sql: &str) -> String {
    let out = Command::new(&server.psql)
        .args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        // The tests' own SQL names stackctl's tables (in the schema stackctl) unqualified,
        // as it names the application's.
        .env("PGOPTIONS", "-c search_path=public,stackctl")
        .timed_output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// A database of one test's own.
pub struct TestDb {
    pub name: String,
    pub url: String,
    /// A directory the commands run in (no stray .env), removed at the end.
    pub dir: tempfile::TempDir,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static CREATE_LOCK: Mutex<()> = Mutex::new(());

impl TestDb {
    /// A copy of the migrated template.
    pub fn new() -> TestDb {
        Self::create(TEMPLATE)
    }

    /// An empty database: nothing migrated.
    pub fn empty() -> TestDb {
        Self::create("template0")
    }

    fn create(template: &str) -> TestDb {
        let server = server();
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        {
            let _guard = CREATE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            let admin = format!("{}/postgres{}", server.base, server.query);
            psql_at(
                server,
                &admin,
                &format!("CREATE DATABASE {name} TEMPLATE {template}"),
            );
        }
        TestDb {
            url: format!("{}/{name}{}", server.base, server.query),
            name,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The server's base URL (no database), for tests that build their own URLs.
    pub fn server_base() -> String {
        server().base.clone()
    }

    /// Run SQL and return psql's unaligned, tuples-only output.
    pub fn sql(&self, sql: &str) -> String {
        psql_at(server(), &self.url, sql)
    }

    /// stackctl aimed at this database through DATABASE_URL.
    pub fn cmd(&self) -> Cmd {
        let mut c = Cmd::bare(self.dir.path());
        c.cmd.env("DATABASE_URL", &self.url);
        c
    }

    /// stackctl in this test's directory, aimed at `url` through DATABASE_URL (this
    /// database through a pooler or on the standby, say).
    pub fn cmd_url(&self, url: &str) -> Cmd {
        let mut c = Cmd::bare(self.dir.path());
        c.cmd.env("DATABASE_URL", url);
        c
    }

    /// This database's URL through `bouncer`.
    pub fn via(&self, bouncer: &Bouncer) -> String {
        bouncer.url(&self.name)
    }

    /// stackctl aimed at this database through `bouncer` (DATABASE_URL).
    pub fn cmd_via(&self, bouncer: &Bouncer) -> Cmd {
        self.cmd_url(&self.via(bouncer))
    }

    /// stackctl aimed at this database on the standby, once the standby has replayed
    /// everything written on the primary so far.
    pub fn cmd_standby(&self) -> Cmd {
        let standby = standby();
        standby.catch_up(&self.name);
        self.cmd_url(&standby.url(&self.name))
    }

    /// Run stackctl with these arguments.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).run()
    }

    /// Run stackctl, expecting success.
    pub fn ok(&self, args: &[&str]) -> Run {
        self.run(args).success()
    }

    /// `backup --dir DIR EXTRA...`: the path of the dump it wrote.
    pub fn backup_file(&self, dir: &Path, extra: &[&str]) -> PathBuf {
        let mut args = vec!["backup", "--dir", dir.to_str().expect("a UTF-8 path")];
        args.extend_from_slice(extra);
        let m = self.json(&args);
        dir.join(m["file"].as_str().expect("the manifest names its file"))
    }

    /// `-o json` output parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["-o", "json"];
        all.extend_from_slice(args);
        self.ok(&all).json()
    }

    /// `user add` with the password fed to `--password-stdin`; more flags may follow.
    pub fn user_add(&self, email: &str, username: &str, password: &str) -> Cmd {
        self.cmd()
            .args(&["user", "add", "--email", email, "--username", username])
            .args(&["--password-stdin"])
            .stdin(password)
    }

    /// A user added with a password from stdin; returns its JSON.
    pub fn add_user(&self, email: &str, username: &str) -> serde_json::Value {
        self.user_add(email, username, "password123\n")
            .args(&["-o", "json"])
            .run()
            .success()
            .json()
    }

    /// A user added as `add_user` does; returns its id.
    pub fn add_user_id(&self, email: &str, username: &str) -> String {
        self.add_user(email, username)["id"]
            .as_str()
            .expect("the new user's id")
            .to_string()
    }

    /// A checksum of both tables, to prove a command changed no data.
    pub fn checksum(&self) -> String {
        self.sql(
            "SELECT md5(coalesce((SELECT string_agg(u::text, '|' ORDER BY id) FROM users u), '') \
             || '#' || coalesce((SELECT string_agg(i::text, '|' ORDER BY id) FROM items i), ''))",
        )
    }

    /// `checksum` plus the audit trail and the migration record: nothing written at all.
    pub fn checksum_all(&self) -> String {
        self.sql(
            "SELECT md5((SELECT coalesce(string_agg(a::text, '|' ORDER BY id), '') FROM stackctl_audit a) \
             || '#' || (SELECT string_agg(version, ',' ORDER BY version) FROM __diesel_schema_migrations))",
        ) + &self.checksum()
    }

    /// Rows in the audit trail.
    pub fn audit_rows(&self) -> usize {
        self.sql("SELECT count(*) FROM stackctl_audit")
            .parse()
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept database {} for inspection: {}", self.name, self.url);
            return;
        }
        let server = server();
        let admin = format!("{}/postgres{}", server.base, server.query);
        let _ = Command::new(&server.psql)
            .args(["-X", "-q", "-d", &admin, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .timed_output();
    }
}

/// A stackctl invocation being built.
pub struct Cmd {
    pub cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    /// stackctl with a clean environment: no DATABASE_URL, low bcrypt cost, no colour,
    /// and HOME set to `dir` so an embedded instance never lands in the real home.
    pub fn bare(dir: &Path) -> Cmd {
        let mut cmd = Command::new(BIN);
        if is_root() {
            // Root's embedded instance defaults to /var/lib/stackctl, and its server runs as
            // `postgres`, which stackctl never lets through a parent's permissions: a test's
            // instance lives where a user's would (HOME/.local/share/stackctl, named
            // through XDG_DATA_HOME), in a directory that account may enter.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711));
            cmd.env("XDG_DATA_HOME", dir.join(".local/share"));
        } else {
            cmd.env_remove("XDG_DATA_HOME");
        }
        cmd.current_dir(dir)
            .env("HOME", dir)
            .env_remove("STACKCTL_DATA_DIR")
            .env_remove("STACKCTL_PG_BIN")
            .env_remove("DATABASE_URL")
            .env_remove("DIRECT_DATABASE_URL")
            .env_remove("DATABASE_SSL_MODE")
            .env_remove("STACKCTL_LAYOUT")
            .env_remove("PGOPTIONS")
            .env_remove("RUST_BACKTRACE")
            .env("STACKCTL_BCRYPT_COST", "4")
            .env("NO_COLOR", "1");
        Cmd { cmd, stdin: None }
    }

    pub fn args(mut self, args: &[&str]) -> Cmd {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Cmd {
        self.cmd.env(k, v);
        self
    }

    pub fn stdin(mut self, input: &str) -> Cmd {
        self.stdin = Some(input.as_bytes().to_vec());
        self
    }

    /// Raw bytes on stdin (not necessarily UTF-8).
    pub fn stdin_bytes(mut self, input: Vec<u8>) -> Cmd {
        self.stdin = Some(input);
        self
    }

    pub fn run(mut self) -> Run {
        self.cmd
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let what = child::describe(&self.cmd);
        let child = self.cmd.spawn().expect("spawn stackctl");
        Run::from(wait_output(child, self.stdin.take(), &what))
    }
}

/// What a stackctl run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    /// Assert the exit code, one `error:` line, and no panic.
    pub fn fails(self, code: i32) -> Run {
        assert_eq!(self.code, code, "wrong exit code: {self:#?}");
        assert_eq!(
            self.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "expected one error line: {self:#?}"
        );
        assert!(!self.stderr.contains("panicked"), "panic: {self:#?}");
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// CSV output as (header, rows).
    pub fn csv(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = csv::Reader::from_reader(self.stdout.as_bytes());
        let header = r
            .headers()
            .expect("csv header")
            .iter()
            .map(String::from)
            .collect();
        let rows = r
            .records()
            .map(|rec| rec.expect("csv row").iter().map(String::from).collect())
            .collect();
        (header, rows)
    }
}

/// Another session (straight to the server) that takes `lock` and sleeps `secs` in one
/// transaction; returned once the lock is held.
pub fn hold(db: &TestDb, lock: &str, secs: u32) -> std::process::Child {
    let child = Command::new(psql_bin())
        .args(["-X", "-q", "-d", &db.url, "-c"])
        .arg(format!("BEGIN; {lock}; SELECT pg_sleep({secs}); COMMIT;"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND query LIKE '%pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()",
    ) == "0"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the locking session never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}
