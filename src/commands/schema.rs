//! `stackctl schema diff`: the live `users` and `items` against the applied migrations,
//! and what the application added beside them (listed as its own, never undone).
//! The rows go through the renderer; the SQL that would undo the drift is printed after
//! the table (table output) or on stderr (JSON and CSV, whose stdout keeps its shape),
//! and never run.

use std::io::Write;
use std::process::ExitCode;

use super::Ctx;
use crate::cli::{OutputFormat, SchemaCmd};
use crate::db::{self, SchemaState};
use crate::drift::{self, Report};
use crate::error::Result;
use crate::output::{terminal_safe, ListWriter};

/// Exit 0 when the schema is the migrations', else 6 (the rows and SQL on stdout say why).
pub fn run(cmd: SchemaCmd, ctx: &Ctx) -> Result<ExitCode> {
    match cmd {
        SchemaCmd::Diff => diff(ctx),
    }
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
