//! The backup checks of `status --check`: the newest verified backup's age, and the free
//! space beside it.

use std::path::Path;

use chrono::Utc;
use serde_json::{json, Value};

use super::{check, Check, State};

fn human_age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

pub(super) fn backup_checks(
    dir: &Path,
    database: &str,
    max_age: chrono::TimeDelta,
    out: &mut Vec<Check>,
) {
    let max = max_age.num_seconds();
    let found = crate::backup::catalog::newest_backup(dir, database);
    // Backups newer than the newest good one that fail their check: a WARNING at least.
    let failed = if found.failed.is_empty() {
        String::new()
    } else {
        format!(
            "; newer backup(s) failing their checksum or manifest: {}",
            found.failed.join(", ")
        )
    };
    let floor = if failed.is_empty() {
        State::Ok
    } else {
        State::Warning
    };
    let newest = found.verified;
    let newest_size = newest.as_ref().map(|(_, m)| m.size).unwrap_or(0);
    out.push(match &newest {
        None => check(
            "backup_age",
            State::Critical,
            Value::Null,
            json!({"warning_s": max, "critical_s": 2 * max}),
            format!(
                "no verified backup of {database} in {}{failed}",
                dir.display()
            ),
        ),
        Some((path, m)) => {
            let age = (Utc::now() - m.started_at).num_seconds().max(0);
            let state = if age > 2 * max {
                State::Critical
            } else if age > max {
                State::Warning
            } else {
                State::Ok
            }
            .max(floor);
            Check {
                perf: Some(format!("backup_age={age}s;{max};{};0", 2 * max)),
                ..check(
                    "backup_age",
                    state,
                    json!(age),
                    json!({"warning_s": max, "critical_s": 2 * max}),
                    format!(
                        "newest backup {} is {} old{failed}",
                        path.file_name().unwrap_or_default().to_string_lossy(),
                        human_age(age)
                    ),
                )
            }
        }
    });
    out.push(match free_space(dir) {
        None => check(
            "backup_space",
            State::Unknown,
            Value::Null,
            Value::Null,
            format!("cannot read the free space of {}", dir.display()),
        ),
        Some((free, total)) => {
            let pct = if total > 0 { free as f64 * 100.0 / total as f64 } else { 0.0 };
            let state = if free < newest_size || pct < 5.0 {
                State::Critical
            } else if free < 2 * newest_size || pct < 10.0 {
                State::Warning
            } else {
                State::Ok
            };
            Check {
                perf: Some(format!("backup_free={free}B;;;0;{total}")),
                ..check(
                    "backup_space",
                    state,
                    json!({"free_bytes": free, "free_percent": (pct * 10.0).round() / 10.0}),
                    json!({"warning": "2 x newest backup or 10%", "critical": "1 x newest backup or 5%"}),
                    format!("{:.1} GiB free ({pct:.0}%)", free as f64 / 1073741824.0),
                )
            }
        }
    });
}

/// Bytes free to an unprivileged user, and the file system's size.
fn free_space(dir: &Path) -> Option<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    let bs = st.fragment_size() as u64;
    Some((st.blocks_available() as u64 * bs, st.blocks() as u64 * bs))
}
