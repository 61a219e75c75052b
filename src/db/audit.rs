//! stackctl's audit trail (`stackctl_audit`): one row per changed target, written in the
//! same transaction as the change. Rows carry the change's before/after images, which never
//! hold a password or hash (`User` has no hash column to serialise).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use serde::Serialize;

use super::schema_stackctl::stackctl_audit;
use crate::change::Change;
use crate::error::Result;

/// Who and where, recorded with every row.
pub struct Actor {
    pub os_user: String,
    pub hostname: String,
}

impl Actor {
    pub fn current() -> Actor {
        Actor {
            os_user: os_user(),
            hostname: hostname(),
        }
    }
}

fn os_user() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => std::env::var("USER").unwrap_or_else(|_| format!("uid {uid}")),
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

#[derive(Insertable)]
#[diesel(table_name = stackctl_audit)]
struct NewRow<'a> {
    os_user: &'a str,
    hostname: &'a str,
    command: &'a str,
    target_kind: &'a str,
    target_id: &'a str,
    summary: serde_json::Value,
}

/// Append one row per change. Call inside the change's transaction.
pub fn record(conn: &mut PgConnection, command: &str, changes: &[Change]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let actor = Actor::current();
    // A summary that cannot be written fails the write rather than leaving an empty one.
    let rows = changes
        .iter()
        .map(|c| {
            Ok(NewRow {
                os_user: &actor.os_user,
                hostname: &actor.hostname,
                command,
                target_kind: c.kind,
                target_id: &c.id,
                summary: serde_json::to_value(c)?,
            })
        })
        .collect::<Result<Vec<NewRow>>>()?;
    conn.transaction::<_, crate::error::Error, _>(|conn| {
        super::own::search_path(conn)?;
        diesel::insert_into(stackctl_audit::table)
            .values(&rows)
            .execute(conn)?;
        Ok(())
    })
}

#[derive(Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = stackctl_audit, check_for_backend(diesel::pg::Pg))]
pub struct Row {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub os_user: String,
    pub db_user: String,
    pub hostname: String,
    pub command: String,
    pub target_kind: String,
    pub target_id: String,
    pub summary: serde_json::Value,
}

impl Row {
    pub const COLUMNS: &'static [&'static str] = &[
        "id",
        "at",
        "os_user",
        "db_user",
        "hostname",
        "command",
        "target_kind",
        "target_id",
        "summary",
    ];
}

/// Which rows `audit list` shows.
pub struct Filter {
    pub since: Option<DateTime<Utc>>,
    /// A target id, or an email/username found in the change's before/after images
    /// (so a deleted user is still found by name).
    pub target: Option<String>,
    pub limit: i64,
}

/// Newest first.
pub fn list(conn: &mut PgConnection, filter: &Filter) -> Result<Vec<Row>> {
    let mut q = stackctl_audit::table
        .select(Row::as_select())
        .order(stackctl_audit::id.desc())
        .limit(filter.limit)
        .into_boxed();
    if let Some(since) = filter.since {
        q = q.filter(stackctl_audit::at.ge(since));
    }
    if let Some(t) = &filter.target {
        q = q.filter(
            diesel::dsl::sql::<Bool>("")
                .bind::<Text, _>(t.to_lowercase())
                .sql(
                    " = ANY(ARRAY[lower(target_id), \
                     lower(summary #>> '{before,email}'), lower(summary #>> '{after,email}'), \
                     lower(summary #>> '{before,username}'), lower(summary #>> '{after,username}')])",
                ),
        );
    }
    conn.transaction::<_, crate::error::Error, _>(|conn| {
        super::own::search_path(conn)?;
        Ok(q.load(conn)?)
    })
}
