//! `stackctl migrate [run|status|revert]`, with adoption of application-made schemas.

use serde::Serialize;

use super::simple::migrate as simple;
use super::Ctx;
use crate::change::Change;
use crate::cli::{LockMode, MigrateArgs, MigrateCmd};
use crate::db::{self, adopt, concurrent, SchemaState};
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
    if simple::found(ctx, &mut conn)?.is_some() {
        let created = migrations_locked(
            ctx,
            &mut conn,
            target.url.libpq(),
            "migrate run",
            "apply",
            lock,
            Work::Apply(&mut |conn| Ok((simple::apply_locked(conn)?, concurrent::Next::Done))),
        )?;
        if let Some(created) = created {
            simple::report(ctx, &created);
        }
        return Ok(());
    }
    let mut first = true;
    let Some(applied) = migrations_locked(
        ctx,
        &mut conn,
        target.url.libpq(),
        "migrate run",
        "apply",
        lock,
        Work::Apply(&mut |conn| {
            // Drift is judged before anything is applied, not between the steps of a run.
            let check = std::mem::replace(&mut first, false);
            apply_locked(conn, ctx, on_drift, check)
        }),
    )?
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
    if !ctx.global.dry_run
        && SchemaState::read(&mut conn)?
            .applied
            .contains(db::own::MOVE_VERSION)
    {
        stay_or_move_home(&mut conn, ctx)?;
    }
    Ok(())
}

