//! Rows as Rust structs. `User` deliberately has no password hash: no query that loads
//! it can leak one.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Serialize, Serializer};
use uuid::Uuid;

use super::schema::{items, serial_items, users};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    /// Absent only where the schema allows it (the generated backend's).
    pub username: Option<String>,
    pub full_name: Option<String>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl User {
    /// How messages name the user: the username, else the email.
    pub fn name(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.email)
    }

    pub const COLUMNS: &'static [&'static str] = &[
        "id",
        "email",
        "username",
        "full_name",
        "is_active",
        "is_superuser",
        "created_at",
        "updated_at",
    ];
}

/// A new user. Every column is written here, since a database made by SQLAlchemy's
/// `create_all` has no server defaults.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub username: Option<&'a str>,
    pub hashed_password: &'a str,
    pub full_name: Option<&'a str>,
    pub is_active: bool,
    pub is_superuser: bool,
}

/// Changed user columns; `None` leaves a column alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub email: Option<&'a str>,
    pub username: Option<&'a str>,
    pub full_name: Option<Option<&'a str>>,
    pub is_superuser: Option<bool>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = items, check_for_backend(diesel::pg::Pg))]
pub struct Item {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub price: Option<BigDecimal>,
    pub owner_id: Option<Uuid>,
    pub is_available: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An item of the generated backend's table (`db::shape::ItemIds::Integer`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = serial_items, check_for_backend(diesel::pg::Pg))]
pub struct SerialItem {
    pub id: i32,
    pub title: String,
    pub description: Option<String>,
    pub price: Option<f64>,
    pub owner_id: Option<Uuid>,
    pub is_available: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An item's id as the column holds it: a UUID, or an integer (the generated backend's
/// serial). Output keeps the type: a string, or a number in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemId {
    Uuid(Uuid),
    Int(i32),
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ItemId::Uuid(u) => u.fmt(f),
            ItemId::Int(n) => n.fmt(f),
        }
    }
}

impl Serialize for ItemId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ItemId::Uuid(u) => u.serialize(s),
            ItemId::Int(n) => s.serialize_i32(*n),
        }
    }
}

/// A price read from a `double precision` column, as the cents it stands for (the column
/// was written from an exact decimal: `db::shape::Prices::Double`).
pub fn price_of_double(p: f64) -> Option<BigDecimal> {
    format!("{p:.2}").parse().ok()
}

/// The `double precision` a decimal price is written as, when that column holds it to the
/// cent (reads back as the same two places); else `None`.
pub fn double_of_price(p: &BigDecimal) -> Option<f64> {
    let text = format_price(p);
    let f: f64 = text.parse().ok()?;
    (f.is_finite() && format!("{f:.2}") == text).then_some(f)
}

/// An item as every output shows it: with its owner's email.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    pub id: ItemId,
    pub title: String,
    pub description: Option<String>,
    #[serde(serialize_with = "price_string")]
    pub price: Option<BigDecimal>,
    pub is_available: Option<bool>,
    pub owner_id: Option<Uuid>,
    pub owner_email: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl ItemView {
    pub const COLUMNS: &'static [&'static str] = &[
        "id",
        "title",
        "description",
        "price",
        "is_available",
        "owner_id",
        "owner_email",
        "created_at",
        "updated_at",
    ];
}

impl From<(SerialItem, Option<String>)> for ItemView {
    fn from((item, owner_email): (SerialItem, Option<String>)) -> Self {
        ItemView {
            id: ItemId::Int(item.id),
            title: item.title,
            description: item.description,
            price: item.price.and_then(price_of_double),
            is_available: item.is_available,
            owner_id: item.owner_id,
            owner_email,
            created_at: item.created_at,
            updated_at: item.updated_at,
        }
    }
}

impl From<(Item, Option<String>)> for ItemView {
    fn from((item, owner_email): (Item, Option<String>)) -> Self {
        ItemView {
            id: ItemId::Uuid(item.id),
            title: item.title,
            description: item.description,
            price: item.price,
            is_available: item.is_available,
            owner_id: item.owner_id,
            owner_email,
            created_at: item.created_at,
            updated_at: item.updated_at,
        }
    }
}

impl crate::output::CsvRecord for User {
    fn csv_fields(&self, f: &mut crate::output::Fields) {
        f.uuid(Some(&self.id));
        f.text(Some(&self.email));
        f.text(self.username.as_deref());
        f.text(self.full_name.as_deref());
        f.bool(self.is_active);
        f.bool(self.is_superuser);
        f.timestamp(self.created_at.as_ref());
        f.timestamp(self.updated_at.as_ref());
    }
}

impl crate::output::CsvRecord for ItemView {
    fn csv_fields(&self, f: &mut crate::output::Fields) {
        match &self.id {
            ItemId::Uuid(u) => f.uuid(Some(u)),
            ItemId::Int(n) => f.text(Some(&n.to_string())),
        }
        f.text(Some(&self.title));
        f.text(self.description.as_deref());
        match &self.price {
            Some(p) => f.text(Some(&format_price_fast(p))),
            None => f.text(None),
        }
        f.bool(self.is_available);
        f.uuid(self.owner_id.as_ref());
        f.text(self.owner_email.as_deref());
        f.timestamp(self.created_at.as_ref());
        f.timestamp(self.updated_at.as_ref());
    }
}

/// `format_price` without big-integer arithmetic for a price stored with at most two
/// places that fits an i64 (every price the schema's numeric allows in practice).
fn format_price_fast(p: &BigDecimal) -> std::borrow::Cow<'static, str> {
    let (int, scale) = p.as_bigint_and_scale();
    let cents = i64::try_from(int.as_ref()).ok().and_then(|v| match scale {
        0 => v.checked_mul(100),
        1 => v.checked_mul(10),
        2 => Some(v),
        _ => None,
    });
    match cents {
        Some(c) => {
            let sign = if c < 0 { "-" } else { "" };
            let a = c.unsigned_abs();
            format!("{sign}{}.{:02}", a / 100, a % 100).into()
        }
        None => format_price(p).into(),
    }
}

/// Prices are decimal strings with two places (`"12.50"`), never floats.
pub fn format_price(p: &BigDecimal) -> String {
    p.with_scale(2).to_plain_string()
}

fn price_string<S: Serializer>(p: &Option<BigDecimal>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_str(&format_price(p)),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = items)]
pub struct NewItem<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub price: &'a BigDecimal,
    pub owner_id: Uuid,
    pub is_available: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = items)]
pub struct ItemChanges<'a> {
    pub title: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    pub price: Option<&'a BigDecimal>,
    pub is_available: Option<bool>,
    pub owner_id: Option<Uuid>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = serial_items)]
pub struct NewSerialItem<'a> {
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub price: f64,
    pub owner_id: Uuid,
    pub is_available: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = serial_items)]
pub struct SerialItemChanges<'a> {
    pub title: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    pub price: Option<f64>,
    pub is_available: Option<bool>,
    pub owner_id: Option<Uuid>,
}

/// A user with the user's items (`user show`).
#[derive(Debug, Serialize)]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: User,
    pub items: Vec<ItemView>,
}
