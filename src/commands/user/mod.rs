//! `stackctl user ...`: the command line checked into an `Op`, the layout decided once,
//! the output, and the StackWizard commands that add and read users here; those that
//! change existing users in `change.rs`; the Simple DB layout's in `commands/simple/`.

mod change;
pub(crate) mod personal;

use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::change::Change;
use crate::cli::{
    ImportArgs, OutputFormat, PasswordSource, UserAdd, UserCmd, UserList, UserSort, UserUpdate,
};
use crate::commands::Ctx;
use crate::db::models::{NewUser, User, UserChanges, UserDetail};
use crate::db::users::{self, Clash, Filter, Page, Sort, UserRef};
use crate::db::{self, items};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::output::{render_one, ListWriter};
use crate::password;
use crate::session::Session;
use crate::validate::{like_pattern, Email, FullName, Username};

pub fn run(cmd: UserCmd, ctx: &Ctx) -> Result<()> {
    // Input that needs no database is checked before connecting.
    let op = Op::check(cmd)?;
    let session = ctx.open()?;
    match session.layout {
        Layout::StackWizard => stackwizard(op, session, ctx),
        Layout::Simple => crate::commands::simple::users::run(op, session, ctx),
    }
}

/// A `user` command line, its input checked: what each layout's commands receive. The
/// layout is decided once, in `run`; the Simple DB layout's commands are in
/// `commands/simple/users.rs`.
pub(crate) enum Op {
    Add(UserAdd, Email),
    Import(ImportArgs),
    List(UserList),
    Show(String),
    Update(String, Edit),
    SetActive(Vec<String>, bool),
    SetPassword(String, PasswordSource),
    Delete {
        user: String,
        reassign_to: Option<String>,
        yes: bool,
    },
    Export(String),
    Erase(String, bool),
}

/// What `user update` changes, parsed: `None` leaves a field as it is.
pub(crate) struct Edit {
    pub email: Option<Email>,
    pub username: Option<Username>,
    /// `Some(None)` clears the full name.
    pub full_name: Option<Option<FullName>>,
    pub superuser: Option<bool>,
}

impl Edit {
    fn parse(args: &UserUpdate) -> Result<Edit> {
        let edit = Edit {
            email: args.email.as_deref().map(Email::parse).transpose()?,
            username: args.username.as_deref().map(Username::parse).transpose()?,
            full_name: if args.clear_full_name {
                Some(None)
            } else {
                args.full_name
                    .as_deref()
                    .map(|n| FullName::parse(n).map(Some))
                    .transpose()?
            },
            superuser: crate::cli::either(args.superuser, args.no_superuser),
        };
        if edit.email.is_none()
            && edit.username.is_none()
            && edit.full_name.is_none()
            && edit.superuser.is_none()
        {
            return Err(Error::usage("nothing to update").with_hint(
                "give --email, --username, --full-name, --clear-full-name, --superuser or --no-superuser (the simple layout: --email, --full-name)",
            ));
        }
        Ok(edit)
    }

    fn changes(&self) -> UserChanges<'_> {
        UserChanges {
            email: self.email.as_ref().map(Email::as_str),
            username: self.username.as_ref().map(Username::as_str),
            full_name: self
                .full_name
                .as_ref()
                .map(|n| n.as_ref().map(FullName::as_str)),
            is_superuser: self.superuser,
        }
    }
}

impl Op {
    fn check(cmd: UserCmd) -> Result<Op> {
        Ok(match cmd {
            UserCmd::Add(args) => {
                let email = Email::parse(&args.email)?;
                Op::Add(args, email)
            }
            UserCmd::Import(args) => Op::Import(args),
            UserCmd::List(args) => Op::List(args),
            UserCmd::Show { user } => Op::Show(user),
            UserCmd::Update(args) => {
                let edit = Edit::parse(&args)?;
                Op::Update(args.user, edit)
            }
            UserCmd::Deactivate { users } => Op::SetActive(users, false),
            UserCmd::Activate { users } => Op::SetActive(users, true),
            UserCmd::SetPassword { user, password } => Op::SetPassword(user, password),
            UserCmd::Delete {
                user,
                reassign_items_to,
                confirm,
            } => Op::Delete {
                user,
                reassign_to: reassign_items_to,
                yes: confirm.yes,
            },
            UserCmd::Export { user } => Op::Export(user),
            UserCmd::Erase { user, confirm } => Op::Erase(user, confirm.yes),
        })
    }
}

