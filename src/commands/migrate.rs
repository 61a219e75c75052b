//! `stackctl migrate [run|status|revert]`, with adoption of application-made schemas.

use serde::Serialize;

use super::Ctx;
use crate::change::Change;
use crate::cli::{LockMode, MigrateArgs, MigrateCmd};
use crate::db::{self, adopt, SchemaState};
use crate::drift;
use crate::error::{Error, Result};
use crate::output::ListWriter;
use crate::prompt;
use diesel::Connection;

/// How this run keeps other migrate runs out.
#[derive(Clone, Copy)]
struct Lock {
    mode: LockMode,
    timeout: std::time::Duration,
}

/// Whether `migrate run` goes ahead on a schema that has drifted (`--allow-drift`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnDrift {
    Refuse,
    Allow,
}

pub fn run(args: MigrateArgs, ctx: &Ctx) -> Result<()> {
    let lock = Lock {
        mode: args.lock_mode,
        timeout: crate::validate::duration("--lock-timeout", &args.lock_timeout)?
            .to_std()
            .unwrap_or_default(),
    };
    let on_drift = if args.allow_drift {
        OnDrift::Allow
    } else {
        OnDrift::Refuse
    };
    match args.command.unwrap_or(MigrateCmd::Run) {
        MigrateCmd::Run => apply(ctx, lock, on_drift),
        MigrateCmd::Status => status(ctx),
        MigrateCmd::Revert { steps, confirm } => revert(ctx, steps, confirm.yes, lock),
    }
}

fn apply(ctx: &Ctx, lock: Lock, on_drift: OnDrift) -> Result<()> {
    let (mut conn, target) = ctx.connect_target(ctx.direct_target()?)?;
    ctx.debug(format!("migrating {}", target.display));
    let Some(applied) = migrations_locked(ctx, &mut conn, "migrate run", "apply", lock, |conn| {
        apply_locked(conn, ctx, on_drift)
    })?
    else {
        return Ok(());
    };
    if applied.is_empty() {
        ctx.info("schema is up to date; nothing to apply");
    } else {
        for name in &applied {
            ctx.info(format!("applied {name}"));
        }
    }
    Ok(())
}

/// Adopt an application-made schema if there is one, then apply what is pending. With
/// nothing pending nothing is written, so an up-to-date standby answers too.
fn apply_locked(
    conn: &mut diesel::PgConnection,
    ctx: &Ctx,
    on_drift: OnDrift,
) -> Result<Vec<String>> {
    let state = SchemaState::read(conn)?;
    db::refuse_unknown(&state)?;
    if state.pending().is_empty() {
        return Ok(Vec::new());
    }
    check_drift(conn, ctx, &state, on_drift)?;
    let initial = state
        .embedded
        .first()
        .ok_or_else(|| Error::failure("this stackctl embeds no migrations"))?
        .clone();
    let mut applied = Vec::new();
    if !state.applied.contains(&initial.version) {
        match adopt::inspect(conn)? {
            adopt::Verdict::Adoptable => {
                adopt::adopt(conn, &initial.version)?;
                ctx.info(format!(
                    "adopted the existing users/items schema made by the application (recorded {} as applied; rows kept)",
                    initial.name
                ));
            }
            adopt::Verdict::Fresh => {
                if let Err(why) = adopt::try_uuid_ossp(conn) {
                    adopt::create_without_uuid_ossp(conn, &initial.version)?;
                    ctx.info(format!(
                        "the uuid-ossp extension cannot be created here ({why}); ids default to                          gen_random_uuid() instead (applied {})",
                        initial.name
                    ));
                    applied.push(initial.name.clone());
                }
            }
        }
    }
    applied.extend(db::run_pending(conn)?);
    Ok(applied)
}

/// Pending migrations are written for the schema the applied ones define: on one that
/// has drifted they may fail half-way or build on what is not there, so the run is
/// refused (exit 6, each difference listed) unless `--allow-drift`. Before the initial
/// migration is applied nothing is compared: adoption has rules of its own.
fn check_drift(
    conn: &mut diesel::PgConnection,
    ctx: &Ctx,
    state: &SchemaState,
    on_drift: OnDrift,
) -> Result<()> {
    let report = drift::inspect(conn, &state.applied)?;
    if report.is_clean() {
        return Ok(());
    }
    if on_drift == OnDrift::Allow {
        ctx.info(format!(
            "applying despite schema drift (--allow-drift): {}",
            report.summary()
        ));
        return Ok(());
    }
    Err(Error::schema(format!(
        "refusing to apply migrations: users/items have drifted from the applied migrations ({} difference(s)); nothing was applied",
        report.differences.len()
    ))
    .with_hint("`stackctl schema diff` prints the SQL that undoes the drift; --allow-drift applies the migrations anyway")
    .with_details(report.lines()))
}

