//! `backup restore FILE`: into the live database (in place), or with `--into NAME` into a
//! new database beside it. Both check the file the same way before anything runs.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::anonymized::AnonymisedCopy;
use super::{count, require_file, server_tools, Ctx};
use crate::backup::verify::{self, Afterwards};
use crate::backup::{manifest::Manifest, restore, Format};
use crate::change::Change;
use crate::db::{self, anonymize};
use crate::error::{Error, Result};
use crate::output::render_one;
use crate::prompt;
use crate::validate::DatabaseName;

/// The file's own checks, before any connection: it exists, its manifest parses, its
/// schema version is known (or `--force`), and a plain dump is pg_dump's SQL only.
fn checked_file(file: &Path, force: bool) -> Result<(Option<Manifest>, Format)> {
    require_file(file)?;
    let manifest = crate::backup::manifest::read(file).map_err(|e| {
        Error::failure(format!(
            "refusing to restore a damaged backup: {}",
            e.message
        ))
        .with_hint("a backup is restored only with a valid manifest or with none at all")
    })?;
    restore::check_schema_version(file, manifest.as_ref(), force)?;
    let format = verify::format_of(file, manifest.as_ref());
    if format == Format::Plain {
        restore::check_plain_script(file)?;
    }
    Ok((manifest, format))
}

/// The checksum and structure, with the client tools that match the server.
fn checked_against_tools(
    file: &Path,
    manifest: Option<&Manifest>,
    tools: &crate::pgtools::Tools,
) -> Result<()> {
    verify::check(file, manifest, tools).map_err(|e| {
        Error::failure(format!(
            "refusing to restore a damaged backup: {}",
            e.message
        ))
    })
}

/// `backup restore FILE`: replace what the backup holds in the live database.
pub fn in_place(
    file: &Path,
    force: bool,
    yes: bool,
    tools_args: &crate::cli::PgTools,
    ctx: &Ctx,
) -> Result<()> {
    let (manifest, format) = checked_file(file, force)?;
    // Pseudonyms and one password for everyone in place of the live users is never what a
    // restore in place means (a script restoring "the newest dump" would do it).
    if manifest.as_ref().is_some_and(|m| m.anonymized) {
        return Err(Error::usage(format!(
            "{} is an anonymised dump: restoring it in place would replace the live database's people with pseudonyms; nothing was restored",
            file.display()
        ))
        .with_hint("restore it beside the live database: stackctl backup restore FILE --into NAME"));
    }
    let target = ctx.direct_target()?;
    ctx.refuse_pooled_tools(&target, "backup restore")?;
    let (mut conn, target) = ctx.connect_target(target)?;
    // pg_restore and psql would fail half-way on a standby: refuse before they start.
    db::server::ensure_writable(&mut conn)?;
    let tools = server_tools(&mut conn, tools_args)?;
    checked_against_tools(file, manifest.as_ref(), &tools)?;
    let database = db::current_database(&mut conn)?;
    let current = db::snapshot::row_counts(&mut conn)?;
    let change = Change::other("restore", "database", &database)
        .with_before(serde_json::json!({"users": current.users, "items": current.items}))
        .with_after(restored_from(file, manifest.as_ref()));
    if ctx.global.dry_run {
        return ctx.print_plan(&[change]);
    }
    drop(conn);
    let what = match &manifest {
        Some(m) => format!(
            "restoring {} (database {}, taken {}, users {}, items {}) replaces what it holds in database {database}",
            file.display(),
            m.database,
            m.started_at.format("%Y-%m-%d %H:%M:%SZ"),
            count(m.row_counts.users),
            count(m.row_counts.items),
        ),
        None => format!("restoring {} replaces what it holds in database {database}", file.display()),
    };
    prompt::confirm_destructive(yes, &what)?;
    let clock = Instant::now();
    restore::restore_into(file, format, &tools, &target.url, true)?;
    ctx.info(format!(
        "restored {} into {database} in {:.1}s",
        file.display(),
        clock.elapsed().as_secs_f64()
    ));
    // The restore ran in pg_restore's own transaction (and may have replaced the audit
    // table with the backup's), so the audit row follows in a transaction of its own.
    let (mut conn, _) = ctx.connect_target(target)?;
    ctx.audit_after(&mut conn, "backup restore", &[change])
}

/// `--into NAME [--replace]`, as given.
pub struct Into<'a> {
    pub name: &'a str,
    pub replace: bool,
    pub yes: bool,
}

/// What `backup restore --into` prints.
#[derive(Serialize)]
struct Restored {
    database: String,
    file: String,
    replaced: bool,
    users: Option<i64>,
    items: Option<i64>,
    checked: String,
}

