//! What the catalog says `users` and `items` look like, read in one query: columns (type as
//! `format_type` prints it, nullability, default), constraints and indexes.
//! `crate::drift` compares it with the migrations.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text};

use crate::error::Result;

/// The live shape of the application's tables.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Which of `users` and `items` exist in `public`.
    pub tables: Vec<String>,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    /// The other tables in `public` (the application's), stackctl's own left out.
    pub other_tables: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub table: String,
    pub name: String,
    /// `format_type(atttypid, atttypmod)`: `character varying(255)`, `numeric(10,2)`.
    pub ty: String,
    pub not_null: bool,
    /// `pg_get_expr` of the default, as the server prints it.
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Constraint {
    pub table: String,
    pub name: String,
    /// `pg_constraint.contype`: p, u, f, c or x.
    pub kind: String,
    /// `pg_get_constraintdef`: `FOREIGN KEY (owner_id) REFERENCES users(id) ON DELETE CASCADE`.
    pub definition: String,
}

#[derive(Debug, Clone)]
pub struct Index {
    pub table: String,
    pub name: String,
    pub unique: bool,
    /// The primary key, unique or exclusion constraint this index implements, if any
    /// (PostgreSQL gives such an index its constraint's name).
    pub constraint: Option<String>,
    /// `pg_get_indexdef`: `CREATE INDEX idx_users_email ON public.users USING btree (email)`.
    pub definition: String,
    /// `pg_index.indisvalid`: false for an index a failed concurrent build left behind.
    pub valid: bool,
}

/// One round trip, and as few catalog lookups as it takes: on a new connection the
/// server's catalog caches are cold, so every function and join costs. Each fact is one
/// row: `t` a table, `a` a column, a `contype` letter a constraint, `i` an index (its `b`
/// is 'invalid' for one a failed concurrent build left). Deparsed by the server
/// (`format_type`, `pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`), so the
/// comparison reads what `\d` shows.
const CATALOG_SQL: &str = "
WITH t AS (
    SELECT c.oid, c.relname::text AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relname IN ('users', 'items') AND c.relkind IN ('r', 'p')
)
SELECT 't' AS k, t.name AS t, NULL::text AS n, NULL::text AS a, NULL::text AS b, false AS x FROM t
UNION ALL
SELECT 'a', t.name, a.attname::text, format_type(a.atttypid, a.atttypmod),
       pg_get_expr(d.adbin, d.adrelid), a.attnotnull
FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
UNION ALL
SELECT co.contype::text, t.name, co.conname::text, pg_get_constraintdef(co.oid), NULL, false
FROM t JOIN pg_constraint co ON co.conrelid = t.oid
WHERE co.contype IN ('p', 'u', 'f', 'c', 'x')
UNION ALL
SELECT 'i', t.name, ic.relname::text, pg_get_indexdef(i.indexrelid),
       CASE WHEN NOT i.indisvalid THEN 'invalid' END, i.indisunique
FROM t JOIN pg_index i ON i.indrelid = t.oid JOIN pg_class ic ON ic.oid = i.indexrelid
UNION ALL
SELECT 'o', c.relname::text, NULL, NULL, NULL, false
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND c.relname NOT IN ('users', 'items', '__diesel_schema_migrations', 'stackctl_audit', 'stackctl_lock',
                        'stackctl_migration_checksums', 'stackctl_column_defaults')";

#[derive(QueryableByName)]
struct Fact {
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = Nullable<Text>)]
    t: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    n: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    a: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    b: Option<String>,
    #[diesel(sql_type = Bool)]
    x: bool,
}

/// Read the shape of `users` and `items` (whatever exists of them).
pub fn read(conn: &mut PgConnection) -> Result<Catalog> {
    let facts: Vec<Fact> = diesel::sql_query(CATALOG_SQL).load(conn)?;
    let mut catalog = Catalog::default();
    for f in facts {
        let (table, name, a) = (
            f.t.unwrap_or_default(),
            f.n.unwrap_or_default(),
            f.a.unwrap_or_default(),
        );
        match f.k.as_str() {
            "t" => catalog.tables.push(table),
            "o" => catalog.other_tables.push(table),
            "a" => catalog.columns.push(Column {
                table,
                name,
                ty: a,
                not_null: f.x,
                default: f.b,
            }),
            "i" => catalog.indexes.push(Index {
                table,
                name,
                unique: f.x,
                constraint: None,
                definition: a,
                valid: f.b.is_none(),
            }),
            kind => catalog.constraints.push(Constraint {
                table,
                name,
                kind: kind.to_string(),
                definition: a,
            }),
        }
    }
    catalog.other_tables.sort();
    for index in &mut catalog.indexes {
        index.constraint = catalog
            .constraints
            .iter()
            .find(|c| {
                c.table == index.table
                    && c.name == index.name
                    && matches!(c.kind.as_str(), "p" | "u" | "x")
            })
            .map(|c| c.name.clone());
    }
    Ok(catalog)
}
