//! Schema drift: the live `users` and `items` (read by `db::drift`) against what the
//! applied migrations define (`expected`), as rows `{object, kind, expected, actual,
//! severity}` and the SQL that would bring the schema back. Nothing here touches a
//! connection or prints; the comparison is pure, so it is tested here.

pub mod compare;
pub mod expected;
pub mod sql;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::db::drift::Catalog;
pub use expected::Origin;

/// How much a difference matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// An extra column or index, or a missing or changed index: queries still work.
    Warning,
    /// A missing or changed table, column, constraint or foreign key: writes or reads the
    /// application relies on may fail or behave differently.
    Critical,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// One difference, the row `schema diff` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// `users`, `users.email`, `items.fk_items_owner`, `users.idx_users_is_active`.
    pub object: String,
    /// `missing_table`, `missing_column`, `extra_column`, `changed_type`,
    /// `changed_nullability`, `changed_default`, `missing_constraint`, `changed_constraint`,
    /// `extra_constraint`, `missing_foreign_key`, `changed_foreign_key`, `missing_index`,
    /// `changed_index`, `extra_index`.
    pub kind: &'static str,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub severity: Severity,
    /// The statements that remove this difference (never serialised: the row's shape is
    /// the contract's).
    #[serde(skip)]
    pub fix: Vec<sql::Statement>,
}

/// The keys of a difference row, in order.
pub const COLUMNS: &[&str] = &["object", "kind", "expected", "actual", "severity"];

/// The outcome of one comparison.
#[derive(Debug, Clone)]
pub struct Report {
    /// What the tables were compared with; `None` when no applied migration defines them
    /// (nothing to compare: a fresh database, or one `migrate` has yet to adopt).
    pub origin: Option<Origin>,
    pub differences: Vec<Difference>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }

    /// The worst severity found.
    pub fn worst(&self) -> Option<Severity> {
        self.differences.iter().map(|d| d.severity).max()
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.differences
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// One line: `2 difference(s) (1 CRITICAL, 1 WARNING): users.full_name
    /// changed_nullability, users.idx_users_is_active missing_index`.
    pub fn summary(&self) -> String {
        if self.origin.is_none() {
            return "nothing to compare (no applied migration defines users and items)".into();
        }
        if self.is_clean() {
            return "no drift: users and items match the applied migrations".into();
        }
        let listed: Vec<String> = self
            .differences
            .iter()
            .map(|d| format!("{} {}", d.object, d.kind))
            .collect();
        format!(
            "{} difference(s) ({} CRITICAL, {} WARNING): {}",
            self.differences.len(),
            self.count(Severity::Critical),
            self.count(Severity::Warning),
            listed.join(", ")
        )
    }

    /// One line per difference, for error details.
    pub fn lines(&self) -> Vec<String> {
        self.differences
            .iter()
            .map(|d| {
                format!(
                    "{} {} {}: expected {}, found {}",
                    d.severity.word(),
                    d.object,
                    d.kind,
                    d.expected.as_deref().unwrap_or("nothing"),
                    d.actual.as_deref().unwrap_or("nothing")
                )
            })
            .collect()
    }

    /// The SQL that would bring the schema back, in an order that runs (drops first,
    /// then tables, columns, keys, foreign keys, indexes), each statement once.
    pub fn sql(&self) -> Vec<sql::Statement> {
        sql::script(self.differences.iter().flat_map(|d| d.fix.iter()))
    }
}

/// Compare the live tables with what the applied migrations define.
pub fn compare(applied: &BTreeSet<String>, catalog: &Catalog) -> Report {
    if !expected::defines_tables(applied) {
        return Report {
            origin: None,
            differences: Vec::new(),
        };
    }
    let (origin, differences) =
        compare::closest(catalog, applied.contains(expected::QUERY_INDEXES));
    Report {
        origin: Some(origin),
        differences,
    }
}

/// Read the catalog and compare it: one query.
pub fn inspect(
    conn: &mut diesel::PgConnection,
    applied: &BTreeSet<String>,
) -> crate::error::Result<Report> {
    if !expected::defines_tables(applied) {
        return Ok(compare(applied, &Catalog::default()));
    }
    let catalog = crate::db::drift::read(conn)?;
    Ok(compare(applied, &catalog))
}

#[cfg(test)]
mod tests;
