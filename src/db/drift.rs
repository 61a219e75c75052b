//! What the catalog says `users` and `items` look like, read in one query: columns (type as
//! `format_type` prints it, nullability, default), constraints, indexes, and whether the
//! `uuid-ossp` extension is installed. `crate::drift` compares it with the migrations.

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The live shape of the application's tables.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Catalog {
    /// Which of `users` and `items` exist in `public`.
    pub tables: Vec<String>,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    /// The `uuid-ossp` extension is installed (`uuid_generate_v4()` can be a default).
    pub uuid_ossp: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    pub table: String,
    pub name: String,
    /// `format_type(atttypid, atttypmod)`: `character varying(255)`, `numeric(10,2)`.
    #[serde(rename = "type")]
    pub ty: String,
    pub not_null: bool,
    /// `pg_get_expr` of the default, as the server prints it.
    pub default: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Constraint {
    pub table: String,
    pub name: String,
    /// `pg_constraint.contype`: p, u, f, c or x.
    pub kind: String,
    pub columns: Vec<String>,
    /// Foreign keys: the referenced table, its columns, and the `confdeltype` /
    /// `confupdtype` letters (`c` cascade, `a` no action, `n` set null, ...).
    pub ref_table: Option<String>,
    pub ref_columns: Vec<String>,
    pub on_delete: String,
    pub on_update: String,
    /// `pg_get_constraintdef`.
    pub definition: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    pub table: String,
    pub name: String,
    pub unique: bool,
    /// The primary key, unique or exclusion constraint this index implements, if any.
    pub constraint: Option<String>,
    /// `pg_get_indexdef`: `CREATE INDEX idx_users_email ON public.users USING btree (email)`.
    pub definition: String,
}

/// One round trip: every fact is aggregated into one JSON document by the server (a
/// millisecond or two of planning and execution on an idle server).
const CATALOG_SQL: &str = "
WITH t AS (
    SELECT c.oid, c.relname::text AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relname IN ('users', 'items') AND c.relkind IN ('r', 'p')
)
SELECT json_build_object(
    'uuid_ossp', EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'uuid-ossp'),
    'tables', (SELECT coalesce(json_agg(t.name ORDER BY t.name), '[]') FROM t),
    'columns', (SELECT coalesce(json_agg(json_build_object(
            'table', t.name, 'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
            'not_null', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid))
            ORDER BY t.name, a.attnum), '[]')
        FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum),
    'constraints', (SELECT coalesce(json_agg(json_build_object(
            'table', t.name, 'name', co.conname, 'kind', co.contype,
            'columns', (SELECT coalesce(json_agg(a.attname ORDER BY k.i), '[]')
                        FROM unnest(co.conkey) WITH ORDINALITY k(n, i)
                        JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.n),
            'ref_table', (SELECT r.relname FROM pg_class r WHERE r.oid = co.confrelid),
            'ref_columns', (SELECT coalesce(json_agg(a.attname ORDER BY k.i), '[]')
                            FROM unnest(co.confkey) WITH ORDINALITY k(n, i)
                            JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.n),
            'on_delete', co.confdeltype, 'on_update', co.confupdtype,
            'definition', pg_get_constraintdef(co.oid))
            ORDER BY t.name, co.conname), '[]')
        FROM t JOIN pg_constraint co ON co.conrelid = t.oid
        WHERE co.contype IN ('p', 'u', 'f', 'c', 'x')),
    'indexes', (SELECT coalesce(json_agg(json_build_object(
            'table', t.name, 'name', ic.relname, 'unique', i.indisunique,
            'constraint', (SELECT co.conname FROM pg_constraint co
                           WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid
                             AND co.contype IN ('p', 'u', 'x') LIMIT 1),
            'definition', pg_get_indexdef(i.indexrelid))
            ORDER BY t.name, ic.relname), '[]')
        FROM t JOIN pg_index i ON i.indrelid = t.oid JOIN pg_class ic ON ic.oid = i.indexrelid)
)::text AS catalog";

#[derive(QueryableByName)]
struct CatalogRow {
    #[diesel(sql_type = Text)]
    catalog: String,
}

/// Read the shape of `users` and `items` (whatever exists of them).
pub fn read(conn: &mut PgConnection) -> Result<Catalog> {
    let row: CatalogRow = diesel::sql_query(CATALOG_SQL).get_result(conn)?;
    serde_json::from_str(&row.catalog)
        .map_err(|e| Error::failure(format!("cannot read the catalog's answer: {e}")))
}
