//! A person's data: `user export` (everything stackctl finds about one user, one JSON
//! document) and `user erase` (the user and their items deleted, what names them in the
//! audit trail replaced with a stable pseudonym). Both layouts.

use serde::Serialize;

use crate::change::Change;
use crate::commands::Ctx;
use crate::db::personal;
use crate::db::simple::{self, SimpleRef};
use crate::db::users::{self, UserRef};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::output::render_one;
use crate::session::Session;

/// Who the person is, as the database knows them: their id (as text), the values that
/// identify them (id, email, username or name, full name), and the ids of what they own.
struct Person {
    id: String,
    shown: String,
    identifiers: Vec<String>,
    /// The audit rows' targets that are this person or their items.
    targets: Vec<String>,
    items: usize,
    /// The StackWizard user's UUID (the Simple DB layout's ids are integers).
    uuid: Option<uuid::Uuid>,
    simple_id: Option<i64>,
}

fn person(session: &mut Session<'_>, who: &str) -> Result<Person> {
    let mut p = current(session, who)?;
    // What named them before (an email or name since changed) names them too.
    if session.audit {
        for v in personal::former_identifiers(session, &p.id)? {
            if !p.identifiers.iter().any(|i| i.eq_ignore_ascii_case(&v)) {
                p.identifiers.push(v);
            }
        }
    }
    Ok(p)
}

fn current(session: &mut Session<'_>, who: &str) -> Result<Person> {
    match session.layout {
        Layout::StackWizard => {
            let user = users::get(session, &UserRef::parse(who))?;
            let id = user.id.to_string();
            let items = personal::items(session, &id)?;
            let item_ids: Vec<String> = items
                .as_array()
                .map(|a| {
                    a.iter()
                        // A UUID, or the generated backend's integer.
                        .filter_map(|i| match &i["id"] {
                            serde_json::Value::String(s) => Some(s.clone()),
                            serde_json::Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut identifiers = vec![id.clone(), user.email.clone()];
            identifiers.extend(user.username.clone());
            identifiers.extend(user.full_name.clone());
            Ok(Person {
                targets: std::iter::once(id.clone())
                    .chain(item_ids.iter().cloned())
                    .collect(),
                items: item_ids.len(),
                shown: format!("{} <{}>", user.name(), user.email),
                id,
                identifiers,
                uuid: Some(user.id),
                simple_id: None,
            })
        }
        Layout::Simple => {
            let user = simple::get(session, &SimpleRef::parse(who)?)?;
            let id = user.id.to_string();
            Ok(Person {
                identifiers: vec![id.clone(), user.email.clone(), user.name.clone()],
                targets: vec![id.clone()],
                items: 0,
                shown: format!("{} <{}>", user.name, user.email),
                id,
                uuid: None,
                simple_id: Some(user.id),
            })
        }
    }
}

/// `user export USER`: `{"user": ..., "items": [...], "audit": [...]}` on stdout, whatever
/// `-o` says (it is one document); `items` only where the layout has items.
pub(crate) fn export(who: &str, mut session: Session, ctx: &Ctx) -> Result<()> {
    let p = person(&mut session, who)?;
    let mut doc = serde_json::Map::new();
    doc.insert("user".into(), personal::user(&mut session, &p.id)?);
    if session.layout == Layout::StackWizard {
        doc.insert("items".into(), personal::items(&mut session, &p.id)?);
    }
    let audit = if session.audit {
        personal::audit(&mut session, &p.targets, &p.identifiers)?
    } else {
        serde_json::json!([])
    };
    doc.insert("audit".into(), audit);
    let mut out = ctx.stdout();
    crate::output::json::to_writer_pretty(&mut out, &doc)?;
    std::io::Write::write_all(&mut out, b"\n")?;
    super::super::finish(out)
}

#[derive(Serialize)]
struct Erased {
    erased: String,
    items_deleted: usize,
    audit_rows_pseudonymised: usize,
}

/// `user erase USER`: in one transaction, the user's items and the user deleted, and the
/// audit rows about them pseudonymised; the erasure is audited under the pseudonym.
pub(crate) fn erase(who: &str, yes: bool, mut session: Session, ctx: &Ctx) -> Result<()> {
    let p = person(&mut session, who)?;
    let pseudonym = personal::pseudonym(&p.id);
    if !ctx.global.dry_run {
        crate::prompt::confirm_destructive(
            yes,
            &format!(
                "erasing user {} deletes it and {} item(s), and replaces what names it in the audit trail with {pseudonym}",
                p.shown, p.items
            ),
        )?;
    }
    let audited = session.audit;
    let done = session.write("user erase", |conn| {
        let (items_deleted, deleted) = match (p.uuid, p.simple_id) {
            (Some(id), _) => (users::delete_items_of(conn, id)?, users::delete(conn, id)?),
            (_, Some(id)) => (0, simple::delete(conn, id)?),
            _ => (0, 0),
        };
        if deleted == 0 {
            return Err(Error::not_found(format!("user '{who}' not found")));
        }
        let rows = if audited {
            personal::pseudonymise(conn, &p.targets, &p.identifiers, &pseudonym)?
        } else {
            0
        };
        let erased = Erased {
            erased: pseudonym.clone(),
            items_deleted,
            audit_rows_pseudonymised: rows,
        };
        let change = Change::other("erase", "user", &pseudonym).with_detail(serde_json::json!({
            "items_deleted": items_deleted,
            "audit_rows_pseudonymised": rows,
        }));
        Ok((erased, vec![change]))
    })?;
    let Some(erased) = done else { return Ok(()) };
    ctx.info(format!(
        "erased user {} as {}: {} item(s) deleted, {} audit row(s) pseudonymised",
        p.shown, erased.erased, erased.items_deleted, erased.audit_rows_pseudonymised
    ));
    let mut out = ctx.stdout();
    render_one(
        ctx.format(),
        &["erased", "items_deleted", "audit_rows_pseudonymised"],
        &erased,
        &mut out,
    )?;
    super::super::finish(out)
}
