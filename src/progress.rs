//! Progress bars on stderr (indicatif), only when stderr is a terminal and `-q` is not
//! given; otherwise hidden bars that cost nothing. Summaries are printed by the commands.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn visible(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

fn bar(quiet: bool, len: Option<u64>, template: &str) -> ProgressBar {
    if !visible(quiet) {
        return ProgressBar::hidden();
    }
    let pb = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    pb.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Reading an input of `size` bytes (a spinner when unknown); the message shows rows.
pub fn bytes(quiet: bool, size: Option<u64>) -> ProgressBar {
    match size {
        Some(n) => bar(
            quiet,
            Some(n),
            "{wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
        ),
        None => bar(quiet, None, "{spinner} {bytes} {bytes_per_sec} {msg}"),
    }
}

/// Counting `n` pieces of work (password hashes).
pub fn count(quiet: bool, n: u64, what: &str) -> ProgressBar {
    let pb = bar(
        quiet,
        Some(n),
        "{wide_bar} {pos}/{len} {per_sec} eta {eta} {msg}",
    );
    pb.set_message(what.to_string());
    pb
}

/// Rows streamed to stdout: shown only when stdout is not the same terminal.
pub fn rows(quiet: bool) -> ProgressBar {
    if std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    bar(quiet, None, "{spinner} {pos} rows {per_sec}")
}
