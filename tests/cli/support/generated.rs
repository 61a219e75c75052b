//! The backend StackWizard's generator writes into every project, fetched at test time:
//! the npm registry's `@rafeekpro/stackwizard` package (MIT), whose
//! `templates/common/backend` the generator copies verbatim. It is unpacked under the
//! target directory and run in a virtual environment of its own with its pinned
//! `requirements.txt` (its SQLAlchemy and Alembic pins differ from the ones the other tests
//! use), driven by `tests/data/stackwizard/drive.py`. Nothing of it is kept in our
//! repository. Never skipped: where npm is missing and cannot be installed, the test fails
//! with the command that installs it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{apt_install, is_root, TestDb, Timed as _};

/// The generator's release the tests run.
const PACKAGE: &str = "@rafeekpro/stackwizard@1.3.0";
const VERSION: &str = "1.3.0";

pub struct Backend {
    /// `templates/common/backend`: the application, as a generated project holds it.
    pub dir: PathBuf,
    pub python: PathBuf,
}

/// The generated backend and a Python that runs it: fetched and installed once per test
/// run, reused across runs.
pub fn backend() -> &'static Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    BACKEND.get_or_init(|| {
        let target = super::python::target_dir();
        std::fs::create_dir_all(&target).expect("create the target directory");
        let lock = File::create(target.join("stackwizard.lock")).expect("create the lock file");
        lock.lock().expect("lock the generated backend's lock file");
        let dir = fetch(&target);
        let python = venv(&target, &dir);
        Backend { dir, python }
    })
}

/// `npm pack` of the package, unpacked into `target/stackwizard-<version>/`.
fn fetch(target: &Path) -> PathBuf {
    let home = target.join(format!("stackwizard-{VERSION}"));
    let backend = home.join("package/templates/common/backend");
    if backend.join("requirements.txt").is_file() && backend.join("app/main.py").is_file() {
        return backend;
    }
    require_npm();
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).expect("create the package directory");
    // npm checks the tarball against the registry's integrity hash.
    let out = Command::new("npm")
        .args(["pack", PACKAGE, "--silent", "--pack-destination"])
        .arg(&home)
        .current_dir(&home)
        .timed_output()
        .expect("run npm pack");
    assert!(
        out.status.success(),
        "npm pack {PACKAGE} failed (the tests fetch the generated StackWizard backend from the npm registry):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tarball = home.join(String::from_utf8_lossy(&out.stdout).trim());
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .current_dir(&home)
        .timed_status()
        .expect("run tar");
    assert!(
        status.success(),
        "tar could not unpack {}",
        tarball.display()
    );
    assert!(
        backend.join("app/main.py").is_file(),
        "{PACKAGE} has no templates/common/backend/app/main.py"
    );
    backend
}

fn require_npm() {
    let has = || {
        Command::new("npm")
            .arg("--version")
            .timed_output()
            .is_ok_and(|o| o.status.success())
    };
    if has() || (is_root() && apt_install(&["nodejs", "npm"]) && has()) {
        return;
    }
    panic!(
        "the tests fetch the generated StackWizard backend with npm, which is not installed: \
         `apt-get install -y nodejs npm`"
    );
}

/// A venv with the backend's pinned requirements, remade when they change.
fn venv(target: &Path, backend: &Path) -> PathBuf {
    let venv = target.join("stackwizard-venv");
    let python = venv.join("bin/python");
    let marker = venv.join("stackctl-requirements.txt");
    let wanted =
        std::fs::read_to_string(backend.join("requirements.txt")).expect("read requirements.txt");
    let ready = std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted)
        && Command::new(&python)
            .args([
                "-c",
                "import fastapi, sqlalchemy, asyncpg, alembic, passlib",
            ])
            .timed_output()
            .is_ok_and(|o| o.status.success());
    if ready {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    super::python::create_venv(&venv);
    let requirements = backend.join("requirements.txt");
    let requirements = requirements.to_str().expect("a UTF-8 path");
    super::python::pip_install(&python, &venv, &["-r", requirements]);
    std::fs::write(&marker, wanted).expect("write the venv's requirement marker");
    python
}

/// `drive.py ARGS` in the backend's directory against `db`; its stdout.
fn drive(db: &TestDb, args: &[&str], stdin: Option<&str>) -> String {
    drive_at(&db.url, args, stdin)
}

fn drive_at(url: &str, args: &[&str], stdin: Option<&str>) -> String {
    let b = backend();
    let mut cmd = Command::new(&b.python);
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/stackwizard/drive.py"))
        .args(args)
        .current_dir(&b.dir)
        .env("DATABASE_URL", url)
        .env("SECRET_KEY", "stackctl-tests-secret")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("run the generated backend");
    let input = stdin.unwrap_or("").as_bytes().to_vec();
    let out = super::child::wait_output(child, Some(input), "the generated backend");
    assert!(
        out.status.success(),
        "the generated backend ({args:?}) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The application's own `alembic upgrade head`, as its docker-compose runs it.
pub fn alembic_upgrade(db: &TestDb) {
    drive(db, &["alembic", "upgrade", "head"], None);
}

/// The application's models' `create_all`, the path without Alembic.
pub fn create_all(db: &TestDb) {
    drive(db, &["create_all"], None);
}

/// Run `steps` against the application (its startup first: the admin and five sample
/// items); one result per step.
pub fn api(db: &TestDb, steps: serde_json::Value) -> Vec<serde_json::Value> {
    api_at(&db.url, steps)
}

/// `api` against the database at `url` (a copy beside the test's database).
pub fn api_at(url: &str, steps: serde_json::Value) -> Vec<serde_json::Value> {
    let out = drive_at(url, &["api"], Some(&steps.to_string()));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("the driver's output: {e}: {out}"))
}
