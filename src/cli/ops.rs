//! The operations commands' options: status, migrate, backup, local, audit, grant, schema.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::Confirmation;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SchemaCmd {
    /// Every difference (object, kind, expected, actual, severity) and the SQL that would
    /// undo it, which is printed and never run; exit 0 without drift, 6 with
    Diff,
    /// What stackctl writes into a column of the application's it does not know and
    /// cannot leave empty (NOT NULL, no server default), declared once per database; no
    /// argument lists those columns and what was declared
    Default(SchemaDefault),
}

#[derive(Debug, Args)]
pub struct SchemaDefault {
    /// The column, as users.COLUMN or items.COLUMN
    #[arg(value_name = "TABLE.COLUMN")]
    pub column: Option<String>,
    /// The value stackctl writes there, checked against the column's type
    #[arg(value_name = "VALUE", allow_hyphen_values = true)]
    pub value: Option<String>,
    /// Forget what was declared for the column
    #[arg(long, requires = "column", conflicts_with = "value")]
    pub unset: bool,
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
#[command(defer = true)]
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

#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
    #[command(flatten)]
    pub calendar: Calendar,
}

/// `backup create`'s retention: its `--keep` also names the columns an anonymised dump
/// copies as they are.
#[derive(Debug, Args, Clone)]
pub struct CreateRetention {
    /// Keep the newest N backups of this database (with --anonymize: TABLE.COLUMN, an
    /// application column copied as it is; repeatable)
    #[arg(long, value_name = "N|TABLE.COLUMN")]
    pub keep: Vec<Keep>,
    #[command(flatten)]
    pub calendar: Calendar,
}

/// What a `--keep` of `backup create` says: a count of backups, or a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    Backups(u32),
    Column(String),
}

impl std::str::FromStr for Keep {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Keep, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(Keep::Backups(n)),
                _ => Err(format!(
                    "{s} is not a count of backups from 1 to {}",
                    u32::MAX
                )),
            };
        }
        if s.contains('.') {
            return Ok(Keep::Column(s.to_string()));
        }
        Err("expected N (backups to keep) or, with --anonymize, TABLE.COLUMN".into())
    }
}

#[derive(Debug, Args, Clone)]
pub struct Calendar {
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
#[command(defer = true)]
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
        #[command(flatten)]
        anonymize: Box<AnonymizeCopy>,
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

/// `backup restore --into NAME --anonymize`: an anonymised copy (docs/personal-data.md).
#[derive(Debug, Args, Clone, Default)]
pub struct AnonymizeCopy {
    /// With --into: replace every person's data in the copy (fails closed on columns
    /// stackctl does not know)
    #[arg(long, requires = "into")]
    pub anonymize: bool,
    /// Copy this application column as it is (repeatable)
    #[arg(long, value_name = "TABLE.COLUMN", requires = "anonymize")]
    pub keep: Vec<String>,
    #[command(flatten)]
    pub options: Anonymize,
}

/// The options of an anonymised copy or dump but `--anonymize` and `--keep`, which each
/// command spells its own way.
#[derive(Debug, Args, Clone, Default)]
pub struct Anonymize {
    /// A key file: the same key gives each person the same pseudonym in every copy
    /// (without one, each copy differs)
    #[arg(long, value_name = "FILE", requires = "anonymize")]
    pub key: Option<PathBuf>,
    /// Keep a sample of the users, with all their items: N% or a count
    #[arg(long, value_name = "N%|N", requires = "anonymize")]
    pub sample: Option<String>,
    /// Empty this column: null where it may be (repeatable)
    #[arg(long, value_name = "TABLE.COLUMN", requires = "anonymize")]
    pub clear: Vec<String>,
    /// Every copied user's password, from the first line of stdin (else unusable hashes)
    #[arg(long, requires = "anonymize", conflicts_with = "password_file")]
    pub password_stdin: bool,
    /// Every copied user's password, from the first line of this file
    #[arg(long, value_name = "PATH", requires = "anonymize")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct PgTools {
    /// pg_dump to use (pg_restore and psql are taken from the same directory)
    #[arg(long, value_name = "PATH")]
    pub pg_dump: Option<PathBuf>,
    /// Jobs: pg_dump's for --format directory, pg_restore's for a custom or directory
    /// restore into a database of its own (--into, verify --restore, --verify-restore);
    /// default: the client's cores, at most 8. A restore in place is one transaction, one
    /// job; a plain dump is one job
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,
}

#[derive(Debug, Args, Clone)]
pub struct BackupCreate {
    #[command(flatten)]
    pub dir: BackupDir,
    /// After a verified backup, delete what the retention rules do not keep
    #[command(flatten)]
    pub retention: CreateRetention,
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
    /// Write a dump with no personal data in it: the database is dumped, restored into a
    /// scratch database, anonymised and proven there, and that is dumped (not counted by
    /// retention nor by status)
    #[arg(long)]
    pub anonymize: bool,
    #[command(flatten)]
    pub anonymize_options: Anonymize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    Custom,
    Plain,
    /// A directory of files, dumped with --jobs
    Directory,
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
#[command(defer = true)]
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
