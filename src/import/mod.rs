//! Reading import files and checking their rows: CSV with a header, a JSON array, or JSON
//! with one object per line (NDJSON), each record read into the kind's named row
//! (`users::UserRow`, `items::ItemRow`), then checked into what the database takes. CSV
//! and NDJSON are read as a stream; a JSON array is read whole.
//!
//! A column is absent (no such column or key), null (an empty CSV field, JSON null) or text:
//! `Option<Option<String>>` in a row. Absent and null differ on purpose: an absent column
//! takes the default (`is_active` true, `price` 0.00, timestamps now), a null one is stored
//! as NULL, so an export imports back to the same rows.
//!
//! The writes themselves (`users::import`, `items::import`) take a connection in the
//! transaction the command opened; the COPY encoding is `db::copy`'s.

mod input;
pub mod items;
pub(crate) mod reader;
mod row;
pub mod users;
pub mod values;

pub use input::Input;
pub use reader::Records;
pub use row::{columns, Numbered};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// What to do with rows that already exist in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Import nothing and list them (exit 4).
    Fail,
    /// Import the other rows and count these as skipped.
    Skip,
}

/// How many rows an import wrote and how many it skipped as existing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub rows: usize,
    pub skipped: usize,
}

/// A bad record: where and why.
#[derive(Debug, Clone)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

/// Bad rows, in file order; the report lists the first `SHOWN` and counts the rest.
#[derive(Debug, Default)]
pub struct RowErrors {
    pub rows: Vec<RowError>,
    pub total: usize,
}

pub const SHOWN: usize = 50;

impl RowErrors {
    pub fn push(&mut self, line: u64, reason: impl Into<String>) {
        self.total += 1;
        if self.rows.len() < SHOWN {
            self.rows.push(RowError {
                line,
                reason: reason.into(),
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// These and `more` (bad rows found elsewhere, `more_total` of them in all), in line
    /// order: the first `SHOWN` of both and their total.
    pub fn merged(mut self, more: Vec<RowError>, more_total: usize) -> RowErrors {
        self.total += more_total;
        self.rows.extend(more);
        self.rows.sort_by_key(|r| r.line);
        self.rows.truncate(SHOWN);
        self
    }

    /// One line per bad row and a count of those not shown.
    fn listing(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .rows
            .iter()
            .map(|e| format!("line {}: {}", e.line, e.reason))
            .collect();
        if self.total > self.rows.len() {
            out.push(format!("... and {} more", self.total - self.rows.len()));
        }
        out
    }

    /// Exit 2: the file has bad rows; nothing was written.
    pub fn into_error(self, file: &str) -> Error {
        Error::usage(format!(
            "{file} has {} bad row(s); nothing was imported",
            self.total
        ))
        .with_details(self.listing())
    }

    /// Exit 4: rows that clash with the database; nothing was written.
    pub fn into_conflict(self, file: &str) -> Error {
        Error::conflict(format!(
            "{file} has {} row(s) that already exist; nothing was imported",
            self.total
        ))
        .with_details(self.listing())
        .with_hint("use --on-conflict skip to import the other rows")
    }
}

/// A write into COPY failed: the connection is gone (exit 5), never a closed stdout.
fn copy_lost(e: std::io::Error) -> Error {
    Error::unreachable(format!(
        "lost the database connection during the import: {e}"
    ))
}
