//! `stackctl schema diff`: the live `users` and `items` against the applied migrations,
//! and what the application added beside them (listed as its own, never undone).
//! The rows go through the renderer; the SQL that would undo the drift is printed after
//! the table (table output) or on stderr (JSON and CSV, whose stdout keeps its shape),
//! and never run.

use std::io::Write;
use std::process::ExitCode;

use super::Ctx;
use diesel::sql_types::Text;
use diesel::RunQueryDsl;

use crate::change::Change;
use crate::cli::{OutputFormat, SchemaCmd, SchemaDefault};
use crate::db::{self, SchemaState};
use crate::drift::{self, Report};
use crate::error::{Error, Result};
use crate::output::{terminal_safe, ListWriter};

/// Exit 0 when the schema is the migrations', else 6 (the rows and SQL on stdout say why).
pub fn run(cmd: SchemaCmd, ctx: &Ctx) -> Result<ExitCode> {
    match cmd {
        SchemaCmd::Diff => diff(ctx),
        SchemaCmd::Default(args) => column_default(args, ctx).map(|()| ExitCode::SUCCESS),
    }
}

/// One line of `schema default`.
#[derive(serde::Serialize)]
struct DefaultRow {
    column: String,
    #[serde(rename = "type")]
    ty: Option<String>,
    value: Option<String>,
    /// Whether stackctl needs it: the column is NOT NULL without a default now.
    needed: bool,
    declared_at: Option<chrono::DateTime<chrono::Utc>>,
    declared_by: Option<String>,
}

const DEFAULT_COLUMNS: &[&str] = &[
    "column",
    "type",
    "value",
    "needed",
    "declared_at",
    "declared_by",
];

/// `schema default [TABLE.COLUMN [VALUE | --unset]]`.
fn column_default(args: SchemaDefault, ctx: &Ctx) -> Result<()> {
    let mut session = ctx.open()?;
    let Some(name) = args.column else {
        return list_defaults(&mut session, ctx);
    };
    let column = unfilled_column(&session.shape, &name)?;
    let value = match (&args.value, args.unset) {
        (Some(v), false) => Some(db::shape::check_value(&mut session, &column, v)?),
        (None, true) => None,
        _ => {
            return Err(Error::usage(format!("give a VALUE for {name}, or --unset"))
                .with_hint(format!("stackctl schema default {name} VALUE")))
        }
    };
    let table = db::own::find(&mut session, "stackctl_column_defaults")?.ok_or_else(|| {
        Error::schema("stackctl_column_defaults is missing").with_hint("run stackctl migrate")
    })?;
    let done = session.write("schema default", |conn| {
        let n = match &value {
            Some(v) => diesel::sql_query(format!(
                "INSERT INTO {table} (table_name, column_name, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (table_name, column_name) DO UPDATE \
                 SET value = EXCLUDED.value, declared_at = now(), declared_by = current_user"
            ))
            .bind::<Text, _>(&column.table)
            .bind::<Text, _>(&column.column)
            .bind::<Text, _>(v)
            .execute(conn)?,
            None => diesel::sql_query(format!(
                "DELETE FROM {table} WHERE table_name = $1 AND column_name = $2"
            ))
            .bind::<Text, _>(&column.table)
            .bind::<Text, _>(&column.column)
            .execute(conn)?,
        };
        let change = Change::other(
            if value.is_some() { "declare" } else { "unset" },
            "column_default",
            column.name(),
        )
        .with_before(serde_json::json!({ "value": column.value }))
        .with_detail(serde_json::json!({ "value": value, "type": column.ty }));
        Ok((n, vec![change]))
    })?;
    if done.is_none() {
        return Ok(());
    }
    match &value {
        Some(v) => ctx.info(format!(
            "stackctl writes {} into {} where it inserts a row",
            terminal_safe(v),
            column.name()
        )),
        None => ctx.info(format!(
            "forgot the default of {}: inserts into {} are refused until one is declared",
            column.name(),
            column.table
        )),
    }
    let mut session = ctx.open()?;
    list_defaults(&mut session, ctx)
}

