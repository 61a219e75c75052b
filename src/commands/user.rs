//! `stackctl user ...`

use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::Ctx;
use crate::change::Change;
use crate::cli::{OutputFormat, UserAdd, UserCmd, UserList, UserSort, UserUpdate};
use crate::db::models::{NewUser, User, UserChanges, UserDetail};
use crate::db::users::{self, Clash, Filter, Page, Sort, UserRef};
use crate::db::{self, items};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::output::{render_one, ListWriter};
use crate::password;
use crate::prompt;
use crate::validate::{like_pattern, Email, FullName, Username};

pub fn run(cmd: UserCmd, ctx: &Ctx) -> Result<()> {
    match cmd {
        UserCmd::Add(args) => add(args, ctx),
        UserCmd::Import(args) => match ctx.open()? {
            (conn, Layout::Simple) => super::simple::import::users(&args, conn, ctx),
            (conn, Layout::StackWizard) => {
                drop(conn);
                super::import::users(args, ctx)
            }
        },
        UserCmd::List(args) => list(args, ctx),
        UserCmd::Show { user } => show(&user, ctx),
        UserCmd::Update(args) => update(args, ctx),
        UserCmd::Deactivate { users } => set_active(&users, false, ctx),
        UserCmd::Activate { users } => set_active(&users, true, ctx),
        UserCmd::SetPassword { user, password } => set_password(&user, &password, ctx),
        UserCmd::Delete {
            user,
            reassign_items_to,
            confirm,
        } => delete(&user, reassign_items_to.as_deref(), confirm.yes, ctx),
    }
}

/// A user as printed after a change that may have generated a password.
/// A user as printed after a change: with a generated password, and with `created`
/// for `user add --if-not-exists`.
#[derive(Serialize)]
struct Printed<'a> {
    #[serde(flatten)]
    user: &'a User,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

fn print_user(ctx: &Ctx, user: &User, generated: Option<&str>) -> Result<()> {
    print_user_created(ctx, user, generated, None)
}

fn print_user_created(
    ctx: &Ctx,
    user: &User,
    generated: Option<&str>,
    created: Option<bool>,
) -> Result<()> {
    let mut out = ctx.stdout();
    let row = Printed {
        user,
        created,
        password: generated,
    };
    let mut columns = User::COLUMNS.to_vec();
    if created.is_some() {
        columns.push("created");
    }
    match (ctx.format(), generated) {
        (OutputFormat::Table, Some(pw)) => {
            render_one(ctx.format(), &columns, &row, &mut out)?;
            use std::io::Write;
            writeln!(out, "password: {pw}")?;
        }
        (_, Some(_)) => {
            columns.push("password");
            render_one(ctx.format(), &columns, &row, &mut out)?
        }
        (_, None) => render_one(ctx.format(), &columns, &row, &mut out)?,
    }
    super::finish(out)
}

/// For `--if-not-exists`: the user with this email (any letter case) when its username
/// matches too. A user with only one of the two matching is left to the clash check (exit 4).
fn existing_same(
    conn: &mut PgConnection,
    email: &Email,
    username: &Username,
) -> Result<Option<User>> {
    Ok(users::find(conn, &UserRef::parse(email.as_str()))?
        .filter(|u| u.username.to_lowercase() == username.as_str().to_lowercase()))
}

fn clash_error(clash: Clash, value: &str) -> Error {
    let field = clash.field();
    Error::conflict(format!("a user with {field} '{value}' already exists"))
        .with_hint(format!("{field}s are unique regardless of letter case"))
}

