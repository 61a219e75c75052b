//! `stackctl item ...`

use diesel::prelude::*;
use uuid::Uuid;

use super::Ctx;
use crate::change::Change;
use crate::cli::{ItemAdd, ItemCmd, ItemList, ItemSort, ItemUpdate};
use crate::db::items::{self, Filter, Sort};
use crate::db::models::{format_price, ItemChanges, ItemId, ItemView, NewItem};
use crate::db::users::{self, Page, UserRef};
use crate::error::{Error, Result};
use crate::output::{render_one, ListWriter};
use crate::prompt;
use crate::validate::{self, like_pattern, Description, Price, Title};

pub fn run(cmd: ItemCmd, ctx: &Ctx) -> Result<()> {
    match cmd {
        ItemCmd::Add(args) => add(args, ctx),
        ItemCmd::Import(args) => super::import::items(args, ctx),
        ItemCmd::List(args) => list(args, ctx),
        ItemCmd::Show { id } => show(&id, ctx),
        ItemCmd::Update(args) => update(args, ctx),
        ItemCmd::Delete { id, confirm } => delete(&id, confirm.yes, ctx),
    }
}

/// An item id argument, checked before connecting: a UUID, a prefix of one, or an integer
/// (which of them the database's ids are is known once connected: `items::resolve`).
fn checked_id(raw: &str) -> Result<&str> {
    if raw.trim().parse::<i32>().is_ok() {
        return Ok(raw);
    }
    validate::id_arg("item id", raw).map(|_| raw)
}

/// The item an id argument names, as the session's item ids are typed.
fn resolve(session: &mut crate::session::Session, raw: &str) -> Result<ItemId> {
    let ids = session.shape.item_ids;
    items::resolve(session, ids, raw)
}

fn print_item(ctx: &Ctx, item: &ItemView) -> Result<()> {
    let mut out = ctx.stdout();
    render_one(ctx.format(), ItemView::COLUMNS, item, &mut out)?;
    super::finish(out)
}

/// The owner named on the command line; an unknown one is exit 3.
fn owner_id(conn: &mut PgConnection, raw: &str) -> Result<Uuid> {
    let r = UserRef::parse(raw);
    users::find(conn, &r)?
        .map(|u| u.id)
        .ok_or_else(|| Error::not_found(format!("owner '{r}' not found")))
}

fn add(args: ItemAdd, ctx: &Ctx) -> Result<()> {
    let title = Title::parse(&args.title)?;
    let description = args
        .description
        .as_deref()
        .map(Description::parse)
        .transpose()?;
    let price = args
        .price
        .as_deref()
        .map(Price::parse)
        .transpose()?
        .unwrap_or_else(Price::zero);
    let mut session = ctx.connect()?;
    let ids = session.shape.item_ids;
    if !session.shape.fill("items", "item add")?.is_empty() {
        return Err(Error::schema(
            "item add does not write the application's own columns of items yet",
        ));
    }
    let item = session.write("item add", |conn| {
        let owner = owner_id(conn, &args.owner)?;
        let item = items::insert(
            conn,
            ids,
            &NewItem {
                id: Uuid::new_v4(),
                title: title.as_str(),
                description: description.as_ref().map(Description::as_str),
                price: price.value(),
                owner_id: owner,
                is_available: !args.unavailable,
            },
        )?;
        let change = Change::create("item", item.id, &item);
        Ok((item, vec![change]))
    })?;
    let Some(item) = item else { return Ok(()) };
    ctx.info(format!("created item {}", item.id));
    print_item(ctx, &item)
}