/// The application's unfilled column NAME names, or why it cannot take a declaration.
fn unfilled_column(shape: &db::shape::Shape, name: &str) -> Result<db::shape::AppColumn> {
    let Some((table, column)) = name
        .split_once('.')
        .filter(|(t, c)| matches!(*t, "users" | "items") && !c.is_empty())
    else {
        return Err(Error::usage(format!(
            "'{}' is not users.COLUMN or items.COLUMN",
            terminal_safe(name)
        ))
        .with_hint("stackctl schema default users.login_count 0"));
    };
    if db::shape::is_known(table, column) {
        return Err(Error::usage(format!(
            "{name} is a column stackctl writes itself"
        )));
    }
    shape
        .unfilled
        .iter()
        .find(|c| c.table == table && c.column == column)
        .cloned()
        .ok_or_else(|| {
            Error::not_found(format!(
                "{table} has no column {} that is NOT NULL without a default",
                terminal_safe(column)
            ))
            .with_hint("stackctl schema default lists the columns that need one")
        })
}

fn list_defaults(session: &mut crate::session::Session, ctx: &Ctx) -> Result<()> {
    let declared = db::shape::declared(session)?;
    let mut rows: Vec<DefaultRow> = session
        .shape
        .unfilled
        .iter()
        .map(|c| {
            let d = declared
                .iter()
                .find(|d| d.table_name == c.table && d.column_name == c.column);
            DefaultRow {
                column: c.name(),
                ty: Some(c.ty.clone()),
                value: d.map(|d| d.value.clone()),
                needed: true,
                declared_at: d.map(|d| d.declared_at),
                declared_by: d.map(|d| d.declared_by.clone()),
            }
        })
        .collect();
    // Declarations for columns that no longer need one (the application dropped the
    // column or gave it a default) are listed too, as not needed.
    for d in &declared {
        let name = format!("{}.{}", d.table_name, d.column_name);
        if !rows.iter().any(|r| r.column == name) {
            rows.push(DefaultRow {
                column: name,
                ty: None,
                value: Some(d.value.clone()),
                needed: false,
                declared_at: Some(d.declared_at),
                declared_by: Some(d.declared_by.clone()),
            });
        }
    }
    let mut out = ListWriter::new(ctx.format(), DEFAULT_COLUMNS, ctx.stdout());
    for r in &rows {
        out.row(r)?;
    }
    out.finish()?;
    Ok(())
}

fn diff(ctx: &Ctx) -> Result<ExitCode> {
    let (mut conn, _) = ctx.connect_raw()?;
    ctx.begin_reads(&mut conn)?;
    let (_, state) = SchemaState::read_layout(&mut conn, ctx.global.layout)?;
    let report = drift::inspect(&mut conn, &state.applied)?;
    let database = db::current_database(&mut conn)?;
    let mut out = ctx.stdout();
    let mut rows = ListWriter::new(ctx.format(), drift::COLUMNS, &mut out);
    // Drift first, then what the application added (INFO rows, never in the script).
    for d in report.differences.iter().chain(&report.additions) {
        rows.row(d)?;
    }
    rows.finish()?;
    if !report.is_clean() {
        let script = script(&report, &database);
        if ctx.format() == OutputFormat::Table {
            writeln!(out, "\n{}", terminal_safe(&script))?;
        } else {
            eprint!("{}", terminal_safe(&script));
        }
    }
    super::finish(out)?;
    if report.is_clean() {
        ctx.info(report.summary());
        return Ok(ExitCode::SUCCESS);
    }
    // Drift is this command's finding, not its failure: the rows and the SQL say it all,
    // the exit code tells scripts.
    Ok(ExitCode::from(6))
}

/// The statements in one transaction, under a comment saying what they are. Object and
/// database names reach the comment only through `drift::sql::comment`, so no name can end
/// the comment and become a line of the script (an SQL statement, or a psql
/// meta-command such as `\!`); in statements every name is a quoted identifier.
pub fn script(report: &Report, database: &str) -> String {
    let mut s = format!(
        "-- stackctl schema diff: {}\n-- SQL that brings users and items in database {} back to {} (not run; review it, then run it with psql):\nBEGIN;\n",
        drift::sql::comment(&report.summary()),
        drift::sql::comment(database),
        report.origin.map_or("the migrations", |o| o.describe()),
    );
    for statement in report.sql() {
        s.push_str(&statement.render());
        s.push('\n');
    }
    s.push_str("COMMIT;\n");
    s
}
