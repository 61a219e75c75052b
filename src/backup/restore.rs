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

/// What is left of an archive once its tables and some of their rows are restored
/// (`restore_some_rows_first`).
pub struct RestOfArchive {
    /// The private directory of pg_restore's list of the rest.
    lists: tempfile::TempDir,
}

impl RestOfArchive {
    /// The other rows, then every index, constraint, trigger, rule and policy; but the
    /// event triggers, which would run on any later DDL (`finish`).
    pub fn restore(&self, file: &Path, tools: &Tools, url: &PgUrl) -> Result<()> {
        let list = self.lists.path().join("rest.list");
        run_pg_restore(file, tools, url, false, &[&use_list(&list)?])
    }

    /// The event triggers, last.
    pub fn finish(self, file: &Path, tools: &Tools, url: &PgUrl) -> Result<()> {
        let list = self.lists.path().join("last.list");
        match list.exists() {
            true => run_pg_restore(file, tools, url, false, &[&use_list(&list)?]),
            false => Ok(()),
        }
    }
}

/// Restore the tables of the archive `file` and the rows of only `tables` ((schema, name);
/// those the archive has) into the new database `url` reaches. The archive's own list
/// (`pg_restore --list`) says which entries those rows are, by their ids: the rest is
/// every other entry of its rows and what comes after them.
pub fn restore_some_rows_first(
    file: &Path,
    tools: &Tools,
    url: &PgUrl,
    tables: &[(&str, &str)],
) -> Result<RestOfArchive> {
    run_pg_restore(file, tools, url, false, &["--section=pre-data"])?;
    let list = |args: &[&str]| -> Result<Vec<(String, String)>> {
        let mut c = std::process::Command::new(&tools.pg_restore);
        c.arg("--list").args(args).arg(file);
        let out = pgtools::run(c, "pg_restore --list")?;
        Ok(toc_entries(&String::from_utf8_lossy(&out.stdout)))
    };
    let mut first = Vec::new();
    for (schema, table) in tables {
        first.extend(list(&[
            "--section=data",
            "--schema",
            schema,
            "--table",
            table,
        ])?);
    }
    let (last, rest): (Vec<_>, Vec<_>) = list(&["--section=data", "--section=post-data"])?
        .into_iter()
        .filter(|(id, _)| !first.iter().any(|(f, _)| f == id))
        .partition(|(_, line)| is_event_trigger(line));
    let lists = tempfile::Builder::new()
        .prefix("stackctl-restore-lists")
        .tempdir()
        .map_err(|e| Error::failure(format!("cannot create a temporary directory: {e}")))?;
    let write = |name: &str, entries: &[(String, String)]| -> Result<std::path::PathBuf> {
        let path = lists.path().join(name);
        let text: String = entries
            .iter()
            .map(|(_, line)| format!("{line}\n"))
            .collect();
        std::fs::write(&path, text)?;
        Ok(path)
    };
    write("rest.list", &rest)?;
    if !last.is_empty() {
        write("last.list", &last)?;
    }
    if !first.is_empty() {
        let path = write("first.list", &first)?;
        run_pg_restore(file, tools, url, false, &[&use_list(&path)?])?;
    }
    Ok(RestOfArchive { lists })
}

/// The entries of pg_restore's list: (id, line), comments left out. pg_restore reads
/// only the id of each line it is given back.
fn toc_entries(listing: &str) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|line| {
            let (id, _) = line.split_once(';')?;
            (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (id.to_string(), line.to_string()))
        })
        .collect()
}

/// An entry of pg_restore's list (`<id>; <oid> <oid> <kind> <schema> <name> <owner>`)
/// that makes an event trigger (its kind comes before any name).
fn is_event_trigger(line: &str) -> bool {
    let mut parts = line.splitn(4, ' ');
    let kind = parts.nth(3).unwrap_or("");
    kind.starts_with("EVENT TRIGGER ")
}

fn use_list(path: &Path) -> Result<String> {
    path.to_str()
        .map(|p| format!("--use-list={p}"))
        .ok_or_else(|| Error::failure(format!("{} is not a UTF-8 path", path.display())))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_read_by_id_and_event_triggers_by_kind() {
        let listing = ";\n; Archive created at 2026-12-05\n\
                       3472; 0 16627 TABLE DATA public users stackctl\n\
                       3600; 3466 16900 EVENT TRIGGER - audit_ddl postgres\n\
                       3601; 1259 16901 TABLE public EVENT TRIGGER x stackctl\n\
                       x; not an entry\n";
        let entries = toc_entries(listing);
        let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["3472", "3600", "3601"]);
        let events: Vec<bool> = entries.iter().map(|(_, l)| is_event_trigger(l)).collect();
        assert_eq!(events, [false, true, false]);
    }
}
