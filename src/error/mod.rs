//! The one error type, its exit codes, the one reading of what the server said (`Said`:
//! by SQLSTATE, never by the server's words, which follow its `lc_messages`), and the
//! redaction of secrets from every message (`redact.rs`).

mod redact;

pub use redact::{redact, register_secret};

use std::sync::atomic::{AtomicBool, Ordering};

use diesel::pg::sql_state as code;
use diesel::result::{
    ConnectionError, DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError, SqlState,
    SqlStateClass,
};

/// Whether this process set a `statement_timeout` (`--statement-timeout`): a cancelled
/// statement (57014) is then that timeout, since the SQLSTATE alone does not tell a
/// timeout from a cancel request.
static STATEMENT_TIMEOUT_SET: AtomicBool = AtomicBool::new(false);

/// Called once by the command context when `--statement-timeout` is given.
pub fn note_statement_timeout() {
    STATEMENT_TIMEOUT_SET.store(true, Ordering::Relaxed);
}

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
            DieselError::DatabaseError(kind, info) => Said::of_error(kind, info.as_ref()),
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

/// What the server (or libpq, or a client tool) says happened. A server's error is read
/// by its SQLSTATE, the same in every language. Only what carries no SQLSTATE is read
/// from its words: libpq's own connection messages (this binary's libpq has no
/// translations) and a client tool's stderr (run with `LC_MESSAGES=C`, `pgtools`).
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
    /// A server error, by its SQLSTATE; without one (libpq lost the connection itself),
    /// by libpq's words.
    pub fn of_error(
        kind: &DatabaseErrorKind,
        info: &(dyn DatabaseErrorInformation + Send + Sync),
    ) -> Option<Said> {
        if let DatabaseErrorKind::ReadOnlyTransaction = kind {
            return Some(Said::ReadOnly);
        }
        if let DatabaseErrorKind::ClosedConnection = kind {
            return Some(Said::ConnectionLost);
        }
        match info.sqlstate() {
            Some(state) => Said::of_code(state),
            None => Said::of_libpq(info.message()),
        }
    }

    /// What a SQLSTATE says.
    pub fn of_code(state: SqlState) -> Option<Said> {
        match state {
            code::READ_ONLY_SQL_TRANSACTION => Some(Said::ReadOnly),
            code::INSUFFICIENT_PRIVILEGE => Some(Said::PermissionDenied),
            code::QUERY_CANCELED if STATEMENT_TIMEOUT_SET.load(Ordering::Relaxed) => {
                Some(Said::StatementTimeout)
            }
            code::ADMIN_SHUTDOWN
            | code::CRASH_SHUTDOWN
            | code::CANNOT_CONNECT_NOW
            | code::IDLE_SESSION_TIMEOUT => Some(Said::ConnectionLost),
            code::DUPLICATE_DATABASE | code::DUPLICATE_TABLE | code::DUPLICATE_OBJECT => {
                Some(Said::AlreadyExists)
            }
            s if s.class() == SqlStateClass::CONNECTION_EXCEPTION => Some(Said::ConnectionLost),
            _ => None,
        }
    }

    /// What libpq (or a client tool in the C locale) says when a connection fails or is
    /// lost: its own messages, which carry no SQLSTATE.
    pub fn of_libpq(msg: &str) -> Option<Said> {
        Said::ConnectionLost
            .is_in(msg)
            .then_some(Said::ConnectionLost)
    }

    /// Whether libpq's (or a client tool's) words say this.
    pub fn is_in(self, msg: &str) -> bool {
        match self {
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
            _ => false,
        }
    }
}

/// A statement the server refused (or lost), by its SQLSTATE (Diesel's kind where it maps
/// one) and the names the server gives beside the message; never by the message's words.
fn database_error(
    kind: &DatabaseErrorKind,
    info: &(dyn DatabaseErrorInformation + Send + Sync),
) -> Error {
    let msg = info.message();
    match (kind, Said::of_error(kind, info)) {
        (DatabaseErrorKind::UniqueViolation, _) => Error::conflict(match info.constraint_name() {
            Some(c) if c.contains("email") => "a user with this email already exists",
            Some(c) if c.contains("username") => "a user with this username already exists",
            _ => "the row conflicts with an existing one",
        }),
        (_, Some(Said::ReadOnly)) => read_only(msg),
        (_, Some(Said::PermissionDenied)) => missing_privilege(msg),
        (DatabaseErrorKind::ClosedConnection, _) => {
            Error::unreachable(format!("lost the connection to the database: {msg}"))
        }
        (_, Some(Said::ConnectionLost)) => {
            Error::unreachable(format!("database connection failed: {msg}"))
        }
        (_, Some(Said::StatementTimeout)) => Error::unreachable(format!(
            "the database did not answer in time (statement timeout): {msg}"
        ))
        .with_hint("raise --statement-timeout, or run the command when the server is less busy"),
        (DatabaseErrorKind::NotNullViolation, _) => application_requires(
            info,
            match (info.table_name(), info.column_name()) {
                (Some(t), Some(c)) => format!("a value for {t}.{c}, which stackctl does not write"),
                _ => "a value stackctl does not write".into(),
            },
        ),
        (DatabaseErrorKind::CheckViolation, _) => application_requires(
            info,
            match info.constraint_name() {
                Some(c) => format!("what its check constraint {c} allows"),
                _ => "what a check constraint allows".into(),
            },
        ),
        _ if info.sqlstate() == Some(code::RAISE_EXCEPTION) => {
            application_requires(info, "what a trigger of its allows".into())
        }
        _ => Error::failure(format!("database error: {msg}")),
    }
}

