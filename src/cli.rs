//! Every clap type: the command line is the contract (`shared/design/cli-contract.md`).

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

#[derive(Debug, Subcommand)]
pub enum SchemaCmd {
    /// Every difference (object, kind, expected, actual, severity) and the SQL that would
    /// undo it, which is printed and never run; exit 0 without drift, 6 with
    Diff,
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The role to grant to
    pub role: String,
    /// Reads only: SELECT without the password hashes, no writes
    #[arg(long)]
    pub read_only: bool,
    /// Run the statements (as the tables' owner) instead of only printing them
    #[arg(long)]
    pub apply: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Audit rows, newest first
    List {
        /// Only rows this recent: a duration (90s, 15m, 24h, 7d, 2w) or a time
        /// (2026-11-22, 2026-11-22T10:00:00Z)
        #[arg(long, value_name = "DURATION|TIMESTAMP")]
        since: Option<String>,
        /// Only rows about this target: an id, or a user's email or username
        #[arg(long, value_name = "USER|ID")]
        target: Option<String>,
        /// At most this many rows
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100000), value_name = "N")]
        limit: u32,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV with a header, a JSON array, or JSON objects one per line; - reads stdin
    pub file: PathBuf,
    /// Input format (default: from the extension, else from the first character)
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// Rows whose id (users: email or username too) already exists: fail (exit 4) or skip them
    #[arg(long, value_enum, default_value_t = OnConflict::Fail)]
    pub on_conflict: OnConflict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnConflict {
    Fail,
    Skip,
}

