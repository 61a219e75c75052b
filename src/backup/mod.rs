//! Backups: pg_dump written atomically and privately, checked by re-reading, described by
//! a manifest, one run per directory at a time; retention, verification and restores.
//! Nothing here parses arguments or renders rows (`commands::backup` does), and every
//! query lives in `db::snapshot`.

pub mod catalog;
pub mod create;
pub mod directory;
pub mod files;
pub mod manifest;
pub mod plain;
pub mod restore;
pub mod retention;
pub mod verify;

pub use manifest::{Format, Manifest};

/// Where backup/ sends its messages; the command decides whether they are shown.
pub trait Log {
    /// An informational message (hidden by `-q`).
    fn info(&self, msg: String);
    /// A diagnostic (shown with `-v`).
    fn debug(&self, msg: String);
    /// Something the operator must see, `-q` or not (printed as `warning: ...`).
    fn warn(&self, msg: String);
}
