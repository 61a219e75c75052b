//! What the schema gate reads, in one round trip on the StackWizard path: the applied
//! migration versions, which layout `users` has (`crate::layout::Found`) and whether
//! stackctl's audit table is there.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text};

use crate::error::Result;
use crate::layout::Found;

/// The layout as the catalog shows it, and whether `stackctl_audit` exists. `users` is
/// found through the search path, as every query of ours finds it.
const LAYOUT_SQL: &str = "\
SELECT CASE
         WHEN NOT EXISTS (SELECT 1 FROM c) THEN 'empty'
         WHEN (SELECT atttypid FROM c WHERE attname = 'id') = 'uuid'::regtype THEN 'stackwizard'
         WHEN (SELECT atttypid FROM c WHERE attname = 'id')
                IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
              AND (SELECT count(*) FROM c WHERE attname IN ('email', 'name', 'created_at')) = 3
              AND NOT EXISTS (SELECT 1 FROM c WHERE attname = 'hashed_password') THEN 'simple'
         ELSE 'other'
       END AS layout,
       to_regclass('stackctl_audit') IS NOT NULL AS audit";

const COLUMNS_CTE: &str = "WITH c AS (SELECT attname::text AS attname, atttypid FROM pg_attribute \
     WHERE attrelid = to_regclass('users') AND attnum > 0 AND NOT attisdropped) ";

/// What the gate knows after its read.
#[derive(Debug, Clone)]
pub struct Facts {
    pub found: Found,
    pub audit: bool,
    pub applied: BTreeSet<String>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    layout: String,
    #[diesel(sql_type = Bool)]
    audit: bool,
    #[diesel(sql_type = Nullable<Text>)]
    version: Option<String>,
}

#[derive(QueryableByName)]
struct LayoutRow {
    #[diesel(sql_type = Text)]
    layout: String,
    #[diesel(sql_type = Bool)]
    audit: bool,
}

/// The layout alone (and the audit table), without the migration record.
pub fn found(conn: &mut PgConnection) -> Result<(Found, bool)> {
    let row: LayoutRow =
        diesel::sql_query(format!("{COLUMNS_CTE}{LAYOUT_SQL}")).get_result(conn)?;
    Ok((Found::parse(&row.layout), row.audit))
}

/// Everything the gate needs. On a connection in no transaction it is one statement that
/// also reads `__diesel_schema_migrations`; an error naming that table (missing, whatever
/// the server's language, or unreadable) failed only that statement, and the step-by-step
/// read then says which it was. Inside a transaction the step-by-step read is used at once,
/// since a failed statement would abort the transaction.
pub fn read(conn: &mut PgConnection) -> Result<Facts> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let in_transaction = AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .flatten()
        .is_some();
    if !in_transaction {
        let sql = format!(
            "{COLUMNS_CTE}SELECT l.layout, l.audit, m.version FROM ({LAYOUT_SQL}) l \
             LEFT JOIN (SELECT version::text AS version FROM __diesel_schema_migrations) m ON true"
        );
        match diesel::sql_query(sql).load::<Row>(conn) {
            Ok(rows) => {
                let (found, audit) = rows
                    .first()
                    .map(|r| (Found::parse(&r.layout), r.audit))
                    .unwrap_or((Found::Other, false));
                return Ok(Facts {
                    found,
                    audit,
                    applied: rows.into_iter().filter_map(|r| r.version).collect(),
                });
            }
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("__diesel_schema_migrations") => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (found, audit) = found(conn)?;
    Ok(Facts {
        found,
        audit,
        applied: super::applied_versions(conn)?,
    })
}
