//! The one error type, its exit codes, the one reading of the server's messages (`Said`),
//! and the redaction of secrets from every message (`redact.rs`).

mod redact;

pub use redact::{redact, register_secret};

use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};

/// What kind of failure, which decides the process exit code (see the contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: unexpected failure, or an external tool failed.
    Failure,
    /// 2: usage error or invalid input; nothing was changed.
    Usage,
    /// 3: user, item or backup file not found.
    NotFound,
    /// 4: duplicate email or username, or a lock held by another process.
    Conflict,
    /// 5: the database cannot be reached.
    Unreachable,
    /// 6: pending migrations, or migrations newer than this binary.
    SchemaNotReady,
    /// 7: the server refused the operation: it is read-only (a hot standby), or the role
    /// lacks a privilege. Nothing was changed.
    Refused,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failure => 1,
            Kind::Usage => 2,
            Kind::NotFound => 3,
            Kind::Conflict => 4,
            Kind::Unreachable => 5,
            Kind::SchemaNotReady => 6,
            Kind::Refused => 7,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    /// Lines shown under the error (an import's bad rows), each on its own line.
    pub details: Vec<String>,
    /// The failure underneath (an I/O or database error), for code that asks what it was.
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            details: Vec::new(),
            source: None,
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }
    /// Invalid input for a named field: the message always names it.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(Kind::Usage, format!("invalid {field}: {reason}"))
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, message)
    }
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unreachable, message)
    }
    pub fn schema(message: impl Into<String>) -> Self {
        Self::new(Kind::SchemaNotReady, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(Kind::Refused, message)
    }
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(Kind::Failure, message)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
    pub fn exit_code(&self) -> u8 {
        // A closed stdout ends a command early, and that is success.
        if self.is_closed_pipe() {
            return 0;
        }
        self.kind.exit_code()
    }

    /// What the server said, when this is a statement it refused (or lost).
    pub fn said(&self) -> Option<Said> {
        match self.source.as_ref()?.downcast_ref::<DieselError>()? {
            DieselError::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) => {
                Some(Said::ReadOnly)
            }
            DieselError::DatabaseError(_, info) => Said::of(info.message()),
            _ => None,
        }
    }

    /// stdout's reader went away (`stackctl user list | head`): the command stops early,
    /// which is no failure; `run` turns it into exit 0.
    pub fn is_closed_pipe(&self) -> bool {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = match &self.source {
            Some(s) => Some(s.as_ref()),
            None => None,
        };
        while let Some(e) = cause {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return true;
            }
            cause = e.source();
        }
        false
    }
}

impl From<DieselError> for Error {
    fn from(err: DieselError) -> Self {
        let converted = match &err {
            DieselError::NotFound => Error::not_found("not found"),
            DieselError::DatabaseError(kind, info) => database_error(kind, info.as_ref()),
            _ => Error::failure(format!("database error: {err}")),
        };
        converted.with_source(err)
    }
}

/// What the server (or libpq, or a client tool) says happened, read from its words where
/// the SQLSTATE is not enough or not there: libpq's own connection messages and a tool's
/// stderr carry none. The one place that reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// A write in a read-only transaction (a standby, or a read-only default).
    ReadOnly,
    /// The role lacks a privilege or ownership.
    PermissionDenied,
    /// The server was lost, or never reached.
    ConnectionLost,
    /// `statement_timeout` cancelled the statement.
    StatementTimeout,
    /// The object to create or rename to exists (`CREATE DATABASE`, `ALTER ... RENAME`).
    AlreadyExists,
}

impl Said {
    /// The first reading of `msg`, in this order: a message naming several is the first.
    pub fn of(msg: &str) -> Option<Said> {
        [
            Said::ReadOnly,
            Said::PermissionDenied,
            Said::ConnectionLost,
            Said::StatementTimeout,
            Said::AlreadyExists,
        ]
        .into_iter()
        .find(|said| said.is_in(msg))
    }

    /// Whether `msg` says this.
    pub fn is_in(self, msg: &str) -> bool {
        match self {
            Said::ReadOnly => msg.contains("read-only transaction"),
            Said::PermissionDenied => {
                msg.starts_with("permission denied for ") || msg.starts_with("must be owner of ")
            }
            Said::ConnectionLost => {
                const LOST: &[&str] = &[
                    "server closed the connection",
                    "terminating connection",
                    "connection to server",
                    "no connection to the server",
                    "could not receive data",
                    "could not send data",
                    "could not connect",
                    "connection refused",
                    "connection timed out",
                ];
                let m = msg.to_ascii_lowercase();
                LOST.iter().any(|l| m.contains(l))
            }
            Said::StatementTimeout => msg.contains("canceling statement due to statement timeout"),
            Said::AlreadyExists => msg.contains("already exists"),
        }
    }
}

