//! The benchmark script runs end to end (at a tiny size; its timings are not checked).

use crate::support::{python, BIN};

#[test]
fn benchmark_script_smoke_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench.py");
    let out = std::process::Command::new(python())
        .args([script, "--smoke", "--bin", BIN, "--data-dir"])
        .arg(dir.path().join("pg"))
        .env_remove("DATABASE_URL")
        .output()
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
