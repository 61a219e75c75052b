//! `stackctl user ...`: the dispatch, output and the commands that add and read users
//! here; those that change existing users in `change.rs`; on the Simple DB layout,
//! `commands/simple/`.

mod change;
mod personal;

use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::change::Change;
use crate::cli::{OutputFormat, UserAdd, UserCmd, UserList, UserSort};
use crate::commands::Ctx;
use crate::db::models::{NewUser, User, UserDetail};
use crate::db::users::{self, Clash, Filter, Page, Sort, UserRef};
use crate::db::{self, items};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::output::{render_one, ListWriter};
use crate::password;
use crate::validate::{like_pattern, Email, FullName, Username};

pub fn run(cmd: UserCmd, ctx: &Ctx) -> Result<()> {
    match cmd {
        UserCmd::Add(args) => add(args, ctx),
        UserCmd::Import(args) => match ctx.open()? {
            session if session.layout == Layout::Simple => {
                crate::commands::simple::import::users(&args, session, ctx)
            }
            session => crate::commands::import::users(args, session, ctx),
        },
        UserCmd::List(args) => list(args, ctx),
        UserCmd::Show { user } => show(&user, ctx),
        UserCmd::Update(args) => change::update(args, ctx),
        UserCmd::Deactivate { users } => change::set_active(&users, false, ctx),
        UserCmd::Activate { users } => change::set_active(&users, true, ctx),
        UserCmd::SetPassword { user, password } => change::set_password(&user, &password, ctx),
        UserCmd::Delete {
            user,
            reassign_items_to,
            confirm,
        } => change::delete(&user, reassign_items_to.as_deref(), confirm.yes, ctx),
        UserCmd::Export { user } => personal::export(&user, ctx),
        UserCmd::Erase { user, confirm } => personal::erase(&user, confirm.yes, ctx),
    }
}

/// A user as printed after a change: with a generated password, and with `created`
/// for `user add --if-not-exists`.
#[derive(Serialize)]
struct Printed<'a, T> {
    #[serde(flatten)]
    user: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

pub(super) fn print_user(ctx: &Ctx, user: &User, generated: Option<&str>) -> Result<()> {
    print_user_created(ctx, user, generated, None)
}

fn print_user_created(
    ctx: &Ctx,
    user: &User,
    generated: Option<&str>,
    created: Option<bool>,
) -> Result<()> {
    print_row(ctx, User::COLUMNS, user, generated, created)
}

/// A user of either layout (`columns`: its layout's keys) as a change prints it.
pub(crate) fn print_row<T: Serialize>(
    ctx: &Ctx,
    columns: &[&str],
    user: &T,
    generated: Option<&str>,
    created: Option<bool>,
) -> Result<()> {
    let mut out = ctx.stdout();
    let row = Printed {
        user,
        created,
        password: generated,
    };
    let mut columns = columns.to_vec();
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
    crate::commands::finish(out)
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

pub(super) fn clash_error(clash: Clash, value: &str) -> Error {
    let field = clash.field();
    Error::conflict(format!("a user with {field} '{value}' already exists"))
        .with_hint(format!("{field}s are unique regardless of letter case"))
}

fn add(args: UserAdd, ctx: &Ctx) -> Result<()> {
    let email = Email::parse(&args.email)?;
    let mut session = ctx.open()?;
    let layout = session.layout;
    if layout == Layout::Simple {
        return crate::commands::simple::add(&args, email, session, ctx);
    }
    let username = Username::parse(args.username.as_deref().ok_or_else(|| {
        // Optional to clap (the simple layout has no usernames), required by this layout.
        Error::usage("--username is required on the stackwizard layout")
            .with_hint("stackctl user add --email E --username U")
    })?)?;
    let full_name = args.full_name.as_deref().map(FullName::parse).transpose()?;
    let pw = password::obtain(&args.password)?;
    if args.if_not_exists {
        // Checked before hashing, so an existing user costs no bcrypt round.
        if let Some(user) = existing_same(&mut session, &email, &username)? {
            ctx.info(format!(
                "user {} ({}) already exists",
                user.username, user.id
            ));
            return print_user_created(ctx, &user, None, Some(false));
        }
    }
    let hash = password::hash(&pw.text, ctx.global.bcrypt_cost)?;
    let outcome = session.write("user add", |conn| {
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
    let mut session = ctx.open()?;
    let layout = session.layout;
    if layout == Layout::Simple {
        return crate::commands::simple::list(&args, session, ctx);
    }
    let mut out = ListWriter::new(ctx.format(), User::COLUMNS, ctx.stdout())
        .flat()
        .compact(crate::output::USER_COMPACT);
    let progress = ctx.list_progress(args.paging.all);
    users::for_each(&mut session, &filter, sort, args.paging.desc, page, |u| {
        progress.row();
        out.record(&u)
    })?;
    progress.done(out.finish()?, "user")
}

fn show(user: &str, ctx: &Ctx) -> Result<()> {
    let mut session = ctx.open()?;
    let layout = session.layout;
    if layout == Layout::Simple {
        return crate::commands::simple::show(user, session, ctx);
    }
    let user = users::get(&mut session, &UserRef::parse(user))?;
    let items = items::of_owner(&mut session, user.id)?;
    let detail = UserDetail { user, items };
    let mut columns = User::COLUMNS.to_vec();
    columns.push("items");
    let mut out = ctx.stdout();
    render_one(ctx.format(), &columns, &detail, &mut out)?;
    crate::commands::finish(out)
}
