//! Restoring a dump: what may be restored, and running psql or pg_restore on it.

use std::path::Path;

use super::manifest::{Format, Manifest};
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

/// Restore a dump into the database at `url` in one transaction: a plain dump through
/// psql, a custom one through pg_restore (`clean`: drop what the dump holds first).
pub fn restore_into(
    file: &Path,
    format: Format,
    tools: &Tools,
    url: &PgUrl,
    clean: bool,
) -> Result<()> {
    match format {
        Format::Plain => run_psql(file, tools, url),
        Format::Custom => run_pg_restore(file, tools, url, clean),
    }
}

fn run_psql(file: &Path, tools: &Tools, url: &PgUrl) -> Result<()> {
    let (mut c, safe_url) = pgtools::command(&tools.psql, url);
    c.args([
        "-X",
        "-q",
        "--single-transaction",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        &safe_url,
        "-f",
    ])
    .arg(file)
    .stdout(std::process::Stdio::null());
    pgtools::run(c, "psql")?;
    Ok(())
}

fn run_pg_restore(file: &Path, tools: &Tools, url: &PgUrl, clean: bool) -> Result<()> {
    let (mut c, safe_url) = pgtools::command(&tools.pg_restore, url);
    c.arg("--single-transaction");
    if clean {
        c.args(["--clean", "--if-exists"]);
    }
    c.args(["--no-owner", "--no-privileges", "--exit-on-error"])
        .arg(format!("--dbname={safe_url}"))
        .arg(file);
    pgtools::run(c, "pg_restore")?;
    Ok(())
}
