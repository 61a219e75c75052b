//! One renderer for table, JSON and CSV, so the keys cannot drift between formats.
//! Rows are `Serialize` structs; lists stream row by row.

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;
use serde_json::Value;

use crate::cli::OutputFormat;
use crate::error::{Error, Result};

/// Rows per table when a table listing streams (`--all`): each chunk is its own table,
/// so memory stays constant.
const TABLE_CHUNK: usize = 1000;

/// The CSV writer's buffer (csv's own default is 8 KiB).
const CSV_BUFFER: usize = 64 * 1024;

fn to_object<T: Serialize>(row: &T) -> Result<serde_json::Map<String, Value>> {
    match serde_json::to_value(row)? {
        Value::Object(m) => Ok(m),
        other => Err(Error::failure(format!("cannot render {other} as a row"))),
    }
}

/// A cell's text: absent values are empty, nested values are JSON.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
    }
}

/// Text bound for a terminal with every control character (C0 but newline, DEL, C1) and
/// every bidirectional override shown escaped (`\x1b`, `\u{202e}`): a value the
/// application stored must not retitle the window, clear the screen or set the clipboard.
/// Tables and messages go through this; JSON escapes on its own and CSV stays exact.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A table cell: `cell`, made safe for a terminal.
fn table_cell(v: Option<&Value>) -> String {
    terminal_safe(&cell(v)).into_owned()
}

/// One CSV record's fields, formatted into one reusable buffer: a row type that knows its
/// own text (`CsvRecord`) fills it without the allocations serde's path makes per field.
#[derive(Debug, Default)]
pub struct Fields {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Fields {
    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    fn end(&mut self) {
        self.ends.push(self.buf.len());
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
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

fn new_table(columns: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().copied());
    t
}

enum Sink<W: Write> {
    Plain(W),
    Csv(Box<csv::Writer<W>>),
}

/// Writes a list of rows in one format, one row at a time.
pub struct ListWriter<W: Write> {
    format: OutputFormat,
    columns: &'static [&'static str],
    sink: Sink<W>,
    count: usize,
    table: Vec<Vec<String>>,
    /// Rows are flat structs whose fields are `columns`, in order: CSV is written by
    /// serialising them directly, without building a JSON value per row.
    flat: bool,
    fields: Fields,
}

impl<W: Write> ListWriter<W> {
    pub fn new(format: OutputFormat, columns: &'static [&'static str], out: W) -> Self {
        let sink = match format {
            // Headers come from `columns`, never from serde field names.
            OutputFormat::Csv => Sink::Csv(Box::new(
                csv::WriterBuilder::new()
                    .has_headers(false)
                    // 64 KiB per write(2) instead of 8: a 10-million-row export makes
                    // a quarter of a million fewer system calls.
                    .buffer_capacity(CSV_BUFFER)
                    .from_writer(out),
            )),
            _ => Sink::Plain(out),
        };
        ListWriter {
            format,
            columns,
            sink,
            count: 0,
            table: Vec::new(),
            flat: false,
            fields: Fields::default(),
        }
    }

    /// A row that knows its CSV text: written from its own fields in CSV, like `row`
    /// in the other formats.
    pub fn record<T: CsvRecord>(&mut self, row: &T) -> Result<()> {
        let Sink::Csv(w) = &mut self.sink else {
            return self.row(row);
        };
        if self.count == 0 {
            w.write_record(self.columns)?;
        }
        self.fields.clear();
        row.csv_fields(&mut self.fields);
        w.write_record(self.fields.iter())?;
        self.count += 1;
        Ok(())
    }

    /// Declare rows flat (every field a scalar, fields in the order of `columns`): the
    /// fast path for streaming CSV exports. Same bytes as the general path.
    pub fn flat(mut self) -> Self {
        self.flat = true;
        self
    }

    pub fn row<T: Serialize>(&mut self, row: &T) -> Result<()> {
        match &mut self.sink {
            Sink::Plain(out) if self.format == OutputFormat::Json => {
                out.write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, row)?;
            }
            Sink::Plain(_) => {
                let obj = to_object(row)?;
                self.table.push(
                    self.columns
                        .iter()
                        .map(|c| table_cell(obj.get(*c)))
                        .collect(),
                );
                if self.table.len() >= TABLE_CHUNK {
                    self.flush_table()?;
                }
            }
            Sink::Csv(w) => {
                if self.count == 0 {
                    w.write_record(self.columns)?;
                }
                if self.flat {
                    w.serialize(row)?;
                    self.count += 1;
                    return Ok(());
                }
                let obj = to_object(row)?;
                w.write_record(self.columns.iter().map(|c| cell(obj.get(*c))))?;
            }
        }
        self.count += 1;
        Ok(())
    }

    fn flush_table(&mut self) -> Result<()> {
        let mut t = new_table(self.columns);
        for r in self.table.drain(..) {
            t.add_row(r);
        }
        if let Sink::Plain(out) = &mut self.sink {
            writeln!(out, "{t}")?;
        }
        Ok(())
    }

    /// Close the list; returns how many rows were written.
    pub fn finish(mut self) -> Result<usize> {
        if self.format == OutputFormat::Table && (!self.table.is_empty() || self.count == 0) {
            self.flush_table()?;
        }
        match &mut self.sink {
            Sink::Plain(out) => {
                if self.format == OutputFormat::Json {
                    out.write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
                }
                out.flush()?;
            }
            Sink::Csv(w) => {
                if self.count == 0 {
                    w.write_record(self.columns)?;
                }
                w.flush()?;
            }
        }
        Ok(self.count)
    }
}

