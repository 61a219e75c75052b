//! Which backups to keep: `--keep N` and grandfather-father-son calendar rules.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use super::catalog::{self, Standing};
use super::directory::{self, DirLock};
use super::{files, manifest, Log};
use crate::error::Result;

/// The retention rules; a backup any rule keeps is kept.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub keep: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
}

impl Rules {
    /// Whether any rule was given.
    pub fn any(&self) -> bool {
        self.keep.is_some()
            || self.keep_daily.is_some()
            || self.keep_weekly.is_some()
            || self.keep_monthly.is_some()
    }
}

/// Which backups the rules keep, and why. `backups` is newest first; the newest is always
/// kept. Each calendar rule keeps the newest backup of each of its last N periods (days,
/// ISO weeks, months) that have one, grandfather-father-son style; the union is kept.
pub fn retained(backups: &[DateTime<Utc>], r: &Rules) -> Vec<Option<String>> {
    let mut why: Vec<Option<String>> = vec![None; backups.len()];
    if let Some(first) = why.first_mut() {
        *first = Some("newest".into());
    }
    if let Some(n) = r.keep {
        for w in why.iter_mut().take(n as usize) {
            w.get_or_insert_with(|| format!("keep {n}"));
        }
    }
    let mut rule = |n: Option<u32>, key: &dyn Fn(&DateTime<Utc>) -> String, label: &str| {
        let Some(n) = n else { return };
        let mut seen = BTreeSet::new();
        for (i, t) in backups.iter().enumerate() {
            let k = key(t);
            if seen.contains(&k) {
                continue;
            }
            if seen.len() >= n as usize {
                break;
            }
            seen.insert(k.clone());
            why[i].get_or_insert_with(|| format!("{label} {k}"));
        }
    };
    rule(r.keep_daily, &|t| t.format("%Y-%m-%d").to_string(), "daily");
    rule(
        r.keep_weekly,
        &|t| {
            let w = t.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        },
        "weekly",
    );
    rule(
        r.keep_monthly,
        &|t| t.format("%Y-%m").to_string(),
        "monthly",
    );
    why
}

/// What retention decided for one backup.
#[derive(Debug, Serialize)]
pub struct Decision {
    pub file: String,
    pub started_at: DateTime<Utc>,
    pub keep: bool,
    pub reason: String,
}

pub const DECISION_COLUMNS: &[&str] = &["file", "started_at", "keep", "reason"];

/// This database's backups that retention counts (stackctl's names, a manifest naming
/// this database, a checksum that holds), newest first. Failed ones are not counted, so
/// they never push a good backup out, and are left in place with a warning.
fn candidates(dir: &Path, database: &str, log: &dyn Log) -> Result<Vec<(DateTime<Utc>, String)>> {
    let mut backups = Vec::new();
    for name in catalog::backup_names(dir, Some(database))? {
        match catalog::standing(&dir.join(&name))? {
            // Two names may share a file stem (`a/b`, `a_b`): the manifest says whose.
            // An anonymised dump is not a backup of the database.
            Standing::Verified(m) if m.database == database && !m.anonymized => {
                backups.push((m.started_at, name))
            }
            Standing::Verified(_) | Standing::NoManifest => {}
            Standing::Failed(why) => log.warn(format!(
                "backup {} is not counted by retention and is left in place: {why}",
                dir.join(&name).display()
            )),
        }
    }
    backups.sort_by(|a, b| b.cmp(a));
    Ok(backups)
}

/// Apply the rules to this database's backups (nothing else is ever touched), under the
/// directory's lock. With `dry_run`, delete nothing. Says what is kept and why.
pub fn apply(
    dir: &Path,
    _lock: &DirLock,
    database: &str,
    rules: &Rules,
    dry_run: bool,
    log: &dyn Log,
) -> Result<Vec<Decision>> {
    let backups = candidates(dir, database, log)?;
    let times: Vec<DateTime<Utc>> = backups.iter().map(|(t, _)| *t).collect();
    let why = retained(&times, rules);
    let mut decisions = Vec::new();
    for ((t, name), reason) in backups.into_iter().zip(why) {
        let keep = reason.is_some();
        if !keep && !dry_run {
            let p = dir.join(&name);
            files::remove_backup(&p)?;
            fs::remove_file(manifest::path_for(&p))?;
            log.info(format!("removed old backup {}", p.display()));
        }
        decisions.push(Decision {
            file: name,
            started_at: t,
            keep,
            reason: reason.unwrap_or_else(|| {
                if dry_run {
                    "would be deleted".into()
                } else {
                    "deleted".into()
                }
            }),
        });
    }
    if !dry_run {
        directory::sync_dir(dir)?;
    }
    Ok(decisions)
}
