//! `stackctl user update | deactivate | activate | set-password | delete` on the
//! StackWizard layout.

use uuid::Uuid;

use crate::change::Change;
use crate::commands::Ctx;
use crate::db;
use crate::db::models::User;
use crate::db::users::{self, Clash, UserRef};
use crate::error::{Error, Result};
use crate::output::ListWriter;
use crate::password;
use crate::prompt;
use crate::session::Session;

use super::{clash_error, print_user, Edit};

pub(super) fn update(who: &str, edit: &Edit, mut session: Session, ctx: &Ctx) -> Result<()> {
    let changes = edit.changes();
    let who = UserRef::parse(who);
    let user = session.write("user update", |conn| {
        db::lock_user_identities(conn)?;
        let before = users::get(conn, &who)?;
        if let Some(clash) =
            users::find_identity_clash(conn, changes.email, changes.username, Some(before.id))?
        {
            let value = match clash {
                Clash::Email => changes.email,
                Clash::Username => changes.username,
            };
            return Err(clash_error(clash, value.unwrap_or_default()));
        }
        let after = users::update(conn, before.id, &changes)?;
        let change = Change::update("user", after.id, &before, &after);
        Ok((after, vec![change]))
    })?;
    let Some(user) = user else { return Ok(()) };
    if edit.superuser == Some(true) {
        super::warn_many_superusers(&mut session, ctx)?;
    }
    ctx.info(format!("updated user {} ({})", user.name(), user.id));
    print_user(ctx, &user, None)
}

pub(super) fn set_active(
    refs: &[String],
    active: bool,
    mut session: Session,
    ctx: &Ctx,
) -> Result<()> {
    let (word, state) = if active {
        ("activated", "active")
    } else {
        ("deactivated", "inactive")
    };
    let command = if active {
        "user activate"
    } else {
        "user deactivate"
    };
    let changed = session.write(command, |conn| {
        let mut before = Vec::with_capacity(refs.len());
        for r in refs {
            let u = users::get(conn, &UserRef::parse(r))?;
            if u.is_active == Some(active) {
                ctx.info(format!("note: user {} is already {state}", u.name()));
            }
            before.push(u);
        }
        let ids: Vec<Uuid> = before.iter().map(|u| u.id).collect();
        let after = users::set_active(conn, &ids, active)?;
        let changes = after
            .iter()
            .filter_map(|a| {
                let b = before.iter().find(|b| b.id == a.id)?;
                Some(Change::update("user", a.id, b, a))
            })
            .collect();
        Ok((after, changes))
    })?;
    let Some(changed) = changed else {
        return Ok(());
    };
    ctx.info(format!("{word} {} user(s)", changed.len()));
    let mut out = ListWriter::new(ctx.format(), User::COLUMNS, ctx.stdout());
    for u in &changed {
        out.row(u)?;
    }
    out.finish()?;
    Ok(())
}

/// Called connected: the layout may refuse the command before a password is asked for.
pub(super) fn set_password(
    who: &str,
    src: &crate::cli::PasswordSource,
    mut session: Session,
    ctx: &Ctx,
) -> Result<()> {
    let pw = password::obtain(src)?;
    let who = UserRef::parse(who);
    // Resolve first, so an unknown user costs no hashing.
    users::get(&mut session, &who)?;
    let hash = password::hash(&pw.text, ctx.global.bcrypt_cost)?;
    let user = session.write("user set-password", |conn| {
        let before = users::get(conn, &who)?;
        let after = users::set_password(conn, before.id, &hash)?;
        let change = Change::update("user", after.id, &before, &after)
            .with_detail(serde_json::json!({"password": "replaced"}));
        Ok((after, vec![change]))
    })?;
    let Some(user) = user else { return Ok(()) };
    ctx.info(format!(
        "set the password of user {} ({})",
        user.name(),
        user.id
    ));
    print_user(ctx, &user, pw.generated.then_some(pw.text.as_str()))
}

pub(super) fn delete(
    who: &str,
    reassign_to: Option<&str>,
    yes: bool,
    mut session: Session,
    ctx: &Ctx,
) -> Result<()> {
    let who = UserRef::parse(who);
    let user = users::get(&mut session, &who)?;
    let heir = match reassign_to {
        Some(r) => {
            let r = UserRef::parse(r);
            let heir = users::find(&mut session, &r)?.ok_or_else(|| {
                Error::not_found(format!("user '{r}' (to reassign the items to) not found"))
            })?;
            if heir.id == user.id {
                return Err(Error::usage(
                    "--reassign-items-to names the user being deleted",
                ));
            }
            Some(heir)
        }
        None => None,
    };
    let (n_items, total) = users::items_summary(&mut session, user.id)?;
    let fate = match &heir {
        Some(h) => format!(
            "its {n_items} item(s) (total price {total}) move to {} <{}>",
            h.name(),
            h.email
        ),
        None => format!("deletes {n_items} item(s) (total price {total}) with it"),
    };
    if !ctx.global.dry_run {
        prompt::confirm_destructive(
            yes,
            &format!("deleting user {} <{}> {fate}", user.name(), user.email),
        )?;
    }
    // Counted again inside the transaction: items may have changed since the prompt.
    let done = session.write("user delete", |conn| {
        let (n_items, total) = users::items_summary(conn, user.id)?;
        let detail = match &heir {
            Some(h) => {
                users::reassign_items(conn, user.id, h.id)?;
                serde_json::json!({"items_reassigned": n_items, "items_total_price": total, "reassigned_to": h.id})
            }
            None => {
                // Deleted here, not left to the foreign key: the schema StackWizard's
                // generator writes has no ON DELETE CASCADE.
                users::delete_items_of(conn, user.id)?;
                serde_json::json!({"items_deleted": n_items, "items_total_price": total})
            }
        };
        if users::delete(conn, user.id)? == 0 {
            return Err(Error::not_found(format!("user '{who}' not found")));
        }
        let change = Change::delete("user", user.id, &user).with_detail(detail);
        Ok((n_items, vec![change]))
    })?;
    let Some(n) = done else { return Ok(()) };
    match &heir {
        Some(h) => ctx.info(format!(
            "deleted user {} ({}); {n} item(s) now belong to {}",
            user.name(),
            user.id,
            h.name()
        )),
        None => ctx.info(format!(
            "deleted user {} ({}) and {n} item(s)",
            user.name(),
            user.id
        )),
    }
    Ok(())
}
