//! `COPY ... FROM STDIN (FORMAT csv)` as stackctl writes it: every text quoted (so an empty
//! string stays one), NULL an empty unquoted field, other values in PostgreSQL's input
//! syntax. The column order is the COPY's target list, which `db::import` keeps beside the
//! row structs it encodes.

use std::cell::Cell;
use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use crate::validate::Price;

/// A value as one field of a COPY CSV line.
pub trait CopyValue {
    fn encode(&self, out: &mut Vec<u8>);
}

impl CopyValue for str {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        for b in self.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    }
}

impl CopyValue for Uuid {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            self.hyphenated()
                .encode_lower(&mut Uuid::encode_buffer())
                .as_bytes(),
        );
    }
}

impl CopyValue for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(if *self { b't' } else { b'f' });
    }
}

impl CopyValue for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_string().as_bytes());
    }
}

impl CopyValue for DateTime<Utc> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
    }
}

impl CopyValue for Price {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(super::models::format_price(self.value()).as_bytes());
    }
}

/// NULL: nothing between the commas.
impl<T: CopyValue> CopyValue for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        if let Some(v) = self {
            v.encode(out);
        }
    }
}

impl<T: CopyValue + ?Sized> CopyValue for &T {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

/// Append one line: `fields` in the COPY's column order.
pub fn line(out: &mut Vec<u8>, fields: &[&dyn CopyValue]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        f.encode(out);
    }
    out.push(b'\n');
}

/// diesel calls a COPY's writer once but takes it as `Fn`; this takes an `FnOnce`, so the
/// writer may hold its caller's `&mut` state (the reader, the bad rows) plainly.
pub fn once<E>(
    write: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> impl Fn(&mut dyn Write) -> Result<(), E> {
    let write = Cell::new(Some(write));
    move |w| match write.take() {
        Some(f) => f(w),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_quoted_and_null_is_empty() {
        let mut out = Vec::new();
        let none: Option<&str> = None;
        line(&mut out, &[&"a \"b\", c", &none, &Some(true), &7u64]);
        assert_eq!(out, b"\"a \"\"b\"\", c\",,t,7\n");
    }
}
