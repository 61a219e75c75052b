//! `item import`: the item row a file gives (the columns an export writes), its checks,
//! and its owner, named by id, by email or both. The write is `write.rs`'s.

mod write;

pub use write::{import, Reach, Settings};

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::values::{flag, id, required, text, time, uuid, Column};
use crate::db::import::CopiedItem;
use crate::db::models::{double_of_price, ItemId};
use crate::db::shape::{ItemIds, Prices, Shape};
use crate::error::Error;
use crate::validate::{Description, Price, Title};

/// An item as an import file gives it: the columns `ItemView` exports, in its order.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ItemRow {
    pub id: Column,
    pub title: Column,
    pub description: Column,
    pub price: Column,
    pub is_available: Column,
    pub owner_id: Column,
    pub owner_email: Column,
    pub created_at: Column,
    pub updated_at: Column,
}

/// The owner columns of a row, parsed: what is still to be looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerIn {
    /// Both columns present and null: no owner.
    Nobody,
    Id(Uuid),
    /// The email as given (matched in any letter case).
    Email(String),
    Both(Uuid, String),
}

/// A row checked on its own, its owner and id still to be looked up.
pub struct ItemIn {
    /// The id the file gave, or a new UUID; `None` where the ids are integers and the file
    /// gave none: the next value of the column's sequence, drawn with the batch's lookups.
    pub id: Option<ItemId>,
    /// The file gave the id (a new one cannot exist already).
    pub id_given: bool,
    pub title: Title,
    pub description: Option<Description>,
    pub price: Option<Price>,
    pub available: Option<bool>,
    pub owner: OwnerIn,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

impl ItemRow {
    /// The row's own checks against the columns `shape` describes, the first failing one
    /// as the reason; absent times are `now`.
    pub fn check(self, now: DateTime<Utc>, shape: &Shape) -> Result<ItemIn, String> {
        let reason = |e: Error| e.message;
        let id_given = text(&self.id).is_some();
        let id = match (shape.item_ids, text(&self.id)) {
            (ItemIds::Uuid, _) => Some(ItemId::Uuid(id(&self.id)?)),
            (ItemIds::Integer, Some(v)) => Some(ItemId::Int(v.trim().parse().map_err(|_| {
                format!("id '{v}' is not an item id here (this database's item ids are integers)")
            })?)),
            (ItemIds::Integer, None) => None,
        };
        let title = Title::parse(required(&self.title, "title")?).map_err(reason)?;
        let description = match text(&self.description) {
            Some(d) => Some(Description::parse(d).map_err(reason)?),
            None => None,
        };
        let price = match &self.price {
            None => Some(Price::zero()),
            Some(None) => None,
            Some(Some(v)) => Some(Price::parse(v).map_err(reason)?),
        };
        if let (Prices::Double, Some(p)) = (shape.prices, &price) {
            if double_of_price(p.value()).is_none() {
                return Err(format!(
                    "price {} cannot be held to the cent by this database's price column (double precision)",
                    crate::db::models::format_price(p.value())
                ));
            }
        }
        let available = flag(&self.is_available, "is_available", true)?;
        let owner = self.owner()?;
        Ok(ItemIn {
            id,
            id_given,
            title,
            description,
            price,
            available,
            owner,
            created: time(&self.created_at, "created_at", now)?,
            updated: time(&self.updated_at, "updated_at", now)?,
        })
    }

    fn owner(&self) -> Result<OwnerIn, String> {
        let by_id = text(&self.owner_id)
            .map(|v| uuid("owner_id", v))
            .transpose()?;
        let by_email = text(&self.owner_email).map(str::to_string);
        match (by_id, by_email) {
            (Some(id), Some(email)) => Ok(OwnerIn::Both(id, email)),
            (Some(id), None) => Ok(OwnerIn::Id(id)),
            (None, Some(email)) => Ok(OwnerIn::Email(email)),
            (None, None) if self.owner_id.is_none() && self.owner_email.is_none() => {
                Err("owner_id or owner_email is required".into())
            }
            (None, None) => Ok(OwnerIn::Nobody),
        }
    }
}

impl ItemIn {
    /// The COPY row, with its id (`self.id`, else one drawn from the sequence) and owner
    /// looked up.
    pub fn copied(&self, id: ItemId, owner: Option<Uuid>) -> CopiedItem<'_> {
        CopiedItem {
            id,
            title: &self.title,
            description: self.description.as_ref(),
            price: self.price.as_ref(),
            owner_id: owner,
            is_available: self.available,
            created_at: self.created,
            updated_at: self.updated,
        }
    }
}