#[derive(Serialize)]
struct MigrationRow {
    version: String,
    name: String,
    state: &'static str,
}

const COLUMNS: &[&str] = &["version", "name", "state"];

fn status(ctx: &Ctx) -> Result<()> {
    let (mut conn, _) = ctx.connect_target(ctx.direct_target()?)?;
    ctx.begin_reads(&mut conn)?;
    let state = SchemaState::read(&mut conn)?;
    let mut out = ListWriter::new(ctx.format(), COLUMNS, ctx.stdout());
    for m in &state.embedded {
        out.row(&MigrationRow {
            version: m.version.clone(),
            name: m.name.clone(),
            state: if state.applied.contains(&m.version) {
                "applied"
            } else {
                "pending"
            },
        })?;
    }
    for v in state.unknown() {
        out.row(&MigrationRow {
            version: v.clone(),
            name: String::new(),
            state: "unknown",
        })?;
    }
    out.finish()?;
    // A line for the operator, not for scripts: stdout keeps its shape.
    let report = drift::inspect(&mut conn, &state.applied)?;
    ctx.info(format!("schema drift: {}", report.summary()));
    Ok(())
}

fn revert(ctx: &Ctx, steps: u32, yes: bool, lock: Lock) -> Result<()> {
    let (mut conn, _) = ctx.connect_target(ctx.direct_target()?)?;
    let state = SchemaState::read(&mut conn)?;
    db::refuse_unknown(&state)?;
    let applied: Vec<_> = state
        .embedded
        .iter()
        .filter(|m| state.applied.contains(&m.version))
        .collect();
    if applied.is_empty() {
        ctx.info("no migration is applied; nothing to revert");
        return Ok(());
    }
    let n = (steps as usize).min(applied.len());
    let going: Vec<&str> = applied
        .iter()
        .rev()
        .take(n)
        .map(|m| m.name.as_str())
        .collect();
    let mut loss = format!("reverting {} drops what it created", going.join(", "));
    if going.len() == applied.len() && db::table_exists(&mut conn, "public.users")? {
        loss = format!(
            "{loss}: the users table ({} rows) and the items table ({} rows)",
            db::count_rows(&mut conn, "users")?,
            db::count_rows(&mut conn, "items")?
        );
    }
    if !ctx.global.dry_run {
        prompt::confirm_destructive(yes, &loss)?;
    }
    let reverted = migrations_locked(ctx, &mut conn, "migrate revert", "revert", lock, |conn| {
        (0..n).map(|_| db::revert_last(conn)).collect()
    })?;
    for name in reverted.iter().flatten() {
        ctx.info(format!("reverted {name}"));
    }
    Ok(())
}

/// Apply or revert migrations under the migration lock; `f` returns the names changed.
/// With --dry-run it runs in a transaction that is rolled back, the plan is printed and
/// `None` returned; otherwise the changes are audited (when the audit table exists).
fn migrations_locked(
    ctx: &Ctx,
    conn: &mut diesel::PgConnection,
    command: &str,
    action: &'static str,
    lock: Lock,
    f: impl FnOnce(&mut diesel::PgConnection) -> Result<Vec<String>>,
) -> Result<Option<Vec<String>>> {
    let dry_run = ctx.global.dry_run;
    let mode = match lock.mode {
        LockMode::Auto | LockMode::Advisory => db::locks::LockMode::Transaction,
        LockMode::Table => db::locks::LockMode::Table,
    };
    // One transaction either way (in transaction mode it is the lock's own): every
    // migration of the run is applied, or none is.
    let names = db::locks::with_migration_lock(conn, mode, lock.timeout, |conn| {
        conn.transaction(|conn| {
            ctx.limit_statements(conn)?;
            if dry_run {
                db::rolled_back(conn, f)
            } else {
                f(conn)
            }
        })
    })
    .map_err(|e| db::server::explain_refusal(conn, e))?;
    let changes: Vec<Change> = names
        .iter()
        .map(|name| Change::other(action, "migration", name))
        .collect();
    if dry_run {
        ctx.print_plan(&changes)?;
        return Ok(None);
    }
    ctx.audit_after(conn, command, &changes)?;
    Ok(Some(names))
}
