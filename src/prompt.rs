//! The only place that talks to a person at a terminal. Without a terminal nothing is
//! asked: destructive commands then need `--yes`, passwords need a source.

use std::io::IsTerminal;

use crate::error::{Error, Result};

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Go ahead with a destructive action: `--yes`, or a "yes" at the terminal.
/// `what` says what will be lost.
pub fn confirm_destructive(yes: bool, what: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !stdin_is_terminal() {
        return Err(
            Error::usage(format!("refusing to go on without confirmation: {what}"))
                .with_hint("stdin is not a terminal; pass --yes to confirm"),
        );
    }
    let ok = dialoguer::Confirm::new()
        .with_prompt(prompt_text(what))
        .default(false)
        .interact()
        .map_err(|e| Error::failure(format!("cannot read the answer: {e}")))?;
    if ok {
        Ok(())
    } else {
        Err(Error::usage("cancelled; nothing was changed"))
    }
}

/// The confirmation question. `what` may quote a value from a file or the database (a
/// backup manifest's database name, say): control characters are shown escaped, so it
/// cannot hide or rewrite part of the question.
fn prompt_text(what: &str) -> String {
    format!("{}. Continue?", crate::output::terminal_safe(what))
}

/// Ask for a new password twice, hidden.
pub fn new_password() -> Result<String> {
    if !stdin_is_terminal() {
        return Err(
            Error::usage("no password given and stdin is not a terminal")
                .with_hint("use --password-stdin, --password-file PATH or --random-password"),
        );
    }
    dialoguer::Password::new()
        .with_prompt("Password")
        .with_confirmation("Repeat password", "the passwords do not match")
        .interact()
        .map_err(|e| Error::failure(format!("cannot read the password: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_question_shows_control_characters_escaped() {
        assert_eq!(
            super::prompt_text("drop database \u{1b}[8mhidden\u{1b}[0m app"),
            "drop database \\x1b[8mhidden\\x1b[0m app. Continue?"
        );
    }
}
