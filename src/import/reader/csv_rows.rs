//! CSV with a header: the header is checked against the kind's columns up front; each
//! record becomes a field per known column (an empty field is null).

use super::{Fields, Next, RowError};
use crate::error::{Error, Result};
use crate::import::input::Reader;
use crate::import::row::Field;

/// CSV with a header naming known columns, in any order and any subset.
pub(super) struct CsvRows {
    reader: csv::Reader<Reader>,
    /// For each CSV column, the index of the known column.
    map: Vec<usize>,
    record: csv::StringRecord,
    /// An I/O error ended the file: reported once.
    done: bool,
}

impl CsvRows {
    pub(super) fn new(reader: Reader, name: &str, columns: &[&str]) -> Result<CsvRows> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(reader);
        let header = csv
            .headers()
            .map_err(|e| Error::usage(format!("{name}: {}", csv_reason(&e))))?;
        let mut map = Vec::with_capacity(header.len());
        for h in header.iter() {
            let h = h.trim().trim_start_matches('\u{feff}');
            let Some(idx) = columns.iter().position(|c| *c == h) else {
                return Err(
                    Error::usage(format!("{name}: unknown column '{h}' in the header"))
                        .with_hint(format!("known columns: {}", columns.join(", "))),
                );
            };
            if map.contains(&idx) {
                return Err(Error::usage(format!(
                    "{name}: column '{h}' appears twice in the header"
                )));
            }
            map.push(idx);
        }
        Ok(CsvRows {
            reader: csv,
            map,
            record: csv::StringRecord::new(),
            done: false,
        })
    }

    pub(super) fn next(&mut self, width: usize) -> Next {
        if self.done {
            return None;
        }
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                let mut fields = vec![Field::Absent; width];
                for (value, idx) in self.record.iter().zip(&self.map) {
                    fields[*idx] = if value.is_empty() {
                        Field::Null
                    } else {
                        Field::Value(value.to_string())
                    };
                }
                Some(Ok(Fields { line, fields }))
            }
            Err(e) => {
                self.done = !matches!(
                    e.kind(),
                    csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                );
                Some(Err(RowError {
                    line: e.position().map_or(0, |p| p.line()),
                    reason: csv_reason(&e),
                }))
            }
        }
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "it is not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => e.to_string(),
    }
}