/// The StackWizard layout's user commands.
fn stackwizard(op: Op, session: Session, ctx: &Ctx) -> Result<()> {
    match op {
        Op::Add(args, email) => add(args, email, session, ctx),
        Op::Import(args) => crate::commands::import::users(args, session, ctx),
        Op::List(args) => list(args, session, ctx),
        Op::Show(user) => show(&user, session, ctx),
        Op::Update(user, edit) => change::update(&user, &edit, session, ctx),
        Op::SetActive(users, active) => change::set_active(&users, active, session, ctx),
        Op::SetPassword(user, password) => change::set_password(&user, &password, session, ctx),
        Op::Delete {
            user,
            reassign_to,
            yes,
        } => change::delete(&user, reassign_to.as_deref(), yes, session, ctx),
        Op::Export(user) => personal::export(&user, session, ctx),
        Op::Erase(user, yes) => personal::erase(&user, yes, session, ctx),
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
    username: Option<&Username>,
) -> Result<Option<User>> {
    let lower = |u: Option<&str>| u.map(str::to_lowercase);
    Ok(users::find(conn, &UserRef::parse(email.as_str()))?
        .filter(|u| lower(u.username.as_deref()) == lower(username.map(Username::as_str))))
}

/// On the generated backend's schema, a warning when there is more than one superuser:
/// its startup (`init_db`) reads "the" superuser with `scalar_one_or_none()` and fails
/// to start with two.
pub(super) fn warn_many_superusers(session: &mut Session, ctx: &Ctx) -> Result<()> {
    if session.shape.item_ids != crate::db::shape::ItemIds::Integer {
        return Ok(());
    }
    let n = users::superuser_count(session)?;
    if n > 1 {
        ctx.warn(format!(
            "there are now {n} superusers: the generated StackWizard backend's startup (app/db/init_db.py) expects at most one and fails to start with more; keep one with stackctl user update USER --no-superuser"
        ));
    }
    Ok(())
}

pub(super) fn clash_error(clash: Clash, value: &str) -> Error {
    let field = clash.field();
    Error::conflict(format!("a user with {field} '{value}' already exists"))
        .with_hint(format!("{field}s are unique regardless of letter case"))
}

fn add(args: UserAdd, email: Email, mut session: Session, ctx: &Ctx) -> Result<()> {
    // Optional to clap (the simple layout has no usernames); required where the column is
    // NOT NULL (the design document's schema), optional where it is not (the generated
    // backend's).
    let username = match args.username.as_deref() {
        Some(u) => Some(Username::parse(u)?),
        None if session.shape.username_optional => None,
        None => {
            return Err(
                Error::usage("--username is required on the stackwizard layout")
                    .with_hint("stackctl user add --email E --username U"),
            )
        }
    };
    // The application's own columns stackctl must fill: declared, or nothing is written.
    let shape = session.shape.clone();
    let fill = shape.fill("users", "user add")?;
    let full_name = args.full_name.as_deref().map(FullName::parse).transpose()?;
    let pw = password::obtain(&args.password)?;
    if args.if_not_exists {
        // Checked before hashing, so an existing user costs no bcrypt round.
        if let Some(user) = existing_same(&mut session, &email, username.as_ref())? {
            ctx.info(format!("user {} ({}) already exists", user.name(), user.id));
            return print_user_created(ctx, &user, None, Some(false));
        }
    }
    let hash = password::hash(&pw.text, ctx.global.bcrypt_cost)?;
    let outcome = session.write("user add", |conn| {
        db::lock_user_identities(conn)?;
        if args.if_not_exists {
            // Another run may have created it since the check above.
            if let Some(user) = existing_same(conn, &email, username.as_ref())? {
                return Ok((Err(user), Vec::new()));
            }
        }
        if let Some(clash) = users::find_identity_clash(
            conn,
            Some(email.as_str()),
            username.as_ref().map(Username::as_str),
            None,
        )? {
            let value = match clash {
                Clash::Email => email.as_str(),
                Clash::Username => username.as_ref().map_or("", Username::as_str),
            };
            return Err(clash_error(clash, value));
        }
        let user = users::insert(
            conn,
            &fill,
            &NewUser {
                id: Uuid::new_v4(),
                email: email.as_str(),
                username: username.as_ref().map(Username::as_str),
                hashed_password: &hash,
                full_name: full_name.as_ref().map(FullName::as_str),
                is_active: !args.inactive,
                is_superuser: args.superuser,
            },
        )?;
        let change = Change::create("user", user.id, &user);
        Ok((Ok(user), vec![change]))
    })?;
    if args.superuser {
        warn_many_superusers(&mut session, ctx)?;
    }
    let created = args.if_not_exists.then_some(true);
    match outcome {
        None => Ok(()),
        Some(Err(existing)) => {
            ctx.info(format!(
                "user {} ({}) already exists",
                existing.name(),
                existing.id
            ));
            print_user_created(ctx, &existing, None, Some(false))
        }
        Some(Ok(user)) => {
            ctx.info(format!("created user {} ({})", user.name(), user.id));
            print_user_created(
                ctx,
                &user,
                pw.generated.then_some(pw.text.as_str()),
                created,
            )
        }
    }
}

fn list(args: UserList, mut session: Session, ctx: &Ctx) -> Result<()> {
    let filter = Filter {
        active: crate::cli::either(args.active, args.inactive),
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

fn show(user: &str, mut session: Session, ctx: &Ctx) -> Result<()> {
    let user = users::get(&mut session, &UserRef::parse(user))?;
    let items = {
        let ids = session.shape.item_ids;
        items::of_owner(&mut session, ids, user.id)?
    };
    let detail = UserDetail { user, items };
    let mut columns = User::COLUMNS.to_vec();
    columns.push("items");
    let mut out = ctx.stdout();
    render_one(ctx.format(), &columns, &detail, &mut out)?;
    crate::commands::finish(out)
}
