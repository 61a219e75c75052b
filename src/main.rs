use std::process::ExitCode;

use clap::Parser;

use stackctl::cli::Cli;
use stackctl::error::{is_broken_pipe, redact};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = stackctl::commands::color_enabled(cli.global.color);
    match stackctl::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let (red, yellow, reset) = if color {
                ("\x1b[31m", "\x1b[33m", "\x1b[0m")
            } else {
                ("", "", "")
            };
            // One line: a multi-line message from libpq is folded.
            let message = redact(&err.message).split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("{red}error:{reset} {message}");
            if let Some(hint) = &err.hint {
                eprintln!("{yellow}hint:{reset} {}", redact(hint));
            }
            ExitCode::from(err.exit_code())
        }
    }
}
