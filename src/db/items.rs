//! Every query on `items`. Items are always read with their owner's email, in one query.
//! The table has one of two shapes (`db::shape::ItemIds`): the design document's (UUID
//! ids, numeric prices: `schema::items`) or the generated backend's (integer ids, double
//! precision prices: `schema::serial_items`); each query runs on the one the id or the
//! session's shape names, and both read into the same `ItemView`.

use bigdecimal::BigDecimal;
use diesel::dsl::now;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use uuid::Uuid;

use super::models::{
    double_of_price, Item, ItemChanges, ItemId, ItemView, NewItem, NewSerialItem, SerialItem,
    SerialItemChanges,
};
use super::schema::{items, serial_items, users};
use super::shape::ItemIds;
use super::users::Page;
use crate::error::{Error, Result};

/// One item with its owner's email, or `None`.
pub fn find(conn: &mut PgConnection, id: ItemId) -> Result<Option<ItemView>> {
    Ok(match id {
        ItemId::Uuid(id) => items::table
            .left_join(users::table)
            .filter(items::id.eq(id))
            .select((Item::as_select(), users::email.nullable()))
            .first::<(Item, Option<String>)>(conn)
            .optional()?
            .map(ItemView::from),
        ItemId::Int(id) => serial_items::table
            .left_join(users::table)
            .filter(serial_items::id.eq(id))
            .select((SerialItem::as_select(), users::email.nullable()))
            .first::<(SerialItem, Option<String>)>(conn)
            .optional()?
            .map(ItemView::from),
    })
}

/// The one item an id argument names. UUID ids: a whole UUID as it is, a prefix by a
/// range scan of the primary key (none: exit 3; several: exit 2 listing them). Integer
/// ids: the integer (anything else is exit 2).
pub fn resolve(conn: &mut PgConnection, ids: ItemIds, raw: &str) -> Result<ItemId> {
    use crate::validate::IdArg;
    if ids == ItemIds::Integer {
        return raw.trim().parse::<i32>().map(ItemId::Int).map_err(|_| {
            Error::invalid(
                "item id",
                format!("{raw:?} is not an item id here (this database's item ids are integers)"),
            )
        });
    }
    match crate::validate::id_arg("item id", raw)? {
        IdArg::Full(id) => Ok(ItemId::Uuid(id)),
        IdArg::Prefix(p) => {
            let found: Vec<Uuid> = items::table
                .filter(items::id.between(p.lo, p.hi))
                .select(items::id)
                .order(items::id)
                .limit(6)
                .load(conn)?;
            super::users::one_of_prefix(found, &p.text, "item").map(ItemId::Uuid)
        }
    }
}

pub fn get(conn: &mut PgConnection, id: ItemId) -> Result<ItemView> {
    find(conn, id)?.ok_or_else(|| Error::not_found(format!("item {id} not found")))
}

/// What an item is written with: a price that a double precision column must hold to the
/// cent is checked here (exit 2), before anything is written.
fn double_price(p: &BigDecimal) -> Result<f64> {
    double_of_price(p).ok_or_else(|| {
        Error::invalid(
            "price",
            format!(
                "{} cannot be held to the cent by this database's price column (double precision)",
                super::models::format_price(p)
            ),
        )
    })
}

pub fn insert(conn: &mut PgConnection, ids: ItemIds, new: &NewItem) -> Result<ItemView> {
    let id = match ids {
        ItemIds::Uuid => ItemId::Uuid(
            diesel::insert_into(items::table)
                .values((new, items::created_at.eq(now), items::updated_at.eq(now)))
                .returning(items::id)
                .get_result(conn)?,
        ),
        ItemIds::Integer => ItemId::Int(
            diesel::insert_into(serial_items::table)
                .values((
                    NewSerialItem {
                        title: new.title,
                        description: new.description,
                        price: double_price(new.price)?,
                        owner_id: new.owner_id,
                        is_available: new.is_available,
                    },
                    serial_items::created_at.eq(now),
                    serial_items::updated_at.eq(now),
                ))
                .returning(serial_items::id)
                .get_result(conn)?,
        ),
    };
    get(conn, id)
}

pub fn update(conn: &mut PgConnection, id: ItemId, changes: &ItemChanges) -> Result<ItemView> {
    let n = match id {
        ItemId::Uuid(id) => diesel::update(items::table.find(id))
            .set((changes, items::updated_at.eq(now)))
            .execute(conn)?,
        ItemId::Int(id) => {
            let changes = SerialItemChanges {
                title: changes.title,
                description: changes.description,
                price: changes.price.map(double_price).transpose()?,
                is_available: changes.is_available,
                owner_id: changes.owner_id,
            };
            diesel::update(serial_items::table.find(id))
                .set((changes, serial_items::updated_at.eq(now)))
                .execute(conn)?
        }
    };
    if n == 0 {
        return Err(Error::not_found(format!("item {id} not found")));
    }
    get(conn, id)
}

pub fn delete(conn: &mut PgConnection, id: ItemId) -> Result<usize> {
    Ok(match id {
        ItemId::Uuid(id) => diesel::delete(items::table.find(id)).execute(conn)?,
        ItemId::Int(id) => diesel::delete(serial_items::table.find(id)).execute(conn)?,
    })
}

