//! `stackctl audit list`: the audit trail, newest first.

use chrono::{DateTime, NaiveDate, Utc};

use super::Ctx;
use crate::cli::AuditCmd;
use crate::db::audit::{self, Filter, Row};
use crate::error::{Error, Result};
use crate::output::ListWriter;

pub fn run(cmd: AuditCmd, ctx: &Ctx) -> Result<()> {
    let AuditCmd::List {
        since,
        target,
        limit,
    } = cmd;
    let since = since
        .as_deref()
        .map(|s| parse_since(s, Utc::now()))
        .transpose()?;
    let mut session = ctx.open()?;
    if !session.audit {
        return Err(
            Error::schema("the database has no audit trail (stackctl.stackctl_audit)")
                .with_hint("stackctl migrate adds it beside the simple layout's users table"),
        );
    }
    let rows = audit::list(
        &mut session,
        &Filter {
            since,
            target,
            limit: i64::from(limit),
        },
    )?;
    let mut out = ListWriter::new(ctx.format(), Row::COLUMNS, ctx.stdout()).compact(&[
        "at",
        "db_user",
        "command",
        "target_kind",
        "target_id",
        "summary",
    ]);
    for r in &rows {
        out.row(r)?;
    }
    out.finish()?;
    Ok(())
}

/// `90s`, `15m`, `24h`, `7d`, `2w` before `now`; or an RFC 3339 time; or a date (midnight UTC).
fn parse_since(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let raw = raw.trim();
    let bad = || {
        Error::invalid(
            "--since",
            format!("'{raw}' is neither a duration nor a time"),
        )
        .with_hint("use e.g. 90s, 15m, 24h, 7d, 2w, 2026-11-22 or 2026-11-22T10:00:00Z")
    };
    if raw.chars().last().is_some_and(|c| c.is_ascii_alphabetic())
        && raw[..raw.len() - 1].parse::<i64>().is_ok()
    {
        let d = crate::validate::duration("--since", raw)?;
        return now.checked_sub_signed(d).ok_or_else(bad);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc());
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_times_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| parse_since(s, now).map(|t| t.to_rfc3339());
        assert_eq!(at("90s").unwrap(), "2026-11-22T11:58:30+00:00");
        assert_eq!(at("24h").unwrap(), "2026-11-21T12:00:00+00:00");
        assert_eq!(at("2w").unwrap(), "2026-11-08T12:00:00+00:00");
        assert_eq!(at("2026-11-01").unwrap(), "2026-11-01T00:00:00+00:00");
        assert_eq!(
            at("2026-11-22T10:00:00+02:00").unwrap(),
            "2026-11-22T08:00:00+00:00"
        );
        for bad in ["", "5y", "-3d", "yesterday", "99999999999999w"] {
            assert_eq!(at(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }
}
