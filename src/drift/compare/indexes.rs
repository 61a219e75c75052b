//! Indexes: the migrations' own, stackctl's query indexes once their migration is
//! applied, and extra ones.

use super::{diff, TableCx, Used};
use crate::db::drift::Index;
use crate::drift::expected;
use crate::drift::sql::{ident, Phase, Statement};
use crate::drift::{Difference, Severity};

/// One of stackctl's query indexes, built the plain way: a fix script runs in one
/// transaction, where `CREATE INDEX CONCURRENTLY` cannot.
pub(super) fn query_index_sql(q: &expected::QueryIndex) -> Statement {
    Statement::new(
        Phase::Index,
        format!("CREATE INDEX {} ON {} {}", q.name, q.table, q.using),
    )
    .noted("blocks writes to the table while it builds; on a busy table run it alone as CREATE INDEX CONCURRENTLY")
}

pub(super) fn index_sql(unique: bool, name: &str, table: &str, column: &str) -> String {
    format!(
        "CREATE {}INDEX {} ON {table} ({})",
        if unique { "UNIQUE " } else { "" },
        ident(name),
        ident(column)
    )
}

/// What follows an index's name in `pg_get_indexdef` (` ON public.users USING btree
/// (email)`), when it is an index of that uniqueness.
pub(super) fn after_name(index: &Index, unique: bool) -> Option<&str> {
    let rest = index.definition.strip_prefix(if unique {
        "CREATE UNIQUE INDEX "
    } else {
        "CREATE INDEX "
    })?;
    let quoted = format!("\"{}\"", index.name.replace('"', "\"\""));
    rest.strip_prefix(quoted.as_str())
        .or_else(|| rest.strip_prefix(index.name.as_str()))
}

impl TableCx<'_> {
    /// Our `idx_*` indexes, and any index that is neither ours nor a constraint's.
    pub(super) fn indexes(&self, used: &Used, out: &mut Vec<Difference>) {
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
