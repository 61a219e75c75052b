//! The comparison itself: each expected table, column, key, foreign key and index
//! against the catalog, each difference with the statements that remove it.

use super::expected::{self, ColumnSpec, Default, Origin};
use super::sql::{ident, Phase, Statement};
use super::{Difference, Severity};
use crate::db::drift::{Catalog, Column, Constraint, Index};

/// Compare with both origins and keep the closer one (the migration's on a tie): a
/// schema stackctl created is judged by its migration, an adopted one by `create_all`'s
/// shape, without stackctl having to remember which it was. `query_indexes`: whether the
/// migration adding stackctl's query indexes is applied (then they are expected).
pub fn closest(catalog: &Catalog, query_indexes: bool) -> (Origin, Vec<Difference>) {
    let migrated = against(Origin::Migrated, catalog, query_indexes);
    let adopted = against(Origin::Adopted, catalog, query_indexes);
    if adopted.len() < migrated.len() {
        (Origin::Adopted, adopted)
    } else {
        (Origin::Migrated, migrated)
    }
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

/// The default's SQL. A new id comes from `uuid_generate_v4()` where another id still
/// does (so `uuid-ossp` is there), else from the core `gen_random_uuid()`: asking the
/// catalog whether the extension is installed would cost the query another catalog.
fn default_sql(default: Default, catalog: &Catalog) -> Option<&'static str> {
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
fn column_definition(ty: &str, not_null: bool, default: Option<&str>) -> String {
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

/// One of stackctl's query indexes, built the plain way: a fix script runs in one
/// transaction, where `CREATE INDEX CONCURRENTLY` cannot.
fn query_index_sql(q: &expected::QueryIndex) -> Statement {
    Statement::new(
        Phase::Index,
        format!("CREATE INDEX {} ON {} {}", q.name, q.table, q.using),
    )
    .noted("blocks writes to the table while it builds; on a busy table run it alone as CREATE INDEX CONCURRENTLY")
}

fn index_sql(unique: bool, name: &str, table: &str, column: &str) -> String {
    format!(
        "CREATE {}INDEX {} ON {table} ({})",
        if unique { "UNIQUE " } else { "" },
        ident(name),
        ident(column)
    )
}

/// What follows an index's name in `pg_get_indexdef` (` ON public.users USING btree
/// (email)`), when it is an index of that uniqueness.
fn after_name(index: &Index, unique: bool) -> Option<&str> {
    let rest = index.definition.strip_prefix(if unique {
        "CREATE UNIQUE INDEX "
    } else {
        "CREATE INDEX "
    })?;
    let quoted = format!("\"{}\"", index.name.replace('"', "\"\""));
    rest.strip_prefix(quoted.as_str())
        .or_else(|| rest.strip_prefix(index.name.as_str()))
}

/// `pg_get_constraintdef` without the schema a search path may add before `users`.
fn constraint_definition(c: &Constraint) -> String {
    c.definition.replace("REFERENCES public.", "REFERENCES ")
}

fn foreign_key_sql(origin: Origin) -> String {
    format!(
        "ALTER TABLE items ADD CONSTRAINT {} FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE",
        expected::foreign_key_name(origin)
    )
}

fn unique_sql(origin: Origin, column: &str) -> String {
    let name = expected::unique_name(origin, column);
    match origin {
        Origin::Migrated => format!("ALTER TABLE users ADD CONSTRAINT {name} UNIQUE ({column})"),
        Origin::Adopted => index_sql(true, &name, "users", column),
    }
}

fn missing_table(
    origin: Origin,
    catalog: &Catalog,
    table: &'static str,
    query_indexes: bool,
) -> Difference {
    let mut lines: Vec<String> = expected::COLUMNS
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
                Origin::Adopted => fix.push(Statement::new(Phase::Key, unique_sql(origin, column))),
            }
        }
    }
    if table == "items" {
        lines.push(format!(
            "    CONSTRAINT {} FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE",
            expected::foreign_key_name(origin)
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

    fn columns(&self, out: &mut Vec<Difference>) {
        let table = self.table;
        for spec in expected::COLUMNS.iter().filter(|c| c.table == table) {
            match self.live_columns().find(|c| c.name == spec.name) {
                None => out.push(self.missing_column(spec)),
                Some(live) => self.changed_column(spec, live, out),
            }
        }
        for live in self.live_columns() {
            if expected::COLUMNS
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

    fn drop_constraint(&self, name: &str) -> Statement {
        Statement::new(
            Phase::Drop,
            format!("ALTER TABLE {} DROP CONSTRAINT {}", self.table, ident(name)),
        )
    }

    fn extra_constraint(&self, c: &Constraint) -> Difference {
        diff(
            self.object(&c.name),
            "extra_constraint",
            None,
            Some(constraint_definition(c)),
            Severity::Critical,
            vec![self.drop_constraint(&c.name)],
        )
    }

    /// The primary key, the unique columns, the foreign key, and anything else.
    fn constraints(&self, out: &mut Vec<Difference>) -> Used {
        let table = self.table;
        let mut used = Used::default();
        let mut primary_key = false;
        let mut unique_done: Vec<&str> = Vec::new();
        let mut foreign_key = false;
        let mut other_keys: Vec<&Constraint> = Vec::new();
        for c in self.live_constraints() {
            let definition = constraint_definition(c);
            match c.kind.as_str() {
                "p" if definition == "PRIMARY KEY (id)" => primary_key = true,
                "p" => {
                    primary_key = true;
                    out.push(diff(
                        self.object(&c.name),
                        "changed_constraint",
                        Some("PRIMARY KEY (id)".into()),
                        Some(definition),
                        Severity::Critical,
                        vec![
                            self.drop_constraint(&c.name),
                            Statement::new(
                                Phase::Key,
                                format!("ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)"),
                            ),
                        ],
                    ));
                }
                "u" if table == "users"
                    && expected::UNIQUE
                        .iter()
                        .any(|col| definition == format!("UNIQUE ({col})")) =>
                {
                    unique_done.extend(
                        expected::UNIQUE
                            .iter()
                            .filter(|col| definition == format!("UNIQUE ({col})")),
                    );
                }
                "f" if table == "items" && definition.starts_with("FOREIGN KEY (owner_id) ") => {
                    if definition == expected::FOREIGN_KEY && !foreign_key {
                        foreign_key = true;
                    } else {
                        other_keys.push(c);
                    }
                }
                _ => out.push(self.extra_constraint(c)),
            }
        }
        if !primary_key {
            out.push(diff(
                self.object(&format!("{table}_pkey")),
                "missing_constraint",
                Some("PRIMARY KEY (id)".into()),
                None,
                Severity::Critical,
                vec![Statement::new(
                    Phase::Key,
                    format!("ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)"),
                )],
            ));
        }
        if table == "users" {
            for column in expected::UNIQUE {
                if unique_done.contains(column) {
                    continue;
                }
                // `create_all` makes the column unique with a unique index instead.
                let want = format!(" ON public.users USING btree ({column})");
                if let Some(ix) = self.live_indexes().find(|i| {
                    i.constraint.is_none()
                        && !used.unique_indexes.contains(&i.name)
                        && after_name(i, true) == Some(want.as_str())
                }) {
                    used.unique_indexes.push(ix.name.clone());
                    continue;
                }
                out.push(diff(
                    self.object(&expected::unique_name(self.origin, column)),
                    "missing_constraint",
                    Some(format!("UNIQUE ({column})")),
                    None,
                    Severity::Critical,
                    vec![Statement::new(Phase::Key, unique_sql(self.origin, column))
                        .noted("fails while two rows share a value")],
                ));
            }
        }
        if table == "items" {
            let add = || {
                Statement::new(Phase::ForeignKey, foreign_key_sql(self.origin))
                    .noted("fails while an item's owner_id names no user")
            };
            let mut others = other_keys.into_iter();
            if !foreign_key {
                match others.next() {
                    Some(c) => out.push(diff(
                        self.object(&c.name),
                        "changed_foreign_key",
                        Some(expected::FOREIGN_KEY.into()),
                        Some(constraint_definition(c)),
                        Severity::Critical,
                        vec![self.drop_constraint(&c.name), add()],
                    )),
                    None => out.push(diff(
                        self.object(expected::foreign_key_name(self.origin)),
                        "missing_foreign_key",
                        Some(expected::FOREIGN_KEY.into()),
                        None,
                        Severity::Critical,
                        vec![add()],
                    )),
                }
            }
            for c in others {
                out.push(self.extra_constraint(c));
            }
        }
        used
    }

    /// Our `idx_*` indexes, and any index that is neither ours nor a constraint's.
    fn indexes(&self, used: &Used, out: &mut Vec<Difference>) {
        let table = self.table;
        let ours: Vec<&(&str, &str, &str)> = expected::INDEXES
            .iter()
            .filter(|(t, _, _)| *t == table)
            .collect();
        for (_, name, column) in &ours {
            let want = expected::index_definition(false, name, table, column);
            let create = Statement::new(Phase::Index, index_sql(false, name, table, column));
            match self.live_indexes().find(|i| i.name == *name) {
                None => out.push(diff(
                    self.object(name),
                    "missing_index",
                    Some(want),
                    None,
                    Severity::Warning,
                    vec![create],
                )),
                Some(live) if live.definition != want => out.push(diff(
                    self.object(name),
                    "changed_index",
                    Some(want),
                    Some(live.definition.clone()),
                    Severity::Warning,
                    vec![
                        Statement::new(Phase::Drop, format!("DROP INDEX {}", ident(name))),
                        create,
                    ],
                )),
                Some(_) => {}
            }
        }
        let query: Vec<&expected::QueryIndex> = expected::QUERY_INDEX_LIST
            .iter()
            .filter(|q| q.table == table)
            .collect();
        // Before their migration is applied they are neither expected nor extra: an
        // interrupted concurrent build leaves some behind for the next migrate to finish.
        if self.query_indexes {
            for q in &query {
                self.query_index(q, out);
            }
        }
        for live in self.live_indexes() {
            if live.constraint.is_some()
                || used.unique_indexes.contains(&live.name)
                || ours.iter().any(|(_, n, _)| *n == live.name)
                || query.iter().any(|q| q.name == live.name)
            {
                continue;
            }
            out.push(diff(
                self.object(&live.name),
                "extra_index",
                None,
                Some(live.definition.clone()),
                Severity::Warning,
                vec![Statement::new(
                    Phase::Drop,
                    format!("DROP INDEX {}", ident(&live.name)),
                )],
            ));
        }
    }

    /// One of stackctl's query indexes: missing (unless optional), different, or left
    /// invalid by a failed concurrent build.
    fn query_index(&self, q: &expected::QueryIndex, out: &mut Vec<Difference>) {
        let want = q.definition();
        let live = self.live_indexes().find(|i| i.name == q.name);
        let rebuild = || {
            vec![
                Statement::new(Phase::Drop, format!("DROP INDEX {}", ident(q.name))),
                query_index_sql(q),
            ]
        };
        match live {
            None if q.optional => {}
            None => out.push(diff(
                self.object(q.name),
                "missing_index",
                Some(want),
                None,
                Severity::Warning,
                vec![query_index_sql(q)],
            )),
            Some(live) if live.definition != want => out.push(diff(
                self.object(q.name),
                "changed_index",
                Some(want),
                Some(live.definition.clone()),
                Severity::Warning,
                rebuild(),
            )),
            Some(live) if !live.valid => out.push(diff(
                self.object(q.name),
                "changed_index",
                Some(want),
                Some(format!(
                    "{} (INVALID: a concurrent build failed)",
                    live.definition
                )),
                Severity::Warning,
                rebuild(),
            )),
            Some(_) => {}
        }
    }
}
