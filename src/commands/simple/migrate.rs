//! `stackctl migrate` on the Simple DB layout. The application's Alembic owns `users`:
//! stackctl never alters, creates or drops it, except that `migrate --layout simple` on an
//! empty database creates the design's schema. Beside it stackctl adds only its audit
//! trail (the same SQL as the StackWizard layout's migration 000002).

use diesel::PgConnection;
use serde::Serialize;

use crate::commands::Ctx;
use crate::db::{self, simple};
use crate::error::{Error, Result};
use crate::layout::{self, Found, Layout};
use crate::output::ListWriter;

/// What the catalog shows, when the layout to migrate is the Simple DB one.
pub fn found(ctx: &Ctx, conn: &mut PgConnection) -> Result<Option<Found>> {
    let (found, _) = db::layout::found(conn)?;
    Ok((layout::resolve(found, ctx.global.layout)? == Layout::Simple).then_some(found))
}

/// Under the migration lock, in its transaction: create what is missing; the names of
/// what was created.
pub fn apply_locked(conn: &mut PgConnection) -> Result<Vec<String>> {
    let (found, audit, legacy) = db::layout::found_all(conn)?;
    let mut done = Vec::new();
    if found == Found::Empty {
        simple::create_schema(conn)?;
        done.push("the Simple DB schema (users, ix_users_email)".to_string());
        done.push("stackctl's audit trail (stackctl.stackctl_audit)".to_string());
    } else if !audit {
        simple::add_audit(conn)?;
        done.push(if legacy {
            "stackctl's audit trail, moved from public into the schema stackctl (its rows kept)"
                .to_string()
        } else {
            "stackctl's audit trail (stackctl.stackctl_audit)".to_string()
        });
    }
    Ok(done)
}

/// What `migrate run` says when it is done.
pub fn report(ctx: &Ctx, created: &[String]) {
    for what in created {
        ctx.info(format!("created {what}"));
    }
    ctx.info(if created.is_empty() {
        "simple layout: stackctl's audit trail is present; nothing to apply (users belongs to the application's Alembic)"
    } else {
        "simple layout: users belongs to the application's Alembic; stackctl left it as it was"
    });
}

#[derive(Serialize)]
struct Row<'a> {
    version: &'a str,
    name: &'a str,
    state: &'static str,
}

/// `migrate status`: the one migration stackctl has here (its audit trail), applied when
/// the table is there; the layout on stderr.
pub fn status(ctx: &Ctx, conn: &mut PgConnection) -> Result<()> {
    let (found, audit) = db::layout::found(conn)?;
    let state = db::SchemaState::audit_only(audit)?;
    let mut out = ListWriter::new(ctx.format(), &["version", "name", "state"], ctx.stdout());
    for m in &state.embedded {
        out.row(&Row {
            version: &m.version,
            name: &m.name,
            state: if state.applied.contains(&m.version) {
                "applied"
            } else {
                "pending"
            },
        })?;
    }
    out.finish()?;
    ctx.info(match found {
        Found::Empty => {
            "layout: simple (no users table yet: stackctl migrate --layout simple creates it)"
        }
        _ => {
            "layout: simple (users belongs to the application's Alembic; stackctl never alters it)"
        }
    });
    Ok(())
}

/// `migrate revert`: nothing of the application's is stackctl's to revert.
pub fn refuse_revert() -> Error {
    Error::usage("the simple layout has no stackctl migrations to revert: its users table belongs to the application's Alembic")
        .with_hint("stackctl's audit trail, if unwanted, goes with DROP TABLE stackctl.stackctl_audit")
}
