//! What the catalog says about the columns that differ between the StackWizard schemas
//! stackctl administers (the design document's, and the one the generated backend's
//! Alembic writes): the item ids' type, the prices' type, whether a user needs a username,
//! and the application's own columns stackctl must be told how to fill. Read once per
//! session (`Session::shape`); commands take their types from here, never assume them.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use crate::drift::expected::{ColumnSpec, COLUMNS, GENERATED_COLUMNS};
use crate::error::{Error, Result};

/// `items.id`: a UUID (the design document) or an integer serial (the generated backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemIds {
    Uuid,
    Integer,
}

/// `items.price`: `numeric(10,2)`, or `double precision` (written from the exact decimal
/// input, refused where the column cannot hold it to the cent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prices {
    Numeric,
    Double,
}

/// A column of the application's that stackctl does not know and cannot leave empty
/// (NOT NULL, no server default), with what `schema default` declared for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppColumn {
    pub table: String,
    pub column: String,
    /// As `format_type` prints it.
    pub ty: String,
    /// The declared value (text, checked against the type when declared).
    pub value: Option<String>,
}

impl AppColumn {
    pub fn name(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

#[derive(Debug, Clone)]
pub struct Shape {
    pub item_ids: ItemIds,
    pub prices: Prices,
    /// `users.username` may be null: `user add` needs no `--username`.
    pub username_optional: bool,
    /// The application's NOT NULL columns without a default, in `users` and `items`.
    pub unfilled: Vec<AppColumn>,
}

impl Default for Shape {
    /// The design document's schema (what stackctl's own migration creates).
    fn default() -> Shape {
        Shape {
            item_ids: ItemIds::Uuid,
            prices: Prices::Numeric,
            username_optional: false,
            unfilled: Vec::new(),
        }
    }
}

/// One column of `public.users` or `public.items` as the catalog has it.
#[derive(QueryableByName, Debug)]
pub struct CatalogColumn {
    #[diesel(sql_type = Text)]
    pub table_name: String,
    #[diesel(sql_type = Text)]
    pub column_name: String,
    /// As `format_type` prints it.
    #[diesel(sql_type = Text)]
    pub column_type: String,
    #[diesel(sql_type = Bool)]
    pub not_null: bool,
    /// A default, an identity or a generated column: the server fills it.
    #[diesel(sql_type = Bool)]
    pub filled: bool,
}

/// The columns of `public.users` and `public.items`, in table and column order.
pub fn columns(conn: &mut PgConnection) -> Result<Vec<CatalogColumn>> {
    Ok(diesel::sql_query(
        "SELECT c.relname::text AS table_name, a.attname::text AS column_name, \
                format_type(a.atttypid, a.atttypmod) AS column_type, a.attnotnull AS not_null, \
                (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS filled \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relname IN ('users', 'items') \
           AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY c.relname DESC, a.attnum",
    )
    .load(conn)?)
}

/// Whether stackctl writes this column itself in some schema it knows.
pub fn is_known(table: &str, column: &str) -> bool {
    COLUMNS
        .iter()
        .chain(GENERATED_COLUMNS)
        .any(|c: &ColumnSpec| c.table == table && c.name == column)
}

/// The shape of `public.users` and `public.items` as the catalog has them.
pub fn read(conn: &mut PgConnection) -> Result<Shape> {
    let rows = columns(conn)?;
    let ty = |table: &str, column: &str| {
        rows.iter()
            .find(|r| r.table_name == table && r.column_name == column)
    };
    let mut shape = Shape {
        item_ids: match ty("items", "id").map(|r| r.column_type.as_str()) {
            Some("integer" | "bigint" | "smallint") => ItemIds::Integer,
            _ => ItemIds::Uuid,
        },
        prices: match ty("items", "price").map(|r| r.column_type.as_str()) {
            Some("double precision" | "real") => Prices::Double,
            _ => Prices::Numeric,
        },
        username_optional: ty("users", "username").is_some_and(|r| !r.not_null),
        unfilled: rows
            .iter()
            .filter(|r| r.not_null && !r.filled && !is_known(&r.table_name, &r.column_name))
            .map(|r| AppColumn {
                table: r.table_name.clone(),
                column: r.column_name.clone(),
                ty: r.column_type.clone(),
                value: None,
            })
            .collect(),
    };
    if !shape.unfilled.is_empty() {
        let declared = declared(conn)?;
        for c in &mut shape.unfilled {
            c.value = declared
                .iter()
                .find(|d| d.table_name == c.table && d.column_name == c.column)
                .map(|d| d.value.clone());
        }
    }
    Ok(shape)
}

impl Shape {
    /// What `status` and `migrate status` call it.
    pub fn describe(&self) -> &'static str {
        match (self.item_ids, self.prices) {
            (ItemIds::Uuid, Prices::Numeric) => "design document (uuid item ids, numeric prices)",
            (ItemIds::Integer, Prices::Double) => {
                "generated backend (integer item ids, double precision prices)"
            }
            (ItemIds::Integer, Prices::Numeric) => "integer item ids, numeric prices",
            (ItemIds::Uuid, Prices::Double) => "uuid item ids, double precision prices",
        }
    }

    /// The declared values of `table`'s unfilled columns, or exit 6 naming the first
    /// column nothing was declared for (nothing is written).
    pub fn fill(&self, table: &str, command: &str) -> Result<Vec<&AppColumn>> {
        let mut out = Vec::new();
        for c in self.unfilled.iter().filter(|c| c.table == table) {
            if c.value.is_none() {
                return Err(Error::schema(format!(
                    "{command} cannot fill {} ({}, NOT NULL without a default, the application's own): nothing was written",
                    c.name(),
                    c.ty
                ))
                .with_hint(format!(
                    "declare once what stackctl writes there: stackctl schema default {} VALUE",
                    c.name()
                )));
            }
            out.push(c);
        }
        Ok(out)
    }
}

/// The column list and the values (`CAST($n AS type)`, binds from `first`) that write
/// `fill` in an INSERT: `, "c1", "c2"` and `, CAST($8 AS integer), ...`. Names are quoted
/// identifiers and types come from `cast_type`'s fixed vocabulary.
pub fn fill_sql(fill: &[&AppColumn], first: usize) -> Result<(String, String)> {
    let mut columns = String::new();
    let mut values = String::new();
    for (i, c) in fill.iter().enumerate() {
        let cast = cast_type(&c.ty).ok_or_else(|| {
            Error::schema(format!(
                "{} is of type {}, which stackctl cannot write",
                c.name(),
                c.ty
            ))
        })?;
        columns.push_str(", ");
        columns.push_str(&crate::drift::sql::ident(&c.column));
        values.push_str(&format!(", CAST(CAST(${} AS text) AS {cast})", first + i));
    }
    Ok((columns, values))
}

/// The sequence an integer `items.id` takes its values from (`None` for UUID ids).
pub fn item_id_sequence(conn: &mut PgConnection) -> Result<Option<String>> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        name: Option<String>,
    }
    let row: Name = diesel::sql_query(
        "SELECT CASE WHEN to_regclass('public.items') IS NOT NULL THEN \
                (SELECT relname::text FROM pg_class \
                  WHERE oid = pg_get_serial_sequence('public.items', 'id')::regclass) END AS name",
    )
    .get_result(conn)?;
    Ok(row.name)
}

