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

/// `bench.py --scale` runs end to end at a tiny size: both fixtures (the large one built
/// with its keys and indexes dropped and rebuilt, checked for drift), every command of the
/// side-by-side table, the floor program, export, import and the hashed user import.
#[test]
fn benchmark_scale_smoke_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench.py");
    // `cargo test` builds the examples beside the binary (`--test cli` alone does not:
    // then the floor's figure is left out).
    let floor = std::path::Path::new(BIN)
        .parent()
        .unwrap()
        .join("examples/pq_floor");
    let mut cmd = std::process::Command::new(python());
    cmd.args([script, "--smoke", "--scale", "--bin", BIN]);
    if floor.is_file() {
        cmd.arg("--floor").arg(&floor);
    }
    let out = cmd
        .arg("--data-dir")
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
        "user show USER10@Example.com",
        "--dry-run user add",
        "user list --limit 50 ",
        "user list --search user10@",
        "item list --sort price --desc --limit 50",
        "item list --owner",
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
    if floor.is_file() {
        assert!(
            stdout.contains("user list --limit 50 vs the floor program (large)"),
            "{stdout}"
        );
    }
    assert!(!dir.path().join("pg").exists());
}

/// The binary defines `pow` and `log2`, the only C maths functions its dependencies call
/// (src/main.rs), so the loader maps no libm.so at each command's start. A dependency
/// that starts calling another one brings it back, and this test fails.
#[test]
fn the_binary_needs_no_libm() {
    let readelf = |args: &[&str]| {
        let out = std::process::Command::new("readelf")
            .args(args)
            .arg(BIN)
            .output()
            .expect("readelf (Debian package binutils, which gcc brings) must be installed");
        assert!(out.status.success(), "readelf {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    };
    let needed = readelf(&["-d", "-W"]);
    assert!(
        needed.contains("(NEEDED)"),
        "no dynamic section read:\n{needed}"
    );
    assert!(
        !needed.contains("libm.so"),
        "stackctl needs libm.so again: a dependency calls a C maths function other than pow \
         and log2 (compare `readelf --dyn-syms -W` of the binary with `nm -D` of libm.so.6); \
         define it in src/main.rs from the libm crate"
    );
}
