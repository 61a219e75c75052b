//! Every query on `users`.

use diesel::dsl::now;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use uuid::Uuid;

use super::lower_text;
use super::models::{NewUser, User, UserChanges};
use super::schema::{items, users};
use crate::error::{Error, Result};

/// How a command names a user: by id, email or username.
#[derive(Debug, Clone)]
pub enum UserRef {
    Id(Uuid),
    Email(String),
    Username(String),
    /// A username, or else a prefix of a user's id (a username that matches wins).
    UsernameOrPrefix(String, crate::validate::IdPrefix),
}

impl UserRef {
    pub fn parse(raw: &str) -> UserRef {
        if let Ok(id) = Uuid::parse_str(raw) {
            UserRef::Id(id)
        } else if raw.contains('@') {
            UserRef::Email(raw.to_string())
        } else if let Some(prefix) = crate::validate::IdPrefix::parse(raw) {
            UserRef::UsernameOrPrefix(raw.to_string(), prefix)
        } else {
            UserRef::Username(raw.to_string())
        }
    }
}

impl std::fmt::Display for UserRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserRef::Id(id) => write!(f, "{id}"),
            UserRef::Email(s) | UserRef::Username(s) | UserRef::UsernameOrPrefix(s, _) => {
                write!(f, "{s}")
            }
        }
    }
}

/// Find a user; an exact match wins over a case-insensitive one.
pub fn find(conn: &mut PgConnection, r: &UserRef) -> Result<Option<User>> {
    let base = users::table.select(User::as_select());
    let found: Vec<User> = match r {
        UserRef::Id(id) => base.filter(users::id.eq(id)).load(conn)?,
        UserRef::Email(e) => {
            let exact: Vec<User> = base.filter(users::email.eq(e)).load(conn)?;
            if exact.is_empty() {
                base.filter(lower_text(users::email).eq(lower_text(e)))
                    .load(conn)?
            } else {
                exact
            }
        }
        UserRef::Username(u) => {
            let exact: Vec<User> = base.filter(users::username.eq(u)).load(conn)?;
            if exact.is_empty() {
                base.filter(lower_text(users::username.assume_not_null()).eq(lower_text(u)))
                    .load(conn)?
            } else {
                exact
            }
        }
        UserRef::UsernameOrPrefix(u, prefix) => {
            if let Some(user) = find(conn, &UserRef::Username(u.clone()))? {
                return Ok(Some(user));
            }
            let ids: Vec<Uuid> = users::table
                .filter(users::id.between(prefix.lo, prefix.hi))
                .select(users::id)
                .order(users::id)
                .limit(6)
                .load(conn)?;
            if ids.is_empty() {
                return Ok(None);
            }
            let id = one_of_prefix(ids, u, "user")?;
            base.filter(users::id.eq(id)).load(conn)?
        }
    };
    only_one(found, r, "UUID")
}

/// The one id a prefix matched: several are exit 2, listing them (at most five).
pub fn one_of_prefix(found: Vec<Uuid>, prefix: &str, what: &str) -> Result<Uuid> {
    match found.as_slice() {
        [] => Err(Error::not_found(format!(
            "no {what} id starts with '{prefix}'"
        ))),
        [one] => Ok(*one),
        many => Err(Error::usage(format!(
            "'{prefix}' is the start of more than one {what} id: {}{}",
            many.iter()
                .take(5)
                .map(|u| u.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if many.len() > 5 { ", ..." } else { "" }
        ))
        .with_hint("give more of the id")),
    }
}

/// The one user a lookup found, if any: several that differ only in letter case are a
/// usage error that says to name the user by its `key` (UUID, or id on the Simple DB
/// layout).
pub fn only_one<T>(found: Vec<T>, r: &impl std::fmt::Display, key: &str) -> Result<Option<T>> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.into_iter().next()),
        n => Err(Error::usage(format!(
            "'{r}' matches {n} users that differ only in letter case"
        ))
        .with_hint(format!("name the user by {key}"))),
    }
}