#[derive(QueryableByName, Debug, Clone)]
pub struct Declared {
    #[diesel(sql_type = Text)]
    pub table_name: String,
    #[diesel(sql_type = Text)]
    pub column_name: String,
    #[diesel(sql_type = Text)]
    pub value: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub declared_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Text)]
    pub declared_by: String,
}

/// Every declaration (none before migration 000006 made the table).
pub fn declared(conn: &mut PgConnection) -> Result<Vec<Declared>> {
    let Some(table) = super::own::find(conn, "stackctl_column_defaults")? else {
        return Ok(Vec::new());
    };
    Ok(diesel::sql_query(format!(
        "SELECT table_name, column_name, value, declared_at, declared_by FROM {table} \
         ORDER BY table_name DESC, column_name"
    ))
    .load(conn)?)
}

/// The type to cast a declared value to, for a column of type `ty` (as `format_type`
/// prints it): only built-in types, spelt from a fixed vocabulary, so the statement
/// built from it holds nothing the catalog's names could inject. `None`: not a type
/// `schema default` takes.
pub fn cast_type(ty: &str) -> Option<&str> {
    const PLAIN: &[&str] = &[
        "boolean",
        "smallint",
        "integer",
        "bigint",
        "real",
        "double precision",
        "text",
        "uuid",
        "date",
        "timestamp with time zone",
        "timestamp without time zone",
        "json",
        "jsonb",
    ];
    if PLAIN.contains(&ty) {
        return Some(ty);
    }
    let (base, rest) = ty.split_once('(').unwrap_or((ty, ""));
    let args_ok = rest.is_empty()
        || rest.strip_suffix(')').is_some_and(|a| {
            a.split(',')
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
    (matches!(base, "character varying" | "character" | "numeric") && args_ok).then_some(ty)
}

/// The value a cast of `value` to `ty` gives, as text: the server checks it, and a value
/// the type cannot hold (SQLSTATE class 22) is exit 2.
pub fn check_value(conn: &mut PgConnection, column: &AppColumn, value: &str) -> Result<String> {
    let Some(cast) = cast_type(&column.ty) else {
        return Err(Error::usage(format!(
            "{} is of type {}, which schema default does not take",
            column.name(),
            column.ty
        )));
    };
    #[derive(QueryableByName)]
    struct Cast {
        #[diesel(sql_type = Text)]
        v: String,
    }
    let got = conn.transaction::<Cast, diesel::result::Error, _>(|conn| {
        diesel::sql_query(format!(
            "SELECT CAST(CAST($1 AS text) AS {cast})::text AS v"
        ))
        .bind::<Text, _>(value)
        .get_result(conn)
    });
    match got {
        Ok(c) => Ok(c.v),
        Err(diesel::result::Error::DatabaseError(_, info))
            if info
                .sqlstate()
                .is_some_and(|s| s.class() == diesel::result::SqlStateClass::DATA_EXCEPTION) =>
        {
            Err(Error::usage(format!(
                "'{}' is not a value {} ({}) can hold",
                crate::output::terminal_safe(value),
                column.name(),
                column.ty
            ))
            .with_hint(format!("give a value of type {}", column.ty)))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_built_in_types_spelt_from_a_fixed_vocabulary_are_cast_to() {
        for ok in [
            "boolean",
            "integer",
            "character varying(255)",
            "character varying",
            "numeric(10,2)",
            "timestamp with time zone",
        ] {
            assert_eq!(cast_type(ok), Some(ok));
        }
        for refused in [
            "public.mood",
            "\"x) ; DROP TABLE users; --\"",
            "character varying(1); DROP",
            "numeric(10,)",
            "integer[]",
            "character varying(a)",
        ] {
            assert_eq!(cast_type(refused), None, "{refused}");
        }
    }
}