/// The owners and ids one batch of an import names, as the database has them.
#[derive(Default)]
pub struct Lookups {
    pub users: HashSet<Uuid>,
    /// By lower-case email: `None` where the email names several users.
    pub emails: HashMap<String, Option<Uuid>>,
    pub existing: HashSet<ItemId>,
    /// Integer ids drawn from the sequence for the batch's rows without one, in the order
    /// they are handed out (last first).
    pub drawn: Vec<i32>,
}

impl Lookups {
    /// The owner a row names, looked up: by id, by email, or both (which must agree).
    pub fn owner(&self, o: &OwnerIn) -> Result<Option<Uuid>, String> {
        match o {
            OwnerIn::Nobody => Ok(None),
            OwnerIn::Id(id) => self.by_id(id).map(Some),
            OwnerIn::Email(e) => self.by_email(e).map(Some),
            OwnerIn::Both(id, e) => {
                let (a, b) = (self.by_id(id)?, self.by_email(e)?);
                if a != b {
                    return Err("owner_id and owner_email name different users".into());
                }
                Ok(Some(a))
            }
        }
    }

    fn by_id(&self, id: &Uuid) -> Result<Uuid, String> {
        if self.users.contains(id) {
            Ok(*id)
        } else {
            Err(format!("owner_id {id} is not a user"))
        }
    }

    fn by_email(&self, email: &str) -> Result<Uuid, String> {
        match self.emails.get(&email.to_lowercase()) {
            Some(Some(id)) => Ok(*id),
            Some(None) => Err(format!(
                "owner_email '{email}' matches several users that differ only in letter case; use owner_id"
            )),
            None => Err(format!("owner_email '{email}' is not a user")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_reads_the_columns_an_export_writes() {
        assert_eq!(
            crate::import::columns::<ItemRow>(),
            crate::db::models::ItemView::COLUMNS
        );
    }

    #[test]
    fn owners_absent_null_or_given() {
        let row = |id: Column, email: Column| ItemRow {
            owner_id: id,
            owner_email: email,
            ..ItemRow::default()
        };
        assert_eq!(
            row(None, None).owner(),
            Err("owner_id or owner_email is required".into())
        );
        assert_eq!(row(Some(None), None).owner(), Ok(OwnerIn::Nobody));
        assert_eq!(
            row(None, Some(Some("A@x.com".into()))).owner(),
            Ok(OwnerIn::Email("A@x.com".into()))
        );
        assert!(row(Some(Some("nope".into())), None).owner().is_err());
    }
}

/// The row checks, owner lookups and COPY encoding on whatever the reader yields from any
/// file: no panic, and a refused row is a reason.
#[cfg(test)]
mod props {
    use super::*;
    use crate::import::reader::props::{cell, csv_of, read_all};
    use crate::import::{columns, Format};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases() / 3))]

        #[test]
        fn item_records_are_checked_without_panic(rows in prop::collection::vec(prop::collection::vec(cell(), 9), 1..4)) {
            let file = csv_of(columns::<ItemRow>(), &rows);
            let found = Lookups::default();
            let mut out = Vec::new();
            for r in read_all::<ItemRow>(&file, Format::Csv).expect("a CSV with a header").into_iter().flatten() {
                for shape in [Shape::default(), Shape { item_ids: ItemIds::Integer, prices: Prices::Double, ..Shape::default() }] {
                    let Ok(item) = ItemRow::check(r.row.clone(), Utc::now(), &shape) else { continue };
                    let id = item.id.unwrap_or(ItemId::Int(1));
                    if let Ok(owner) = found.owner(&item.owner) {
                        item.copied(id, owner).encode(crate::db::import::ItemCopy::Csv, &mut out);
                        item.copied(id, owner).encode(crate::db::import::ItemCopy::Binary, &mut out);
                    }
                }
            }
        }
    }
}
