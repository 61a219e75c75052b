//! One module per noun; `dispatch` is the only match over commands.

pub mod audit;
pub mod backup;
pub mod check;
pub mod grant;
pub mod import;
pub mod item;
pub mod local;
pub mod migrate;
pub mod status;
pub mod user;

use std::io::{IsTerminal, Write};

use diesel::{Connection, PgConnection};

use crate::change::Change;
use crate::cli::{ColorChoice, Command, GlobalOpts, OutputFormat};
use crate::config::{self, Target};
use crate::db;
use crate::error::Result;

/// What every command gets: the global options and ways to reach the database.
pub struct Ctx {
    pub global: GlobalOpts,
    /// Apply pending migrations to the embedded instance on connecting
    /// (every command but `migrate`, which is about doing that by hand).
    pub auto_migrate: bool,
    /// `--statement-timeout` in milliseconds, parsed before anything connects.
    pub statement_timeout_ms: Option<i64>,
}

impl Ctx {
    /// The context for one command line: global options are checked here, before any
    /// connection is made, so a typo is exit 2 whatever the state of the server.
    pub fn new(global: GlobalOpts, auto_migrate: bool) -> Result<Ctx> {
        let statement_timeout_ms = match &global.statement_timeout {
            Some(raw) => {
                Some(crate::validate::duration("--statement-timeout", raw)?.num_milliseconds())
            }
            None => None,
        };
        Ok(Ctx {
            global,
            auto_migrate,
            statement_timeout_ms,
        })
    }

    pub fn format(&self) -> OutputFormat {
        self.global.output
    }

