//! One renderer for table, JSON and CSV, so the keys cannot drift between formats.
//! Rows are `Serialize` structs; lists stream row by row.

mod fields;
pub mod fit;
pub mod json;
mod table;

pub use fields::{CsvRecord, Fields};

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
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

/// A byte that is a printable ASCII character (space to `~`): one column wide, no
/// escape needed. Cells made only of these skip character-by-character work.
pub(crate) fn printable_ascii(b: u8) -> bool {
    (b' '..=b'~').contains(&b)
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
    // Printable ASCII and newlines, the usual cell, are safe without decoding a character.
    if text.bytes().all(|b| printable_ascii(b) || b == b'\n') || !text.chars().any(unsafe_char) {
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
    /// The columns a table fitted to a terminal shows (`fit`), in order; all when `None`.
    compact: Option<&'static [&'static str]>,
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
            compact: None,
        }
    }

    /// The columns to show, in this order, when the table is fitted to a terminal (`-o
    /// wide`, a pipe, JSON and CSV keep every column).
    pub fn compact(mut self, columns: &'static [&'static str]) -> Self {
        self.compact = Some(columns);
        self
    }

    /// A row that knows its CSV text: its own fields are the CSV record and the table's
    /// cells; JSON goes through `row`.
    pub fn record<T: CsvRecord>(&mut self, row: &T) -> Result<()> {
        if self.format == OutputFormat::Table {
            // The same fields are the table's cells (`cell` of their serde values).
            self.fields.clear();
            row.csv_fields(&mut self.fields);
            let mut cells = Vec::with_capacity(self.columns.len());
            for field in self.fields.iter() {
                let text = std::str::from_utf8(field)
                    .map_err(|e| Error::failure(format!("a field is not UTF-8: {e}")))?;
                cells.push(terminal_safe(text).into_owned());
            }
            return self.push_table_row(cells);
        }
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
                json::to_writer(&mut *out, row)?;
            }
            Sink::Plain(_) => {
                let obj = to_object(row)?;
                let cells = self.columns.iter().map(|c| table_cell(obj.get(*c)));
                return self.push_table_row(cells.collect());
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

    fn push_table_row(&mut self, cells: Vec<String>) -> Result<()> {
        self.table.push(cells);
        self.count += 1;
        if self.table.len() >= TABLE_CHUNK {
            self.flush_table()?;
        }
        Ok(())
    }

    fn flush_table(&mut self) -> Result<()> {
        if let Sink::Plain(out) = &mut self.sink {
            match fit::width() {
                Some(width) => fit::write(out, self.columns, &self.table, self.compact, width)?,
                None => table::write(out, self.columns, &self.table)?,
            }
        }
        self.table.clear();
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

/// The columns of an item a fitted table shows.
pub const ITEM_COMPACT: &[&str] = &["id", "title", "price", "is_available", "owner_email"];
/// The columns of a user a fitted table shows.
pub const USER_COMPACT: &[&str] = &["id", "email", "username", "full_name", "is_active"];

/// Render one object (add, show, update).
pub fn render_one<T: Serialize>(
    format: OutputFormat,
    columns: &[&str],
    row: &T,
    out: &mut impl Write,
) -> Result<()> {
    match format {
        OutputFormat::Json => {
            json::to_writer_pretty(&mut *out, row)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let obj = to_object(row)?;
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(columns)?;
            w.write_record(columns.iter().map(|c| cell(obj.get(*c))))?;
            w.flush()?;
        }
        OutputFormat::Table | OutputFormat::Wide => {
            let obj = to_object(row)?;
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            if let Some(width) = fit::width() {
                // Long values wrap within the terminal's width.
                t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                    .set_width(u16::try_from(width).unwrap_or(u16::MAX));
            }
            let mut nested = Vec::new();
            for c in columns {
                match obj.get(*c) {
                    Some(Value::Array(a)) => nested.push((*c, a)),
                    v => {
                        let cell = table_cell(v);
                        let cell = match fit::width() {
                            Some(_) => fit::for_reading(c, &cell),
                            None => cell,
                        };
                        t.add_row(vec![c.to_string(), cell]);
                    }
                }
            }
            // A generated password is not a row: its caller prints it once, on its own
            // `password:` line.
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
                if let Some(width) = fit::width() {
                    let header: Vec<&str> = cols.iter().map(String::as_str).collect();
                    let cells: Vec<Vec<String>> = rows
                        .iter()
                        .map(|r| cols.iter().map(|c| table_cell(r.get(c))).collect())
                        .collect();
                    fit::write(out, &header, &cells, Some(ITEM_COMPACT), width)?;
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
mod tests;
