//! Keys: the primary key, the unique constraints (or indexes, as `create_all` makes
//! them) and the foreign key; extra constraints.

use super::indexes::{after_name, index_sql};
use super::{diff, TableCx, Used};
use crate::db::drift::Constraint;
use crate::drift::expected::{self, Origin};
use crate::drift::sql::{ident, Phase, Statement};
use crate::drift::{Difference, Severity};

/// `pg_get_constraintdef` without the schema a search path may add before `users`.
fn constraint_definition(c: &Constraint) -> String {
    c.definition.replace("REFERENCES public.", "REFERENCES ")
}

fn foreign_key_sql(origin: Origin) -> String {
    format!(
        "ALTER TABLE items ADD CONSTRAINT {} {}",
        expected::foreign_key_name(origin),
        expected::foreign_key(origin)
    )
}

pub(super) fn unique_sql(origin: Origin, column: &str) -> String {
    let name = expected::unique_name(origin, column);
    match origin {
        Origin::Migrated => format!("ALTER TABLE users ADD CONSTRAINT {name} UNIQUE ({column})"),
        Origin::Adopted | Origin::Generated => index_sql(true, &name, "users", column),
    }
}

impl TableCx<'_> {
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
    pub(super) fn constraints(&self, out: &mut Vec<Difference>) -> Used {
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
                    if definition == expected::foreign_key(self.origin) && !foreign_key {
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
            self.unique_columns(&unique_done, &mut used, out);
        }
        if table == "items" {
            self.foreign_key(foreign_key, other_keys, out);
        }
        used
    }

    /// `email` and `username` unique by a constraint (`unique_done`), else by a unique
    /// index (`create_all`'s way, noted in `used`), else missing.
    fn unique_columns(&self, unique_done: &[&str], used: &mut Used, out: &mut Vec<Difference>) {
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

    /// The owner foreign key: `found` as expected, else the first of `other_keys` on
    /// `owner_id` is a changed one (or none is missing); the rest are extra.
    fn foreign_key(&self, found: bool, other_keys: Vec<&Constraint>, out: &mut Vec<Difference>) {
        let add = || {
            Statement::new(Phase::ForeignKey, foreign_key_sql(self.origin))
                .noted("fails while an item's owner_id names no user")
        };
        let mut others = other_keys.into_iter();
        if !found {
            match others.next() {
                Some(c) => out.push(diff(
                    self.object(&c.name),
                    "changed_foreign_key",
                    Some(expected::foreign_key(self.origin).into()),
                    Some(constraint_definition(c)),
                    Severity::Critical,
                    vec![self.drop_constraint(&c.name), add()],
                )),
                None => out.push(diff(
                    self.object(expected::foreign_key_name(self.origin)),
                    "missing_foreign_key",
                    Some(expected::foreign_key(self.origin).into()),
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
}
