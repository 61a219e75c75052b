//! Adopting a schema the application made (Alembic or SQLAlchemy `create_all`):
//! when its tables hold everything our initial migration defines (whatever the application
//! added beside it: columns, indexes, constraints, tables), record that migration as
//! applied and add the indexes it lacks. Only what stackctl cannot work with refuses: a
//! missing column, a column of another type or length, a key it relies on. Application tables are never dropped or re-created. The
//! columns and indexes expected are `drift::expected`'s, the ones `schema diff` holds the
//! tables to afterwards, so an adopted schema starts without drift.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};

use crate::drift::expected;
use crate::error::{Error, Result};

#[derive(QueryableByName, Debug)]
struct Flag {
    #[diesel(sql_type = Nullable<Integer>)]
    n: Option<i32>,
}

/// What `migrate` should do about application tables.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No application tables: migrate normally.
    Fresh,
    /// The tables hold what stackctl needs: adopt them. What the application added or
    /// chose beside it, one line each (`column users.phone`), to say so.
    Adoptable(Vec<String>),
}

/// Compare application tables with the initial migration. Differences are exit 6.
pub fn inspect(conn: &mut PgConnection) -> Result<Verdict> {
    let users = super::table_exists(conn, "public.users")?;
    let items = super::table_exists(conn, "public.items")?;
    if !users && !items {
        return Ok(Verdict::Fresh);
    }
    let mut diffs = Vec::new();
    let mut additions = Vec::new();
    if !users {
        diffs.push("table users is missing".to_string());
    }
    if !items {
        diffs.push("table items is missing".to_string());
    }
    let rows = super::shape::columns(conn)?;
    // The generated backend's shape is told by its integer item ids; its columns are then
    // held to its own types (`drift::expected::GENERATED_COLUMNS`).
    let generated = rows
        .iter()
        .any(|r| r.table_name == "items" && r.column_name == "id" && r.column_type == "integer");
    let origin = if generated {
        additions.push("the schema of StackWizard's generated backend (integer item ids, double precision prices)".into());
        expected::Origin::Generated
    } else {
        expected::Origin::Adopted
    };
    for spec in origin.columns() {
        let (table, column, ty, nullable) = (spec.table, spec.name, spec.ty, !spec.not_null);
        match rows
            .iter()
            .find(|r| r.table_name == table && r.column_name == column)
        {
            None => {
                if rows.iter().any(|r| r.table_name == *table) {
                    diffs.push(format!("column {table}.{column} is missing"));
                }
            }
            Some(r) => {
                if r.column_type != ty {
                    diffs.push(format!(
                        "column {table}.{column} is {}, expected {ty}",
                        r.column_type
                    ));
                }
                let is_nullable = !r.not_null;
                if is_nullable && !nullable {
                    // stackctl reads this column as never empty.
                    diffs.push(format!(
                        "column {table}.{column} is nullable, expected NOT NULL"
                    ));
                } else if !is_nullable && nullable {
                    additions.push(format!(
                        "column {table}.{column} is NOT NULL (a write that leaves it empty is refused)"
                    ));
                }
            }
        }
    }
    for r in &rows {
        if !origin
            .columns()
            .iter()
            .any(|c| c.table == r.table_name && c.name == r.column_name)
        {
            additions.push(if r.not_null && !r.filled {
                format!(
                    "column {}.{} ({}, NOT NULL without a default: stackctl's inserts into {} are refused until you declare what to write there: stackctl schema default {}.{} VALUE)",
                    r.table_name, r.column_name, r.column_type, r.table_name, r.table_name, r.column_name
                )
            } else {
                format!("column {}.{} ({})", r.table_name, r.column_name, r.column_type)
            });
        }
    }
    if users && items {
        // 'c': ON DELETE CASCADE; the generated backend's key has none (`user delete`
        // deletes the items itself).
        let fk: Flag = diesel::sql_query(
            "SELECT max(CASE confdeltype WHEN 'c' THEN 2 ELSE 1 END)::int AS n FROM pg_constraint \
             WHERE contype = 'f' AND conrelid = 'public.items'::regclass \
               AND confrelid = 'public.users'::regclass",
        )
        .get_result(conn)?;
        match (fk.n, origin) {
            (Some(2), _) | (Some(_), expected::Origin::Generated) => {}
            (Some(_), _) => additions.push(
                "foreign key items.owner_id without ON DELETE CASCADE (user delete deletes the items itself)".into(),
            ),
            (None, _) => diffs.push("items.owner_id has no foreign key to users(id)".into()),
        }
        for (table, column) in [("users", "email"), ("users", "username")] {
            let uq: Flag = diesel::sql_query(format!(
                "SELECT count(*)::int AS n FROM pg_index i \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
                 WHERE i.indrelid = 'public.{table}'::regclass AND i.indisunique \
                   AND i.indnatts = 1 AND a.attname = '{column}'"
            ))
            .get_result(conn)?;
            if uq.n.unwrap_or(0) == 0 {
                diffs.push(format!("{table}.{column} is not unique"));
            }
        }
    }
    if diffs.is_empty() {
        additions.extend(
            other_tables(conn)?
                .into_iter()
                .map(|t| format!("table {t}")),
        );
        Ok(Verdict::Adoptable(additions))
    } else {
        Err(Error::schema(format!(
            "the existing users/items tables differ from the StackWizard schema: {}",
            diffs.join("; ")
        ))
        .with_hint("stackctl never drops or alters application tables: it needs each column it names with that type, and those keys; add them with the application's Alembic, then run stackctl migrate again"))
    }
}

