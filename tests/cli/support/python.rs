//! The Python the tests use to check our work in the application's own libraries
//! (passlib for hashes, SQLAlchemy for schemas): a virtual environment under the target
//! directory, made once and kept across runs, so a fresh machine needs only `python3`
//! with its `venv` module.

use super::Timed as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{apt_install, is_root};

/// What the application pins. A change here rebuilds the environment on the next run.
const REQUIREMENTS: &[&str] = &[
    "passlib==1.7.4",
    "bcrypt==4.0.1",
    "SQLAlchemy==2.0.58",
    // The driver of the Simple DB design's `postgresql+psycopg://` URL.
    "psycopg[binary]==3.2.3",
    // The application's own migrations (alembic.rs runs a project of them).
    "alembic==1.16.5",
];

/// The environment's `python`, with REQUIREMENTS installed. Made at most once per test
/// run (and reused across runs while REQUIREMENTS are unchanged); never skipped: a
/// machine that cannot have it fails the test with the command that fixes it.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

/// Whether the application's passlib (a bcrypt CryptContext) verifies `password` against
/// every one of `hashes`.
pub fn passlib_verifies(password: &str, hashes: &[&str]) -> bool {
    let script = "import sys\nfrom passlib.context import CryptContext\n\
                  c = CryptContext(schemes=['bcrypt'])\n\
                  print(all(c.verify(sys.argv[1], h) for h in sys.argv[2:]))";
    let out = Command::new(python())
        .args(["-c", script, password])
        .args(hashes)
        .timed_output()
        .expect("run the test venv's python");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim() == "True"
}

/// `$CARGO_TARGET_DIR`, else the crate's `target/`.
pub(super) fn target_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => manifest.join(d),
        _ => manifest.join("target"),
    }
}

fn make_venv() -> PathBuf {
    let target = target_dir();
    std::fs::create_dir_all(&target).expect("create the target directory");
    let venv = target.join("test-venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join("stackctl-requirements.txt");
    let wanted = REQUIREMENTS.join("\n") + "\n";
    // Another test process (a second `cargo test`) may be building it right now.
    let lock = File::create(target.join("test-venv.lock")).expect("create the venv lock file");
    lock.lock().expect("lock the venv lock file");

    let ready = std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted)
        && Command::new(&python)
            .args(["-c", "import passlib, bcrypt, sqlalchemy, alembic"])
            .timed_output()
            .is_ok_and(|o| o.status.success());
    if ready {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    create_venv(&venv);
    pip_install(&python, &venv, REQUIREMENTS);
    std::fs::write(&marker, wanted).expect("write the venv's requirement marker");
    python
}

/// `pip install ARGS` into the venv, or a failure that shows pip's output. pip keeps the
/// environment: PIP_FIND_LINKS, PIP_INDEX_URL, proxies, certificates.
pub(super) fn pip_install(python: &Path, venv: &Path, args: &[&str]) {
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(args)
        .timed_output()
        .expect("run the venv's pip");
    assert!(
        out.status.success(),
        "pip could not install {} into {}:\n{}{}",
        args.join(" "),
        venv.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `python3 -m venv DIR`; Debian's python3 lacks the module's pip (ensurepip) until
/// `python3-venv` is installed, which we do when we are root.
pub(super) fn create_venv(venv: &Path) {
    let attempt = || {
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(venv)
            .timed_output()
    };
    let why = match attempt() {
        Ok(out) if out.status.success() => return,
        Ok(out) => {
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr)
        }
        Err(e) => format!("python3: {e}"),
    };
    if is_root() && apt_install(&["python3", "python3-venv"]) {
        match attempt() {
            Ok(out) if out.status.success() => return,
            _ => {}
        }
    }
    panic!(
        "the tests need a Python virtual environment and `python3 -m venv {}` failed \
         ({}); install Python's venv module: `apt-get install -y python3-venv`",
        venv.display(),
        why.trim()
    );
}
