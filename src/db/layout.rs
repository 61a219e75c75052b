//! What the schema gate reads: the applied migration versions, which layout `users` has
//! (`crate::layout::Found`) and whether stackctl's audit table is there.
//!
//! On the StackWizard path this costs what the gate cost before layouts existed: one
//! statement reading `__diesel_schema_migrations`. A record holding the initial StackWizard
//! migration *is* the catalog's answer (stackctl recorded it when it created or adopted
//! that schema), so the columns of `users` are read only when there is no such record (the
//! Simple DB layout has none) or when `--layout simple` must be checked against them.
//! Reading `pg_attribute` on a fresh connection costs about 0.8 ms of cold catalog caches,
//! which the common path does not pay.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use crate::error::Result;
use crate::layout::{Found, Layout};

/// The layout as the columns of `users` show it, whether `stackctl.stackctl_audit` exists,
/// and whether an older stackctl's audit trail is still in `public`, in
/// one pass over `pg_attribute` (type OIDs: 2950 uuid; 20, 21, 23 the integers). `users` is
/// found through the search path, as every query of ours finds it.
const LAYOUT_SQL: &str = "\
SELECT CASE
         WHEN count(*) = 0 THEN 'empty'
         WHEN bool_or(attname = 'id' AND atttypid = 2950) THEN 'stackwizard'
         WHEN bool_or(attname = 'id' AND atttypid IN (20, 21, 23))
              AND count(*) FILTER (WHERE attname IN ('email', 'name', 'created_at')) = 3
              AND NOT bool_or(attname = 'hashed_password') THEN 'simple'
         ELSE 'other'
       END AS layout,
       to_regclass('stackctl.stackctl_audit') IS NOT NULL AS audit,
       to_regclass('public.stackctl_audit') IS NOT NULL AS legacy_audit
FROM pg_attribute
WHERE attrelid = to_regclass('users') AND attnum > 0 AND NOT attisdropped";

/// What the gate knows after its read.
#[derive(Debug, Clone)]
pub struct Facts {
    pub found: Found,
    pub audit: bool,
    /// The Simple DB layout's audit trail still in `public`, where an older stackctl made
    /// it: `migrate` moves it into the schema `stackctl`.
    pub legacy_audit: bool,
    pub applied: BTreeSet<String>,
}

#[derive(QueryableByName)]
struct LayoutRow {
    #[diesel(sql_type = Text)]
    layout: String,
    #[diesel(sql_type = Bool)]
    audit: bool,
    #[diesel(sql_type = Bool)]
    legacy_audit: bool,
}

/// The layout from the columns of `users` (and the audit table), without the record.
pub fn found(conn: &mut PgConnection) -> Result<(Found, bool)> {
    let (found, audit, _) = found_all(conn)?;
    Ok((found, audit))
}

/// `found`, and whether the audit trail is still in `public`.
pub fn found_all(conn: &mut PgConnection) -> Result<(Found, bool, bool)> {
    let row: LayoutRow = diesel::sql_query(LAYOUT_SQL).get_result(conn)?;
    Ok((Found::parse(&row.layout), row.audit, row.legacy_audit))
}

/// Everything the gate needs (`chosen`: `--layout`). On a connection in no transaction the
/// record is read straight away; an error saying that table is missing or unreadable (by
/// its SQLSTATE) failed only that statement, and the step-by-step read
/// then says which it was. Inside a transaction the step-by-step read is used at once,
/// since a failed statement would abort the transaction.
pub fn read(conn: &mut PgConnection, chosen: Option<Layout>) -> Result<Facts> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let in_transaction = AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .flatten()
        .is_some();
    let applied = if in_transaction {
        super::applied_versions(conn)?
    } else {
        match super::read_applied(conn) {
            Ok(applied) => applied,
            // The record missing (42P01) or unreadable (42501): read it step by step.
            Err(diesel::result::Error::DatabaseError(_, info))
                if matches!(
                    info.sqlstate(),
                    Some(
                        diesel::pg::sql_state::UNDEFINED_TABLE
                            | diesel::pg::sql_state::INSUFFICIENT_PRIVILEGE
                    )
                ) =>
            {
                super::applied_versions(conn)?
            }
            Err(e) => return Err(e.into()),
        }
    };
    let embedded = super::embedded_migrations()?;
    let recorded = |suffix: &str| {
        embedded
            .iter()
            .find(|m| m.name.ends_with(suffix))
            .is_some_and(|m| applied.contains(&m.version))
    };
    if recorded("_initial_schema") && chosen != Some(Layout::Simple) {
        return Ok(Facts {
            found: Found::StackWizard,
            audit: recorded("_audit_trail"),
            legacy_audit: false,
            applied,
        });
    }
    let (found, audit, legacy_audit) = found_all(conn)?;
    Ok(Facts {
        found,
        audit,
        legacy_audit,
        applied,
    })
}
