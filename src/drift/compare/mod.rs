//! The comparison itself: each expected table, column, key, foreign key and index
//! against the catalog, each difference with the statements that remove it: columns
//! (`columns.rs`), keys and foreign keys (`keys.rs`), indexes (`indexes.rs`); a missing
//! table here.

mod columns;
mod indexes;
mod keys;

use super::expected::{self, Origin};
use super::sql::{Phase, Statement};
use super::{Difference, Severity};
use crate::db::drift::{Catalog, Column, Constraint, Index};
use columns::{column_definition, default_sql};
use indexes::{index_sql, query_index_sql};
use keys::unique_sql;

/// Compare with every origin and keep the closest (the first of `Origin::ALL` on a tie):
/// a schema stackctl created is judged by its migration, an adopted one by `create_all`'s
/// shape or the generated backend's, without stackctl having to remember which it was. `query_indexes`: whether the
/// migration adding stackctl's query indexes is applied (then they are expected).
pub fn closest(catalog: &Catalog, query_indexes: bool) -> (Origin, Vec<Difference>) {
    let drift = |ds: &[Difference]| ds.iter().filter(|d| !super::is_application(d)).count();
    let mut best: Option<(Origin, Vec<Difference>)> = None;
    for origin in Origin::ALL {
        let found = against(origin, catalog, query_indexes);
        let closer = best
            .as_ref()
            .is_none_or(|(_, b)| (drift(&found), found.len()) < (drift(b), b.len()));
        if closer {
            best = Some((origin, found));
        }
    }
    best.expect("at least one origin")
}

/// Every difference from the schema `origin` makes.
pub fn against(origin: Origin, catalog: &Catalog, query_indexes: bool) -> Vec<Difference> {
    let mut out = Vec::new();
    for &table in expected::TABLES {
        if !catalog.tables.iter().any(|t| t == table) {
            out.push(missing_table(origin, catalog, table, query_indexes));
            continue;
        }
        let cx = TableCx {
            origin,
            catalog,
            table,
            query_indexes,
        };
        cx.columns(&mut out);
        let used = cx.constraints(&mut out);
        cx.indexes(&used, &mut out);
    }
    out
}

struct TableCx<'a> {
    origin: Origin,
    catalog: &'a Catalog,
    table: &'static str,
    query_indexes: bool,
}

fn diff(
    object: String,
    kind: &'static str,
    expected: Option<String>,
    actual: Option<String>,
    severity: Severity,
    fix: Vec<Statement>,
) -> Difference {
    Difference {
        object,
        kind,
        expected,
        actual,
        severity,
        fix,
    }
}

fn missing_table(
    origin: Origin,
    catalog: &Catalog,
    table: &'static str,
    query_indexes: bool,
) -> Difference {
    let mut lines: Vec<String> = origin
        .columns()
        .iter()
        .filter(|c| c.table == table)
        .map(|c| {
            let default = default_sql(expected::default_of(origin, table, c.name), catalog);
            format!(
                "    {} {}",
                c.name,
                column_definition(c.ty, c.not_null, default)
            )
        })
        .collect();
    lines.push(format!("    CONSTRAINT {table}_pkey PRIMARY KEY (id)"));
    let mut fix = Vec::new();
    if table == "users" {
        for column in expected::UNIQUE {
            match origin {
                Origin::Migrated => lines.push(format!(
                    "    CONSTRAINT {} UNIQUE ({column})",
                    expected::unique_name(origin, column)
                )),
                Origin::Adopted | Origin::Generated => {
                    fix.push(Statement::new(Phase::Key, unique_sql(origin, column)))
                }
            }
        }
    }
    if table == "items" {
        lines.push(format!(
            "    CONSTRAINT {} {}",
            expected::foreign_key_name(origin),
            expected::foreign_key(origin)
        ));
    }
    fix.insert(
        0,
        Statement::new(
            Phase::Table,
            format!("CREATE TABLE {table} (\n{}\n)", lines.join(",\n")),
        ),
    );
    for (t, name, column) in expected::INDEXES {
        if *t == table {
            fix.push(Statement::new(
                Phase::Index,
                index_sql(false, name, table, column),
            ));
        }
    }
    if query_indexes {
        for q in expected::QUERY_INDEX_LIST {
            if q.table == table && !q.optional {
                fix.push(query_index_sql(q));
            }
        }
    }
    diff(
        table.to_string(),
        "missing_table",
        Some("table".into()),
        None,
        Severity::Critical,
        fix,
    )
}

/// The constraints and indexes a table's checks accounted for.
#[derive(Default)]
struct Used {
    /// Unique indexes (not constraints) that make `email` or `username` unique.
    unique_indexes: Vec<String>,
}

impl TableCx<'_> {
    fn object(&self, name: &str) -> String {
        format!("{}.{name}", self.table)
    }

    fn live_columns(&self) -> impl Iterator<Item = &Column> {
        self.catalog
            .columns
            .iter()
            .filter(move |c| c.table == self.table)
    }

    fn live_constraints(&self) -> impl Iterator<Item = &Constraint> {
        self.catalog
            .constraints
            .iter()
            .filter(move |c| c.table == self.table)
    }

    fn live_indexes(&self) -> impl Iterator<Item = &Index> {
        self.catalog
            .indexes
            .iter()
            .filter(move |i| i.table == self.table)
    }
}
