//! The fast path of CSV exports: a row type that knows its own text writes its fields
//! into one reusable buffer (`Fields`), byte for byte what its `Serialize` gives.

use serde::Serialize;

/// One CSV record's fields, formatted into one reusable buffer: a row type that knows its
/// own text (`CsvRecord`) fills it without the allocations serde's path makes per field.
#[derive(Debug, Default)]
pub struct Fields {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Fields {
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    fn end(&mut self) {
        self.ends.push(self.buf.len());
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let field = &self.buf[start..end];
            start = end;
            field
        })
    }

    /// A text field; `None` is the empty field, as serde's CSV gives.
    pub fn text(&mut self, v: Option<&str>) {
        if let Some(v) = v {
            self.buf.extend_from_slice(v.as_bytes());
        }
        self.end();
    }

    pub fn uuid(&mut self, v: Option<&uuid::Uuid>) {
        if let Some(v) = v {
            let mut tmp = [0u8; uuid::fmt::Hyphenated::LENGTH];
            self.buf
                .extend_from_slice(v.hyphenated().encode_lower(&mut tmp).as_bytes());
        }
        self.end();
    }

    pub fn bool(&mut self, v: Option<bool>) {
        self.text(v.map(|b| if b { "true" } else { "false" }));
    }

    /// A timestamp as chrono's serde writes it (RFC 3339, `Z`, as many fractional digits
    /// as needed: none, 3, 6 or 9), digit by digit for the years 0 to 9999; chrono
    /// itself formats the rest (and leap seconds).
    pub fn timestamp(&mut self, v: Option<&chrono::DateTime<chrono::Utc>>) {
        use chrono::{Datelike, Timelike};
        if let Some(v) = v {
            let (year, nanos) = (v.year(), v.nanosecond());
            if (0..=9999).contains(&year) && nanos < 1_000_000_000 {
                let two = |b: &mut Vec<u8>, n: u32| {
                    b.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8])
                };
                let y = year as u32;
                two(&mut self.buf, y / 100);
                two(&mut self.buf, y % 100);
                self.buf.push(b'-');
                two(&mut self.buf, v.month());
                self.buf.push(b'-');
                two(&mut self.buf, v.day());
                self.buf.push(b'T');
                two(&mut self.buf, v.hour());
                self.buf.push(b':');
                two(&mut self.buf, v.minute());
                self.buf.push(b':');
                two(&mut self.buf, v.second());
                let (digits, value) = if nanos == 0 {
                    (0, 0)
                } else if nanos % 1_000_000 == 0 {
                    (3, nanos / 1_000_000)
                } else if nanos % 1_000 == 0 {
                    (6, nanos / 1_000)
                } else {
                    (9, nanos)
                };
                if digits > 0 {
                    self.buf.push(b'.');
                    let mut tmp = [b'0'; 9];
                    let mut rest = value;
                    for d in tmp[..digits].iter_mut().rev() {
                        *d = b'0' + (rest % 10) as u8;
                        rest /= 10;
                    }
                    self.buf.extend_from_slice(&tmp[..digits]);
                }
                self.buf.push(b'Z');
            } else {
                self.buf.extend_from_slice(
                    v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                        .as_bytes(),
                );
            }
        }
        self.end();
    }
}

/// A row that writes its own CSV fields: the very text its `Serialize` gives in CSV (a
/// test of each implementation holds the two together), for exports of millions of rows.
pub trait CsvRecord: Serialize {
    fn csv_fields(&self, fields: &mut Fields);
}
