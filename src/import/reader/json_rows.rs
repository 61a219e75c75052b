//! JSON records: objects one per line (NDJSON, streamed) or an array of objects (read
//! whole). Each object becomes a field per known column; an unknown key, or a value that
//! is not a string, number, boolean or null, makes the record a bad row.

use std::io::{BufRead, Read};

use serde_json::Value;

use super::{Fields, Next, RowError};
use crate::error::Result;
use crate::import::input::Reader;
use crate::import::row::Field;

/// JSON objects one per line (NDJSON); blank lines are skipped.
pub(super) struct JsonLines {
    reader: Reader,
    line: u64,
    buf: String,
}

impl JsonLines {
    pub(super) fn new(reader: Reader) -> JsonLines {
        JsonLines {
            reader,
            line: 0,
            buf: String::new(),
        }
    }

    pub(super) fn next(&mut self, columns: &[&str]) -> Next {
        loop {
            self.buf.clear();
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {
                    self.line += 1;
                    let text = self.buf.trim();
                    if text.is_empty() {
                        continue;
                    }
                    return Some(match serde_json::from_str::<Value>(text) {
                        Ok(v) => json_record(columns, self.line, v),
                        Err(e) => Err(RowError {
                            line: self.line,
                            reason: format!("invalid JSON: {e}"),
                        }),
                    });
                }
                Err(e) => {
                    return Some(Err(RowError {
                        line: self.line + 1,
                        reason: format!("cannot read: {e}"),
                    }))
                }
            }
        }
    }
}

/// A JSON array of objects, read whole, its elements parsed one at a time so that each
/// knows its line. A syntax error ends it.
pub(super) struct JsonArray {
    text: Vec<u8>,
    /// Where the next element (or the closing bracket) starts, and its line.
    pos: usize,
    line: u64,
    done: bool,
}

impl JsonArray {
    pub(super) fn new(mut reader: Reader) -> Result<JsonArray> {
        let mut text = Vec::new();
        reader.read_to_end(&mut text)?;
        let open = text.iter().position(|b| *b == b'[').unwrap_or(0);
        let line = 1 + newlines(&text[..open]);
        Ok(JsonArray {
            text,
            pos: open + 1,
            line,
            done: false,
        })
    }

    pub(super) fn next(&mut self, columns: &[&str]) -> Next {
        if self.done {
            return None;
        }
        self.skip_blanks();
        if self.text.get(self.pos) == Some(&b']') {
            self.done = true;
            return None;
        }
        let at = self.line;
        let value = match self.element(at) {
            Ok(v) => v,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        self.skip_blanks();
        match self.text.get(self.pos) {
            Some(b',') => self.pos += 1,
            Some(b']') => {}
            _ => {
                self.done = true;
                return Some(Err(RowError {
                    line: self.line,
                    reason: "expected ',' or ']' after an object".into(),
                }));
            }
        }
        Some(json_record(columns, at, value))
    }

    /// The element at `pos`, which starts on line `at`; moves past it.
    fn element(&mut self, at: u64) -> std::result::Result<Value, RowError> {
        let rest = &self.text[self.pos..];
        let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
        let item = stream.next();
        let used = stream.byte_offset();
        self.line += newlines(&rest[..used]);
        self.pos += used;
        match item {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(RowError {
                line: at + e.line().saturating_sub(1) as u64,
                reason: format!("invalid JSON: {e}"),
            }),
            None => Err(RowError {
                line: at,
                reason: "the JSON array is not closed".into(),
            }),
        }
    }

    fn skip_blanks(&mut self) {
        while let Some(b) = self.text.get(self.pos).filter(|b| b.is_ascii_whitespace()) {
            if *b == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
    }
}

fn newlines(text: &[u8]) -> u64 {
    text.iter().filter(|b| **b == b'\n').count() as u64
}

/// A JSON object as a record; anything else, or an unknown key, is a bad row.
fn json_record(columns: &[&str], line: u64, value: Value) -> std::result::Result<Fields, RowError> {
    let bad = |reason: String| RowError { line, reason };
    let Value::Object(map) = value else {
        return Err(bad("expected a JSON object".into()));
    };
    let mut fields = vec![Field::Absent; columns.len()];
    for (k, v) in map {
        let Some(idx) = columns.iter().position(|c| *c == k) else {
            return Err(bad(format!("unknown field '{k}'")));
        };
        fields[idx] = match v {
            Value::Null => Field::Null,
            Value::String(s) => Field::Value(s),
            Value::Bool(b) => Field::Value(b.to_string()),
            Value::Number(n) => Field::Value(n.to_string()),
            _ => {
                return Err(bad(format!(
                    "field '{k}' must be a string, number or boolean"
                )))
            }
        };
    }
    Ok(Fields { line, fields })
}
