//! Cron pings (`--notify-url`, `STACKCTL_NOTIFY_URL`): after `backup` or `status --check`,
//! POST a small JSON body to the URL on success and to `URL/fail` on failure, and when a
//! backup begins to `URL/start` (so a monitor can time it and notice one that hangs), the
//! convention of healthchecks.io and its kin. A ping that cannot be delivered is reported
//! on stderr and never changes the command's exit code. The body holds no secret: the
//! command, the outcome, the database's name, the (already redacted) message.

use std::time::Duration;

use serde_json::json;

use crate::error::redact;

/// Seconds a ping may take, connection included.
const TIMEOUT_SECS: u64 = 5;

/// What a ping reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The job began (`URL/start`).
    Start,
    /// The job succeeded (`URL`).
    Success,
    /// The job failed (`URL/fail`).
    Failure,
}

impl Event {
    /// Success or failure, as an outcome.
    pub fn of(ok: bool) -> Event {
        if ok {
            Event::Success
        } else {
            Event::Failure
        }
    }

    fn status(self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::Success => "success",
            Event::Failure => "failure",
        }
    }
}

/// Where a ping goes: the URL on success, `URL/fail` on failure, `URL/start` at the start.
pub fn endpoint(url: &str, event: Event) -> String {
    match event {
        Event::Success => url.to_string(),
        Event::Failure => format!("{}/fail", url.trim_end_matches('/')),
        Event::Start => format!("{}/start", url.trim_end_matches('/')),
    }
}

/// The URL without its path, query or credentials: safe to print (a ping URL's path is
/// often its secret token).
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the notify URL".into();
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    format!("{scheme}://{host}/...")
}

/// Send one ping; on failure print one `warning:` line and go on.
pub fn ping(
    url: &str,
    event: Event,
    command: &str,
    database: Option<&str>,
    message: &str,
    exit_code: u8,
    quiet: bool,
) {
    let body = json!({
        "command": command,
        "status": event.status(),
        "exit_code": exit_code,
        "database": database,
        "message": redact(message),
        "host": crate::db::audit::Actor::current().hostname,
        "stackctl_version": env!("CARGO_PKG_VERSION"),
    });
    let target = endpoint(url, event);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(TIMEOUT_SECS)))
        .http_status_as_error(true)
        .build()
        .into();
    let sent = agent
        .post(&target)
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            concat!("stackctl/", env!("CARGO_PKG_VERSION")),
        )
        .send(body.to_string());
    if let Err(e) = sent {
        if !quiet {
            eprintln!(
                "warning: notify: could not ping {}: {}",
                shown(&target),
                redact(&e.to_string()).replace(url, "<notify-url>")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_pings_go_to_fail_and_start_pings_to_start() {
        assert_eq!(
            endpoint("https://hc.example/abc", Event::Success),
            "https://hc.example/abc"
        );
        assert_eq!(
            endpoint("https://hc.example/abc/", Event::Failure),
            "https://hc.example/abc/fail"
        );
        assert_eq!(
            endpoint("https://hc.example/abc", Event::Start),
            "https://hc.example/abc/start"
        );
        assert_eq!(
            shown("https://u:p@hc.example:8443/secret-uuid?x"),
            "https://hc.example:8443/..."
        );
    }
}