#[derive(Debug, Subcommand)]
pub enum LocalCmd {
    /// Whether it runs, where its data and socket are, its version and size
    Status,
    /// Create it if needed, start it and migrate it
    Start,
    /// Stop it (fast shutdown); the data is kept
    Stop,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Count the rows of users and items even where the table is large (above 100,000
    /// rows the planner's estimate is shown instead, marked `*_estimated`)
    #[arg(long, conflicts_with = "check")]
    pub exact: bool,
    /// Run as a monitoring probe: Nagios exit codes (0 OK, 1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN) and a `STACKCTL <STATE> - ...` summary line first
    #[arg(long)]
    pub check: bool,
    /// WARNING when the newest verified backup is older than this (CRITICAL at twice it)
    #[arg(long, value_name = "DURATION", requires = "check")]
    pub max_backup_age: Option<String>,
    /// Backup directory to check (else STACKCTL_BACKUP_DIR; without either, no backup check)
    #[arg(long, value_name = "DIR", requires = "check")]
    pub backup_dir: Option<PathBuf>,
    /// Connection latency, in milliseconds, above which the check warns
    #[arg(long, value_name = "MS", default_value_t = 1000, requires = "check")]
    pub warn_latency: u64,
    /// Connection latency, in milliseconds, above which the check is critical
    #[arg(long, value_name = "MS", default_value_t = 5000, requires = "check")]
    pub crit_latency: u64,
    #[command(flatten)]
    pub notify: Notify,
}

#[derive(Debug, Args, Clone)]
pub struct Notify {
    /// After the run, POST a JSON summary here (on failure to URL/fail); never fails the job
    #[arg(long, env = "STACKCTL_NOTIFY_URL", value_name = "URL")]
    pub notify_url: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct Retention {
    /// Keep the newest N backups of this database
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,
    /// Keep the newest backup of each of the last N days that have one
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_daily: Option<u32>,
    /// Keep the newest backup of each of the last N ISO weeks that have one
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_weekly: Option<u32>,
    /// Keep the newest backup of each of the last N months that have one
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_monthly: Option<u32>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCmd>,
    #[command(flatten)]
    pub create: BackupCreate,
}

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Take a backup (the default)
    Create(BackupCreate),
    /// Every backup in the directory, with its checksum state
    List {
        #[command(flatten)]
        dir: BackupDir,
    },
    /// Check a backup's checksum and that pg_restore can read it
    Verify {
        /// The backup file
        file: PathBuf,
        /// Also restore it into a scratch database and compare row counts and checksums
        /// with the manifest
        #[arg(long)]
        restore: bool,
        #[command(flatten)]
        tools: PgTools,
    },
    /// Restore a backup into the database, replacing what the backup holds (with --into:
    /// into a new database beside it)
    Restore {
        /// The backup file
        file: PathBuf,
        /// Restore even a backup whose schema version this stackctl does not know
        #[arg(long)]
        force: bool,
        /// Restore into a new database NAME beside the live one, checked against the
        /// manifest; the live database is not touched (NAME existing: exit 4)
        #[arg(long, value_name = "NAME")]
        into: Option<String>,
        /// With --into: drop an existing database NAME, once the restore has been
        /// checked (asks on a terminal, else needs --yes)
        #[arg(long, requires = "into")]
        replace: bool,
        #[command(flatten)]
        confirm: Confirmation,
        #[command(flatten)]
        tools: PgTools,
    },
    /// Delete the backups the retention rules do not keep (with --dry-run: show them)
    Prune {
        #[command(flatten)]
        dir: BackupDir,
        #[command(flatten)]
        retention: Retention,
        /// Database whose backups to prune (default: the connected database's name)
        #[arg(long, value_name = "NAME")]
        database: Option<String>,
    },
}

#[derive(Debug, Args, Clone)]
pub struct BackupDir {
    /// Backup directory (else STACKCTL_BACKUP_DIR, else ./backups)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct PgTools {
    /// pg_dump to use (pg_restore and psql are taken from the same directory)
    #[arg(long, value_name = "PATH")]
    pub pg_dump: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct BackupCreate {
    #[command(flatten)]
    pub dir: BackupDir,
    /// After a verified backup, delete what the retention rules do not keep
    #[command(flatten)]
    pub retention: Retention,
    /// Dump format
    #[arg(long, value_enum, default_value_t = DumpFormat::Custom)]
    pub format: DumpFormat,
    /// Also restore the new backup into a scratch database and compare every table
    #[arg(long)]
    pub verify_restore: bool,
    #[command(flatten)]
    pub tools: PgTools,
    #[command(flatten)]
    pub notify: Notify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    Custom,
    Plain,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: Option<MigrateCmd>,
    /// How concurrent migrate runs are kept apart: auto and advisory take a transaction-level
    /// advisory lock around the one transaction that applies every pending migration (safe
    /// behind PgBouncer's transaction pooling); table takes a row in stackctl_lock
    #[arg(long, global = true, value_enum, default_value_t = LockMode::Auto)]
    pub lock_mode: LockMode,
    /// How long to wait for another migrate run's lock
    #[arg(long, global = true, value_name = "DURATION", default_value = "60s")]
    pub lock_timeout: String,
    /// Apply pending migrations even though users/items have drifted from the applied
    /// ones (see `stackctl schema diff`); without it such a run is refused, exit 6
    #[arg(long, global = true)]
    pub allow_drift: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LockMode {
    Auto,
    Advisory,
    Table,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCmd {
    /// Apply pending migrations (the default)
    Run,
    /// Every migration: version, name, applied or pending
    Status,
    /// Revert applied migrations, newest first
    Revert {
        /// How many migrations to revert
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        steps: u32,
        #[command(flatten)]
        confirm: Confirmation,
    },
}

/// Confirmation for destructive commands.
#[derive(Debug, Args, Clone, Copy)]
pub struct Confirmation {
    /// Do not ask; required when stdin is not a terminal
    #[arg(short, long)]
    pub yes: bool,
}

/// Where a new password comes from. None given: prompt on a terminal, else refuse.
#[derive(Debug, Args, Clone)]
#[group(multiple = false)]
pub struct PasswordSource {
    /// Read the password from the first line of stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Read the password from the first line of this file
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// Generate a random password and print it once
    #[arg(long)]
    pub random_password: bool,
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

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user
    Add(UserAdd),
    /// List users
    List(UserList),
    /// Show a user and the user's items
    Show {
        /// UUID, email or username
        user: String,
    },
    /// Change a user's email, username, full name or superuser flag
    Update(UserUpdate),
    /// Deactivate users (already inactive ones are left as they are)
    Deactivate {
        /// UUIDs, emails or usernames
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Activate users (already active ones are left as they are)
    Activate {
        /// UUIDs, emails or usernames
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Set a user's password
    SetPassword {
        /// UUID, email or username
        user: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Delete a user and, with it, the user's items
    Delete {
        /// UUID, email or username
        user: String,
        /// Give the user's items to this user (UUID, email or username) instead of deleting them
        #[arg(long, value_name = "USER", allow_hyphen_values = true)]
        reassign_items_to: Option<String>,
        #[command(flatten)]
        confirm: Confirmation,
    },
    /// Import users from a CSV or JSON file (- for stdin): all rows or none
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct UserAdd {
    /// Email address (unique, case-insensitively)
    #[arg(long, allow_hyphen_values = true)]
    pub email: String,
    /// Username: 3 to 100 of A-Z a-z 0-9 . _ - (unique, case-insensitively); required on
    /// the stackwizard layout, which the simple layout lacks
    #[arg(long, allow_hyphen_values = true)]
    pub username: Option<String>,
    /// Full name (the simple layout's required name)
    #[arg(long, visible_alias = "name", allow_hyphen_values = true)]
    pub full_name: Option<String>,
    /// Make the user a superuser
    #[arg(long)]
    pub superuser: bool,
    /// Create the user inactive
    #[arg(long)]
    pub inactive: bool,
    /// Succeed without a change when a user with this email and username exists
    #[arg(long)]
    pub if_not_exists: bool,
    #[command(flatten)]
    pub password: PasswordSource,
}

#[derive(Debug, Args)]
pub struct UserList {
    /// Only active users
    #[arg(long, conflicts_with = "inactive")]
    pub active: bool,
    /// Only inactive users
    #[arg(long)]
    pub inactive: bool,
    /// Only superusers
    #[arg(long)]
    pub superuser: bool,
    /// Text in email, username or full name (case-insensitive, literal)
    #[arg(long, allow_hyphen_values = true)]
    pub search: Option<String>,
    /// Sort key
    #[arg(long, value_enum, default_value_t = UserSort::Created)]
    pub sort: UserSort,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UserSort {
    Created,
    Email,
    Username,
}

#[derive(Debug, Args)]
pub struct UserUpdate {
    /// UUID, email or username
    pub user: String,
    /// New email address
    #[arg(long, allow_hyphen_values = true)]
    pub email: Option<String>,
    /// New username
    #[arg(long, allow_hyphen_values = true)]
    pub username: Option<String>,
    /// New full name (the simple layout's name)
    #[arg(
        long,
        visible_alias = "name",
        allow_hyphen_values = true,
        conflicts_with = "clear_full_name"
    )]
    pub full_name: Option<String>,
    /// Remove the full name
    #[arg(long)]
    pub clear_full_name: bool,
    /// Make the user a superuser
    #[arg(long, conflicts_with = "no_superuser")]
    pub superuser: bool,
    /// Take superuser rights away
    #[arg(long)]
    pub no_superuser: bool,
}

#[derive(Debug, Subcommand)]
pub enum ItemCmd {
    /// Create an item
    Add(ItemAdd),
    /// List items with their owners' emails
    List(ItemList),
    /// Show one item
    Show {
        /// The item's UUID
        id: String,
    },
    /// Change an item
    Update(ItemUpdate),
    /// Delete an item
    Delete {
        /// The item's UUID
        id: String,
        #[command(flatten)]
        confirm: Confirmation,
    },
    /// Import items from a CSV or JSON file (- for stdin): all rows or none
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ItemAdd {
    /// Owner: UUID, email or username
    #[arg(long, allow_hyphen_values = true)]
    pub owner: String,
    /// Title (1 to 255 characters)
    #[arg(long, allow_hyphen_values = true)]
    pub title: String,
    /// Free-text description
    #[arg(long, allow_hyphen_values = true)]
    pub description: Option<String>,
    /// Price: 0 to 99999999.99, at most two decimal places (default 0.00)
    #[arg(long, allow_hyphen_values = true)]
    pub price: Option<String>,
    /// Create the item unavailable
    #[arg(long)]
    pub unavailable: bool,
}

#[derive(Debug, Args)]
pub struct ItemList {
    /// Only this owner's items: UUID, email or username
    #[arg(long, allow_hyphen_values = true)]
    pub owner: Option<String>,
    /// Only available items
    #[arg(long, conflicts_with = "unavailable")]
    pub available: bool,
    /// Only unavailable items
    #[arg(long)]
    pub unavailable: bool,
    /// Lowest price, inclusive
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub min_price: Option<String>,
    /// Highest price, inclusive
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub max_price: Option<String>,
    /// Text in title or description (case-insensitive, literal)
    #[arg(long, allow_hyphen_values = true)]
    pub search: Option<String>,
    /// Sort key
    #[arg(long, value_enum, default_value_t = ItemSort::Created)]
    pub sort: ItemSort,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ItemSort {
    Created,
    Price,
    Title,
}

#[derive(Debug, Args)]
pub struct ItemUpdate {
    /// The item's UUID
    pub id: String,
    /// New title
    #[arg(long, allow_hyphen_values = true)]
    pub title: Option<String>,
    /// New description
    #[arg(long, allow_hyphen_values = true, conflicts_with = "clear_description")]
    pub description: Option<String>,
    /// Remove the description
    #[arg(long)]
    pub clear_description: bool,
    /// New price
    #[arg(long, allow_hyphen_values = true)]
    pub price: Option<String>,
    /// Mark available
    #[arg(long, conflicts_with = "unavailable")]
    pub available: bool,
    /// Mark unavailable
    #[arg(long)]
    pub unavailable: bool,
    /// New owner: UUID, email or username
    #[arg(long, allow_hyphen_values = true)]
    pub owner: Option<String>,
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