fn add(args: UserAdd, ctx: &Ctx) -> Result<()> {
    let email = Email::parse(&args.email)?;
    let (mut conn, layout) = ctx.open()?;
    if layout == Layout::Simple {
        return super::simple::add(&args, email, conn, ctx);
    }
    let username = Username::parse(args.username.as_deref().ok_or_else(|| {
        Error::usage("the following required argument was not provided: --username <USERNAME>")
            .with_hint(
                "the stackwizard layout needs a username: stackctl user add --email E --username U",
            )
    })?)?;
    let full_name = args.full_name.as_deref().map(FullName::parse).transpose()?;
    let pw = password::obtain(&args.password)?;
    if args.if_not_exists {
        // Checked before hashing, so an existing user costs no bcrypt round.
        if let Some(user) = existing_same(&mut conn, &email, &username)? {
            ctx.info(format!(
                "user {} ({}) already exists",
                user.username, user.id
            ));
            return print_user_created(ctx, &user, None, Some(false));
        }
    }
    let hash = password::hash(&pw.text, ctx.global.bcrypt_cost)?;
    let outcome = ctx.write(&mut conn, "user add", |conn| {
        db::lock_user_identities(conn)?;
        if args.if_not_exists {
            // Another run may have created it since the check above.
            if let Some(user) = existing_same(conn, &email, &username)? {
                return Ok((Err(user), Vec::new()));
            }
        }
        if let Some(clash) =
            users::find_identity_clash(conn, Some(email.as_str()), Some(username.as_str()), None)?
        {
            let value = match clash {
                Clash::Email => email.as_str(),
                Clash::Username => username.as_str(),
            };
            return Err(clash_error(clash, value));
        }
        let user = users::insert(
            conn,
            &NewUser {
                id: Uuid::new_v4(),
                email: email.as_str(),
                username: username.as_str(),
                hashed_password: &hash,
                full_name: full_name.as_ref().map(FullName::as_str),
                is_active: !args.inactive,
                is_superuser: args.superuser,
            },
        )?;
        let change = Change::create("user", user.id, &user);
        Ok((Ok(user), vec![change]))
    })?;
    let created = args.if_not_exists.then_some(true);
    match outcome {
        None => Ok(()),
        Some(Err(existing)) => {
            ctx.info(format!(
                "user {} ({}) already exists",
                existing.username, existing.id
            ));
            print_user_created(ctx, &existing, None, Some(false))
        }
        Some(Ok(user)) => {
            ctx.info(format!("created user {} ({})", user.username, user.id));
            print_user_created(
                ctx,
                &user,
                pw.generated.then_some(pw.text.as_str()),
                created,
            )
        }
    }
}

fn list(args: UserList, ctx: &Ctx) -> Result<()> {
    let filter = Filter {
        active: if args.active {
            Some(true)
        } else if args.inactive {
            Some(false)
        } else {
            None
        },
        superuser_only: args.superuser,
        search: args.search.as_deref().map(like_pattern).transpose()?,
    };
    let sort = match args.sort {
        UserSort::Created => Sort::Created,
        UserSort::Email => Sort::Email,
        UserSort::Username => Sort::Username,
    };
    let page = (!args.paging.all).then_some(Page {
        limit: i64::from(args.paging.limit),
        offset: i64::from(args.paging.offset),
    });
    let (mut conn, layout) = ctx.open()?;
    if layout == Layout::Simple {
        return super::simple::list(&args, conn, ctx);
    }
    let mut out = ListWriter::new(ctx.format(), User::COLUMNS, ctx.stdout()).flat();
    let progress = ctx.list_progress(args.paging.all);
    users::for_each(&mut conn, &filter, sort, args.paging.desc, page, |u| {
        progress.row();
        out.row(&u)
    })?;
    progress.done(out.finish()?, "user")
}

fn show(user: &str, ctx: &Ctx) -> Result<()> {
    let (mut conn, layout) = ctx.open()?;
    if layout == Layout::Simple {
        return super::simple::show(user, conn, ctx);
    }
    let user = users::get(&mut conn, &UserRef::parse(user))?;
    let items = items::of_owner(&mut conn, user.id)?;
    let detail = UserDetail { user, items };
    let mut columns = User::COLUMNS.to_vec();
    columns.push("items");
    let mut out = ctx.stdout();
    render_one(ctx.format(), &columns, &detail, &mut out)?;
    super::finish(out)
}