    /// Informational message on stderr, unless `-q`.
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.global.quiet {
            eprintln!(
                "{}",
                crate::output::terminal_safe(&crate::error::redact(msg.as_ref()))
            );
        }
    }

    /// Diagnostic shown with `-v`.
    pub fn debug(&self, msg: impl AsRef<str>) {
        if self.global.verbose > 0 {
            eprintln!(
                "debug: {}",
                crate::output::terminal_safe(&crate::error::redact(msg.as_ref()))
            );
        }
    }

    pub fn stdout(&self) -> std::io::BufWriter<std::io::StdoutLock<'static>> {
        std::io::BufWriter::new(std::io::stdout().lock())
    }

    /// The configured database, else the embedded instance.
    pub fn target(&self) -> Result<Target> {
        let env = |k: &str| std::env::var(k).ok();
        match config::resolve(
            self.global.database_url.as_deref(),
            self.global.env_file.as_deref(),
            &env,
        )? {
            Some(target) => Ok(target),
            None => self.instance()?.target(),
        }
    }

    /// The server without a pooler in between, for backups, restores and migrations: the
    /// direct URL when one is configured, else the main target.
    pub fn direct_target(&self) -> Result<Target> {
        match self.configured_direct()? {
            Some(target) => Ok(target),
            None => self.target(),
        }
    }

    /// The direct URL, when one is configured.
    fn configured_direct(&self) -> Result<Option<Target>> {
        let env = |k: &str| std::env::var(k).ok();
        config::resolve_direct(
            self.global.direct_url.as_deref(),
            self.global.env_file.as_deref(),
            &env,
        )
    }

    /// Refuse to run a client tool (pg_dump, pg_restore, psql) through a transaction
    /// pooler: their session settings (`search_path = ''` among them) would apply to only
    /// some of their statements and stay on pooled server connections for other clients.
    pub fn refuse_pooled_tools(&self, target: &Target, what: &str) -> Result<()> {
        if matches!(target.source, config::Source::Embedded(_))
            || self.configured_direct()?.is_some()
        {
            return Ok(());
        }
        if db::server::behind_transaction_pooler(target.url.libpq())? {
            return Err(crate::error::Error::usage(format!(
                "{what} cannot run through a transaction pooler: {} shares server connections between clients",
                target.display
            ))
            .with_hint(
                "set DIRECT_DATABASE_URL (or --direct-url) to a URL that reaches PostgreSQL directly",
            ));
        }
        Ok(())
    }

    /// The embedded instance under the data directory.
    pub fn instance(&self) -> Result<crate::embedded::Instance> {
        let env = |k: &str| std::env::var(k).ok();
        crate::embedded::Instance::new(crate::embedded::data_dir(
            self.global.data_dir.as_deref(),
            &env,
        )?)
    }

    /// Connect without checking the schema (migrate, status). The embedded instance
    /// is created, started and (unless `auto_migrate` is off) migrated on the way.
    pub fn connect_raw(&self) -> Result<(PgConnection, Target)> {
        self.connect_target(self.target()?)
    }

    /// `connect_raw` for a given target.
    pub fn connect_target(&self, target: Target) -> Result<(PgConnection, Target)> {
        let (conn, target, _) = self.connect_inner(target)?;
        Ok((conn, target))
    }

    /// `SET LOCAL statement_timeout` for the transaction just begun: a setting that lives
    /// no longer than the transaction holds behind a transaction pooler and leaks nowhere.
    pub fn limit_statements(&self, conn: &mut PgConnection) -> Result<()> {
        use diesel::connection::SimpleConnection;
        if let Some(ms) = self.statement_timeout_ms {
            conn.batch_execute(&format!("SET LOCAL statement_timeout = {ms}"))?;
        }
        Ok(())
    }

    /// With `--statement-timeout`, begin the transaction that the command's reads run in, so
    /// that the limit applies to them (`write` ends it before writing and begins another).
    /// Without it, reads run as they always did, one statement at a time.
    pub fn begin_reads(&self, conn: &mut PgConnection) -> Result<()> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        if self.statement_timeout_ms.is_some() {
            AnsiTransactionManager::begin_transaction(conn)?;
            self.limit_statements(conn)?;
        }
        Ok(())
    }

    /// End the reads' transaction begun by `begin_reads` (it wrote nothing).
    fn end_reads(&self, conn: &mut PgConnection) -> Result<bool> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        if self.statement_timeout_ms.is_none()
            || AnsiTransactionManager::transaction_manager_status_mut(conn)
                .transaction_depth()
                .ok()
                .flatten()
                .is_none()
        {
            return Ok(false);
        }
        AnsiTransactionManager::rollback_transaction(conn)?;
        Ok(true)
    }

    /// Connect; for the embedded instance also start it and (with `auto_migrate`) migrate
    /// it, returning the schema state read on the way so the gate need not read it again.
    fn connect_inner(
        &self,
        target: Target,
    ) -> Result<(PgConnection, Target, Option<db::SchemaState>)> {
        self.debug(format!(
            "connecting to {} (from {})",
            target.display, target.source
        ));
        let config::Source::Embedded(dir) = &target.source else {
            let conn = db::connect(target.url.libpq())?;
            return Ok((conn, target, None));
        };
        let mut conn = match db::connect(target.url.libpq()) {
            Ok(conn) => conn,
            Err(e) => {
                self.debug(format!("embedded instance not ready ({e}); starting it"));
                crate::embedded::Instance::new(dir.clone())?.ensure_running(&|m| self.info(m))?;
                db::connect(target.url.libpq())?
            }
        };
        if !self.auto_migrate {
            return Ok((conn, target, None));
        }
        let state = db::SchemaState::read(&mut conn)?;
        if state.pending().is_empty() || !state.unknown().is_empty() {
            return Ok((conn, target, Some(state)));
        }
        let applied = db::locks::with_migration_lock(
            &mut conn,
            db::locks::LockMode::Transaction,
            std::time::Duration::from_secs(60),
            db::run_pending,
        )?;
        for name in applied {
            self.info(format!("applied migration {name} to the embedded instance"));
        }
        Ok((conn, target, None))
    }

    /// Connect to a database whose schema is at this binary's version.
    pub fn connect(&self) -> Result<PgConnection> {
        let (mut conn, _, state) = self.connect_inner(self.target()?)?;
        match state {
            Some(state) => db::check_ready(&state)?,
            None => db::ensure_ready(&mut conn)?,
        }
        self.begin_reads(&mut conn)?;
        Ok(conn)
    }
}

