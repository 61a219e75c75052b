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

    /// Output format for data on stdout
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
    Backup(BackupArgs),
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
