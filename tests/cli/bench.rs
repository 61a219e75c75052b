//! The benchmark script runs end to end (at a tiny size; its timings are not checked).

use crate::support::Timed as _;
use crate::support::{python, BIN};

#[test]
fn benchmark_script_smoke_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench.py");
    let out = std::process::Command::new(python())
        .args([script, "--smoke", "--bin", BIN, "--data-dir"])
        .arg(dir.path().join("pg"))
        .env_remove("DATABASE_URL")
        .timed_output()
        .expect("run the test venv's python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for figure in [
        "stackctl --version",
        "user list --limit 50",
        "status --check",
        "item list --all -o csv",
        "item import",
        "user import",
        "backup",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(figure)),
            "{figure} missing:\n{stdout}"
        );
    }
    // The instance was stopped and its data removed.
    assert!(!dir.path().join("pg").exists());
}

/// `bench.py --scale` runs end to end at a tiny size: both fixtures (the large one built
/// with its keys and indexes dropped and rebuilt, checked for drift), every command of the
/// side-by-side table, export, import and the hashed user import.
#[test]
fn benchmark_scale_smoke_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench.py");
    let mut cmd = std::process::Command::new(python());
    cmd.args([script, "--smoke", "--scale", "--bin", BIN]);
    let out = cmd
        .arg("--data-dir")
        .arg(dir.path().join("pg"))
        .env_remove("DATABASE_URL")
        .timed_output()
        .expect("run the test venv's python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for figure in [
        "user show USER10@Example.com",
        "--dry-run user add",
        "user list --limit 50 ",
        "user list --search user10@",
        "item list --sort price --desc --limit 50",
        "item list --owner",
        "item show PREFIX",
        "status",
        "item list --all -o csv vs psql \\copy of the same query (large",
        "item import vs psql \\copy FROM (large",
        "user import, 40 precomputed hashes",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(figure)),
            "{figure} missing:\n{stdout}"
        );
    }
    assert!(!dir.path().join("pg").exists());
}
