//! Is a backup what its manifest says, can it be read back, and does it restore to the
//! same rows?

use std::collections::BTreeMap;
use std::path::Path;

use super::manifest::{Format, Manifest};
use super::restore::Sections;
use super::{files, restore, Log};
use crate::db;
use crate::db::snapshot::{RowCounts, ScratchDatabase};
use crate::error::{Error, Result};
use crate::pgtools::{self, Tools};
use crate::url::PgUrl;
use crate::validate::DatabaseName;

/// The format the manifest records, else the one the file's name suggests.
pub fn format_of(file: &Path, manifest: Option<&Manifest>) -> Format {
    manifest.map_or_else(|| Format::guess(file), |m| m.format)
}

/// The checksum matches the manifest and pg_restore can read the file.
pub fn check(file: &Path, manifest: Option<&Manifest>, tools: &Tools) -> Result<()> {
    if let Some(m) = manifest {
        check_checksum(file, m)?;
    }
    match format_of(file, manifest) {
        Format::Plain => {
            check_plain_complete(file)?;
            restore::check_plain_script(file)
        }
        Format::Custom | Format::Directory => {
            if manifest.is_none() {
                // Nothing to compare with, but what pg_restore would follow is refused.
                files::digest(file)?;
            }
            let mut c = std::process::Command::new(&tools.pg_restore);
            c.arg("--list").arg(file);
            pgtools::run(c, "pg_restore --list").map(|_| ())
        }
    }
}

fn check_checksum(file: &Path, m: &Manifest) -> Result<()> {
    let d = files::digest(file)?;
    if let (Some(want), Some(have)) = (&m.files, &d.files) {
        // A directory dump: name the files that differ.
        let mut wrong: Vec<String> = want
            .iter()
            .filter(|(name, sum)| have.get(*name) != Some(*sum))
            .map(|(name, _)| name.clone())
            .collect();
        wrong.extend(have.keys().filter(|n| !want.contains_key(*n)).cloned());
        if !wrong.is_empty() {
            return Err(Error::failure(format!(
                "checksum mismatch: {} in {} differ(s) from the manifest",
                wrong.join(", "),
                file.display()
            )));
        }
    }
    if d.sha256 != m.sha256 || d.size != m.size {
        return Err(Error::failure(format!(
            "checksum mismatch: the manifest says sha256 {} ({} bytes), the backup has {} ({} bytes)",
            m.sha256, m.size, d.sha256, d.size
        )));
    }
    Ok(())
}

/// A plain dump ends with pg_dump's completion line (only its last bytes are read).
fn check_plain_complete(file: &Path) -> Result<()> {
    let tail = files::tail(file, 200)?;
    if !String::from_utf8_lossy(&tail).contains("PostgreSQL database dump complete") {
        return Err(Error::failure("the SQL dump is incomplete"));
    }
    Ok(())
}

/// What a restore beside the live database found.
pub struct RestoreReport {
    pub ok: bool,
    pub detail: String,
    /// The row counts of the restored database.
    pub restored: RowCounts,
}

/// What runs on a restored database (an error drops it).
pub type Then<'a> = &'a dyn Fn(&PgUrl) -> Result<()>;

/// What becomes of the database a restore went into.
pub enum Afterwards<'a> {
    /// A test restore: dropped, whatever the outcome.
    Drop,
    /// `backup restore --into NAME`: renamed to NAME when it matches the manifest (an
    /// existing NAME dropped first with `replace`), dropped when it does not.
    Keep {
        name: &'a DatabaseName,
        replace: bool,
        /// Changes the rows before it takes its name (an anonymised copy).
        change: Option<&'a dyn RowChange>,
    },
    /// `backup --anonymize`: `change` changes the rows (anonymises them), then `then`
    /// uses the whole database (dumps it); dropped whatever the outcome.
    Use {
        change: &'a dyn RowChange,
        then: Then<'a>,
    },
}

/// How a restore beside the live database changes the rows it restored (an anonymised
/// copy): see `restore_beside`.
pub trait RowChange {
    /// `Some(tables)`: `change` changes only the rows of these tables ((schema, name));
    /// `None`: any rows.
    fn only(&self) -> Option<&[(&str, &str)]>;
    /// Changes the rows, once they matched the manifest (`only`'s rows: before the rest
    /// of an archive is restored).
    fn change(&self, url: &PgUrl) -> Result<()>;
    /// Runs on the whole database once it is restored, changed and matched.
    fn check(&self, url: &PgUrl) -> Result<()>;
}

