//! A concurrent migration's SQL file as steps: one statement each, with the markers of
//! the comment lines above it, and the indexes it builds. Pure.

/// One statement of a concurrent migration's SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<'a> {
    /// The statement, without its semicolon.
    pub sql: &'a str,
    /// `-- optional` above it: a failure is reported and the migration goes on.
    pub optional: bool,
    /// `-- needs: OPCLASS` above it: it runs only where that operator class is visible
    /// (an extension the previous, optional, step could not create).
    pub needs: Option<&'a str>,
}

/// The statements of a migration file, in order, with the markers of the comment lines
/// above each. A statement ends at a line that ends with `;`.
pub fn steps(sql: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    let (mut optional, mut needs) = (false, None);
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        let here = offset;
        offset += line.len();
        let text = line.trim();
        if start.is_none() {
            if text.is_empty() {
                continue;
            }
            if let Some(comment) = text.strip_prefix("--") {
                let comment = comment.trim();
                if comment == "optional" {
                    optional = true;
                } else if let Some(opclass) = comment.strip_prefix("needs:") {
                    needs = Some(opclass.trim());
                }
                continue;
            }
            start = Some(here + (line.len() - line.trim_start().len()));
        }
        if let (Some(from), true) = (start, text.ends_with(';')) {
            let end = here + line.trim_end().len() - 1;
            out.push(Step {
                sql: sql[from..end].trim_end(),
                optional,
                needs,
            });
            (optional, needs, start) = (false, None, None);
        }
    }
    out
}

/// The index a `CREATE INDEX CONCURRENTLY IF NOT EXISTS name ON ...` step builds.
pub fn index_built(step: &str) -> Option<&str> {
    let rest = step.strip_prefix("CREATE INDEX CONCURRENTLY IF NOT EXISTS ")?;
    let name = rest.split_whitespace().next()?;
    rest[name.len()..]
        .trim_start()
        .starts_with("ON ")
        .then_some(name)
}

/// The table a `CREATE INDEX CONCURRENTLY IF NOT EXISTS name ON table ...` step indexes.
pub fn table_indexed(step: &str) -> Option<&str> {
    let name = index_built(step)?;
    let rest = step.split_once(name)?.1.trim_start().strip_prefix("ON ")?;
    rest.split_whitespace().next()
}

/// The indexes a concurrent migration builds on `table`.
pub fn indexes_on(version: &str, table: &str) -> Vec<&'static str> {
    built_by(version, |step| table_indexed(step) == Some(table))
}

/// The indexes a concurrent migration builds.
pub fn indexes_of(version: &str) -> Vec<&'static str> {
    built_by(version, |_| true)
}

/// The indexes built by the steps of a concurrent migration that `keep` accepts.
fn built_by(version: &str, keep: impl Fn(&str) -> bool) -> Vec<&'static str> {
    crate::db::migration_sql(version)
        .map(|sql| {
            steps(sql)
                .iter()
                .filter(|s| keep(s.sql))
                .filter_map(|s| index_built(s.sql))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_split_statements_and_keep_their_markers() {
        let sql = "-- a header\n\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x);\n\
                   -- why\n-- optional\nCREATE EXTENSION IF NOT EXISTS pg_trgm;\n\
                   -- needs: gin_trgm_ops\nCREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t\n  USING gin (x gin_trgm_ops);\n";
        let s = steps(sql);
        assert_eq!(
            s,
            [
                Step {
                    sql: "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x)",
                    optional: false,
                    needs: None
                },
                Step {
                    sql: "CREATE EXTENSION IF NOT EXISTS pg_trgm",
                    optional: true,
                    needs: None
                },
                Step {
                    sql: "CREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t\n  USING gin (x gin_trgm_ops)",
                    optional: false,
                    needs: Some("gin_trgm_ops")
                },
            ]
        );
        assert_eq!(index_built(s[0].sql), Some("a"));
        assert_eq!(index_built(s[1].sql), None);
        assert_eq!(index_built(s[2].sql), Some("b"));
        assert_eq!(table_indexed(s[0].sql), Some("t"));
        assert_eq!(table_indexed(s[1].sql), None);
        assert_eq!(table_indexed(s[2].sql), Some("t"));
    }

    #[test]
    fn the_indexes_an_item_import_may_take_down_are_the_three_on_items() {
        assert_eq!(
            indexes_on("20261124000004", "items"),
            [
                "stackctl_items_created_id",
                "stackctl_items_price_id",
                "stackctl_items_title_id"
            ]
        );
    }

    #[test]
    fn the_query_index_migration_builds_only_indexes_of_its_own() {
        let names = indexes_of("20261124000004");
        assert_eq!(names.len(), 7, "{names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("stackctl_")),
            "{names:?}"
        );
        // Every statement is one this module knows how to run again safely.
        let sql = crate::db::migration_sql("20261124000004").unwrap();
        for step in steps(sql) {
            assert!(
                index_built(step.sql).is_some() || step.optional,
                "{}",
                step.sql
            );
        }
        // The down.sql drops exactly those indexes.
        let down = crate::db::concurrent_down_sql("20261124000004").unwrap();
        let mut dropped: Vec<&str> = steps(down)
            .iter()
            .map(|s| {
                s.sql
                    .strip_prefix("DROP INDEX CONCURRENTLY IF EXISTS ")
                    .unwrap()
            })
            .collect();
        dropped.sort();
        let mut built = names.clone();
        built.sort();
        assert_eq!(dropped, built);
    }
}
