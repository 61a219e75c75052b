//! Every clap type: the command line is the contract (`shared/design/cli-contract.md`).
//! Here the top level (global options, the command list, options several commands share);
//! `data.rs` the user, item and import commands, `ops.rs` the operations ones.

mod data;
mod ops;

pub use data::*;
pub use ops::*;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Administer the PostgreSQL database of a StackWizard (FastAPI + SQLAlchemy) application.
#[derive(Debug, Parser)]
#[command(name = "stackctl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Database URL (postgres://, postgresql://, or SQLAlchemy's postgresql+DRIVER://);
    /// else DATABASE_URL, else DATABASE_URL= in ./.env or --env-file
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// A second URL that reaches the server directly, bypassing a connection pooler; used by
    /// backup, backup restore, backup verify --restore and migrate (else DIRECT_DATABASE_URL,
    /// else DIRECT_DATABASE_URL= in ./.env or --env-file)
    #[arg(long, global = true, value_name = "URL")]
    pub direct_url: Option<String>,

    /// Read DATABASE_URL (and DATABASE_SSL_MODE) from this file instead of ./.env
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,

    /// Data directory of the embedded PostgreSQL used when no database is configured
    /// (default $XDG_DATA_HOME/stackctl, else ~/.local/share/stackctl)
    #[arg(long, global = true, env = "STACKCTL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Output format for data on stdout: on a terminal `table` fits its width (compact
    /// columns, records where a row cannot fit), `wide` prints every column in full
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// No informational messages on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// More diagnostics on stderr (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to colour messages (NO_COLOR is honoured)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Cancel any statement that runs longer than this (e.g. 500ms, 30s); exit 5, rolled back
    #[arg(long, global = true, value_name = "DURATION")]
    pub statement_timeout: Option<String>,

    /// Show what a writing command would change, change nothing, exit as it would have
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// The database's layout: stackwizard (users and items) or simple (the Simple DB
    /// design's users table); detected from the catalog when not given
    #[arg(
        long,
        global = true,
        env = "STACKCTL_LAYOUT",
        value_enum,
        value_name = "LAYOUT"
    )]
    pub layout: Option<crate::layout::Layout>,

    /// bcrypt cost for new password hashes (4 to 31)
    #[arg(long, global = true, env = "STACKCTL_BCRYPT_COST", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(4..=31), value_name = "COST")]
    pub bcrypt_cost: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    /// Every column in full, as a table, at any width (what `table` is under a pipe).
    Wide,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Connection target, server version, schema state and row counts
    Status(StatusArgs),
    /// Apply, inspect or revert schema migrations
    Migrate(MigrateArgs),
    /// Add, list, change and delete users
    #[command(subcommand)]
    User(UserCmd),
    /// Add, list, change and delete items
    #[command(subcommand)]
    Item(ItemCmd),
    /// Take, list, verify and restore backups (pg_dump / pg_restore)
    Backup(Box<BackupArgs>),
    /// The embedded PostgreSQL used when no database is configured
    #[command(subcommand)]
    Local(LocalCmd),
    /// stackctl's record of every change it made
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Print the GRANT statements a least-privilege role needs (run them with --apply)
    Grant(GrantArgs),
    /// Compare the live users and items tables with what the applied migrations define
    #[command(subcommand)]
    Schema(SchemaCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; view with `stackctl man | man -l -`)
    Man,
}

/// Confirmation for destructive commands.
#[derive(Debug, Args, Clone, Copy)]
pub struct Confirmation {
    /// Do not ask; required when stdin is not a terminal
    #[arg(short, long)]
    pub yes: bool,
}

/// Paging shared by the list commands.
#[derive(Debug, Args, Clone, Copy)]
pub struct Paging {
    /// Sort in descending order
    #[arg(long)]
    pub desc: bool,
    /// At most this many rows
    #[arg(long, default_value_t = 50, conflicts_with = "all")]
    pub limit: u32,
    /// Skip this many rows first
    #[arg(long, default_value_t = 0, conflicts_with = "all")]
    pub offset: u32,
    /// Every row, streamed (constant memory)
    #[arg(long)]
    pub all: bool,
}

/// A pair of opposite flags (`--active`/`--inactive`, clap makes them conflict) as the
/// value they ask for: `None` when neither was given.
pub fn either(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// A subcommand reached through the parent's mutable accessors after the parent was
    /// built, and built there by a public method (help), has the global options.
    #[test]
    fn a_subcommand_built_on_its_own_after_its_parent_has_the_global_options() {
        let mut cmd = Cli::command();
        let _ = cmd.render_help();
        let help = cmd
            .find_subcommand_mut("status")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("--database-url"), "{help}");
        let mut cmd = Cli::command();
        cmd.try_get_matches_from_mut(["stackctl", "status"])
            .unwrap();
        let user = cmd.find_subcommand_mut("user").unwrap();
        let help = user.render_help().to_string();
        assert!(help.contains("--output"), "{help}");
    }

    /// The global options' ids, as the root declares them.
    fn global_ids(cmd: &clap::Command) -> Vec<String> {
        cmd.get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.get_id().to_string())
            .collect()
    }

    /// Every subcommand still has every global option once the whole tree is built (help,
    /// completions and the manual page build it), and a global option given at any level
    /// of a path reaches the parsed value, the deepest one given winning as in clap.
    #[test]
    fn global_options_reach_every_subcommand_and_every_level() {
        let mut cmd = Cli::command();
        let globals = global_ids(&cmd);
        cmd.build();
        fn walk(c: &clap::Command, path: &str, globals: &[String], seen: &mut usize) {
            for sc in c.get_subcommands().filter(|sc| sc.get_name() != "help") {
                let path = format!("{path} {}", sc.get_name());
                let ids: Vec<String> = sc.get_arguments().map(|a| a.get_id().to_string()).collect();
                for g in globals {
                    assert_eq!(
                        ids.iter().filter(|i| *i == g).count(),
                        1,
                        "{path}: --{g} in {ids:?}"
                    );
                }
                *seen += 1;
                walk(sc, &path, globals, seen);
            }
        }
        let mut seen = 0;
        walk(&cmd, "stackctl", &globals, &mut seen);
        assert!(seen > 30, "only {seen} subcommands");

        for args in [
            &["stackctl", "-o", "csv", "user", "list"][..],
            &["stackctl", "user", "-o", "csv", "list"],
            &["stackctl", "user", "list", "-o", "csv"],
            &["stackctl", "-o", "json", "user", "list", "-o", "csv"],
            &["stackctl", "item", "list", "--output=csv"],
            &["stackctl", "backup", "list", "-ocsv"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert_eq!(cli.global.output, OutputFormat::Csv, "{args:?}");
        }
        let cli = Cli::try_parse_from([
            "stackctl",
            "-q",
            "user",
            "--database-url",
            "postgres://h/d",
            "deactivate",
            "--bcrypt-cost",
            "5",
            "--dry-run",
            "-vv",
            "a@example.com",
        ])
        .unwrap();
        assert!(cli.global.quiet && cli.global.dry_run);
        assert_eq!(cli.global.verbose, 2);
        assert_eq!(cli.global.bcrypt_cost, 5);
        assert_eq!(cli.global.database_url.as_deref(), Some("postgres://h/d"));
        let err =
            Cli::try_parse_from(["stackctl", "user", "list", "--bcrypt-cost", "99"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }
}
