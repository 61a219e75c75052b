//! `stackctl user ...`

use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::Ctx;
use crate::cli::{OutputFormat, UserAdd, UserCmd, UserList, UserSort, UserUpdate};
use crate::db::models::{NewUser, User, UserChanges, UserDetail};
use crate::db::users::{self, Filter, Page, Sort, UserRef};
use crate::db::{self, items};
use crate::error::{Error, Result};
use crate::output::{render_one, ListWriter};
use crate::password;
use crate::prompt;
use crate::validate::{like_pattern, Email, FullName, Username};

pub fn run(cmd: UserCmd, ctx: &Ctx) -> Result<()> {
    match cmd {
        UserCmd::Add(args) => add(args, ctx),
        UserCmd::List(args) => list(args, ctx),
        UserCmd::Show { user } => show(&user, ctx),
        UserCmd::Update(args) => update(args, ctx),
        UserCmd::Deactivate { users } => set_active(&users, false, ctx),
        UserCmd::Activate { users } => set_active(&users, true, ctx),
        UserCmd::SetPassword { user, password } => set_password(&user, &password, ctx),
        UserCmd::Delete { user, confirm } => delete(&user, confirm.yes, ctx),
    }
}

/// A user as printed after a change that may have generated a password.
#[derive(Serialize)]
struct WithPassword<'a> {
    #[serde(flatten)]
    user: &'a User,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

fn print_user(ctx: &Ctx, user: &User, generated: Option<&str>) -> Result<()> {
    let mut out = ctx.stdout();
    let row = WithPassword {
        user,
        password: generated,
    };
    match (ctx.format(), generated) {
        (OutputFormat::Table, Some(pw)) => {
            render_one(ctx.format(), User::COLUMNS, &row, &mut out)?;
            use std::io::Write;
            writeln!(out, "password: {pw}")?;
        }
        (_, Some(_)) => {
            let mut columns = User::COLUMNS.to_vec();
            columns.push("password");
            render_one(ctx.format(), &columns, &row, &mut out)?
        }
        (_, None) => render_one(ctx.format(), User::COLUMNS, user, &mut out)?,
    }
    super::finish(out)
}

fn clash_error(field: &str, value: &str) -> Error {
    Error::conflict(format!("a user with {field} '{value}' already exists"))
        .with_hint(format!("{field}s are unique regardless of letter case"))
}

fn add(args: UserAdd, ctx: &Ctx) -> Result<()> {
    let email = Email::parse(&args.email)?;
    let username = Username::parse(&args.username)?;
    let full_name = args.full_name.as_deref().map(FullName::parse).transpose()?;
    let pw = password::obtain(&args.password)?;
    let mut conn = ctx.connect()?;
    let hash = password::hash(&pw.text, ctx.global.bcrypt_cost)?;
    let user = conn.transaction::<_, Error, _>(|conn| {
        db::lock_user_identities(conn)?;
        if let Some(field) =
            users::find_identity_clash(conn, Some(email.as_str()), Some(username.as_str()), None)?
        {
            let value = if field == "email" {
                email.as_str()
            } else {
                username.as_str()
            };
            return Err(clash_error(field, value));
        }
        users::insert(
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
        )
    })?;
    ctx.info(format!("created user {} ({})", user.username, user.id));
    print_user(ctx, &user, pw.generated.then_some(pw.text.as_str()))
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
    let mut conn = ctx.connect()?;
    let mut out = ListWriter::new(ctx.format(), User::COLUMNS, ctx.stdout());
    users::for_each(&mut conn, &filter, sort, args.paging.desc, page, |u| {
        out.row(&u)
    })?;
    let n = out.finish()?;
    ctx.debug(format!("{n} user(s)"));
    Ok(())
}

fn show(user: &str, ctx: &Ctx) -> Result<()> {
    let mut conn = ctx.connect()?;
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
    let mut conn = ctx.connect()?;
    let who = UserRef::parse(&args.user);
    let user = conn.transaction::<_, Error, _>(|conn| {
        db::lock_user_identities(conn)?;
        let user = users::get(conn, &who)?;
        if let Some(field) =
            users::find_identity_clash(conn, changes.email, changes.username, Some(user.id))?
        {
            let value = if field == "email" {
                changes.email
            } else {
                changes.username
            };
            return Err(clash_error(field, value.unwrap_or_default()));
        }
        users::update(conn, user.id, &changes)
    })?;
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
    let changed = conn.transaction::<_, Error, _>(|conn| {
        let mut ids = Vec::with_capacity(refs.len());
        for r in refs {
            let u = users::get(conn, &UserRef::parse(r))?;
            if u.is_active == Some(active) {
                ctx.info(format!("note: user {} is already {state}", u.username));
            }
            ids.push(u.id);
        }
        users::set_active(conn, &ids, active)
    })?;
    ctx.info(format!("{word} {} user(s)", changed.len()));
    let mut out = ListWriter::new(ctx.format(), User::COLUMNS, ctx.stdout());
    for u in &changed {
        out.row(u)?;
    }
    out.finish()?;
    Ok(())
}

fn set_password(who: &str, src: &crate::cli::PasswordSource, ctx: &Ctx) -> Result<()> {
    let pw = password::obtain(src)?;
    let mut conn = ctx.connect()?;
    let who = UserRef::parse(who);
    // Resolve first, so an unknown user costs no hashing.
    users::get(&mut conn, &who)?;
    let hash = password::hash(&pw.text, ctx.global.bcrypt_cost)?;
    let user = conn.transaction::<_, Error, _>(|conn| {
        let user = users::get(conn, &who)?;
        users::set_password(conn, user.id, &hash)
    })?;
    ctx.info(format!(
        "set the password of user {} ({})",
        user.username, user.id
    ));
    print_user(ctx, &user, pw.generated.then_some(pw.text.as_str()))
}

fn delete(who: &str, yes: bool, ctx: &Ctx) -> Result<()> {
    let mut conn = ctx.connect()?;
    let who = UserRef::parse(who);
    let user = users::get(&mut conn, &who)?;
    let n_items = users::count_items(&mut conn, user.id)?;
    prompt::confirm_destructive(
        yes,
        &format!(
            "deleting user {} <{}> deletes {n_items} item(s) with it",
            user.username, user.email
        ),
    )?;
    // Counted again inside the transaction: items may have changed since the prompt.
    let items_deleted = conn.transaction::<_, Error, _>(|conn| {
        let n_items = users::count_items(conn, user.id)?;
        if users::delete(conn, user.id)? == 0 {
            return Err(Error::not_found(format!("user '{who}' not found")));
        }
        Ok(n_items)
    })?;
    ctx.info(format!(
        "deleted user {} ({}) and {items_deleted} item(s)",
        user.username, user.id
    ));
    Ok(())
}
