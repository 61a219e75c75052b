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
}

impl<W: Write> ListWriter<W> {
    pub fn new(format: OutputFormat, columns: &'static [&'static str], out: W) -> Self {
        let sink = match format {
            OutputFormat::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
            _ => Sink::Plain(out),
        };
        ListWriter {
            format,
            columns,
            sink,
            count: 0,
            table: Vec::new(),
        }
    }

    pub fn row<T: Serialize>(&mut self, row: &T) -> Result<()> {
        match &mut self.sink {
            Sink::Plain(out) if self.format == OutputFormat::Json => {
                out.write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, row)?;
            }
            Sink::Plain(_) => {
                let obj = to_object(row)?;
                self.table
                    .push(self.columns.iter().map(|c| cell(obj.get(*c))).collect());
                if self.table.len() >= TABLE_CHUNK {
                    self.flush_table()?;
                }
            }
            Sink::Csv(w) => {
                if self.count == 0 {
                    w.write_record(self.columns)?;
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
                        t.add_row(vec![c.to_string(), cell(v)]);
                    }
                }
            }
            for (k, v) in &obj {
                if k == "password" {
                    t.add_row(vec![k.clone(), cell(Some(v))]);
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
                    t.add_row(cols.iter().map(|c| cell(r.get(c))).collect::<Vec<_>>());
                }
                writeln!(out, "{t}")?;
            }
        }
    }
    Ok(())
}
