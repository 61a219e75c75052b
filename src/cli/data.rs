//! The data commands' options: users, items and their imports.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{Confirmation, Paging};

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

#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
    /// Everything stackctl finds about one user, as one JSON document: the profile (every
    /// column the application has, the password hash left out), the items and the audit
    /// trail's rows about them
    Export {
        /// UUID, email or username
        user: String,
    },
    /// Delete a user and the user's items, and replace what names them in the audit trail
    /// with a stable pseudonym (the erasure itself is audited under it)
    Erase {
        /// UUID, email or username
        user: String,
        #[command(flatten)]
        confirm: Confirmation,
    },
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
#[command(defer = true)]
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
    Import(ItemImportArgs),
}

#[derive(Debug, Args)]
pub struct ItemImportArgs {
    #[command(flatten)]
    pub import: ImportArgs,
    /// stackctl's own indexes on items during the load: auto drops them before a file at
    /// least 64 MiB and twice the table's size and builds them again after; always, never
    #[arg(long, value_enum, default_value_t = RebuildIndexes::Auto)]
    pub rebuild_indexes: RebuildIndexes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RebuildIndexes {
    Auto,
    Always,
    Never,
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
