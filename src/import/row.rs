//! From the reader's fields to the kind's named row: a record is a map from column name to
//! field, deserialized by serde into a struct of `Option<Option<String>>` (absent: `None`,
//! null: `Some(None)`), and the columns a kind knows are that struct's own field names.

use serde::de::value::{Error as DeError, MapDeserializer};
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};

/// One column of a record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Field {
    Absent,
    Null,
    Value(String),
}

/// A row and the line of the file it starts on.
#[derive(Debug)]
pub struct Numbered<R> {
    pub line: u64,
    pub row: R,
}

/// The columns of a row type, in the order it declares them: the names serde's derive
/// gives `deserialize_struct`, so a column list cannot drift from the struct.
pub fn columns<R: DeserializeOwned>() -> &'static [&'static str] {
    let mut names = Names(&[]);
    // The derive hands over its field names, then gets an error: no row is made.
    let _ = R::deserialize(&mut names);
    names.0
}

struct Names(&'static [&'static str]);

const ONLY_NAMES: &str = "only the field names of a struct are read";

impl<'de> Deserializer<'de> for &mut Names {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(de::Error::custom(ONLY_NAMES))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, DeError> {
        self.0 = fields;
        Err(de::Error::custom(ONLY_NAMES))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A record's fields, one per column of `columns` in that order, as the row `R`; absent
/// fields are left out of the map, so `R`'s `#[serde(default)]` makes them `None`.
pub(super) fn into_row<R: DeserializeOwned>(
    columns: &'static [&'static str],
    fields: Vec<Field>,
) -> Result<R, String> {
    let present = columns
        .iter()
        .copied()
        .zip(fields)
        .filter(|(_, f)| *f != Field::Absent)
        .map(|(c, f)| (c, Present(f)));
    R::deserialize(MapDeserializer::<_, DeError>::new(present)).map_err(|e| e.to_string())
}

/// A field that is in the record: `Some` of what `Nullable` makes of it.
struct Present(Field);

/// A present field: null is `None`, text is `Some`.
struct Nullable(Field);

impl<'de> IntoDeserializer<'de, DeError> for Present {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Present {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        Nullable(self.0).deserialize_any(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_some(Nullable(self.0))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

impl<'de> Deserializer<'de> for Nullable {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Field::Value(s) => v.visit_string(s),
            Field::Absent | Field::Null => v.visit_unit(),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            Field::Value(s) => v.visit_some(s.into_deserializer()),
            Field::Absent | Field::Null => v.visit_none(),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(default)]
    struct Row {
        id: Option<Option<String>>,
        title: Option<Option<String>>,
        price: Option<Option<String>>,
    }

    #[test]
    fn absent_null_and_text_stay_apart() {
        assert_eq!(columns::<Row>(), ["id", "title", "price"]);
        let row: Row = into_row(
            columns::<Row>(),
            vec![Field::Absent, Field::Null, Field::Value("2.5".into())],
        )
        .unwrap();
        assert_eq!(
            row,
            Row {
                id: None,
                title: Some(None),
                price: Some(Some("2.5".into())),
            }
        );
    }
}
