//! Every query on `items`. Items are always read with their owner's email, in one query.

use bigdecimal::BigDecimal;
use diesel::dsl::now;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use uuid::Uuid;

use super::models::{Item, ItemChanges, ItemView, NewItem};
use super::schema::{items, users};
use super::users::Page;
use crate::error::{Error, Result};

/// One item with its owner's email, or `None`.
pub fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<ItemView>> {
    let row: Option<(Item, Option<String>)> = items::table
        .left_join(users::table)
        .filter(items::id.eq(id))
        .select((Item::as_select(), users::email.nullable()))
        .first(conn)
        .optional()?;
    Ok(row.map(ItemView::from))
}

pub fn get(conn: &mut PgConnection, id: Uuid) -> Result<ItemView> {
    find(conn, id)?.ok_or_else(|| Error::not_found(format!("item {id} not found")))
}

pub fn insert(conn: &mut PgConnection, new: &NewItem) -> Result<ItemView> {
    let id: Uuid = diesel::insert_into(items::table)
        .values((new, items::created_at.eq(now), items::updated_at.eq(now)))
        .returning(items::id)
        .get_result(conn)?;
    get(conn, id)
}

pub fn update(conn: &mut PgConnection, id: Uuid, changes: &ItemChanges) -> Result<ItemView> {
    let n = diesel::update(items::table.find(id))
        .set((changes, items::updated_at.eq(now)))
        .execute(conn)?;
    if n == 0 {
        return Err(Error::not_found(format!("item {id} not found")));
    }
    get(conn, id)
}

pub fn delete(conn: &mut PgConnection, id: Uuid) -> Result<usize> {
    Ok(diesel::delete(items::table.find(id)).execute(conn)?)
}

/// A user's items, in one query.
pub fn of_owner(conn: &mut PgConnection, owner: Uuid) -> Result<Vec<ItemView>> {
    let rows: Vec<(Item, Option<String>)> = items::table
        .left_join(users::table)
        .filter(items::owner_id.eq(owner))
        .order((items::created_at.asc().nulls_first(), items::id.asc()))
        .select((Item::as_select(), users::email.nullable()))
        .load(conn)?;
    Ok(rows.into_iter().map(ItemView::from).collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Created,
    Price,
    Title,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub owner: Option<Uuid>,
    pub available: Option<bool>,
    pub min_price: Option<BigDecimal>,
    pub max_price: Option<BigDecimal>,
    /// Already a LIKE pattern with wildcards escaped.
    pub search: Option<String>,
}

/// Call `f` for every matching item with its owner's email. `page: None` streams.
pub fn for_each(
    conn: &mut PgConnection,
    filter: &Filter,
    sort: Sort,
    desc: bool,
    page: Option<Page>,
    mut f: impl FnMut(ItemView) -> Result<()>,
) -> Result<()> {
    let mut q = items::table
        .left_join(users::table)
        .select((Item::as_select(), users::email.nullable()))
        .into_boxed();
    if let Some(owner) = filter.owner {
        q = q.filter(items::owner_id.eq(owner));
    }
    match filter.available {
        Some(true) => q = q.filter(items::is_available.eq(true)),
        Some(false) => q = q.filter(items::is_available.is_distinct_from(true)),
        None => {}
    }
    if let Some(min) = &filter.min_price {
        q = q.filter(items::price.ge(min.clone()));
    }
    if let Some(max) = &filter.max_price {
        q = q.filter(items::price.le(max.clone()));
    }
    if let Some(p) = &filter.search {
        q = q.filter(
            items::title
                .ilike(p.clone())
                .or(items::description.ilike(p.clone()).assume_not_null()),
        );
    }
    // Each order is an index of the query-index migration read forwards or (--desc)
    // backwards: (created_at NULLS FIRST, id), (price NULLS FIRST, id), (title, id). So a
    // first page reads 50 index entries instead of sorting every item.
    q = match (sort, desc) {
        (Sort::Created, false) => q.order((items::created_at.asc().nulls_first(), items::id.asc())),
        (Sort::Created, true) => q.order((items::created_at.desc().nulls_last(), items::id.desc())),
        (Sort::Price, false) => q.order((items::price.asc().nulls_first(), items::id.asc())),
        (Sort::Price, true) => q.order((items::price.desc().nulls_last(), items::id.desc())),
        (Sort::Title, false) => q.order((items::title.asc(), items::id.asc())),
        (Sort::Title, true) => q.order((items::title.desc(), items::id.desc())),
    };
    match page {
        Some(p) => {
            let rows: Vec<(Item, Option<String>)> = q.limit(p.limit).offset(p.offset).load(conn)?;
            for row in rows {
                f(ItemView::from(row))?;
            }
        }
        None => {
            for row in q.load_iter::<(Item, Option<String>), PgRowByRowLoadingMode>(conn)? {
                f(ItemView::from(row?))?;
            }
        }
    }
    Ok(())
}