/// A test restore: `file` restored into a scratch database and compared, then dropped.
pub fn test_restore(
    file: &Path,
    manifest: &Manifest,
    tools: &Tools,
    url: &PgUrl,
    log: &dyn Log,
) -> Result<RestoreReport> {
    let format = manifest.format;
    restore_beside(
        file,
        Some(manifest),
        format,
        tools,
        url,
        Afterwards::Drop,
        log,
    )
}

/// The one path for every restore beside the live database (`backup verify --restore`,
/// `backup --verify-restore`, `backup restore --into`): create a database of its own on
/// the server `url` reaches, restore `file` into it in one transaction, compare its row
/// counts (and table checksums, when the manifest has them) with the manifest, then drop
/// it or give it its final name. The live database is never written.
///
/// A change of the rows (`Afterwards`' `change`) runs, for an archive, before the indexes,
/// keys and triggers are made: every row it changes is written once, with no index to
/// update and no trigger or rule to run, and the indexes are built once, from the changed
/// rows. A change of any rows runs between the archive's tables and rows and the rest
/// (pg_restore's sections); a change of `only` some tables' rows between the tables with
/// those rows and the rest, so the indexes on the changed rows are built while the other
/// rows load, as a plain restore builds them. A plain dump is restored whole before it.
pub fn restore_beside(
    file: &Path,
    manifest: Option<&Manifest>,
    format: Format,
    tools: &Tools,
    url: &PgUrl,
    afterwards: Afterwards,
    log: &dyn Log,
) -> Result<RestoreReport> {
    let prefix = match afterwards {
        Afterwards::Drop => "stackctl_verify",
        Afterwards::Keep { .. } => "stackctl_restore",
        Afterwards::Use { .. } => "stackctl_anonymize",
    };
    let scratch = ScratchDatabase::create(url, prefix)?;
    log.debug(format!(
        "restoring {} into {} ({})",
        file.display(),
        scratch.name,
        match format {
            f if f.is_archive() && tools.restore_jobs > 1 => {
                format!(
                    "pg_restore with {} jobs; --jobs to change",
                    tools.restore_jobs
                )
            }
            Format::Custom | Format::Directory => {
                "pg_restore with 1 job, in one transaction".to_string()
            }
            Format::Plain => "a plain dump restores through psql, in one job".to_string(),
        }
    ));
    let (change, then) = match &afterwards {
        Afterwards::Keep { change, .. } => (*change, None),
        Afterwards::Use { change, then } => (Some(*change), Some(*then)),
        Afterwards::Drop => (None, None),
    };
    let matched = |o: &Result<RestoreReport>| o.as_ref().is_ok_and(|r| r.ok);
    let url = &scratch.url;
    let archive = format.is_archive();
    let mut outcome = match (change, change.and_then(|c| c.only())) {
        (None, _) => restore_and_compare(file, manifest, format, tools, url, false),
        (Some(change), Some(tables)) if archive => {
            restore_tables_first(file, manifest, tools, url, tables, change)
        }
        (Some(change), _) => {
            let restored = restore_and_compare(file, manifest, format, tools, url, archive);
            match matched(&restored) {
                true => change
                    .change(url)
                    .and_then(|()| change.check(url))
                    .and_then(|()| match archive {
                        true => restore::restore_sections(file, tools, url, Sections::AfterRows),
                        false => Ok(()),
                    })
                    .and(restored),
                false => restored,
            }
        }
    };
    if let (Some(then), true) = (then, matched(&outcome)) {
        if let Err(e) = then(&scratch.url) {
            outcome = Err(e);
        }
    }
    let name = scratch.name.clone();
    match (afterwards, &outcome) {
        (Afterwards::Keep { name, replace, .. }, Ok(report)) if report.ok => {
            scratch.keep_as(name, replace)?;
        }
        _ => {
            if let Err(e) = scratch.remove() {
                log.warn(format!("could not drop the database {name}: {e}"));
            }
        }
    }
    outcome
}

