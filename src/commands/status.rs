//! `stackctl status`: where we are connected and what state the schema is in.

use serde::Serialize;

use super::Ctx;
use crate::db::counts::Count;
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
    /// `stackwizard` or `simple` (docs/layouts.md).
    layout: &'static str,
    /// Which StackWizard schema the tables have (`db::shape`); `null` without them or on
    /// the Simple DB layout.
    shape: Option<&'static str>,
    schema: String,
    applied_migrations: usize,
    pending_migrations: usize,
    unknown_migrations: usize,
    /// Rows in `users`: exact, or the planner's estimate above 100,000 (see the flags).
    users: Option<i64>,
    items: Option<i64>,
    /// Whether `users` is the planner's estimate rather than a count (`null` without the
    /// table); `--exact` counts.
    users_estimated: Option<bool>,
    items_estimated: Option<bool>,
}

const COLUMNS: &[&str] = &[
    "target",
    "source",
    "database",
    "server_version",
    "role",
    "layout",
    "shape",
    "schema",
    "applied_migrations",
    "pending_migrations",
    "unknown_migrations",
    "users",
    "items",
    "users_estimated",
    "items_estimated",
];

pub fn run(ctx: &Ctx, exact: bool) -> Result<()> {
    let (mut conn, target) = ctx.connect_raw()?;
    ctx.begin_reads(&mut conn)?;
    let (layout, state) = SchemaState::read_layout(&mut conn, ctx.global.layout)?;
    let (users, items) = db::counts::users_and_items(&mut conn, exact)?;
    let shape = match layout {
        crate::layout::Layout::StackWizard if users.is_some() && items.is_some() => {
            Some(db::shape::read(&mut conn)?.describe())
        }
        _ => None,
    };
    let status = Status {
        target: target.display.clone(),
        source: target.source.to_string(),
        database: db::current_database(&mut conn)?,
        server_version: db::server_version(&mut conn)?,
        role: db::server::role(&mut conn)?.as_str(),
        layout: layout.as_str(),
        shape,
        schema: state.describe(),
        applied_migrations: state.applied.len() - state.unknown().len(),
        pending_migrations: state.pending().len(),
        unknown_migrations: state.unknown().len(),
        users: users.map(Count::rows),
        items: items.map(Count::rows),
        users_estimated: users.map(Count::is_estimate),
        items_estimated: items.map(Count::is_estimate),
    };
    let leftovers = db::snapshot::scratch_databases(&mut conn)?;
    let mut out = ctx.stdout();
    render_one(ctx.format(), COLUMNS, &status, &mut out)?;
    super::finish(out)?;
    for (name, size) in leftovers {
        ctx.warn(format!(
            "database {name}{} was left by a stackctl restore beside the live one that was killed, or one still running makes it; once none runs: DROP DATABASE {name} WITH (FORCE);",
            size.map(|n| format!(" ({})", crate::output::fit::human_size(n.unsigned_abs())))
                .unwrap_or_default()
        ));
    }
    Ok(())
}
