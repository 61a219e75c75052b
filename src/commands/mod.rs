//! One module per noun; `dispatch` is the only match over commands.

pub mod audit;
pub mod backup;
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
}

impl Ctx {
    pub fn format(&self) -> OutputFormat {
        self.global.output
    }

    /// Informational message on stderr, unless `-q`.
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.global.quiet {
            eprintln!("{}", crate::error::redact(msg.as_ref()));
        }
    }

    /// Diagnostic shown with `-v`.
    pub fn debug(&self, msg: impl AsRef<str>) {
        if self.global.verbose > 0 {
            eprintln!("debug: {}", crate::error::redact(msg.as_ref()));
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
            None => Ok(self.instance()?.target()),
        }
    }

    /// The embedded instance under the data directory.
    pub fn instance(&self) -> Result<crate::local::Instance> {
        let env = |k: &str| std::env::var(k).ok();
        crate::local::Instance::new(crate::local::data_dir(
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
        self.debug(format!(
            "connecting to {} (from {})",
            target.display, target.source
        ));
        let config::Source::Embedded(dir) = &target.source else {
            let conn = db::connect(&target.url)?;
            return Ok((conn, target));
        };
        let mut conn = match db::connect(&target.url) {
            Ok(conn) => conn,
            Err(e) => {
                self.debug(format!("embedded instance not ready ({e}); starting it"));
                crate::local::Instance::new(dir.clone())?.ensure_running(&|m| self.info(m))?;
                db::connect(&target.url)?
            }
        };
        if self.auto_migrate {
            let applied = db::with_migration_lock(&mut conn, db::run_pending)?;
            for name in applied {
                self.info(format!("applied migration {name} to the embedded instance"));
            }
        }
        Ok((conn, target))
    }

    /// Connect to a database whose schema is at this binary's version.
    pub fn connect(&self) -> Result<PgConnection> {
        let (mut conn, _) = self.connect_raw()?;
        db::ensure_ready(&mut conn)?;
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
        if self.global.dry_run {
            let (_, changes) = db::rolled_back(conn, f)?;
            self.print_plan(&changes)?;
            return Ok(None);
        }
        let value = conn.transaction::<_, crate::error::Error, _>(|conn| {
            let (value, changes) = f(conn)?;
            db::audit::record(conn, command, &changes)?;
            Ok(value)
        })?;
        Ok(Some(value))
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
        Command::Status => status::run(ctx),
        Command::Migrate(args) => migrate::run(args, ctx),
        Command::User(cmd) => user::run(cmd, ctx),
        Command::Item(cmd) => item::run(cmd, ctx),
        Command::Backup(args) => backup::run(args, ctx),
        Command::Local(cmd) => local::run(cmd, ctx),
        Command::Audit(cmd) => audit::run(cmd, ctx),
    }
}

/// Write and flush, mapping a closed pipe to success in `main`.
pub fn finish(mut out: impl Write) -> Result<()> {
    out.flush()?;
    Ok(())
}
