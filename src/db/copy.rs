//! `COPY ... FROM STDIN (FORMAT csv)` as stackctl writes it: every text quoted (so an empty
//! string stays one), NULL an empty unquoted field, other values in PostgreSQL's input
//! syntax. The column order is the COPY's target list, which `db::import` keeps beside the
//! row structs it encodes.

use std::cell::Cell;
use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use super::models::ItemId;
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

impl CopyValue for ItemId {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ItemId::Uuid(u) => u.encode(out),
            ItemId::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        }
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

/// A value both COPY formats carry (CSV here, binary in `binary`).
pub trait Value: CopyValue + binary::Field {}

impl<T: CopyValue + binary::Field + ?Sized> Value for T {}

/// Append one line: `fields` in the COPY's column order.
pub fn line<V: CopyValue + ?Sized>(out: &mut Vec<u8>, fields: &[&V]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        f.encode(out);
    }
    out.push(b'\n');
}

/// `COPY ... FROM STDIN (FORMAT binary)`: each value in its type's send form, as the
/// server's receive functions read it, so the server parses no text. Used for the item
/// import, whose rows the server otherwise spent a tenth of its time parsing (`perf` of a
/// 1M-row import: `NextCopyFrom` 5 % of the samples beside `CopyFrom`'s 58 %). Only for
/// columns of exactly the types encoded here: a value sent as another type's bytes could
/// be read as that type, so callers check the column types first.
pub mod binary {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use crate::db::models::ItemId;
    use crate::validate::Price;

    /// The signature, no flags, no header extension.
    pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
    /// A field count of -1 ends the data.
    pub const TRAILER: &[u8] = &[0xff, 0xff];

    /// PostgreSQL's epoch, 2000-01-01 00:00:00 UTC, in Unix microseconds.
    const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

    /// A value as one field: its length, then its bytes.
    pub trait Field {
        fn put(&self, out: &mut Vec<u8>);
    }

