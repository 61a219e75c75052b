use std::process::ExitCode;

use clap::Parser;

use stackctl::cli::Cli;
use stackctl::error::redact;
use stackctl::output::terminal_safe;

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
    let json_errors = wants_json(std::env::args_os().skip(1));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if json_errors && e.use_stderr() => {
            let code = e.exit_code();
            let _ = e.print();
            let first = e.to_string();
            let first = first.lines().next().unwrap_or_default();
            print_json_error(
                &redact(first.trim_start_matches("error: ")),
                None,
                &[],
                code,
            );
            return ExitCode::from(code as u8);
        }
        Err(e) => e.exit(),
    };
    let color = stackctl::commands::color_enabled(cli.global.color);
    match std::panic::catch_unwind(|| stackctl::run(cli)) {
        Err(_) => ExitCode::from(1),
        Ok(Ok(code)) => code,
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
            // The contract's shape first (error, then hint); an import's bad rows follow.
            // A message may quote a value the application stored: shown terminal-safe.
            eprintln!("{red}error:{reset} {}", terminal_safe(&message));
            let hint = err.hint.as_deref().map(redact);
            if let Some(hint) = &hint {
                eprintln!("{yellow}hint:{reset} {}", terminal_safe(hint));
            }
            let details: Vec<String> = err.details.iter().map(|d| redact(d)).collect();
            for d in &details {
                eprintln!("  {}", terminal_safe(d));
            }
            if json_errors {
                print_json_error(
                    &message,
                    hint.as_deref(),
                    &details,
                    i32::from(err.exit_code()),
                );
            }
            ExitCode::from(err.exit_code())
        }
    }
}

/// With `-o json`, an error is also one JSON object on stderr, for wrappers to parse.
fn print_json_error(message: &str, hint: Option<&str>, details: &[String], exit_code: i32) {
    let mut obj = serde_json::json!({"error": message, "hint": hint, "exit_code": exit_code});
    if !details.is_empty() {
        obj["details"] = serde_json::json!(details);
    }
    eprintln!("{}", stackctl::output::json::to_string(&obj));
}

/// `-o json`, `-ojson`, `--output json` or `--output=json` anywhere before `--`: known
/// before parsing, so even a usage error clap reports can be given as JSON.
fn wants_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<String> = args
        .map(|a| a.to_string_lossy().into_owned())
        .take_while(|a| a != "--")
        .collect();
    let mut json = false;
    for (i, a) in args.iter().enumerate() {
        let next = args.get(i + 1).map(String::as_str);
        let value = match a.as_str() {
            "-o" | "--output" => next,
            _ => a.strip_prefix("--output=").or_else(|| {
                a.strip_prefix("-o")
                    .filter(|v| !v.is_empty() && !v.starts_with('-'))
            }),
        };
        if let Some(v) = value {
            json = v == "json";
        }
    }
    json
}