const RESTORED_COLUMNS: &[&str] = &["database", "file", "replaced", "users", "items", "checked"];

/// `--anonymize`'s options, read before anything runs: the key, the sample, the columns
/// (`keep`: the `--keep TABLE.COLUMN`s), the one password hash.
pub(super) fn anonymize_options(
    args: &crate::cli::Anonymize,
    keep: &[String],
    ctx: &Ctx,
) -> Result<anonymize::Options> {
    let key = match &args.key {
        Some(path) => {
            let key = std::fs::read(path).map_err(|e| {
                Error::not_found(format!("cannot read the key file {}: {e}", path.display()))
            })?;
            if key.len() < 16 {
                return Err(Error::invalid(
                    "--key",
                    format!(
                        "{} holds {} byte(s); a key needs at least 16",
                        path.display(),
                        key.len()
                    ),
                )
                .with_hint("make one with: head -c 32 /dev/urandom > anon.key"));
            }
            key
        }
        None => {
            use rand::RngCore;
            let mut key = vec![0u8; 32];
            rand::rng().fill_bytes(&mut key);
            key
        }
    };
    let password = if args.password_stdin || args.password_file.is_some() {
        crate::password::obtain(&crate::cli::PasswordSource {
            password_stdin: args.password_stdin,
            password_file: args.password_file.clone(),
            random_password: false,
        })?
        .text
    } else {
        // A password nobody knows: the hash verifies nothing anyone can type.
        use rand::distr::{Alphanumeric, SampleString};
        Alphanumeric.sample_string(&mut rand::rng(), 40)
    };
    Ok(anonymize::Options {
        key,
        sample: args
            .sample
            .as_deref()
            .map(anonymize::Sample::parse)
            .transpose()?,
        keep: keep
            .iter()
            .map(|c| anonymize::Column::parse("--keep", c))
            .collect::<Result<_>>()?,
        clear: args
            .clear
            .iter()
            .map(|c| anonymize::Column::parse("--clear", c))
            .collect::<Result<_>>()?,
        password_hash: crate::password::hash(&password, ctx.global.bcrypt_cost)?,
    })
}