    /// A field's bytes after their length. Every value stackctl copies is checked to fit
    /// PostgreSQL's 1 GB bound for a value first (`validate::fits_a_value`), well inside
    /// the format's 2 GiB.
    fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
        let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
    }

    /// text and varchar: the UTF-8 bytes (the session's encoding).
    impl Field for str {
        fn put(&self, out: &mut Vec<u8>) {
            put_bytes(out, self.as_bytes());
        }
    }

    impl Field for Uuid {
        fn put(&self, out: &mut Vec<u8>) {
            put_bytes(out, self.as_bytes());
        }
    }

    /// uuid, or int4 (integer ids only ever travel in CSV: `db::import::item_copy_format`).
    impl Field for ItemId {
        fn put(&self, out: &mut Vec<u8>) {
            match self {
                ItemId::Uuid(u) => u.put(out),
                ItemId::Int(n) => put_bytes(out, &n.to_be_bytes()),
            }
        }
    }

    impl Field for bool {
        fn put(&self, out: &mut Vec<u8>) {
            put_bytes(out, &[u8::from(*self)]);
        }
    }

    /// timestamptz: microseconds since PostgreSQL's epoch. Only years 1 to 9999 get here
    /// (`import::values::parse_time`), which both formats carry.
    impl Field for DateTime<Utc> {
        fn put(&self, out: &mut Vec<u8>) {
            put_bytes(out, &pg_micros(self).to_be_bytes());
        }
    }

    /// A time in PostgreSQL's microseconds, rounded as the server rounds a time given as
    /// text: `rint(strtod(fraction) * 1e6)`, in doubles, so a tie in decimal may go either
    /// way (`.0001255` is 125 µs, `.0001265` is 127). The nanoseconds over 1e9 are the
    /// double `strtod` gives for the nine digits stackctl's CSV sends.
    pub(crate) fn pg_micros(t: &DateTime<Utc>) -> i64 {
        let fraction = f64::from(t.timestamp_subsec_nanos()) / 1e9;
        // At most 1e6 (a leap second is folded into the next minute before this).
        let micros = (fraction * 1e6).round_ties_even() as i64;
        t.timestamp()
            .saturating_mul(1_000_000)
            .saturating_add(micros)
            .saturating_sub(PG_EPOCH_MICROS)
    }

    /// numeric: base-10000 digits, most significant first, with the weight of the first
    /// (its power of 10000), a sign and a display scale of two places.
    impl Field for Price {
        fn put(&self, out: &mut Vec<u8>) {
            let cents = self.cents();
            // At most 99,999,999: two digits before the point; one after (the cents as
            // hundredths of 10000).
            let mut digits = [0u16; 4];
            let mut n = 0;
            let mut whole = cents / 100;
            while whole > 0 && n < 3 {
                digits[n] = (whole % 10_000) as u16;
                whole /= 10_000;
                n += 1;
            }
            digits[..n].reverse();
            let weight = n as i16 - 1;
            digits[n] = (cents % 100) as u16 * 100;
            let digits = &digits[..=n];
            let mut bytes = Vec::with_capacity(8 + 2 * digits.len());
            bytes.extend_from_slice(&(digits.len() as i16).to_be_bytes());
            bytes.extend_from_slice(&weight.to_be_bytes());
            bytes.extend_from_slice(&0u16.to_be_bytes()); // positive
            bytes.extend_from_slice(&2u16.to_be_bytes()); // display scale
            for d in digits {
                bytes.extend_from_slice(&d.to_be_bytes());
            }
            put_bytes(out, &bytes);
        }
    }

    /// NULL: a length of -1 and no bytes.
    impl<T: Field> Field for Option<T> {
        fn put(&self, out: &mut Vec<u8>) {
            match self {
                Some(v) => v.put(out),
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
    }

    impl<T: Field + ?Sized> Field for &T {
        fn put(&self, out: &mut Vec<u8>) {
            (**self).put(out);
        }
    }

    /// Append one row: `fields` in the COPY's column order.
    pub fn row<V: Field + ?Sized>(out: &mut Vec<u8>, fields: &[&V]) {
        let count = i16::try_from(fields.len()).unwrap_or(i16::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for f in fields {
            f.put(out);
        }
    }
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
    fn binary_fields_are_the_send_forms() {
        let price = |raw: &str| {
            let mut out = Vec::new();
            binary::Field::put(&Price::parse(raw).unwrap(), &mut out);
            out
        };
        // len 10: 1 digit, weight -1, positive, scale 2, 0.45 = 4500 / 10000.
        assert_eq!(
            price("0.45"),
            [0, 0, 0, 10, 0, 1, 255, 255, 0, 0, 0, 2, 0x11, 0x94]
        );
        // 12345678.9 = 1234 5678 . 9000, weight 1.
        assert_eq!(
            price("12345678.9"),
            [0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 2, 0x04, 0xd2, 0x16, 0x2e, 0x23, 0x28]
        );
        // 0: a zero digit after the point, weight -1.
        assert_eq!(price("0"), [0, 0, 0, 10, 0, 1, 255, 255, 0, 0, 0, 2, 0, 0]);
        // As the server reads these times as text (checked with a cast to timestamptz).
        let time = |raw: &str| raw.parse::<DateTime<Utc>>().unwrap();
        for (raw, micros) in [
            ("2000-01-01T00:00:01.0000005Z", 1_000_000),
            ("2000-01-01T00:00:01.0000015Z", 1_000_002),
            ("2000-01-01T00:00:01.0000025Z", 1_000_002),
            ("2000-01-01T00:00:01.123456499Z", 1_123_456),
            ("2000-01-01T00:00:00.0001255Z", 125),
            ("2000-01-01T00:00:00.0001265Z", 127),
            ("1999-12-31T23:59:59.9999995Z", 0),
            ("1970-01-01T00:00:00Z", -946_684_800_000_000),
        ] {
            assert_eq!(binary::pg_micros(&time(raw)), micros, "{raw}");
        }
        let mut out = Vec::new();
        let t = time("2000-01-01T00:00:01.000001Z");
        binary::row::<dyn binary::Field>(&mut out, &[&t, &None::<&str>, &Some(true), &"é"]);
        assert_eq!(
            out,
            [
                0, 4, // fields
                0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x41, // 1,000,001 µs
                255, 255, 255, 255, // NULL
                0, 0, 0, 1, 1, // true
                0, 0, 0, 2, 0xc3, 0xa9, // UTF-8
            ]
        );
    }

    #[test]
    fn text_is_quoted_and_null_is_empty() {
        let mut out = Vec::new();
        let none: Option<&str> = None;
        line::<dyn CopyValue>(&mut out, &[&"a \"b\", c", &none, &Some(true), &7u64]);
        assert_eq!(out, b"\"a \"\"b\"\", c\",,t,7\n");
    }
}