/// A user's items, in one query.
pub fn of_owner(conn: &mut PgConnection, ids: ItemIds, owner: Uuid) -> Result<Vec<ItemView>> {
    Ok(match ids {
        ItemIds::Uuid => items::table
            .left_join(users::table)
            .filter(items::owner_id.eq(owner))
            .order((items::created_at.asc().nulls_first(), items::id.asc()))
            .select((Item::as_select(), users::email.nullable()))
            .load::<(Item, Option<String>)>(conn)?
            .into_iter()
            .map(ItemView::from)
            .collect(),
        ItemIds::Integer => serial_items::table
            .left_join(users::table)
            .filter(serial_items::owner_id.eq(owner))
            .order((
                serial_items::created_at.asc().nulls_first(),
                serial_items::id.asc(),
            ))
            .select((SerialItem::as_select(), users::email.nullable()))
            .load::<(SerialItem, Option<String>)>(conn)?
            .into_iter()
            .map(ItemView::from)
            .collect(),
    })
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

/// The filters and the order of an item listing on table `$t` (`items` or
/// `serial_items`), on either shape of its query (items joined to users, or items alone
/// with the owner's email in a subquery); `$price` turns a decimal bound into the price
/// column's type.
macro_rules! filtered_and_ordered {
    ($t:ident, $q:expr, $filter:expr, $sort:expr, $desc:expr, $price:expr) => {{
        let mut q = $q;
        let filter: &Filter = $filter;
        if let Some(owner) = filter.owner {
            q = q.filter($t::owner_id.eq(owner));
        }
        match filter.available {
            Some(true) => q = q.filter($t::is_available.eq(true)),
            Some(false) => q = q.filter($t::is_available.is_distinct_from(true)),
            None => {}
        }
        if let Some(min) = &filter.min_price {
            q = q.filter($t::price.ge($price(min)));
        }
        if let Some(max) = &filter.max_price {
            q = q.filter($t::price.le($price(max)));
        }
        if let Some(p) = &filter.search {
            q = q.filter(
                $t::title
                    .ilike(p.clone())
                    .or($t::description.ilike(p.clone()).assume_not_null()),
            );
        }
        // Each order is an index of the query-index migration read forwards or (--desc)
        // backwards: (created_at NULLS FIRST, id), (price NULLS FIRST, id), (title, id). So
        // a first page reads 50 index entries instead of sorting every item.
        match ($sort, $desc) {
            (Sort::Created, false) => q.order(($t::created_at.asc().nulls_first(), $t::id.asc())),
            (Sort::Created, true) => q.order(($t::created_at.desc().nulls_last(), $t::id.desc())),
            (Sort::Price, false) => q.order(($t::price.asc().nulls_first(), $t::id.asc())),
            (Sort::Price, true) => q.order(($t::price.desc().nulls_last(), $t::id.desc())),
            (Sort::Title, false) => q.order(($t::title.asc(), $t::id.asc())),
            (Sort::Title, true) => q.order(($t::title.desc(), $t::id.desc())),
        }
    }};
}

/// `for_each` on table `$t`, whose rows are `$row`.
macro_rules! each_item {
    ($t:ident, $row:ty, $conn:expr, $filter:expr, $sort:expr, $desc:expr, $page:expr, $price:expr, $f:expr) => {{
        match $page {
            Some(p) => {
                let owner_email = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
                    "(SELECT \"users\".\"email\" FROM \"users\" WHERE \"users\".\"id\" = \"items\".\"owner_id\")",
                );
                let q = $t::table
                    .select((<$row>::as_select(), owner_email))
                    .into_boxed();
                let q = filtered_and_ordered!($t, q, $filter, $sort, $desc, $price);
                let rows: Vec<($row, Option<String>)> =
                    q.limit(p.limit).offset(p.offset).load($conn)?;
                for row in rows {
                    $f(ItemView::from(row))?;
                }
            }
            None => {
                let q = $t::table
                    .left_join(users::table)
                    .select((<$row>::as_select(), users::email.nullable()))
                    .into_boxed();
                let q = filtered_and_ordered!($t, q, $filter, $sort, $desc, $price);
                for row in q.load_iter::<($row, Option<String>), PgRowByRowLoadingMode>($conn)? {
                    $f(ItemView::from(row?))?;
                }
            }
        }
    }};
}

/// Call `f` for every matching item with its owner's email. `page: None` streams.
///
/// A page reads its owners' emails with a subquery per row, not a join: joined, the
/// planner puts a Memoize over the users lookup whose cache it sizes for every distinct
/// owner before the first row (1.6 ms of a 50-item page on 10M items and 1M users, where
/// the page itself takes 0.1 ms). The whole listing keeps the join, which the planner
/// makes a hash join of both tables instead of ten million lookups.
#[allow(clippy::too_many_arguments)]
pub fn for_each(
    conn: &mut PgConnection,
    ids: ItemIds,
    filter: &Filter,
    sort: Sort,
    desc: bool,
    page: Option<Page>,
    mut f: impl FnMut(ItemView) -> Result<()>,
) -> Result<()> {
    match ids {
        ItemIds::Uuid => each_item!(
            items,
            Item,
            conn,
            filter,
            sort,
            desc,
            page,
            |p: &BigDecimal| p.clone(),
            f
        ),
        ItemIds::Integer => each_item!(
            serial_items,
            SerialItem,
            conn,
            filter,
            sort,
            desc,
            page,
            |p: &BigDecimal| bigdecimal::ToPrimitive::to_f64(p).unwrap_or(f64::NAN),
            f
        ),
    }
    Ok(())
}