fn list(args: ItemList, ctx: &Ctx) -> Result<()> {
    let min_price = args
        .min_price
        .as_deref()
        .map(|p| Price::parse_field("--min-price", p))
        .transpose()?;
    let max_price = args
        .max_price
        .as_deref()
        .map(|p| Price::parse_field("--max-price", p))
        .transpose()?;
    let search = args.search.as_deref().map(like_pattern).transpose()?;
    let sort = match args.sort {
        ItemSort::Created => Sort::Created,
        ItemSort::Price => Sort::Price,
        ItemSort::Title => Sort::Title,
    };
    let page = (!args.paging.all).then_some(Page {
        limit: i64::from(args.paging.limit),
        offset: i64::from(args.paging.offset),
    });
    let mut session = ctx.connect()?;
    let owner = args
        .owner
        .as_deref()
        .map(|o| owner_id(&mut session, o))
        .transpose()?;
    let filter = Filter {
        owner,
        available: crate::cli::either(args.available, args.unavailable),
        min_price: min_price.map(|p| p.value().clone()),
        max_price: max_price.map(|p| p.value().clone()),
        search,
    };
    let mut out = ListWriter::new(ctx.format(), ItemView::COLUMNS, ctx.stdout())
        .flat()
        .compact(crate::output::ITEM_COMPACT);
    let progress = ctx.list_progress(args.paging.all);
    let ids = session.shape.item_ids;
    items::for_each(
        &mut session,
        ids,
        &filter,
        sort,
        args.paging.desc,
        page,
        |i| {
            progress.row();
            out.record(&i)
        },
    )?;
    progress.done(out.finish()?, "item")
}

fn show(id: &str, ctx: &Ctx) -> Result<()> {
    let id = checked_id(id)?;
    let mut session = ctx.connect()?;
    let id = resolve(&mut session, id)?;
    let item = items::get(&mut session, id)?;
    print_item(ctx, &item)
}

fn update(args: ItemUpdate, ctx: &Ctx) -> Result<()> {
    let id = checked_id(&args.id)?;
    let title = args.title.as_deref().map(Title::parse).transpose()?;
    let description = args
        .description
        .as_deref()
        .map(Description::parse)
        .transpose()?;
    let price = args.price.as_deref().map(Price::parse).transpose()?;
    let nothing = title.is_none()
        && description.is_none()
        && !args.clear_description
        && price.is_none()
        && !args.available
        && !args.unavailable
        && args.owner.is_none();
    if nothing {
        return Err(Error::usage("nothing to update").with_hint(
            "give --title, --description, --clear-description, --price, --available, --unavailable or --owner",
        ));
    }
    let mut session = ctx.connect()?;
    let id = resolve(&mut session, id)?;
    let item = session.write("item update", |conn| {
        let before = items::get(conn, id)?;
        let owner = args
            .owner
            .as_deref()
            .map(|o| owner_id(conn, o))
            .transpose()?;
        let changes = ItemChanges {
            title: title.as_ref().map(Title::as_str),
            description: if args.clear_description {
                Some(None)
            } else {
                description.as_ref().map(|d| Some(d.as_str()))
            },
            price: price.as_ref().map(Price::value),
            is_available: crate::cli::either(args.available, args.unavailable),
            owner_id: owner,
        };
        let after = items::update(conn, id, &changes)?;
        let change = Change::update("item", id, &before, &after);
        Ok((after, vec![change]))
    })?;
    let Some(item) = item else { return Ok(()) };
    ctx.info(format!("updated item {}", item.id));
    print_item(ctx, &item)
}

fn delete(id: &str, yes: bool, ctx: &Ctx) -> Result<()> {
    let id = checked_id(id)?;
    let mut session = ctx.connect()?;
    let id = resolve(&mut session, id)?;
    let item = items::get(&mut session, id)?;
    if !ctx.global.dry_run {
        let price = item.price.as_ref().map_or("none".into(), format_price);
        prompt::confirm_destructive(
            yes,
            &format!(
                "deleting item '{}' ({}, price {price})",
                item.title, item.id
            ),
        )?;
    }
    let done = session.write("item delete", |conn| {
        if items::delete(conn, id)? == 0 {
            return Err(Error::not_found(format!("item {id} not found")));
        }
        Ok(((), vec![Change::delete("item", id, &item)]))
    })?;
    if done.is_some() {
        ctx.info(format!("deleted item {id}"));
    }
    Ok(())
}
