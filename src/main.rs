use std::process::ExitCode;

use clap::Parser;

use stackctl::cli::Cli;
use stackctl::error::{redact, Kind};

fn main() -> ExitCode {
    // A bug must still end in one `error:` line and exit 1, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("error: internal error: {}", redact(&what));
    }));
    let cli = Cli::parse();
    let color = stackctl::commands::color_enabled(cli.global.color);
    match std::panic::catch_unwind(|| stackctl::run(cli)) {
        Err(_) => ExitCode::from(1),
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(err)) if err.kind == Kind::BrokenPipe => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            let (red, yellow, reset) = if color {
                ("\x1b[31m", "\x1b[33m", "\x1b[0m")
            } else {
                ("", "", "")
            };
            // One line: a multi-line message from libpq is folded.
            let message = redact(&err.message)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!("{red}error:{reset} {message}");
            if let Some(hint) = &err.hint {
                eprintln!("{yellow}hint:{reset} {}", redact(hint));
            }
            ExitCode::from(err.exit_code())
        }
    }
}