/// A change of `only` some tables' rows, for an archive: its tables and the rows of
/// `tables`, the change, then the rest of it; compared with the manifest (those tables'
/// checksums as they were before the change); then `check`, and the event triggers.
fn restore_tables_first(
    file: &Path,
    manifest: Option<&Manifest>,
    tools: &Tools,
    url: &PgUrl,
    tables: &[(&str, &str)],
    change: &dyn RowChange,
) -> Result<RestoreReport> {
    let rest = restore::restore_some_rows_first(file, tools, url, tables)?;
    let before = match manifest.is_some_and(|m| m.table_checksums.is_some()) {
        true => {
            let mut conn = db::connect(url.libpq())?;
            let all = diesel::Connection::transaction(&mut conn, db::snapshot::table_checksums)?;
            let keys: Vec<String> = tables
                .iter()
                .map(|(schema, table)| match *schema {
                    "public" => table.to_string(),
                    _ => format!("{schema}.{table}"),
                })
                .collect();
            all.into_iter().filter(|(k, _)| keys.contains(k)).collect()
        }
        false => BTreeMap::new(),
    };
    change.change(url)?;
    rest.restore(file, tools, url)?;
    let report = compare(manifest, url, before)?;
    if report.ok {
        change.check(url)?;
        rest.finish(file, tools, url)?;
    }
    Ok(report)
}

/// Restore `file` (`tables_and_rows`: only its tables and rows) and compare the rows with
/// the manifest.
fn restore_and_compare(
    file: &Path,
    manifest: Option<&Manifest>,
    format: Format,
    tools: &Tools,
    scratch_url: &PgUrl,
    tables_and_rows: bool,
) -> Result<RestoreReport> {
    match tables_and_rows {
        true => restore::restore_sections(file, tools, scratch_url, Sections::TablesAndRows)?,
        false => restore::restore_into(file, format, tools, scratch_url, false)?,
    }
    compare(manifest, scratch_url, BTreeMap::new())
}

/// Compare the rows of the database at `scratch_url` with the manifest; `before`: the
/// checksums of tables whose rows changed since they were restored.
fn compare(
    manifest: Option<&Manifest>,
    scratch_url: &PgUrl,
    before: BTreeMap<String, String>,
) -> Result<RestoreReport> {
    let mut conn = db::connect(scratch_url.libpq())?;
    let got = db::snapshot::row_counts(&mut conn)?;
    let Some(manifest) = manifest else {
        return Ok(RestoreReport {
            ok: true,
            detail: "restored; no manifest to compare it with".into(),
            restored: got,
        });
    };
    let mut problems = Vec::new();
    for (table, want, have) in [
        ("users", manifest.row_counts.users, got.users),
        ("items", manifest.row_counts.items, got.items),
    ] {
        if want != have {
            problems.push(format!(
                "{table}: {} row(s) in the manifest, {} restored",
                want.map_or("no table".into(), |n| n.to_string()),
                have.map_or("no table".into(), |n| n.to_string())
            ));
        }
    }
    let compared = match &manifest.table_checksums {
        Some(want) => {
            let mut have =
                diesel::Connection::transaction(&mut conn, db::snapshot::table_checksums)?;
            have.extend(before);
            for (table, sum) in want {
                match have.get(table) {
                    Some(h) if h == sum => {}
                    Some(h) => {
                        problems.push(format!("{table}: checksum {h}, the manifest says {sum}"))
                    }
                    None => problems.push(format!("{table}: missing after the restore")),
                }
            }
            format!("row counts and checksums of {} table(s) match", want.len())
        }
        None => "row counts match (the manifest has no table checksums)".into(),
    };
    Ok(RestoreReport {
        ok: problems.is_empty(),
        detail: if problems.is_empty() {
            compared
        } else {
            problems.join("; ")
        },
        restored: got,
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    use super::*;

    /// The most memory this process has used so far, in KiB.
    fn max_rss_kib() -> i64 {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        usage.ru_maxrss
    }

    /// A gigabyte-long plain dump (sparse: one line of NUL bytes between pg_dump's header
    /// and its completion line) is checked, scanned and hashed in constant memory.
    #[test]
    fn plain_dumps_are_checked_in_constant_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.sql");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"--\n-- PostgreSQL database dump\n--\n")
            .unwrap();
        f.set_len(1 << 30).unwrap();
        f.seek(SeekFrom::End(0)).unwrap();
        f.write_all(b"\n--\n-- PostgreSQL database dump complete\n--\n\n")
            .unwrap();
        drop(f);
        let before = max_rss_kib();
        check_plain_complete(&path).unwrap();
        restore::check_plain_script(&path).unwrap();
        let (_, size) = files::sha256_file(&path).unwrap();
        assert!(size > 1 << 30);
        let grown_mib = (max_rss_kib() - before) / 1024;
        assert!(grown_mib < 128, "memory grew by {grown_mib} MiB");
    }
}