/// A write the application's schema refused (a NOT NULL column stackctl does not fill, a
/// check constraint, a trigger that raises): exit 6, naming what it requires.
fn application_requires(
    info: &(dyn DatabaseErrorInformation + Send + Sync),
    what: String,
) -> Error {
    Error::schema(format!(
        "the application's schema requires {what}: nothing was written (the server said: {})",
        info.message()
    ))
    .with_hint(
        "the application's own code fills such columns; give the value through the \
         application, or ask its maintainers for a server default",
    )
}

/// A write refused by a read-only server. Where the caller can ask the server whether it
/// is a standby, it rewords this (`db::server::explain_refusal`).
fn read_only(msg: &str) -> Error {
    Error::refused(format!(
        "the server is read-only ({msg}): nothing was changed"
    ))
    .with_hint(crate::db::server::READ_ONLY_HINT)
}

/// A statement refused for a missing privilege. The hint names the GRANT once the server
/// has been asked which privilege the role lacks (`lib::run`, `db::server::missing_grant`):
/// the message's words, in the server's language, are never read for it.
fn missing_privilege(msg: &str) -> Error {
    Error::refused(format!("the server refused: {msg}")).with_hint(crate::grant::GENERIC_HINT)
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
    fn server_errors_are_read_by_their_sqlstate_whatever_the_language() {
        struct Server(&'static str, &'static str);
        impl DatabaseErrorInformation for Server {
            fn message(&self) -> &str {
                self.1
            }
            fn details(&self) -> Option<&str> {
                None
            }
            fn hint(&self) -> Option<&str> {
                None
            }
            fn table_name(&self) -> Option<&str> {
                Some("users")
            }
            fn column_name(&self) -> Option<&str> {
                Some("tenant_id")
            }
            fn constraint_name(&self) -> Option<&str> {
                None
            }
            fn statement_position(&self) -> Option<i32> {
                None
            }
            fn sqlstate(&self) -> Option<SqlState> {
                self.0.parse().ok()
            }
        }
        let err = |state: &'static str, msg: &'static str| {
            Error::from(DieselError::DatabaseError(
                match state {
                    "23502" => DatabaseErrorKind::NotNullViolation,
                    _ => DatabaseErrorKind::Unknown,
                },
                Box::new(Server(state, msg)),
            ))
        };
        let denied = err("42501", "keine Berechtigung für Tabelle users");
        assert_eq!(
            (denied.exit_code(), denied.said()),
            (7, Some(Said::PermissionDenied))
        );
        assert!(denied.hint.is_some());
        let read_only = err(
            "25006",
            "kann INSERT nicht in einer Read-only-Transaktion ausführen",
        );
        assert_eq!(
            (read_only.exit_code(), read_only.said()),
            (7, Some(Said::ReadOnly))
        );
        let lost = err(
            "57P01",
            "Verbindung wird abgebrochen aufgrund von Anweisung des Administrators",
        );
        assert_eq!(lost.exit_code(), 5);
        let not_null = err(
            "23502",
            "NULL-Wert in Spalte »tenant_id« verletzt Not-Null-Constraint",
        );
        assert_eq!(not_null.exit_code(), 6);
        assert!(
            not_null.message.contains("users.tenant_id"),
            "{}",
            not_null.message
        );
        // The same words in English with no SQLSTATE decide nothing but a lost connection.
        assert_eq!(err("", "permission denied for table users").exit_code(), 1);
        assert_eq!(
            Said::of_libpq("server closed the connection unexpectedly"),
            Some(Said::ConnectionLost)
        );
        let refused = Error::from(DieselError::DatabaseError(
            DatabaseErrorKind::ReadOnlyTransaction,
            Box::new("cannot execute UPDATE in a read-only transaction".to_string()),
        ));
        assert_eq!(refused.exit_code(), 7);
        assert_eq!(refused.said(), Some(Said::ReadOnly));
    }
}
