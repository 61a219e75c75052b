//! One module per noun; `dispatch` is the only match over commands.

pub mod backup;
pub mod item;
pub mod migrate;
pub mod status;
pub mod user;

use std::io::{IsTerminal, Write};

use diesel::PgConnection;

use crate::cli::{ColorChoice, Command, GlobalOpts, OutputFormat};
use crate::config::{self, Target};
use crate::db;
use crate::error::{Error, Result};

/// What every command gets: the global options and ways to reach the database.
pub struct Ctx {
    pub global: GlobalOpts,
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

    /// The configured database, or a usage error saying how to configure one.
    pub fn target(&self) -> Result<Target> {
        let env = |k: &str| std::env::var(k).ok();
        config::resolve(
            self.global.database_url.as_deref(),
            self.global.env_file.as_deref(),
            &env,
        )?
        .ok_or_else(|| {
            Error::usage("no database configured").with_hint(
                "pass --database-url URL, set DATABASE_URL, or put DATABASE_URL= in ./.env",
            )
        })
    }

    /// Connect without checking the schema (migrate, status).
    pub fn connect_raw(&self) -> Result<(PgConnection, Target)> {
        let target = self.target()?;
        self.debug(format!(
            "connecting to {} (from {})",
            target.display, target.source
        ));
        let conn = db::connect(&target.url)?;
        Ok((conn, target))
    }

    /// Connect to a database whose schema is at this binary's version.
    pub fn connect(&self) -> Result<PgConnection> {
        let (mut conn, _) = self.connect_raw()?;
        db::ensure_ready(&mut conn)?;
        Ok(conn)
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
    }
}

/// Write and flush, mapping a closed pipe to success in `main`.
pub fn finish(mut out: impl Write) -> Result<()> {
    out.flush()?;
    Ok(())
}
