//! `stackctl status --check`: a monitoring probe in the Nagios convention. The first line
//! is `STACKCTL <STATE> - <summary> | <perfdata>`, one line per check follows; the exit code
//! is 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (only here: plain `status` keeps the
//! contract's codes). The backup checks are `backup.rs`'s.

mod backup;

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use super::Ctx;
use crate::cli::{OutputFormat, StatusArgs};
use crate::db::{self, SchemaState};
use crate::drift::{self, Severity};
use crate::error::{Kind, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl State {
    fn word(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub state: State,
    pub value: Value,
    pub threshold: Value,
    pub message: String,
    /// Nagios performance data, when the check has a number.
    #[serde(skip)]
    perf: Option<String>,
}

fn check(
    name: &'static str,
    state: State,
    value: Value,
    threshold: Value,
    message: String,
) -> Check {
    Check {
        name,
        state,
        value,
        threshold,
        message,
        perf: None,
    }
}

/// Latency thresholds in ms; backup age in seconds.
fn latency_check(ms: u64, warn: u64, crit: u64) -> Check {
    let state = if ms >= crit {
        State::Critical
    } else if ms >= warn {
        State::Warning
    } else {
        State::Ok
    };
    Check {
        perf: Some(format!("latency={ms}ms;{warn};{crit};0")),
        ..check(
            "connection",
            state,
            json!(ms),
            json!({"warning_ms": warn, "critical_ms": crit}),
            format!("connected in {ms} ms"),
        )
    }
}

fn schema_checks(
    conn: &mut diesel::PgConnection,
    layout: Option<crate::layout::Layout>,
    out: &mut Vec<Check>,
) -> Result<SchemaState> {
    let (layout, state) = SchemaState::read_layout(conn, layout)?;
    let (pending, unknown) = (state.pending().len(), state.unknown().len());
    let (st, msg) = if layout == crate::layout::Layout::Simple && pending > 0 {
        // The application's own schema works without stackctl's audit trail.
        (
            State::Ok,
            "simple layout: stackctl's audit trail not added (stackctl migrate adds it)"
                .to_string(),
        )
    } else if unknown > 0 {
        (
            State::Critical,
            format!("{unknown} migration(s) newer than this stackctl"),
        )
    } else if pending > 0 {
        (
            State::Critical,
            format!("{pending} pending migration(s); run stackctl migrate"),
        )
    } else {
        (State::Ok, "schema up to date".to_string())
    };
    out.push(check(
        "migrations",
        st,
        json!({"pending": pending, "unknown": unknown}),
        json!({"pending": 0, "unknown": 0}),
        msg,
    ));
    let drift = db::checksum_drift(conn)?;
    out.push(match drift {
        None => check(
            "migration_checksums",
            State::Ok,
            Value::Null,
            Value::Null,
            "no checksums recorded yet".into(),
        ),
        Some(d) if d.is_empty() => check(
            "migration_checksums",
            State::Ok,
            json!([]),
            json!("recorded = embedded"),
            "applied migrations match this binary's SQL".into(),
        ),
        Some(d) => check(
            "migration_checksums",
            State::Critical,
            json!(d.iter().map(|(v, _, _)| v).collect::<Vec<_>>()),
            json!("recorded = embedded"),
            format!(
                "migration(s) {} were applied from SQL other than this binary's",
                d.iter()
                    .map(|(v, _, _)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    });
    Ok(state)
}

/// The live users/items against the applied migrations: CRITICAL for a missing or changed
/// table, column, constraint or foreign key, WARNING for an extra column or index or a
/// missing or changed index. One catalog query.
fn drift_check(
    conn: &mut diesel::PgConnection,
    state: &SchemaState,
    out: &mut Vec<Check>,
) -> Result<()> {
    let report = drift::inspect(conn, &state.applied)?;
    let (critical, warning) = (
        report.count(Severity::Critical),
        report.count(Severity::Warning),
    );
    let (st, message) = match report.worst() {
        None => (State::Ok, report.summary()),
        Some(worst) => (
            if worst == Severity::Critical {
                State::Critical
            } else {
                State::Warning
            },
            format!(
                "schema drift: {}; see stackctl schema diff",
                report.summary()
            ),
        ),
    };
    out.push(Check {
        perf: Some(format!(
            "schema_drift_critical={critical};;0;0 schema_drift_warning={warning};0;;0"
        )),
        ..check(
            "schema_drift",
            st,
            json!({"critical": critical, "warning": warning}),
            json!({
                "warning": "an extra column or index, or a missing or changed index",
                "critical": "a missing or changed table, column, constraint or foreign key"
            }),
            message,
        )
    });
    Ok(())
}

/// The Nagios exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the findings are on stdout.
pub fn run(args: StatusArgs, ctx: &Ctx) -> Result<ExitCode> {
    let mut checks = Vec::new();
    let mut database = None;
    let outcome = probe(&args, ctx, &mut checks, &mut database);
    if let Err(e) = outcome {
        // Unreachable is CRITICAL; anything else we could not judge is UNKNOWN.
        let state = if e.kind == Kind::Unreachable {
            State::Critical
        } else {
            State::Unknown
        };
        checks.push(check(
            if e.kind == Kind::Unreachable {
                "connection"
            } else {
                "probe"
            },
            state,
            Value::Null,
            Value::Null,
            crate::error::redact(&e.message),
        ));
    }
    let state = checks
        .iter()
        .map(|c| c.state)
        .max()
        .unwrap_or(State::Unknown);
    let bad: Vec<String> = checks
        .iter()
        .filter(|c| c.state != State::Ok)
        .map(|c| c.message.clone())
        .collect();
    let summary = if bad.is_empty() {
        checks
            .iter()
            .map(|c| c.message.clone())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        bad.join("; ")
    };
    let perf: Vec<&str> = checks.iter().filter_map(|c| c.perf.as_deref()).collect();
    let mut first = format!("STACKCTL {} - {summary}", state.word());
    if !perf.is_empty() {
        first = format!("{first} | {}", perf.join(" "));
    }
    let mut out = ctx.stdout();
    match ctx.format() {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &json!({
                    "status": state.word(),
                    "exit_code": state as u8,
                    "summary": first,
                    "checks": checks,
                }),
            )?;
            writeln!(out)?;
        }
        _ => {
            writeln!(out, "{first}")?;
            for c in &checks {
                writeln!(out, "{}: {} - {}", c.name, c.state.word(), c.message)?;
            }
        }
    }
    super::finish(out)?;
    if let Some(url) = &args.notify.notify_url {
        crate::notify::ping(
            url,
            crate::notify::Event::of(state == State::Ok),
            "status --check",
            database.as_deref(),
            &first,
            state as u8,
            ctx.global.quiet,
        );
    }
    Ok(ExitCode::from(state as u8))
}

fn probe(
    args: &StatusArgs,
    ctx: &Ctx,
    checks: &mut Vec<Check>,
    database: &mut Option<String>,
) -> Result<()> {
    let max_age = args
        .max_backup_age
        .as_deref()
        .map(|a| crate::validate::duration("--max-backup-age", a))
        .transpose()?
        .unwrap_or_else(|| chrono::TimeDelta::hours(26));
    let started = Instant::now();
    let (mut conn, _) = ctx.connect_raw()?;
    ctx.begin_reads(&mut conn)?;
    db::server_version(&mut conn)?;
    let ms = started.elapsed().as_millis() as u64;
    checks.push(latency_check(ms, args.warn_latency, args.crit_latency));
    let name = db::current_database(&mut conn)?;
    *database = Some(name.clone());
    let state = schema_checks(&mut conn, ctx.global.layout, checks)?;
    if let Some(dir) = crate::backup::catalog::dir_or_env(args.backup_dir.as_deref()) {
        backup::backup_checks(&dir, &name, max_age, checks);
    }
    // Last, so that the checks before it keep their places in `-o json`'s array.
    drift_check(&mut conn, &state, checks)
}
