//! Schema drift: the live `users` and `items` (read by `db::drift`) against what the
//! applied migrations define (`expected`), as rows `{object, kind, expected, actual,
//! severity}` and the SQL that would bring the schema back. The schema belongs to the
//! application, which keeps changing it with its own Alembic: what it added or chose
//! (columns, indexes, constraints, tables, its own defaults and NOT NULLs) is listed as
//! the application's (`additions`, severity INFO, never a fix), and only what stackctl
//! needs and finds missing or changed is drift. Nothing here touches a connection or
//! prints; the comparison is pure, so it is tested here.

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
    /// The application's own addition or choice: listed, never drift.
    Info,
    /// A missing or changed index: queries still work.
    Warning,
    /// A missing or changed table, column, constraint or foreign key: writes or reads the
    /// application relies on may fail or behave differently.
    Critical,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
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
    /// Drift: what stackctl's migrations define, missing or changed.
    pub differences: Vec<Difference>,
    /// The application's additions and choices (severity INFO, no fix).
    pub additions: Vec<Difference>,
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
            let mut s =
                String::from("no drift: users and items hold what the applied migrations define");
            if !self.additions.is_empty() {
                s.push_str(&format!(
                    " (and {} addition(s) of the application's: {})",
                    self.additions.len(),
                    self.additions_listed()
                ));
            }
            return s;
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

    /// The application's additions, `object kind` each.
    pub fn additions_listed(&self) -> String {
        self.additions
            .iter()
            .map(|d| format!("{} {}", d.object, d.kind))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One line per difference, for error details.
    pub fn lines(&self) -> Vec<String> {
        // (drift only: the application's additions are not findings)
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
            additions: Vec::new(),
        };
    }
    let (origin, all) = compare::closest(catalog, applied.contains(expected::QUERY_INDEXES));
    let (mut additions, differences): (Vec<Difference>, Vec<Difference>) =
        all.into_iter().partition(is_application);
    for a in &mut additions {
        a.kind = application_kind(a.kind);
        a.severity = Severity::Info;
        a.fix.clear();
    }
    additions.extend(catalog.other_tables.iter().map(|t| Difference {
        object: t.clone(),
        kind: "application_table",
        expected: None,
        actual: Some("table".into()),
        severity: Severity::Info,
        fix: Vec::new(),
    }));
    Report {
        origin: Some(origin),
        differences,
        additions,
    }
}

/// Whether a difference is the application's own: a column, index, constraint it added,
/// a default it changed (stackctl writes every column itself), or a NOT NULL it put on a
/// column stackctl may leave empty (a write that leaves it empty is then refused, exit 6,
/// by the server). A NOT NULL dropped from a column stackctl reads as never empty stays
/// drift.
pub fn is_application(d: &Difference) -> bool {
    match d.kind {
        "extra_column" | "extra_index" | "extra_constraint" | "changed_default" => true,
        "changed_nullability" => d.actual.as_deref() == Some("NOT NULL"),
        _ => false,
    }
}

/// The kind an application's addition is listed under.
fn application_kind(kind: &str) -> &'static str {
    match kind {
        "extra_column" => "application_column",
        "extra_index" => "application_index",
        "extra_constraint" => "application_constraint",
        "changed_default" => "application_default",
        _ => "application_nullability",
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