/// `backup restore FILE --into NAME`: restore into a new database beside the live one,
/// through the same path as a test restore (a database of its own, one transaction, the
/// manifest's counts and checksums compared), which then takes the name NAME. The live
/// database is only read (its name); nothing is asked unless `--replace` will drop an
/// existing NAME.
pub fn beside(
    file: &Path,
    force: bool,
    into: &Into,
    tools_args: &crate::cli::PgTools,
    anon: &crate::cli::AnonymizeCopy,
    ctx: &Ctx,
) -> Result<()> {
    let name = DatabaseName::parse(into.name)?;
    let anon = anon
        .anonymize
        .then(|| anonymize_options(&anon.options, &anon.keep, ctx))
        .transpose()?;
    let (manifest, format) = checked_file(file, force)?;
    let target = ctx.direct_target()?;
    ctx.refuse_pooled_tools(&target, "backup restore --into")?;
    let (mut conn, target) = ctx.connect_target(target)?;
    db::server::ensure_writable(&mut conn)?;
    let live = db::current_database(&mut conn)?;
    if live == name.as_str() {
        return Err(Error::usage(format!(
            "{live} is the live database: --into restores beside it, never over it"
        ))
        .with_hint(
            "choose another name, or restore in place with `stackctl backup restore FILE`",
        ));
    }
    let exists = db::snapshot::database_exists(&mut conn, &name)?;
    if exists && !into.replace {
        return Err(
            Error::conflict(format!("database {} already exists", name.as_str())).with_hint(
                "choose another name, or pass --replace to drop it once the restore is checked",
            ),
        );
    }
    let tools = server_tools(&mut conn, tools_args)?;
    checked_against_tools(file, manifest.as_ref(), &tools)?;
    let replaced = exists && into.replace;
    if replaced {
        refuse_foreign_replacement(&target, &name)?;
    }
    let dropped = if replaced {
        let size = db::snapshot::database_size(&mut conn, &name);
        let counts = target
            .url
            .with_database(name.as_str())
            .and_then(|url| db::connect(url.libpq()))
            .and_then(|mut c| db::snapshot::row_counts(&mut c))
            .ok();
        Some(describe_dropped(&name, size, counts.as_ref()))
    } else {
        None
    };
    let change = Change::other("restore", "database", name.as_str())
        .with_before(serde_json::json!({"exists": exists, "dropped": dropped}))
        .with_after(restored_from(file, manifest.as_ref()));
    if ctx.global.dry_run {
        return ctx.print_plan(&[change]);
    }
    drop(conn);
    if let Some(dropped) = &dropped {
        prompt::confirm_destructive(
            into.yes,
            &format!(
                "restoring {} into {} with --replace drops the existing database {dropped}",
                file.display(),
                name.as_str()
            ),
        )?;
    }
    let clock = Instant::now();
    let copy = anon.as_ref().map(AnonymisedCopy::new);
    let report = verify::restore_beside(
        file,
        manifest.as_ref(),
        format,
        &tools,
        &target.url,
        Afterwards::Keep {
            name: &name,
            replace: replaced,
            change: copy.as_ref().map(|c| c as &dyn verify::RowChange),
        },
        ctx,
    )?;
    let summary = copy.map(|c| c.summary.into_inner()).unwrap_or_default();
    if let Some(s) = summary.as_ref() {
        ctx.info(format!(
            "anonymised the copy {}: {}",
            name.as_str(),
            s.describe()
        ));
    }
    if !report.ok {
        return Err(Error::failure(format!(
            "the restore differs from the manifest, so database {} was not created{}: {}",
            name.as_str(),
            if replaced {
                " and the existing one was kept"
            } else {
                ""
            },
            report.detail
        )));
    }
    ctx.info(format!(
        "restored {} into the new database {} in {:.1}s ({}); the live database {live} was not touched",
        file.display(),
        name.as_str(),
        clock.elapsed().as_secs_f64(),
        report.detail
    ));
    // The new database holds the backup's audit trail; the restore is recorded there.
    // Straight to it: the embedded instance's connect would migrate it on the way.
    let mut new_conn = db::connect(target.url.with_database(name.as_str())?.libpq())?;
    // An anonymised copy may hold fewer rows than the file (`--sample`): its output and its
    // audit entry (the only one left in its trail) say what it holds, and what was done.
    let (held, change) = match summary.as_ref() {
        Some(s) => {
            let held = db::snapshot::row_counts(&mut new_conn)?;
            let after = serde_json::json!({
                "file": file.display().to_string(),
                "users": held.users,
                "items": held.items,
                "anonymized": s,
            });
            (held, change.with_after(after))
        }
        None => (report.restored, change),
    };
    ctx.audit_after(&mut new_conn, "backup restore --into", &[change])?;
    let row = Restored {
        database: name.as_str().to_string(),
        file: file.display().to_string(),
        replaced,
        users: held.users,
        items: held.items,
        checked: report.detail,
    };
    let mut out = ctx.stdout();
    render_one(ctx.format(), RESTORED_COLUMNS, &row, &mut out)?;
    super::super::finish(out)
}

/// What a restore writes, as its audit entry records it: the file and the row counts its
/// manifest promises.
fn restored_from(file: &Path, manifest: Option<&Manifest>) -> serde_json::Value {
    serde_json::json!({
        "file": file.display().to_string(),
        "users": manifest.and_then(|m| m.row_counts.users),
        "items": manifest.and_then(|m| m.row_counts.items),
    })
}

/// `NAME (users 3, items 1, 7.9 MiB)`, with what could be read of it.
fn describe_dropped(
    name: &DatabaseName,
    size: Option<i64>,
    counts: Option<&db::snapshot::RowCounts>,
) -> String {
    let mut facts = Vec::new();
    if let Some(c) = counts {
        facts.push(format!("users {}", count(c.users)));
        facts.push(format!("items {}", count(c.items)));
    }
    if let Some(bytes) = size {
        facts.push(format!("{:.1} MiB", bytes as f64 / 1_048_576.0));
    }
    if facts.is_empty() {
        name.as_str().to_string()
    } else {
        format!("{} ({})", name.as_str(), facts.join(", "))
    }
}

/// `--replace` drops only a database of this application: never the cluster's `postgres`
/// database, and never one without a `users` table (another application's, or one the
/// role cannot read), which a restore of this application's backup did not make.
fn refuse_foreign_replacement(target: &crate::config::Target, name: &DatabaseName) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::usage(format!(
            "--replace refuses to drop database {}: {why}",
            name.as_str()
        ))
        .with_hint("restore into a new name, or drop that database yourself if it must go"))
    };
    if name.as_str() == "postgres" {
        return refuse("it is the cluster's maintenance database".into());
    }
    let holds_users = target
        .url
        .with_database(name.as_str())
        .and_then(|url| db::connect(url.libpq()))
        .and_then(|mut c| db::table_exists(&mut c, "public.users"));
    match holds_users {
        Ok(true) => Ok(()),
        Ok(false) => refuse("it holds no users table, so it is not this application's".into()),
        Err(e) => refuse(format!("it cannot be inspected ({})", e.message)),
    }
}
