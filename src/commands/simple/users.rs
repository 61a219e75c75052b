//! `stackctl user ...` on the Simple DB layout: add, list, show, update and delete over
//! the layout's own columns (id, email, name, created_at). What the layout lacks was
//! refused by the gate (`layout::simple_lacks`) before any of this runs.

use crate::session::Session;
use diesel::PgConnection;

use crate::change::Change;
use crate::cli::{UserAdd, UserList, UserSort};
use crate::commands::user::{Edit, Op};
use crate::commands::Ctx;
use crate::db::simple::{self, SimpleRef, SimpleUser, Sort};
use crate::db::users::Page;
use crate::error::{Error, Result};
use crate::output::ListWriter;
use crate::validate::{like_pattern, Email, FullName};

/// The Simple DB layout's user commands; `commands::user::run` decided the layout.
pub(crate) fn run(op: Op, session: Session, ctx: &Ctx) -> Result<()> {
    use crate::commands::user::personal;
    match op {
        Op::Add(args, email) => add(&args, email, session, ctx),
        Op::Import(args) => super::import::users(&args, session, ctx),
        Op::List(args) => list(&args, session, ctx),
        Op::Show(user) => show(&user, session, ctx),
        Op::Update(user, edit) => update(&user, edit, session, ctx),
        Op::Delete { user, yes, .. } => delete(&user, yes, session, ctx),
        Op::Export(user) => personal::export(&user, session, ctx),
        Op::Erase(user, yes) => personal::erase(&user, yes, session, ctx),
        // The gate refused these (`layout::simple_lacks`) before connecting; kept
        // explicit so that a new operation must say what it does on this layout.
        Op::SetActive(..) | Op::SetPassword(..) => Err(crate::layout::refusal(
            ctx.simple_lacks.unwrap_or("is_active and password columns"),
        )),
    }
}

fn taken(email: &str) -> Error {
    Error::conflict(format!("a user with email '{email}' already exists"))
        .with_hint("emails are unique regardless of letter case")
}

fn print(ctx: &Ctx, user: &SimpleUser, created: Option<bool>) -> Result<()> {
    crate::commands::user::print_row(ctx, SimpleUser::COLUMNS, user, None, created)
}

/// The name the layout requires, from `--full-name` / `--name`.
fn required_name(raw: Option<&str>) -> Result<FullName> {
    match raw {
        Some(raw) => FullName::parse(raw),
        None => Err(Error::usage(
            "the simple layout requires a name: give --full-name (or --name)",
        )
        .with_hint("stackctl user add --email E --name N")),
    }
}

fn add(args: &UserAdd, email: Email, mut session: Session, ctx: &Ctx) -> Result<()> {
    let name = required_name(args.full_name.as_deref())?;
    let existing_same = |conn: &mut PgConnection| -> Result<Option<SimpleUser>> {
        Ok(
            simple::find(conn, &SimpleRef::Email(email.as_str().to_string()))?
                .filter(|u| u.email.to_lowercase() == email.as_str().to_lowercase()),
        )
    };
    let outcome = session.write("user add", |conn| {
        crate::db::lock_user_identities(conn)?;
        if args.if_not_exists {
            if let Some(user) = existing_same(conn)? {
                return Ok((Err(user), Vec::new()));
            }
        }
        if simple::email_taken(conn, email.as_str(), None)? {
            return Err(taken(email.as_str()));
        }
        let user = simple::insert(conn, email.as_str(), name.as_str())?;
        let change = Change::create("user", user.id, &user);
        Ok((Ok(user), vec![change]))
    })?;
    let created = args.if_not_exists.then_some(true);
    match outcome {
        None => Ok(()),
        Some(Err(existing)) => {
            ctx.info(format!(
                "user {} ({}) already exists",
                existing.email, existing.id
            ));
            print(ctx, &existing, Some(false))
        }
        Some(Ok(user)) => {
            ctx.info(format!("created user {} ({})", user.email, user.id));
            print(ctx, &user, created)
        }
    }
}

fn list(args: &UserList, mut session: Session, ctx: &Ctx) -> Result<()> {
    let search = args.search.as_deref().map(like_pattern).transpose()?;
    let sort = match args.sort {
        UserSort::Email => Sort::Email,
        // --sort username was refused by the gate.
        UserSort::Created | UserSort::Username => Sort::Created,
    };
    let page = (!args.paging.all).then_some(Page {
        limit: i64::from(args.paging.limit),
        offset: i64::from(args.paging.offset),
    });
    let mut out = ListWriter::new(ctx.format(), SimpleUser::COLUMNS, ctx.stdout()).flat();
    let progress = ctx.list_progress(args.paging.all);
    simple::for_each(
        &mut session,
        search.as_deref(),
        sort,
        args.paging.desc,
        page,
        |u| {
            progress.row();
            out.row(&u)
        },
    )?;
    progress.done(out.finish()?, "user")
}

fn show(who: &str, mut session: Session, ctx: &Ctx) -> Result<()> {
    let user = simple::get(&mut session, &SimpleRef::parse(who)?)?;
    print(ctx, &user, None)
}

fn update(who: &str, edit: Edit, mut session: Session, ctx: &Ctx) -> Result<()> {
    // `--username`, `--superuser` and `--clear-full-name` were refused by the gate.
    let Edit {
        email, full_name, ..
    } = edit;
    let name = full_name.flatten();
    if email.is_none() && name.is_none() {
        return Err(Error::usage("nothing to update")
            .with_hint("give --email or --full-name (--name) on the simple layout"));
    }
    let who = SimpleRef::parse(who)?;
    let user = session.write("user update", |conn| {
        crate::db::lock_user_identities(conn)?;
        let before = simple::get(conn, &who)?;
        if let Some(e) = &email {
            if simple::email_taken(conn, e.as_str(), Some(before.id))? {
                return Err(taken(e.as_str()));
            }
        }
        let after = simple::update(
            conn,
            before.id,
            email.as_ref().map(Email::as_str),
            name.as_ref().map(FullName::as_str),
        )?;
        let change = Change::update("user", after.id, &before, &after);
        Ok((after, vec![change]))
    })?;
    let Some(user) = user else { return Ok(()) };
    ctx.info(format!("updated user {} ({})", user.email, user.id));
    print(ctx, &user, None)
}

fn delete(who: &str, yes: bool, mut session: Session, ctx: &Ctx) -> Result<()> {
    let who = SimpleRef::parse(who)?;
    let user = simple::get(&mut session, &who)?;
    if !ctx.global.dry_run {
        crate::prompt::confirm_destructive(
            yes,
            &format!("deleting user {} <{}> ({})", user.name, user.email, user.id),
        )?;
    }
    let done = session.write("user delete", |conn| {
        if simple::delete(conn, user.id)? == 0 {
            return Err(Error::not_found(format!("user '{who}' not found")));
        }
        Ok(((), vec![Change::delete("user", user.id, &user)]))
    })?;
    if done.is_some() {
        ctx.info(format!("deleted user {} ({})", user.email, user.id));
    }
    Ok(())
}