impl Ctx {
    /// One write: `f` makes the change in a transaction and says what it changed. The
    /// audit rows go into the same transaction. With `--dry-run` everything is rolled back,
    /// the plan is printed, and `None` tells the caller to print nothing else.
    pub fn write<T>(
        &self,
        conn: &mut PgConnection,
        command: &str,
        f: impl FnOnce(&mut PgConnection) -> Result<(T, Vec<Change>)>,
    ) -> Result<Option<T>> {
        let reading = self.end_reads(conn)?;
        let outcome = if self.global.dry_run {
            db::rolled_back(conn, |conn| {
                self.limit_statements(conn)?;
                f(conn)
            })
            .map(|(_, changes)| (None, changes))
        } else {
            conn.transaction::<_, crate::error::Error, _>(|conn| {
                self.limit_statements(conn)?;
                let (value, changes) = f(conn)?;
                db::audit::record(conn, command, &changes)?;
                Ok((Some(value), Vec::new()))
            })
        };
        let (value, plan) = outcome.map_err(|e| db::server::explain_refusal(conn, e))?;
        if reading {
            self.begin_reads(conn)?;
        }
        if self.global.dry_run {
            self.print_plan(&plan)?;
        }
        Ok(value)
    }

    /// Audit changes made outside one transaction of ours (migrations, restores),
    /// when the audit table exists.
    pub fn audit_after(
        &self,
        conn: &mut PgConnection,
        command: &str,
        changes: &[Change],
    ) -> Result<()> {
        if db::table_exists(conn, "public.stackctl_audit")? {
            db::audit::record(conn, command, changes)?;
        }
        Ok(())
    }

    pub fn print_plan(&self, changes: &[Change]) -> Result<()> {
        crate::change::print_plan(self.format(), changes, self.stdout())?;
        self.info(format!(
            "dry run: nothing was written ({} change(s) planned)",
            changes.len()
        ));
        Ok(())
    }
}

/// A listing's progress: with `--all`, a spinner on a terminal and a summary line.
pub struct ListProgress<'a> {
    ctx: &'a Ctx,
    all: bool,
    bar: indicatif::ProgressBar,
    started: std::time::Instant,
}

impl ListProgress<'_> {
    pub fn row(&self) {
        self.bar.inc(1);
    }

    pub fn done(self, n: usize, noun: &str) -> Result<()> {
        self.bar.finish_and_clear();
        let secs = self.started.elapsed().as_secs_f64();
        let line = format!("listed {n} {noun}(s) in {secs:.1}s");
        if self.all {
            self.ctx.info(line);
        } else {
            self.ctx.debug(line);
        }
        Ok(())
    }
}

impl Ctx {
    pub fn list_progress(&self, all: bool) -> ListProgress<'_> {
        ListProgress {
            ctx: self,
            all,
            bar: if all {
                crate::progress::rows(self.global.quiet)
            } else {
                indicatif::ProgressBar::hidden()
            },
            started: std::time::Instant::now(),
        }
    }
}

pub fn color_enabled(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}

pub fn dispatch(command: Command, ctx: &Ctx) -> Result<()> {
    match command {
        Command::Status(args) if args.check => check::run(args, ctx),
        Command::Status(_) => status::run(ctx),
        Command::Migrate(args) => migrate::run(args, ctx),
        Command::User(cmd) => user::run(cmd, ctx),
        Command::Item(cmd) => item::run(cmd, ctx),
        Command::Backup(args) => backup::run(args, ctx),
        Command::Local(cmd) => local::run(cmd, ctx),
        Command::Audit(cmd) => audit::run(cmd, ctx),
        Command::Grant(args) => grant::run(args, ctx),
        Command::Completions { shell } => {
            let mut out = ctx.stdout();
            clap_complete::generate(
                shell,
                &mut <crate::cli::Cli as clap::CommandFactory>::command(),
                "stackctl",
                &mut out,
            );
            finish(out)
        }
        Command::Man => {
            let mut out = ctx.stdout();
            clap_mangen::Man::new(<crate::cli::Cli as clap::CommandFactory>::command())
                .render(&mut out)?;
            finish(out)
        }
    }
}

/// Write and flush, mapping a closed pipe to success in `main`.
pub fn finish(mut out: impl Write) -> Result<()> {
    out.flush()?;
    Ok(())
}
