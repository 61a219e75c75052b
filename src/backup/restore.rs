//! Restoring a dump: what may be restored, and running psql or pg_restore on it.

use std::io::{BufWriter, Write};
use std::path::Path;

use rand::distr::{Alphanumeric, SampleString};

use super::manifest::{Format, Manifest};
use super::plain::{self, ScanError};
use crate::db;
use crate::error::{Error, Result};
use crate::pgtools::{self, Tools};
use crate::url::PgUrl;

/// Refuse (exit 6) a dump taken at a schema version this binary does not know, unless
/// `force`.
pub fn check_schema_version(file: &Path, manifest: Option<&Manifest>, force: bool) -> Result<()> {
    let Some(v) = manifest.and_then(|m| m.schema_version.as_ref()) else {
        return Ok(());
    };
    let known = db::embedded_migrations()?.iter().any(|m| &m.version == v);
    if !known && !force {
        return Err(Error::schema(format!(
            "{} was taken at schema version {v}, which this stackctl does not know",
            file.display()
        ))
        .with_hint("restore it with the stackctl that took it, or pass --force"));
    }
    Ok(())
}

/// Restore a dump into the database at `url`: a plain dump through psql, in one
/// transaction; a custom or directory one through pg_restore, in place (`clean`: drop what the dump
/// holds first) in one transaction, into a database of its own with `tools.restore_jobs`.
pub fn restore_into(
    file: &Path,
    format: Format,
    tools: &Tools,
    url: &PgUrl,
    clean: bool,
) -> Result<()> {
    match format {
        Format::Plain => run_psql(file, tools, url, clean),
        Format::Custom | Format::Directory => run_pg_restore(file, tools, url, clean, &[]),
    }
}

/// The parts of an archive (custom or directory format) pg_restore restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sections {
    /// Tables and rows: no index, constraint made after the data (keys, uniques, foreign
    /// keys), trigger, rule or policy yet.
    TablesAndRows,
    /// What comes after the rows: those indexes, constraints, triggers, rules, policies.
    AfterRows,
}

/// Restore only `sections` of the archive `file` into the new database `url` reaches.
pub fn restore_sections(file: &Path, tools: &Tools, url: &PgUrl, sections: Sections) -> Result<()> {
    run_pg_restore(
        file,
        tools,
        url,
        false,
        match sections {
            Sections::TablesAndRows => &["--section=pre-data", "--section=data"],
            Sections::AfterRows => &["--section=post-data"],
        },
    )
}

/// Refuse (exit 2) a plain dump that is not pg_dump's, or has a psql meta-command where
/// pg_dump never writes one; read streaming, before anything runs.
pub fn check_plain_script(file: &Path) -> Result<()> {
    plain::scan(std::fs::File::open(file)?, |_| Ok(()))?;
    Ok(())
}

/// psql reads the checked script on stdin after `\restrict <random key>`: no meta-command
/// in the file can run, even one the line check cannot see (`SELECT 1; \! id`), and the
/// key to leave that mode is not in the file.
fn run_psql(file: &Path, tools: &Tools, url: &PgUrl, clean: bool) -> Result<()> {
    require_restricting_psql(&tools.psql)?;
    let replaced = if clean {
        plain::tables_to_replace(std::fs::File::open(file)?)?
    } else {
        Vec::new()
    };
    let script = std::fs::File::open(file)?;
    let key = Alphanumeric.sample_string(&mut rand::rng(), 32);
    let (mut c, safe_url, _secret_file) = pgtools::command(&tools.psql, url)?;
    c.args([
        "-X",
        "-q",
        "--single-transaction",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        &safe_url,
        "-f",
        "-",
    ])
    .stdout(std::process::Stdio::null());
    pgtools::run_feeding(c, "psql", |stdin| {
        let mut w = BufWriter::new(stdin);
        let fed = writeln!(w, "\\restrict {key}")
            .and_then(|()| {
                replaced
                    .iter()
                    .try_for_each(|t| writeln!(w, "DROP TABLE IF EXISTS {t};"))
            })
            .map_err(ScanError::Io)
            .and_then(|()| plain::scan(script, |piece| w.write_all(piece)))
            .and_then(|()| w.flush().map_err(ScanError::Io));
        match fed {
            // psql stopped reading (ON_ERROR_STOP): its exit status says why.
            Err(ScanError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map_err(Error::from),
        }
    })?;
    Ok(())
}

fn require_restricting_psql(psql: &Path) -> Result<()> {
    let version = pgtools::psql_version(psql);
    if version.is_some_and(pgtools::psql_can_restrict) {
        return Ok(());
    }
    let shown = version.map_or("of unknown version".into(), |(m, n)| format!("{m}.{n}"));
    Err(Error::failure(format!(
        "{} is {shown}, too old to disable psql meta-commands (\\restrict), so it does not run plain dumps",
        psql.display()
    ))
    .with_hint("install PostgreSQL client tools 13.22, 14.19, 15.14, 16.10, 17.6, 18 or later, or restore a custom-format backup"))
}

fn run_pg_restore(
    file: &Path,
    tools: &Tools,
    url: &PgUrl,
    clean: bool,
    sections: &[&str],
) -> Result<()> {
    let (mut c, safe_url, _secret_file) = pgtools::command(&tools.pg_restore, url)?;
    c.args(sections);
    if clean || tools.restore_jobs <= 1 {
        c.arg("--single-transaction");
    } else {
        // Into a database of its own, which is dropped whole if anything fails: jobs
        // (pg_restore cannot run several in one transaction).
        c.arg(format!("--jobs={}", tools.restore_jobs));
    }
    if clean {
        c.args(["--clean", "--if-exists"]);
    }
    c.args(["--no-owner", "--no-privileges", "--exit-on-error"])
        .arg(format!("--dbname={safe_url}"))
        .arg(file);
    pgtools::run(c, "pg_restore")?;
    Ok(())
}
