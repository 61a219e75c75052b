//! `stackctl status`: where we are connected and what state the schema is in.

use serde::Serialize;

use super::Ctx;
use crate::db::{self, SchemaState};
use crate::error::Result;
use crate::output::render_one;

#[derive(Serialize)]
struct Status {
    target: String,
    source: String,
    database: String,
    server_version: String,
    role: &'static str,
    schema: String,
    applied_migrations: usize,
    pending_migrations: usize,
    unknown_migrations: usize,
    users: Option<i64>,
    items: Option<i64>,
}

const COLUMNS: &[&str] = &[
    "target",
    "source",
    "database",
    "server_version",
    "role",
    "schema",
    "applied_migrations",
    "pending_migrations",
    "unknown_migrations",
    "users",
    "items",
];

pub fn run(ctx: &Ctx) -> Result<()> {
    let (mut conn, target) = ctx.connect_raw()?;
    ctx.begin_reads(&mut conn)?;
    let state = SchemaState::read(&mut conn)?;
    let count = |conn: &mut _, t: &str| -> Result<Option<i64>> {
        if db::table_exists(conn, &format!("public.{t}"))? {
            Ok(Some(db::count_rows(conn, t)?))
        } else {
            Ok(None)
        }
    };
    let status = Status {
        target: target.display.clone(),
        source: target.source.to_string(),
        database: db::current_database(&mut conn)?,
        server_version: db::server_version(&mut conn)?,
        role: db::server::role(&mut conn)?.as_str(),
        schema: state.describe(),
        applied_migrations: state.applied.len() - state.unknown().len(),
        pending_migrations: state.pending().len(),
        unknown_migrations: state.unknown().len(),
        users: count(&mut conn, "users")?,
        items: count(&mut conn, "items")?,
    };
    let mut out = ctx.stdout();
    render_one(ctx.format(), COLUMNS, &status, &mut out)?;
    super::finish(out)
}
