//! stackctl: administer the PostgreSQL database of a StackWizard application.

pub mod backup;
pub mod change;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod drift;
pub mod embedded;
pub mod error;
pub mod grant;
pub mod import;
pub mod layout;
pub mod notify;
pub mod output;
pub mod password;
pub mod pgtools;
pub mod progress;
pub mod prompt;
pub mod session;
pub mod url;
pub mod validate;

use std::process::ExitCode;

use error::Result;

/// Run one parsed command line; its exit code, or the error `main` reports.
pub fn run(cli: cli::Cli) -> Result<ExitCode> {
    let auto_migrate = !matches!(cli.command, cli::Command::Migrate(_));
    let mut ctx = commands::Ctx::new(cli.global, auto_migrate)?;
    ctx.simple_lacks = layout::simple_lacks(&cli.command);
    match commands::dispatch(cli.command, &ctx) {
        // `stackctl user list | head`: the reader has all it wanted.
        Err(e) if e.is_closed_pipe() => Ok(ExitCode::SUCCESS),
        Err(e) if e.said() == Some(error::Said::PermissionDenied) => Err(ctx.explain_denial(e)),
        done => done,
    }
}

/// How many cases each property test runs: `PROPTEST_CASES`, else 3,000 (the long runs in
/// docs/security.md raise it).
#[cfg(test)]
pub(crate) fn proptest_cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}
