//! The records of an import file, each read into the kind's named row: CSV with a header
//! (streamed), JSON objects one per line (streamed), or a JSON array (read whole). A bad
//! record is a line-numbered `RowError`; reading goes on after it where the format allows.

mod csv_rows;
mod json_rows;

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::input::{first_byte, BytesRead, Input};
use super::row::{self, Field, Numbered};
use super::{Format, RowError};
use crate::error::Result;
use csv_rows::CsvRows;
use json_rows::{JsonArray, JsonLines};

/// The rows `R` of one file.
pub struct Records<R> {
    columns: &'static [&'static str],
    source: Source,
    read: BytesRead,
    row: PhantomData<fn() -> R>,
}

/// A record before it is a row: its line and a field per known column, in `columns`'s order.
struct Fields {
    line: u64,
    fields: Vec<Field>,
}

type Next = Option<std::result::Result<Fields, RowError>>;

enum Source {
    Csv(CsvRows),
    Lines(JsonLines),
    Array(JsonArray),
}

impl<R: DeserializeOwned> Records<R> {
    pub fn new(input: Input, format: Format) -> Result<Records<R>> {
        let columns = row::columns::<R>();
        let read = input.bytes_read();
        let mut reader = input.reader;
        let source = match format {
            Format::Csv => Source::Csv(CsvRows::new(reader, &input.name, columns)?),
            Format::Json if first_byte(&mut reader)? == Some(b'[') => {
                Source::Array(JsonArray::new(reader)?)
            }
            Format::Json => Source::Lines(JsonLines::new(reader)),
        };
        Ok(Records {
            columns,
            source,
            read,
            row: PhantomData,
        })
    }

    /// How many bytes of the file have been read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read.get()
    }
}

impl<R: DeserializeOwned> Iterator for Records<R> {
    type Item = std::result::Result<Numbered<R>, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match &mut self.source {
            Source::Csv(s) => s.next(self.columns.len()),
            Source::Lines(s) => s.next(self.columns),
            Source::Array(s) => s.next(self.columns),
        };
        Some(next?.and_then(|Fields { line, fields }| {
            row::into_row(self.columns, fields)
                .map(|row| Numbered { line, row })
                .map_err(|reason| RowError { line, reason })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::values::Column;

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(default)]
    struct Row {
        id: Column,
        title: Column,
        price: Column,
    }

    type Read = Vec<std::result::Result<Numbered<Row>, RowError>>;

    fn records(text: &str, format: Format) -> Read {
        let input = Input::from_reader(
            "in".into(),
            None,
            Box::new(std::io::Cursor::new(text.to_string())),
        );
        Records::new(input, format).unwrap().collect()
    }

    fn text(v: &str) -> Column {
        Some(Some(v.into()))
    }

    #[test]
    fn csv_empty_is_null_and_missing_columns_are_absent() {
        let r = records("title,price\nLamp,\n\"Desk, big\",3\n", Format::Csv);
        let a = r[0].as_ref().unwrap();
        assert_eq!(a.line, 2);
        assert_eq!(
            a.row,
            Row {
                id: None,
                title: text("Lamp"),
                price: Some(None),
            }
        );
        let b = r[1].as_ref().unwrap();
        assert_eq!(b.row.title, text("Desk, big"));
        assert_eq!(b.line, 3);
    }

    #[test]
    fn json_array_and_lines_report_line_numbers() {
        let r = records(
            "[\n {\"title\": \"a\"},\n {\"title\": null,\n  \"price\": 2.5},\n 7\n]",
            Format::Json,
        );
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].as_ref().unwrap().line, 2);
        let second = r[1].as_ref().unwrap();
        assert_eq!(second.line, 3);
        assert_eq!(
            second.row,
            Row {
                id: None,
                title: Some(None),
                price: text("2.5"),
            }
        );
        assert_eq!(r[2].as_ref().unwrap_err().line, 5);

        let r = records("{\"title\": \"a\"}\n\n{\"nope\": 1}\n{bad\n", Format::Json);
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].as_ref().unwrap_err().line, 3);
        assert!(r[1]
            .as_ref()
            .unwrap_err()
            .reason
            .contains("unknown field 'nope'"));
        assert_eq!(r[2].as_ref().unwrap_err().line, 4);
    }

    #[test]
    fn unknown_csv_columns_are_refused_up_front() {
        let input = Input::from_reader(
            "in.csv".into(),
            None,
            Box::new(std::io::Cursor::new("title,colour\nx,red\n")),
        );
        let err = Records::<Row>::new(input, Format::Csv).err().unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message.contains("colour"));
        assert_eq!(err.hint.as_deref(), Some("known columns: id, title, price"));
    }
}

