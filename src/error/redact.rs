//! Secrets (URL passwords, users' passwords) registered as they are met, and replaced by
//! `***` in every message before it is shown.

use std::sync::{Mutex, OnceLock};

fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remember a secret (a URL password, a user's password) so that no message can print it.
pub fn register_secret(secret: &str) {
    if secret.is_empty() {
        return;
    }
    if let Ok(mut list) = secrets().lock() {
        if !list.iter().any(|s| s == secret) {
            list.push(secret.to_string());
            // Longest first, so that a secret containing another is replaced whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
}

/// Secrets shorter than this are replaced only where they stand alone (not inside a
/// longer word): a one-letter URL password must not turn "password" into "***assword".
const SHORT_SECRET: usize = 6;

/// Replace every registered secret in `text` with `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    if let Ok(list) = secrets().lock() {
        for s in list.iter() {
            out = if s.len() >= SHORT_SECRET {
                out.replace(s.as_str(), "***")
            } else {
                replace_standalone(&out, s)
            };
        }
    }
    out
}

fn replace_standalone(text: &str, secret: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(secret) {
        let before = rest[..at]
            .chars()
            .next_back()
            .or_else(|| out.chars().next_back());
        let after = rest[at + secret.len()..].chars().next();
        out.push_str(&rest[..at]);
        if word(before) || word(after) {
            out.push_str(secret);
        } else {
            out.push_str("***");
        }
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_redacted_only_where_they_stand_alone() {
        register_secret("p");
        assert_eq!(
            redact("check the password for postgresql://u:p@h/db"),
            "check the password for postgresql://u:***@h/db"
        );
    }

    #[test]
    fn registered_secrets_are_redacted() {
        register_secret("s3cr3t-pw");
        assert_eq!(
            redact("password authentication failed: s3cr3t-pw"),
            "password authentication failed: ***"
        );
    }
}