/// Render one object (add, show, update).
pub fn render_one<T: Serialize>(
    format: OutputFormat,
    columns: &[&str],
    row: &T,
    out: &mut impl Write,
) -> Result<()> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, row)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let obj = to_object(row)?;
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(columns)?;
            w.write_record(columns.iter().map(|c| cell(obj.get(*c))))?;
            w.flush()?;
        }
        OutputFormat::Table => {
            let obj = to_object(row)?;
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            let mut nested = Vec::new();
            for c in columns {
                match obj.get(*c) {
                    Some(Value::Array(a)) => nested.push((*c, a)),
                    v => {
                        t.add_row(vec![c.to_string(), table_cell(v)]);
                    }
                }
            }
            for (k, v) in &obj {
                if k == "password" {
                    t.add_row(vec![k.clone(), table_cell(Some(v))]);
                }
            }
            writeln!(out, "{t}")?;
            for (name, rows) in nested {
                writeln!(out, "{name}: {}", rows.len())?;
                let cols: Vec<String> = rows
                    .first()
                    .and_then(|r| r.as_object())
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                if cols.is_empty() {
                    continue;
                }
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED).set_header(cols.clone());
                for r in rows {
                    t.add_row(
                        cols.iter()
                            .map(|c| table_cell(r.get(c)))
                            .collect::<Vec<_>>(),
                    );
                }
                writeln!(out, "{t}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bigdecimal::BigDecimal;

    #[test]
    fn terminal_safe_escapes_controls_but_newline() {
        assert_eq!(terminal_safe("plain\ntext"), "plain\ntext");
        assert_eq!(
            terminal_safe("\u{1b}]0;t\u{7}|\u{9b}|\u{7f}|a\u{202e}b|\t"),
            "\\x1b]0;t\\x07|\\x9b|\\x7f|a\\u{202e}b|\\x09"
        );
    }
    use crate::db::models::User;

    fn csv_of(users: &[User], flat: bool) -> String {
        let mut buf = Vec::new();
        {
            let mut w = ListWriter::new(OutputFormat::Csv, User::COLUMNS, &mut buf);
            if flat {
                w = w.flat();
            }
            for u in users {
                w.row(u).unwrap();
            }
            w.finish().unwrap();
        }
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn item_csv_record_is_byte_for_byte_the_serde_csv() {
        use crate::db::models::ItemView;
        use std::str::FromStr;
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        let times = [
            "2026-11-22T10:00:00Z",
            "2026-11-22T10:00:00.120Z",
            "2026-11-22T10:00:00.000120Z",
            "2026-11-22T10:00:00.000000120Z",
            "2026-11-22T10:00:00.999999999Z",
            "0001-01-01T00:00:00.5Z",
            "9999-12-31T23:59:59.123456Z",
            "2016-12-31T23:59:60.25Z",
            "1969-07-20T20:17:40+02:00",
        ];
        let prices = [
            "0",
            "0.00",
            "12.5",
            "12.50",
            "1843",
            "-0.05",
            "-12.3",
            "99999999.99",
            "0.001",
            "1.239",
            "123456789012345678901234567890.12",
            "-7",
        ];
        let mut items = Vec::new();
        for (n, t) in times.iter().enumerate() {
            for (m, p) in prices.iter().enumerate() {
                let some = (n + m) % 3 != 0;
                items.push(ItemView {
                    id: uuid::Uuid::new_v4(),
                    title: ["plain", "a,b", "q\"uote", "line\nbreak", "", " sp "][m % 6].into(),
                    description: some.then(|| ["x", "", "#y", "\r"][n % 4].to_string()),
                    price: (m % 5 != 4).then(|| BigDecimal::from_str(p).unwrap()),
                    is_available: [None, Some(true), Some(false)][(n + m) % 3],
                    owner_id: some.then(uuid::Uuid::new_v4),
                    owner_email: some.then(|| "o,e@example.com".to_string()),
                    created_at: Some(at(t)),
                    updated_at: some.then(|| at(times[(n + m) % times.len()])),
                });
            }
        }
        let write = |fast: bool| {
            let mut buf = Vec::new();
            let mut w = ListWriter::new(OutputFormat::Csv, ItemView::COLUMNS, &mut buf);
            for i in &items {
                if fast {
                    w.record(i).unwrap();
                } else {
                    w.row(i).unwrap();
                }
            }
            w.finish().unwrap();
            String::from_utf8(buf).unwrap()
        };
        let general = write(false);
        assert_eq!(write(true), general);
        assert!(general.contains(",-0.05,"), "{general}");
        assert!(general.contains("2016-12-31T23:59:60.250Z"), "{general}");
    }

    #[test]
    fn flat_csv_is_byte_for_byte_the_general_csv() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00.120Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mk = |name: Option<&str>, active: Option<bool>| User {
            id: uuid::Uuid::new_v4(),
            email: "a,b@example.com".into(),
            username: "x\"y".into(),
            full_name: name.map(String::from),
            is_active: active,
            is_superuser: Some(false),
            created_at: Some(at),
            updated_at: None,
        };
        let users = [
            mk(None, None),
            mk(Some("Line\nbreak"), Some(true)),
            mk(Some(""), Some(false)),
            mk(Some(" lead,trail "), Some(true)),
        ];
        let general = csv_of(&users, false);
        assert_eq!(csv_of(&users, true), general);
        assert!(general.starts_with("id,email,username,full_name,is_active"));
        assert!(general.contains("2026-11-22T10:00:00.120Z"), "{general}");
        assert_eq!(csv_of(&[], true), csv_of(&[], false));
    }
}