fn update(args: UserUpdate, ctx: &Ctx) -> Result<()> {
    let email = args.email.as_deref().map(Email::parse).transpose()?;
    let username = args.username.as_deref().map(Username::parse).transpose()?;
    let full_name = args.full_name.as_deref().map(FullName::parse).transpose()?;
    let changes = UserChanges {
        email: email.as_ref().map(Email::as_str),
        username: username.as_ref().map(Username::as_str),
        full_name: if args.clear_full_name {
            Some(None)
        } else {
            full_name.as_ref().map(|n| Some(n.as_str()))
        },
        is_superuser: if args.superuser {
            Some(true)
        } else if args.no_superuser {
            Some(false)
        } else {
            None
        },
    };
    if changes.email.is_none()
        && changes.username.is_none()
        && changes.full_name.is_none()
        && changes.is_superuser.is_none()
    {
        return Err(Error::usage("nothing to update").with_hint(
            "give --email, --username, --full-name, --clear-full-name, --superuser or --no-superuser",
        ));
    }
    let (mut conn, layout) = ctx.open()?;
    if layout == Layout::Simple {
        return super::simple::update(&args, conn, ctx);
    }
    let who = UserRef::parse(&args.user);
    let user = ctx.write(&mut conn, "user update", |conn| {
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
    ctx.info(format!("updated user {} ({})", user.username, user.id));
    print_user(ctx, &user, None)
}

fn set_active(refs: &[String], active: bool, ctx: &Ctx) -> Result<()> {
    let mut conn = ctx.connect()?;
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
    let changed = ctx.write(&mut conn, command, |conn| {
        let mut before = Vec::with_capacity(refs.len());
        for r in refs {
            let u = users::get(conn, &UserRef::parse(r))?;
            if u.is_active == Some(active) {
                ctx.info(format!("note: user {} is already {state}", u.username));
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

fn set_password(who: &str, src: &crate::cli::PasswordSource, ctx: &Ctx) -> Result<()> {
    // Connected first: the layout may refuse the command before a password is asked for.
    let mut conn = ctx.connect()?;
    let pw = password::obtain(src)?;
    let who = UserRef::parse(who);
    // Resolve first, so an unknown user costs no hashing.
    users::get(&mut conn, &who)?;
    let hash = password::hash(&pw.text, ctx.global.bcrypt_cost)?;
    let user = ctx.write(&mut conn, "user set-password", |conn| {
        let before = users::get(conn, &who)?;
        let after = users::set_password(conn, before.id, &hash)?;
        let change = Change::update("user", after.id, &before, &after)
            .with_detail(serde_json::json!({"password": "replaced"}));
        Ok((after, vec![change]))
    })?;
    let Some(user) = user else { return Ok(()) };
    ctx.info(format!(
        "set the password of user {} ({})",
        user.username, user.id
    ));
    print_user(ctx, &user, pw.generated.then_some(pw.text.as_str()))
}

fn delete(who: &str, reassign_to: Option<&str>, yes: bool, ctx: &Ctx) -> Result<()> {
    let (mut conn, layout) = ctx.open()?;
    if layout == Layout::Simple {
        return super::simple::delete(who, yes, conn, ctx);
    }
    let who = UserRef::parse(who);
    let user = users::get(&mut conn, &who)?;
    let heir = match reassign_to {
        Some(r) => {
            let r = UserRef::parse(r);
            let heir = users::find(&mut conn, &r)?.ok_or_else(|| {
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
    let (n_items, total) = users::items_summary(&mut conn, user.id)?;
    let fate = match &heir {
        Some(h) => format!(
            "its {n_items} item(s) (total price {total}) move to {} <{}>",
            h.username, h.email
        ),
        None => format!("deletes {n_items} item(s) (total price {total}) with it"),
    };
    if !ctx.global.dry_run {
        prompt::confirm_destructive(
            yes,
            &format!("deleting user {} <{}> {fate}", user.username, user.email),
        )?;
    }
    // Counted again inside the transaction: items may have changed since the prompt.
    let done = ctx.write(&mut conn, "user delete", |conn| {
        let (n_items, total) = users::items_summary(conn, user.id)?;
        let detail = match &heir {
            Some(h) => {
                users::reassign_items(conn, user.id, h.id)?;
                serde_json::json!({"items_reassigned": n_items, "items_total_price": total, "reassigned_to": h.id})
            }
            None => serde_json::json!({"items_deleted": n_items, "items_total_price": total}),
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
            user.username, user.id, h.username
        )),
        None => ctx.info(format!(
            "deleted user {} ({}) and {n} item(s)",
            user.username, user.id
        )),
    }
    Ok(())
}