/// Find a user or fail with exit 3.
pub fn get(conn: &mut PgConnection, r: &UserRef) -> Result<User> {
    find(conn, r)?.ok_or_else(|| Error::not_found(format!("user '{r}' not found")))
}

/// Which existing user (other than `except`) holds this email or username,
/// compared case-insensitively. Returns the clashing field's name.
/// Which identity of a user another user already has (compared case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    Email,
    Username,
}

impl Clash {
    pub fn field(self) -> &'static str {
        match self {
            Clash::Email => "email",
            Clash::Username => "username",
        }
    }
}

pub fn find_identity_clash(
    conn: &mut PgConnection,
    email: Option<&str>,
    username: Option<&str>,
    except: Option<Uuid>,
) -> Result<Option<Clash>> {
    let except = except.unwrap_or(Uuid::nil());
    if let Some(e) = email {
        let n: i64 = users::table
            .filter(lower_text(users::email).eq(lower_text(e)))
            .filter(users::id.ne(except))
            .count()
            .get_result(conn)?;
        if n > 0 {
            return Ok(Some(Clash::Email));
        }
    }
    if let Some(u) = username {
        let n: i64 = users::table
            .filter(lower_text(users::username.assume_not_null()).eq(lower_text(u)))
            .filter(users::id.ne(except))
            .count()
            .get_result(conn)?;
        if n > 0 {
            return Ok(Some(Clash::Username));
        }
    }
    Ok(None)
}

/// Insert a user; `fill`: the application's own columns with the values declared for
/// them (`schema default`), written in the same statement.
pub fn insert(
    conn: &mut PgConnection,
    fill: &[&crate::db::shape::AppColumn],
    new: &NewUser,
) -> Result<User> {
    if fill.is_empty() {
        return Ok(diesel::insert_into(users::table)
            .values((new, users::created_at.eq(now), users::updated_at.eq(now)))
            .returning(User::as_returning())
            .get_result(conn)?);
    }
    use diesel::sql_types::{Bool, Nullable, Text};
    let (columns, values) = crate::db::shape::fill_sql(fill, 8)?;
    let sql = format!(
        "INSERT INTO users (id, email, username, hashed_password, full_name, is_active, \
         is_superuser, created_at, updated_at{columns}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now(){values})"
    );
    let mut q = diesel::sql_query(sql)
        .into_boxed()
        .bind::<diesel::sql_types::Uuid, _>(new.id)
        .bind::<Text, _>(new.email)
        .bind::<Nullable<Text>, _>(new.username)
        .bind::<Text, _>(new.hashed_password)
        .bind::<Nullable<Text>, _>(new.full_name)
        .bind::<Bool, _>(new.is_active)
        .bind::<Bool, _>(new.is_superuser);
    for c in fill {
        q = q.bind::<Nullable<Text>, _>(c.value.clone());
    }
    q.execute(conn)?;
    Ok(users::table
        .find(new.id)
        .select(User::as_select())
        .get_result(conn)?)
}

pub fn update(conn: &mut PgConnection, id: Uuid, changes: &UserChanges) -> Result<User> {
    Ok(diesel::update(users::table.find(id))
        .set((changes, users::updated_at.eq(now)))
        .returning(User::as_returning())
        .get_result(conn)?)
}

/// Set `is_active` on the given users where it differs; returns the users changed.
pub fn set_active(conn: &mut PgConnection, ids: &[Uuid], active: bool) -> Result<Vec<User>> {
    Ok(diesel::update(
        users::table
            .filter(users::id.eq_any(ids))
            .filter(users::is_active.is_distinct_from(active)),
    )
    .set((users::is_active.eq(active), users::updated_at.eq(now)))
    .returning(User::as_returning())
    .get_results(conn)?)
}

pub fn set_password(conn: &mut PgConnection, id: Uuid, hash: &str) -> Result<User> {
    Ok(diesel::update(users::table.find(id))
        .set((users::hashed_password.eq(hash), users::updated_at.eq(now)))
        .returning(User::as_returning())
        .get_result(conn)?)
}

