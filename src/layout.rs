//! The two database layouts stackctl administers: the StackWizard schema (users and items
//! with UUIDs, this contract's default) and the Simple DB design (one `users` table with a
//! serial id, email, name and created_at, owned by the application's Alembic). Which one a
//! database has is read from its catalog by the schema gate (`db::layout`); `--layout` /
//! `STACKCTL_LAYOUT` overrides it. Everything the Simple DB layout cannot do is listed in
//! `simple_lacks`, the one place a refusal is decided.

use clap::ValueEnum;

use crate::cli::{Command, UserCmd};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    /// users and items with UUIDs (the default)
    #[value(name = "stackwizard")]
    StackWizard,
    /// the Simple DB design: users (serial id, email, name, created_at)
    Simple,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::StackWizard => "stackwizard",
            Layout::Simple => "simple",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the catalog shows of `users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No `users` table: an empty database.
    Empty,
    /// `users.id` is a UUID.
    StackWizard,
    /// `users.id` is an integer and the table has email, name and created_at but no
    /// password hash.
    Simple,
    /// A `users` table that is neither (handled as the StackWizard layout, as before
    /// layouts existed: the gate and `schema diff` say what is wrong with it).
    Other,
}

impl Found {
    pub fn parse(text: &str) -> Found {
        match text {
            "empty" => Found::Empty,
            "stackwizard" => Found::StackWizard,
            "simple" => Found::Simple,
            _ => Found::Other,
        }
    }
}

/// The layout to work with: the one chosen (`--layout` / `STACKCTL_LAYOUT`), else the one
/// found. A choice the catalog plainly contradicts is refused (exit 2) rather than sending
/// one layout's statements to the other's tables.
pub fn resolve(found: Found, chosen: Option<Layout>) -> Result<Layout> {
    match (chosen, found) {
        (None, Found::Simple) => Ok(Layout::Simple),
        (None, _) => Ok(Layout::StackWizard),
        (Some(Layout::StackWizard), Found::Simple) => Err(contradiction(
            Layout::StackWizard,
            "the simple layout (users.id is an integer, no password column)",
        )),
        (Some(Layout::Simple), Found::StackWizard) => Err(contradiction(
            Layout::Simple,
            "the stackwizard layout (users.id is a UUID)",
        )),
        (Some(chosen), _) => Ok(chosen),
    }
}

fn contradiction(chosen: Layout, has: &str) -> Error {
    Error::usage(format!(
        "--layout {chosen} (or STACKCTL_LAYOUT), but the database has {has}"
    ))
    .with_hint("drop --layout / STACKCTL_LAYOUT: the layout is detected from the catalog")
}

/// The refusal for a command line on the Simple DB layout: exit 2, one line naming the
/// layout and what it lacks.
pub fn refusal(lacks: &str) -> Error {
    Error::usage(format!("the simple layout has no {lacks}")).with_hint(
        "this database has the Simple DB layout (users: id, email, name, created_at); see docs/layouts.md",
    )
}

/// What the Simple DB layout lacks for this command line, if anything. Commands that do
/// not touch `users` or `items` (status, migrate, backup, local, audit, schema) need
/// nothing from it.
pub fn simple_lacks(cmd: &Command) -> Option<&'static str> {
    match cmd {
        Command::Item(_) => Some("items table (item commands)"),
        Command::User(u) => user_lacks(u),
        _ => None,
    }
}

fn user_lacks(cmd: &UserCmd) -> Option<&'static str> {
    const PASSWORD: &str = "password column (--password-stdin, --password-file, --random-password)";
    match cmd {
        UserCmd::Add(a) => {
            if a.username.is_some() {
                Some("username column (--username)")
            } else if a.superuser {
                Some("is_superuser column (--superuser)")
            } else if a.inactive {
                Some("is_active column (--inactive)")
            } else if a.password.password_stdin
                || a.password.password_file.is_some()
                || a.password.random_password
            {
                Some(PASSWORD)
            } else {
                None
            }
        }
        UserCmd::List(l) => {
            if l.active || l.inactive {
                Some("is_active column (--active, --inactive)")
            } else if l.superuser {
                Some("is_superuser column (--superuser)")
            } else if l.sort == crate::cli::UserSort::Username {
                Some("username column (--sort username)")
            } else {
                None
            }
        }
        UserCmd::Update(u) => {
            if u.username.is_some() {
                Some("username column (--username)")
            } else if u.superuser || u.no_superuser {
                Some("is_superuser column (--superuser, --no-superuser)")
            } else if u.clear_full_name {
                Some("optional name (its name is NOT NULL: --clear-full-name)")
            } else {
                None
            }
        }
        UserCmd::Deactivate { .. } => Some("is_active column (user deactivate)"),
        UserCmd::Activate { .. } => Some("is_active column (user activate)"),
        UserCmd::SetPassword { .. } => Some("password column (user set-password)"),
        UserCmd::Delete {
            reassign_items_to: Some(_),
            ..
        } => Some("items table (--reassign-items-to)"),
        UserCmd::Show { .. }
        | UserCmd::Delete { .. }
        | UserCmd::Import(_)
        | UserCmd::Export { .. }
        | UserCmd::Erase { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_decides_unless_a_choice_is_made() {
        assert_eq!(resolve(Found::Simple, None).unwrap(), Layout::Simple);
        assert_eq!(resolve(Found::Empty, None).unwrap(), Layout::StackWizard);
        assert_eq!(resolve(Found::Other, None).unwrap(), Layout::StackWizard);
        assert_eq!(
            resolve(Found::Empty, Some(Layout::Simple)).unwrap(),
            Layout::Simple
        );
        assert_eq!(
            resolve(Found::Other, Some(Layout::Simple)).unwrap(),
            Layout::Simple
        );
        let e = resolve(Found::StackWizard, Some(Layout::Simple)).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = resolve(Found::Simple, Some(Layout::StackWizard)).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