/// The application's other tables in `public` (stackctl's own and Alembic's record aside).
fn other_tables(conn: &mut PgConnection) -> Result<Vec<String>> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
           AND c.relname NOT IN ('users', 'items', 'alembic_version', \
                                 '__diesel_schema_migrations', 'stackctl_audit', \
                                 'stackctl_migration_checksums', 'stackctl_column_defaults') \
         ORDER BY 1",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Record the initial migration as applied and add missing indexes, in one transaction.
pub fn adopt(conn: &mut PgConnection, initial_version: &str) -> Result<()> {
    conn.transaction::<_, Error, _>(|conn| {
        for (table, name, column) in expected::INDEXES {
            conn.batch_execute(&format!(
                "CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})"
            ))?;
        }
        record_applied(conn, initial_version)?;
        Ok(())
    })
}

/// Record `version` as applied in Diesel's own table (made when missing, as Diesel makes
/// it, where stackctl's tables go: `db::own`).
fn record_applied(conn: &mut PgConnection, version: &str) -> Result<()> {
    let record = match super::own::find(conn, "__diesel_schema_migrations")? {
        Some(record) => record,
        None => {
            let record = super::own::home(conn, "__diesel_schema_migrations")?;
            conn.batch_execute(&format!(
                "CREATE TABLE {record} (
                     version VARCHAR(50) PRIMARY KEY NOT NULL,
                     run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
                 );"
            ))?;
            record
        }
    };
    diesel::sql_query(format!(
        "INSERT INTO {record} (version) VALUES ($1) ON CONFLICT DO NOTHING"
    ))
    .bind::<Text, _>(version)
    .execute(conn)?;
    Ok(())
}

/// Whether the `uuid-ossp` extension the initial migration creates can be created here
/// (it is created, in a savepoint, when it can). The error says why not.
pub fn try_uuid_ossp(conn: &mut PgConnection) -> std::result::Result<(), String> {
    conn.transaction::<_, Error, _>(|conn| {
        conn.batch_execute("CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\"")?;
        Ok(())
    })
    .map_err(|e| e.message)
}

/// The initial migration for a server without `uuid-ossp`: the same tables with
/// `gen_random_uuid()` (core since PostgreSQL 13) as the id default, recorded as applied.
pub fn create_without_uuid_ossp(conn: &mut PgConnection, initial_version: &str) -> Result<()> {
    let sql = super::migration_sql(initial_version)
        .ok_or_else(|| Error::failure("the initial migration's SQL is not embedded"))?;
    let sql = sql
        .replace("CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\";", "")
        .replace("uuid_generate_v4()", "gen_random_uuid()");
    conn.transaction::<_, Error, _>(|conn| {
        conn.batch_execute(&sql)?;
        record_applied(conn, initial_version)?;
        Ok(())
    })
}