/// Adopt an application-made schema if there is one, then apply the transactional
/// migrations that are pending (up to the first concurrent one) and say what comes next.
/// With nothing pending nothing is written, so an up-to-date standby answers too.
fn apply_locked(
    conn: &mut diesel::PgConnection,
    ctx: &Ctx,
    on_drift: OnDrift,
    check: bool,
) -> Result<(Vec<String>, concurrent::Next)> {
    let state = SchemaState::read(conn)?;
    db::refuse_unknown(&state)?;
    if state.pending().is_empty() {
        return Ok((Vec::new(), concurrent::next(conn)?));
    }
    if check {
        check_drift(conn, ctx, &state, on_drift)?;
    }
    let initial = state
        .embedded
        .first()
        .ok_or_else(|| Error::failure("this stackctl embeds no migrations"))?
        .clone();
    let mut applied = Vec::new();
    if !state.applied.contains(&initial.version) {
        match adopt::inspect(conn)? {
            adopt::Verdict::Adoptable(additions) => {
                adopt::adopt(conn, &initial.version)?;
                ctx.info(format!(
                    "adopted the existing users/items schema made by the application (recorded {} as applied; rows kept)",
                    initial.name
                ));
                if !additions.is_empty() {
                    ctx.info(format!(
                        "the application's own additions, kept as they are: {}",
                        additions.join("; ")
                    ));
                }
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
    Ok((applied, concurrent::next(conn)?))
}

/// stackctl's tables left in `public` by a role that could not create the schema
/// `stackctl` are moved there by one that can (on a primary); else say where they are.
fn stay_or_move_home(conn: &mut diesel::PgConnection, ctx: &Ctx) -> Result<()> {
    if db::own::schema_in_use(conn)? != "public" {
        return Ok(());
    }
    let primary = db::server::role(conn)? == db::server::Role::Primary;
    if primary && db::own::move_home(conn)? {
        ctx.info("moved stackctl's tables into the schema stackctl, out of the application's");
    } else {
        ctx.info(
            "stackctl's tables stay in the schema public: this role may not create the schema \
             stackctl (a migrate run by the database's owner moves them)",
        );
    }
    Ok(())
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
    let mut report = drift::inspect(conn, &state.applied)?;
    // An index of an applied concurrent migration that is missing (an item import that
    // dropped it for its load was stopped) is built again at the end of this run
    // (`concurrent::next`); no pending migration builds on it.
    let repaired: Vec<String> = state
        .embedded
        .iter()
        .filter(|m| m.concurrent && state.applied.contains(&m.version))
        .flat_map(|m| concurrent::indexes_of(&m.version))
        .map(|name| name.to_string())
        .collect();
    report.differences.retain(|d| {
        d.kind != "missing_index"
            || !d
                .object
                .rsplit_once('.')
                .is_some_and(|(_, name)| repaired.iter().any(|r| r == name))
    });
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
    if simple::found(ctx, &mut conn)?.is_some() {
        return simple::status(ctx, &mut conn);
    }
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
    let drift = match report.origin {
        Some(_) if report.is_clean() => {
            "schema drift: none (users and items match the applied migrations)".to_string()
        }
        Some(_) => format!(
            "schema drift: {}; see stackctl schema diff",
            report.summary()
        ),
        None => format!("schema drift: {}", report.summary()),
    };
    let shape = db::shape::read(&mut conn)?.describe();
    ctx.info(format!("{drift}; layout: stackwizard, {shape}"));
    Ok(())
}

fn revert(ctx: &Ctx, steps: u32, yes: bool, lock: Lock) -> Result<()> {
    let (mut conn, target) = ctx.connect_target(ctx.direct_target()?)?;
    if simple::found(ctx, &mut conn)?.is_some() {
        return Err(simple::refuse_revert());
    }
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
    migrations_locked(
        ctx,
        &mut conn,
        target.url.libpq(),
        "migrate revert",
        "revert",
        lock,
        Work::Revert(n),
    )?
    .into_iter()
    .flatten()
    .for_each(|name| ctx.info(format!("reverted {name}")));
    Ok(())
}

/// One segment of `migrate run`: applies what is pending up to a concurrent migration.
type Segment<'a> =
    dyn FnMut(&mut diesel::PgConnection) -> Result<(Vec<String>, concurrent::Next)> + 'a;

/// What `migrations_locked` does: apply (a segment of transactional migrations, as
/// `apply_locked` does it, between concurrent builds) or revert the newest N.
enum Work<'a> {
    Apply(&'a mut Segment<'a>),
    Revert(usize),
}

/// Apply or revert migrations under the migration lock; returns the names changed.
/// Transactional migrations go in one transaction per segment (in transaction mode the
/// lock's own), so each segment is applied whole or not at all; a concurrent migration is
/// run between segments, statement by statement under the build lock (`db::concurrent`).
/// With --dry-run everything runs in one transaction that is rolled back, where a
/// concurrent migration is only recorded or unrecorded (its statements could not be rolled
/// back), the plan is printed and `None` returned; otherwise the changes are audited (when
/// the audit table exists).
fn migrations_locked(
    ctx: &Ctx,
    conn: &mut diesel::PgConnection,
    url: &str,
    command: &str,
    action: &'static str,
    lock: Lock,
    work: Work,
) -> Result<Option<Vec<String>>> {
    let dry_run = ctx.global.dry_run;
    let spec = concurrent::LockSpec {
        mode: match lock.mode {
            LockMode::Auto | LockMode::Advisory => db::locks::LockMode::Transaction,
            LockMode::Table => db::locks::LockMode::Table,
        },
        timeout: lock.timeout,
        url,
    };
    let note = |m: String| ctx.info(m);
    let done = match work {
        Work::Apply(segment) => concurrent::apply_all(
            conn,
            &spec,
            dry_run,
            |conn| in_transaction(ctx, conn, &mut *segment),
            &note,
        ),
        Work::Revert(n) => concurrent::revert_all(conn, &spec, n, dry_run, |conn, left| {
            in_transaction(ctx, conn, &mut |conn| {
                let mut names = Vec::new();
                while names.len() < left {
                    match db::newest_applied(conn)? {
                        Some(m) if !m.concurrent => names.push(db::revert_last(conn)?),
                        _ => break,
                    }
                }
                Ok(names)
            })
        }),
    }
    .map_err(|e| db::server::explain_refusal(conn, e))?;
    let changes: Vec<Change> = done
        .names
        .iter()
        .map(|name| {
            let change = Change::other(action, "migration", name);
            if dry_run && done.concurrent.contains(name) {
                change.with_detail(serde_json::json!(
                    "its index statements run concurrently, outside a transaction: not run in a dry run"
                ))
            } else {
                change
            }
        })
        .collect();
    if dry_run {
        ctx.print_plan(&changes)?;
        return Ok(None);
    }
    ctx.audit_after(conn, command, &changes)?;
    Ok(Some(done.names))
}

/// Run `f` in a transaction of its own (a savepoint in a dry run's) with the statement
/// limit.
fn in_transaction<T>(
    ctx: &Ctx,
    conn: &mut diesel::PgConnection,
    f: &mut dyn FnMut(&mut diesel::PgConnection) -> Result<T>,
) -> Result<T> {
    conn.transaction(|conn| {
        ctx.limit_statements(conn)?;
        f(conn)
    })
}