/// The reader on any input: no panic, and a bad record is a line-numbered error.
/// `fuzz/fuzz_targets/import.rs` runs the same on a fuzzer's input; `PROPTEST_CASES`
/// scales this up.
#[cfg(test)]
pub(crate) mod props {
    use super::*;
    use crate::import::users::UserRow;
    use proptest::prelude::*;

    /// Every record the reader yields from `bytes`, or the file-level error.
    pub(crate) fn read_all<R: DeserializeOwned>(
        bytes: &[u8],
        format: Format,
    ) -> Result<Vec<std::result::Result<Numbered<R>, RowError>>> {
        let input = Input::from_reader(
            "in".into(),
            None,
            Box::new(std::io::Cursor::new(bytes.to_vec())),
        );
        Ok(Records::new(input, format)?.collect())
    }

    /// A CSV field: plain words, emails, hash-like text, numbers, anything.
    pub(crate) fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9@._ -]{0,12}",
            "[a-z]{1,8}@[a-z]{1,8}\\.com",
            "\\$2[aby]\\$[0-9€é]{1,3}\\$[./A-Za-z0-9€]{50,56}",
            "-?[0-9]{0,9}(\\.[0-9]{0,3})?",
            any::<String>(),
        ]
    }

    /// A CSV file of `rows` under a header of `columns`.
    pub(crate) fn csv_of(columns: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(columns).expect("in memory");
        for r in rows {
            let mut r = r.clone();
            r.resize(columns.len(), String::new());
            w.write_record(&r).expect("in memory");
        }
        w.into_inner().expect("in memory")
    }

    /// Text that looks enough like an import file to reach past the header.
    fn file_like() -> impl Strategy<Value = Vec<u8>> {
        let cell = prop_oneof![
            "[a-z0-9@._ -]{0,12}",
            "\\$2b\\$[0-9€é]{0,3}\\$[./A-Za-z0-9€]{0,60}",
            any::<String>(),
            Just("\"".to_string()),
            Just("null".to_string()),
        ];
        prop_oneof![
            prop::collection::vec(prop::collection::vec(cell.clone(), 1..5), 0..6).prop_map(
                |rows| {
                    let mut out = String::from("email,username,hashed_password\n");
                    for r in rows {
                        out.push_str(&r.join(","));
                        out.push('\n');
                    }
                    out.into_bytes()
                }
            ),
            prop::collection::vec(("[a-z_]{1,16}", cell), 0..6).prop_map(|kv| {
                let obj: Vec<String> = kv.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
                format!("[{{{}}}, 1, null, \"x\"]", obj.join(", ")).into_bytes()
            }),
            any::<Vec<u8>>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases() / 3))]

        #[test]
        fn any_file_reads_without_panic(bytes in file_like(), json in any::<bool>()) {
            let format = if json { Format::Json } else { Format::Csv };
            if let Ok(records) = read_all::<UserRow>(&bytes, format) {
                for r in records {
                    if let Err(e) = r {
                        prop_assert!(!e.reason.is_empty());
                    }
                }
            }
        }
    }
}