pub fn delete(conn: &mut PgConnection, id: Uuid) -> Result<usize> {
    Ok(diesel::delete(users::table.find(id)).execute(conn)?)
}

/// Delete every item of a user (the foreign key may have no `ON DELETE CASCADE`); how
/// many went.
pub fn delete_items_of(conn: &mut PgConnection, id: Uuid) -> Result<usize> {
    Ok(diesel::delete(items::table.filter(items::owner_id.eq(id))).execute(conn)?)
}

/// How many items a user owns, and their total price (`0.00` for none).
pub fn items_summary(conn: &mut PgConnection, id: Uuid) -> Result<(i64, String)> {
    use diesel::dsl::count_star;
    // Summed as numeric whatever the column's type (numeric, or the generated backend's
    // double precision), rounded to the cent.
    let total = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Numeric>>(
        "round(sum(price)::numeric, 2)",
    );
    let (n, total): (i64, Option<bigdecimal::BigDecimal>) = items::table
        .filter(items::owner_id.eq(id))
        .select((count_star(), total))
        .get_result(conn)?;
    let total = total.unwrap_or_default();
    Ok((n, super::models::format_price(&total)))
}

/// How many users are superusers.
pub fn superuser_count(conn: &mut PgConnection) -> Result<i64> {
    Ok(users::table
        .filter(users::is_superuser.eq(true))
        .count()
        .get_result(conn)?)
}

/// Give every item of `from` to `to`; returns how many moved.
pub fn reassign_items(conn: &mut PgConnection, from: Uuid, to: Uuid) -> Result<usize> {
    Ok(
        diesel::update(items::table.filter(items::owner_id.eq(from)))
            .set((items::owner_id.eq(to), items::updated_at.eq(now)))
            .execute(conn)?,
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Created,
    Email,
    Username,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub active: Option<bool>,
    pub superuser_only: bool,
    /// Already a LIKE pattern with wildcards escaped.
    pub search: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// Call `f` for every user matching `filter`, in order. `page: None` streams every row
/// from the server one at a time (constant memory).
pub fn for_each(
    conn: &mut PgConnection,
    filter: &Filter,
    sort: Sort,
    desc: bool,
    page: Option<Page>,
    mut f: impl FnMut(User) -> Result<()>,
) -> Result<()> {
    let mut q = users::table.select(User::as_select()).into_boxed();
    match filter.active {
        Some(true) => q = q.filter(users::is_active.eq(true)),
        Some(false) => q = q.filter(users::is_active.is_distinct_from(true)),
        None => {}
    }
    if filter.superuser_only {
        q = q.filter(users::is_superuser.eq(true));
    }
    if let Some(p) = &filter.search {
        q = q.filter(
            users::email
                .ilike(p.clone())
                .or(users::username.ilike(p.clone()))
                .or(users::full_name.ilike(p.clone()).assume_not_null()),
        );
    }
    // Each order is one an index reads as it is, forwards or (--desc) backwards, so a
    // page costs its rows, not a sort of every user: `stackctl_users_created_id` is
    // (created_at NULLS FIRST, id); email and username are unique, so their own unique
    // indexes give a total order and no id is needed to break ties.
    q = match (sort, desc) {
        (Sort::Created, false) => q.order((users::created_at.asc().nulls_first(), users::id.asc())),
        (Sort::Created, true) => q.order((users::created_at.desc().nulls_last(), users::id.desc())),
        (Sort::Email, false) => q.order(users::email.asc()),
        (Sort::Email, true) => q.order(users::email.desc()),
        (Sort::Username, false) => q.order(users::username.asc()),
        (Sort::Username, true) => q.order(users::username.desc()),
    };
    match page {
        Some(p) => {
            for u in q.limit(p.limit).offset(p.offset).load::<User>(conn)? {
                f(u)?;
            }
        }
        None => {
            for u in q.load_iter::<User, PgRowByRowLoadingMode>(conn)? {
                f(u?)?;
            }
        }
    }
    Ok(())
}
