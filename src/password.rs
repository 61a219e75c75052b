//! Password sources and bcrypt. A password never comes from an argument (it would show
//! in `ps` and shell history), and is refused rather than truncated past 72 bytes.

use std::io::BufRead;
use std::path::Path;

use rand::distr::{Alphanumeric, SampleString};
use rand::TryRngCore;

use crate::cli::PasswordSource;
use crate::error::{register_secret, Error, Result};

/// Length of `--random-password` passwords (about 143 bits).
pub const RANDOM_LENGTH: usize = 24;

/// A password that passed the length rules; registered for redaction.
pub struct Password {
    pub text: String,
    /// Generated here: print it once.
    pub generated: bool,
}

pub fn check(text: &str) -> Result<()> {
    let n = text.len();
    if n < 8 {
        return Err(Error::invalid("password", "it must be at least 8 bytes"));
    }
    if n > 72 {
        return Err(Error::invalid(
            "password",
            format!("it is {n} bytes; bcrypt uses at most 72, and stackctl does not truncate"),
        ));
    }
    if text.contains('\0') {
        return Err(Error::invalid("password", "it contains a NUL byte"));
    }
    Ok(())
}

fn first_line(mut r: impl BufRead, from: &str) -> Result<String> {
    let mut line = String::new();
    r.read_line(&mut line)
        .map_err(|e| Error::invalid("password", format!("cannot read {from}: {e}")))?;
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(line)
}

fn read_file(path: &Path) -> Result<String> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::invalid("password", format!("cannot open {}: {e}", path.display())))?;
    first_line(std::io::BufReader::new(f), &path.display().to_string())
}

pub fn random() -> Result<String> {
    let mut rng = rand::rngs::OsRng.unwrap_err();
    Ok(Alphanumeric.sample_string(&mut rng, RANDOM_LENGTH))
}

/// Read the new password from wherever the flags say.
pub fn obtain(src: &PasswordSource) -> Result<Password> {
    let (text, generated) = if src.random_password {
        (random()?, true)
    } else if src.password_stdin {
        (first_line(std::io::stdin().lock(), "stdin")?, false)
    } else if let Some(path) = &src.password_file {
        (read_file(path)?, false)
    } else {
        (crate::prompt::new_password()?, false)
    };
    register_secret(&text);
    check(&text)?;
    Ok(Password { text, generated })
}

/// bcrypt `$2b$` hash at the given cost.
pub fn hash(password: &str, cost: u32) -> Result<String> {
    bcrypt::hash(password, cost).map_err(|e| Error::failure(format!("hashing failed: {e}")))
}

/// Check a password against a stored hash ($2a$, $2b$ or $2y$).
pub fn verify(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by passlib 1.7.4 with bcrypt 4.0.1:
    /// `CryptContext(schemes=["bcrypt"]).hash(pw)`.
    const PASSLIB_VECTORS: &[(&str, &str)] = include!("../tests/data/passlib_vectors.in");

    #[test]
    fn passlib_hashes_verify() {
        assert!(!PASSLIB_VECTORS.is_empty());
        for (pw, h) in PASSLIB_VECTORS {
            assert!(verify(pw, h), "{pw} / {h}");
            assert!(!verify(&format!("!{pw}"), h));
        }
    }

    #[test]
    fn hashes_are_2b_at_the_cost_asked() {
        let h = hash("correct horse", 4).unwrap();
        assert!(h.starts_with("$2b$04$"), "{h}");
        assert!(verify("correct horse", &h));
    }

    #[test]
    fn lengths() {
        assert!(check("1234567").is_err());
        assert!(check("12345678").is_ok());
        assert!(check(&"x".repeat(72)).is_ok());
        assert!(check(&"x".repeat(73)).is_err());
        // 24 two-byte characters are 48 bytes; 37 are 74 bytes: refused.
        assert!(check(&"é".repeat(37)).is_err());
    }

    #[test]
    fn random_passwords_differ() {
        let a = random().unwrap();
        assert_eq!(a.len(), RANDOM_LENGTH);
        assert_ne!(a, random().unwrap());
    }
}