/// A statement the server refused (or lost), by its SQLSTATE class and what it says.
fn database_error(
    kind: &DatabaseErrorKind,
    info: &(dyn diesel::result::DatabaseErrorInformation + Send + Sync),
) -> Error {
    let msg = info.message();
    match (kind, Said::of(msg)) {
        (DatabaseErrorKind::UniqueViolation, _) => Error::conflict(match info.constraint_name() {
            Some(c) if c.contains("email") => "a user with this email already exists",
            Some(c) if c.contains("username") => "a user with this username already exists",
            _ => "the row conflicts with an existing one",
        }),
        (DatabaseErrorKind::ReadOnlyTransaction, _) | (_, Some(Said::ReadOnly)) => read_only(msg),
        (_, Some(Said::PermissionDenied)) => missing_privilege(msg),
        (DatabaseErrorKind::ClosedConnection, _) => {
            Error::unreachable(format!("lost the connection to the database: {msg}"))
        }
        (_, Some(Said::ConnectionLost)) => {
            Error::unreachable(format!("database connection failed: {msg}"))
        }
        (_, Some(Said::StatementTimeout)) => {
            Error::unreachable(format!("the database did not answer in time: {msg}"))
        }
        _ => Error::failure(format!("database error: {msg}")),
    }
}

/// A write refused by a read-only server. Where the caller can ask the server whether it
/// is a standby, it rewords this (`db::server::explain_refusal`).
fn read_only(msg: &str) -> Error {
    Error::refused(format!(
        "the server is read-only ({msg}): nothing was changed"
    ))
    .with_hint(crate::db::server::READ_ONLY_HINT)
}

/// A statement refused for a missing privilege: name the object and the GRANT that fixes it.
fn missing_privilege(msg: &str) -> Error {
    let hint = crate::grant::hint_for_denial(msg);
    Error::refused(format!("the server refused: {msg}")).with_hint(hint)
}

impl From<ConnectionError> for Error {
    fn from(err: ConnectionError) -> Self {
        match err {
            ConnectionError::InvalidConnectionUrl(m) => {
                Error::usage(format!("invalid database URL: {}", m.trim()))
            }
            ConnectionError::BadConnection(m) if m.contains("for connection option") => {
                Error::usage(format!("invalid database URL: {}", m.trim()))
            }
            ConnectionError::BadConnection(m) => {
                Error::unreachable(format!("cannot connect to the database: {}", m.trim()))
                    .with_hint(
                        "check that the server is running and the URL, user and password are right",
                    )
            }
            other => Error::unreachable(format!("cannot connect to the database: {other}")),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        let message = if err.kind() == std::io::ErrorKind::BrokenPipe {
            "stdout was closed".to_string()
        } else {
            format!("I/O error: {err}")
        };
        Error::failure(message).with_source(err)
    }
}

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Self {
        match err.downcast::<Error>() {
            Ok(e) => e,
            Err(err) => Error::failure(format!("{err:#}")),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        if err.is_io() {
            return Error::from(std::io::Error::from(err));
        }
        Error::failure(format!("JSON error: {err}"))
    }
}

impl From<csv::Error> for Error {
    fn from(err: csv::Error) -> Self {
        match err.into_kind() {
            csv::ErrorKind::Io(io) => Error::from(io),
            other => Error::failure(format!("CSV error: {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Error::usage("x").exit_code(), 2);
        assert_eq!(Error::not_found("x").exit_code(), 3);
        assert_eq!(Error::conflict("x").exit_code(), 4);
        assert_eq!(Error::unreachable("x").exit_code(), 5);
        assert_eq!(Error::schema("x").exit_code(), 6);
        assert_eq!(Error::refused("x").exit_code(), 7);
        assert_eq!(Error::failure("x").exit_code(), 1);
    }

    #[test]
    fn a_closed_pipe_is_success_and_other_io_errors_are_failures() {
        let closed = Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(closed.is_closed_pipe());
        assert_eq!(closed.exit_code(), 0);
        let other = Error::from(std::io::Error::other("disk full"));
        assert!(!other.is_closed_pipe());
        assert_eq!(other.exit_code(), 1);
    }

    #[test]
    fn server_messages_are_read_in_one_order() {
        assert_eq!(
            Said::of("cannot execute INSERT in a read-only transaction"),
            Some(Said::ReadOnly)
        );
        assert_eq!(
            Said::of("permission denied for table users"),
            Some(Said::PermissionDenied)
        );
        assert_eq!(
            Said::of("server closed the connection unexpectedly"),
            Some(Said::ConnectionLost)
        );
        assert_eq!(
            Said::of("canceling statement due to statement timeout"),
            Some(Said::StatementTimeout)
        );
        assert_eq!(Said::of("syntax error at or near \"x\""), None);
        let refused = Error::from(DieselError::DatabaseError(
            DatabaseErrorKind::ReadOnlyTransaction,
            Box::new("cannot execute UPDATE in a read-only transaction".to_string()),
        ));
        assert_eq!(refused.exit_code(), 7);
        assert_eq!(refused.said(), Some(Said::ReadOnly));
    }
}
