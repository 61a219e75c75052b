//! Columns: missing, extra, or changed in type, nullability or default.

use super::{diff, TableCx};
use crate::db::drift::{Catalog, Column};
use crate::drift::expected::{self, ColumnSpec, Default};
use crate::drift::sql::{ident, Phase, Statement};
use crate::drift::{Difference, Severity};

/// The default's SQL. A new id comes from `uuid_generate_v4()` where another id still
/// does (so `uuid-ossp` is there), else from the core `gen_random_uuid()`: asking the
/// catalog whether the extension is installed would cost the query another catalog.
pub(super) fn default_sql(default: Default, catalog: &Catalog) -> Option<&'static str> {
    match default {
        Default::None => None,
        Default::NewUuid
            if catalog.columns.iter().any(|c| {
                c.name == "id"
                    && c.default.as_deref().map(unqualified) == Some("uuid_generate_v4()")
            }) =>
        {
            Some("uuid_generate_v4()")
        }
        Default::NewUuid => Some("gen_random_uuid()"),
        Default::Expr(e) => Some(e),
    }
}

/// `schema.f()` read as `f()` for the id generators, wherever their extension lives.
fn unqualified(expr: &str) -> &str {
    for f in ["uuid_generate_v4()", "gen_random_uuid()"] {
        if let Some(prefix) = expr.strip_suffix(f) {
            if prefix.is_empty()
                || (prefix.ends_with('.')
                    && !prefix.contains(|c: char| c.is_whitespace() || c == '('))
            {
                return f;
            }
        }
    }
    expr
}

fn default_matches(want: Default, actual: Option<&str>) -> bool {
    let actual = actual.map(unqualified);
    match want {
        Default::None => actual.is_none(),
        Default::NewUuid => matches!(actual, Some("uuid_generate_v4()" | "gen_random_uuid()")),
        Default::Expr("now()") => matches!(
            actual,
            Some("now()" | "CURRENT_TIMESTAMP" | "transaction_timestamp()")
        ),
        Default::Expr(e) => actual == Some(e),
    }
}

/// `type[ NOT NULL][ DEFAULT expr]`.
pub(super) fn column_definition(ty: &str, not_null: bool, default: Option<&str>) -> String {
    let mut s = ty.to_string();
    if not_null {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = default {
        s.push_str(" DEFAULT ");
        s.push_str(d);
    }
    s
}

impl TableCx<'_> {
    pub(super) fn columns(&self, out: &mut Vec<Difference>) {
        let table = self.table;
        for spec in self.origin.columns().iter().filter(|c| c.table == table) {
            match self.live_columns().find(|c| c.name == spec.name) {
                None => out.push(self.missing_column(spec)),
                Some(live) => self.changed_column(spec, live, out),
            }
        }
        for live in self.live_columns() {
            if self
                .origin
                .columns()
                .iter()
                .any(|c| c.table == table && c.name == live.name)
            {
                continue;
            }
            // A NOT NULL column without a default makes every insert that does not know
            // it fail: that is a changed table, not a harmless addition.
            let blocks_inserts = live.not_null && live.default.is_none();
            out.push(diff(
                self.object(&live.name),
                "extra_column",
                None,
                Some(column_definition(
                    &live.ty,
                    live.not_null,
                    live.default.as_deref(),
                )),
                if blocks_inserts {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                vec![Statement::new(
                    Phase::Column,
                    format!("ALTER TABLE {table} DROP COLUMN {}", ident(&live.name)),
                )
                .noted("drops the column and its data")],
            ));
        }
    }

    fn expected_default(&self, spec: &ColumnSpec) -> Default {
        expected::default_of(self.origin, self.table, spec.name)
    }

    fn missing_column(&self, spec: &ColumnSpec) -> Difference {
        let default = default_sql(self.expected_default(spec), self.catalog);
        let definition = column_definition(spec.ty, spec.not_null, default);
        let mut add = Statement::new(
            Phase::Column,
            format!(
                "ALTER TABLE {} ADD COLUMN {} {definition}",
                self.table, spec.name
            ),
        );
        if spec.not_null && default.is_none() {
            add = add.noted("fails while the table has rows: they would have no value");
        }
        diff(
            self.object(spec.name),
            "missing_column",
            Some(definition),
            None,
            Severity::Critical,
            vec![add],
        )
    }

    fn changed_column(&self, spec: &ColumnSpec, live: &Column, out: &mut Vec<Difference>) {
        let (table, name) = (self.table, spec.name);
        let alter = |what: String| {
            Statement::new(
                Phase::Column,
                format!("ALTER TABLE {table} ALTER COLUMN {name} {what}"),
            )
        };
        let want_default = self.expected_default(spec);
        let default = default_sql(want_default, self.catalog);
        if live.ty != spec.ty {
            // A default of the old type may not convert: drop it, convert, set ours.
            let mut fix = Vec::new();
            if live.default.is_some() {
                fix.push(alter("DROP DEFAULT".into()));
            }
            fix.push(alter(format!("TYPE {0} USING {name}::{0}", spec.ty)));
            if let Some(d) = default {
                fix.push(alter(format!("SET DEFAULT {d}")));
            }
            out.push(diff(
                self.object(name),
                "changed_type",
                Some(spec.ty.into()),
                Some(live.ty.clone()),
                Severity::Critical,
                fix,
            ));
        }
        if live.not_null != spec.not_null {
            let word = |nn: bool| if nn { "NOT NULL" } else { "NULL" };
            let fix = if spec.not_null {
                alter("SET NOT NULL".into()).noted("fails while the column holds NULLs")
            } else {
                alter("DROP NOT NULL".into())
            };
            out.push(diff(
                self.object(name),
                "changed_nullability",
                Some(word(spec.not_null).into()),
                Some(word(live.not_null).into()),
                Severity::Critical,
                vec![fix],
            ));
        }
        if !default_matches(want_default, live.default.as_deref()) {
            let fix = match default {
                Some(d) => alter(format!("SET DEFAULT {d}")),
                None => alter("DROP DEFAULT".into()),
            };
            out.push(diff(
                self.object(name),
                "changed_default",
                default.map(String::from),
                live.default.clone(),
                Severity::Critical,
                vec![fix],
            ));
        }
    }
}
