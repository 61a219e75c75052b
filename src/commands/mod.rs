//! One module per noun; `dispatch` is the only match over commands.

pub mod audit;
pub mod backup;
pub mod check;
pub mod grant;
pub mod import;
pub mod item;
pub mod local;
pub mod migrate;
pub mod schema;
pub mod simple;
pub mod status;
pub mod user;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use crate::change::Change;
use crate::cli::{ColorChoice, Command, GlobalOpts, OutputFormat};
use crate::error::Result;

/// What every command gets: the global options and ways to reach the database.
pub struct Ctx {
    pub global: GlobalOpts,
    /// Apply pending migrations to the embedded instance on connecting
    /// (every command but `migrate`, which is about doing that by hand).
    pub auto_migrate: bool,
    /// `--statement-timeout` in milliseconds, parsed before anything connects.
    pub statement_timeout_ms: Option<i64>,
    /// What the Simple DB layout lacks for this command line (`layout::simple_lacks`):
    /// refused once the gate finds that layout.
    pub simple_lacks: Option<&'static str>,
}

impl Ctx {
    /// The context for one command line: global options are checked here, before any
    /// connection is made, so a typo is exit 2 whatever the state of the server.
    pub fn new(global: GlobalOpts, auto_migrate: bool) -> Result<Ctx> {
        let statement_timeout_ms = match &global.statement_timeout {
            Some(raw) => {
                crate::error::note_statement_timeout();
                Some(crate::validate::duration("--statement-timeout", raw)?.num_milliseconds())
            }
            None => None,
        };
        crate::output::fit::init(global.output == OutputFormat::Table);
        Ok(Ctx {
            global,
            auto_migrate,
            statement_timeout_ms,
            simple_lacks: None,
        })
    }

    /// The format data is rendered in: `wide` is a table (every column in full), and
    /// whether a table fits the terminal is `output::fit`'s to say.
    pub fn format(&self) -> OutputFormat {
        match self.global.output {
            OutputFormat::Wide => OutputFormat::Table,
            other => other,
        }
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

    /// Something the operator must see, `-q` or not: one `warning: ...` line on stderr.
    pub fn warn(&self, msg: impl AsRef<str>) {
        eprintln!(
            "warning: {}",
            crate::output::terminal_safe(&crate::error::redact(msg.as_ref()))
        );
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
}

impl Ctx {
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
    /// Rows not yet added to the bar: it is told every `PROGRESS_STEP` rows, since each
    /// `inc` reads the clock (3% of stackctl's CPU in a profile of a million-item export).
    pending: std::cell::Cell<u64>,
}

const PROGRESS_STEP: u64 = 1024;

impl ListProgress<'_> {
    pub fn row(&self) {
        let n = self.pending.get() + 1;
        if n == PROGRESS_STEP {
            self.bar.inc(n);
            self.pending.set(0);
        } else {
            self.pending.set(n);
        }
    }

    pub fn done(self, n: usize, noun: &str) -> Result<()> {
        self.bar.inc(self.pending.get());
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
            pending: std::cell::Cell::new(0),
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

/// Run one command; its exit code is 0 but for the two whose finding is their code
/// (`status --check`'s Nagios states, `schema diff`'s drift).
pub fn dispatch(command: Command, ctx: &Ctx) -> Result<ExitCode> {
    let done = match command {
        Command::Status(args) if args.check => return check::run(args, ctx),
        Command::Schema(cmd) => return schema::run(cmd, ctx),
        Command::Status(args) => status::run(ctx, args.exact),
        Command::Migrate(args) => migrate::run(args, ctx),
        Command::User(cmd) => user::run(cmd, ctx),
        Command::Item(cmd) => item::run(cmd, ctx),
        Command::Backup(args) => backup::run(*args, ctx),
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
    };
    done.map(|()| ExitCode::SUCCESS)
}

/// Write and flush; a closed pipe is success (`crate::run` decides).
pub fn finish(mut out: impl Write) -> Result<()> {
    out.flush()?;
    Ok(())
}
