//! Release builds of the binary lay out first the functions every command runs
//! (`scripts/symbol-order.txt`, made by `scripts/symbol_order.py`), so that a command
//! faults in a few windows of code instead of dozens (issue 16; README, *Performance*).
//!
//! The order goes to the linker only where that linker is rust-lld, which Rust 1.90 and
//! later use for x86_64-unknown-linux-gnu: other linkers do not know
//! `--symbol-ordering-file`. A configured linker, or `STACKCTL_SYMBOL_ORDER=0`, leaves it
//! out; the binary is the same program either way, only laid out differently.

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=scripts/symbol-order.txt");
    println!("cargo::rerun-if-env-changed=STACKCTL_SYMBOL_ORDER");
    // Debug and test builds are not laid out for speed: nothing to do, nothing to say.
    if env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    let order = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("scripts")
        .join("symbol-order.txt");
    match obstacle(&order) {
        Some(why) => println!("cargo::warning=functions not laid out in symbol order: {why}"),
        None => {
            println!(
                "cargo::rustc-link-arg-bin=stackctl=-Wl,--symbol-ordering-file={}",
                order.display()
            );
            // Names a later build no longer has are skipped: the layout degrades, the
            // program does not change.
            println!("cargo::rustc-link-arg-bin=stackctl=-Wl,--no-warn-symbol-ordering");
        }
    }
}

/// Why the order cannot be given to this build's linker, or `None` when it can.
fn obstacle(order: &Path) -> Option<String> {
    if env::var("STACKCTL_SYMBOL_ORDER").as_deref() == Ok("0") {
        return Some("STACKCTL_SYMBOL_ORDER=0".into());
    }
    let target = env::var("TARGET").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu" {
        return Some(format!(
            "target {target} does not link with rust-lld by default"
        ));
    }
    if env::var_os("RUSTC_LINKER").is_some() {
        return Some("a linker is configured for the target".into());
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("linker") || flags.contains("link-self-contained") {
        return Some("RUSTFLAGS choose the linker".into());
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            v.lines()
                .find_map(|l| l.strip_prefix("release: ").map(str::to_string))
        })
        .unwrap_or_default();
    let mut parts = version
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (1, 90) {
        return Some(format!(
            "rustc {version} links with the system linker (rust-lld from 1.90)"
        ));
    }
    if !order.is_file() {
        return Some(format!("{} is missing", order.display()));
    }
    None
}
