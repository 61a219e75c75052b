//! Reading import files: CSV with a header, a JSON array, or JSON with one object per line
//! (NDJSON). Every record becomes the same shape, a value per known column, each either
//! absent (no such column or key), null (an empty CSV field, JSON null) or text. CSV and
//! NDJSON are read as a stream; a JSON array is read whole.
//!
//! Absent and null differ on purpose: an absent column takes the default (`is_active` true,
//! `price` 0.00, timestamps now), a null one is stored as NULL, so an export imports back
//! to the same rows.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Absent,
    Null,
    Value(String),
}

impl Field {
    pub fn text(&self) -> Option<&str> {
        match self {
            Field::Value(s) => Some(s),
            _ => None,
        }
    }
}

/// One record: its line in the file and a field per known column.
#[derive(Debug)]
pub struct Record {
    pub line: u64,
    pub fields: Vec<Field>,
}

/// A bad record: where and why.
#[derive(Debug, Clone)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

/// Bad rows, in file order; the report lists the first `SHOWN` and counts the rest.
#[derive(Debug, Default)]
pub struct RowErrors {
    pub rows: Vec<RowError>,
    pub total: usize,
}

pub const SHOWN: usize = 50;

impl RowErrors {
    pub fn push(&mut self, line: u64, reason: impl Into<String>) {
        self.total += 1;
        if self.rows.len() < SHOWN {
            self.rows.push(RowError {
                line,
                reason: reason.into(),
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// One line per bad row and a count of those not shown.
    fn listing(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .rows
            .iter()
            .map(|e| format!("line {}: {}", e.line, e.reason))
            .collect();
        if self.total > self.rows.len() {
            out.push(format!("... and {} more", self.total - self.rows.len()));
        }
        out
    }

    /// Exit 2: the file has bad rows; nothing was written.
    pub fn into_error(self, file: &str) -> Error {
        Error::usage(format!(
            "{file} has {} bad row(s); nothing was imported",
            self.total
        ))
        .with_details(self.listing())
    }

    /// Exit 4: rows that clash with the database; nothing was written.
    pub fn into_conflict(self, file: &str) -> Error {
        Error::conflict(format!(
            "{file} has {} row(s) that already exist; nothing was imported",
            self.total
        ))
        .with_details(self.listing())
        .with_hint("use --on-conflict skip to import the other rows")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// Counts the bytes read, for the progress bar.
pub struct Counting<R> {
    inner: R,
    pub read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The opened input: `-` is stdin. Returns the reader, the byte counter and the size
/// when known.
pub struct Input {
    pub name: String,
    pub size: Option<u64>,
    pub read: Arc<AtomicU64>,
    reader: BufReader<Counting<Box<dyn Read>>>,
}

impl Input {
    pub fn open(path: &Path) -> Result<Input> {
        let (inner, name, size): (Box<dyn Read>, String, Option<u64>) = if path == Path::new("-") {
            (Box::new(std::io::stdin()), "stdin".into(), None)
        } else {
            let f = std::fs::File::open(path).map_err(|e| {
                let err = format!("cannot read {}: {e}", path.display());
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::not_found(err)
                } else {
                    Error::usage(err)
                }
            })?;
            let size = f.metadata().ok().map(|m| m.len());
            (Box::new(f), path.display().to_string(), size)
        };
        Ok(Input::from_reader(name, size, inner))
    }

    /// Any reader as an input (the fuzz target reads from memory).
    pub fn from_reader(name: String, size: Option<u64>, inner: Box<dyn Read>) -> Input {
        let read = Arc::new(AtomicU64::new(0));
        Input {
            name,
            size,
            read: read.clone(),
            reader: BufReader::with_capacity(256 * 1024, Counting { inner, read }),
        }
    }

    /// `--format`, else the extension, else the first non-blank byte (`[` or `{`: JSON).
    pub fn detect(&mut self, path: &Path, given: Option<Format>) -> Result<Format> {
        if let Some(f) = given {
            return Ok(f);
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => return Ok(Format::Csv),
            Some("json" | "ndjson" | "jsonl") => return Ok(Format::Json),
            _ => {}
        }
        let buf = self.reader.fill_buf()?;
        let first = buf.iter().find(|b| !b.is_ascii_whitespace());
        Ok(match first {
            Some(b'[' | b'{') => Format::Json,
            _ => Format::Csv,
        })
    }
}

/// Records of a file, for a kind whose known columns are `columns`.
pub struct Records {
    columns: &'static [&'static str],
    source: Source,
}

enum Source {
    Csv {
        reader: csv::Reader<BufReader<Counting<Box<dyn Read>>>>,
        /// For each CSV column, the index of the known column.
        map: Vec<usize>,
        record: csv::StringRecord,
    },
    Lines {
        reader: BufReader<Counting<Box<dyn Read>>>,
        line: u64,
        buf: String,
    },
    Array {
        text: Vec<u8>,
        pos: usize,
        line: u64,
        done: bool,
    },
}

impl Records {
    pub fn new(input: Input, format: Format, columns: &'static [&'static str]) -> Result<Records> {
        let mut reader = input.reader;
        let source = match format {
            Format::Csv => {
                let mut csv = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(false)
                    .from_reader(reader);
                let header = csv
                    .headers()
                    .map_err(|e| Error::usage(format!("{}: {}", input.name, csv_reason(&e))))?
                    .clone();
                let mut map = Vec::with_capacity(header.len());
                for h in header.iter() {
                    let h = h.trim().trim_start_matches('\u{feff}');
                    let Some(idx) = columns.iter().position(|c| *c == h) else {
                        return Err(Error::usage(format!(
                            "{}: unknown column '{h}' in the header",
                            input.name
                        ))
                        .with_hint(format!("known columns: {}", columns.join(", "))));
                    };
                    if map.contains(&idx) {
                        return Err(Error::usage(format!(
                            "{}: column '{h}' appears twice in the header",
                            input.name
                        )));
                    }
                    map.push(idx);
                }
                Source::Csv {
                    reader: csv,
                    map,
                    record: csv::StringRecord::new(),
                }
            }
            Format::Json => {
                let starts_array = {
                    let buf = reader.fill_buf()?;
                    buf.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
                };
                if starts_array {
                    let mut text = Vec::new();
                    reader.read_to_end(&mut text)?;
                    let pos = text.iter().position(|b| *b == b'[').unwrap_or(0);
                    let line = 1 + text[..pos].iter().filter(|b| **b == b'\n').count() as u64;
                    Source::Array {
                        text,
                        pos: pos + 1,
                        line,
                        done: false,
                    }
                } else {
                    Source::Lines {
                        reader,
                        line: 0,
                        buf: String::new(),
                    }
                }
            }
        };
        Ok(Records { columns, source })
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

impl Iterator for Records {
    type Item = std::result::Result<Record, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.source {
            Source::Csv {
                reader,
                map,
                record,
            } => match reader.read_record(record) {
                Ok(false) => None,
                Ok(true) => {
                    let line = record.position().map_or(0, |p| p.line());
                    let mut fields = vec![Field::Absent; self.columns.len()];
                    for (value, idx) in record.iter().zip(map.iter()) {
                        fields[*idx] = if value.is_empty() {
                            Field::Null
                        } else {
                            Field::Value(value.to_string())
                        };
                    }
                    Some(Ok(Record { line, fields }))
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    let fatal = !matches!(
                        e.kind(),
                        csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                    );
                    if fatal {
                        // An I/O error: stop here, reported once.
                        self.source = Source::Array {
                            text: Vec::new(),
                            pos: 0,
                            line: 0,
                            done: true,
                        };
                    }
                    Some(Err(RowError {
                        line,
                        reason: csv_reason(&e),
                    }))
                }
            },
            Source::Lines { reader, line, buf } => loop {
                buf.clear();
                match reader.read_line(buf) {
                    Ok(0) => return None,
                    Ok(_) => {
                        *line += 1;
                        let text = buf.trim();
                        if text.is_empty() {
                            continue;
                        }
                        let at = *line;
                        let parsed = serde_json::from_str::<Value>(text);
                        return Some(match parsed {
                            Ok(v) => json_record(self.columns, at, v),
                            Err(e) => Err(RowError {
                                line: at,
                                reason: format!("invalid JSON: {e}"),
                            }),
                        });
                    }
                    Err(e) => {
                        let at = *line + 1;
                        return Some(Err(RowError {
                            line: at,
                            reason: format!("cannot read: {e}"),
                        }));
                    }
                }
            },
            Source::Array {
                text,
                pos,
                line,
                done,
            } => {
                if *done {
                    return None;
                }
                let skip_ws = |text: &[u8], pos: &mut usize, line: &mut u64| {
                    while *pos < text.len() && text[*pos].is_ascii_whitespace() {
                        if text[*pos] == b'\n' {
                            *line += 1;
                        }
                        *pos += 1;
                    }
                };
                skip_ws(text, pos, line);
                if *pos < text.len() && text[*pos] == b']' {
                    *done = true;
                    return None;
                }
                let at = *line;
                let mut stream =
                    serde_json::Deserializer::from_slice(&text[*pos..]).into_iter::<Value>();
                let item = stream.next();
                let used = stream.byte_offset();
                *line += text[*pos..*pos + used]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64;
                *pos += used;
                let value = match item {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => {
                        *done = true;
                        return Some(Err(RowError {
                            line: at + e.line().saturating_sub(1) as u64,
                            reason: format!("invalid JSON: {e}"),
                        }));
                    }
                    None => {
                        *done = true;
                        return Some(Err(RowError {
                            line: at,
                            reason: "the JSON array is not closed".into(),
                        }));
                    }
                };
                skip_ws(text, pos, line);
                match text.get(*pos) {
                    Some(b',') => *pos += 1,
                    Some(b']') => {}
                    _ => {
                        *done = true;
                        return Some(Err(RowError {
                            line: *line,
                            reason: "expected ',' or ']' after an object".into(),
                        }));
                    }
                }
                Some(json_record(self.columns, at, value))
            }
        }
    }
}

/// A JSON object as a record; anything else, or an unknown key, is a bad row.
fn json_record(
    columns: &'static [&'static str],
    line: u64,
    value: Value,
) -> std::result::Result<Record, RowError> {
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
    Ok(Record { line, fields })
}

/// `true/false`, `t/f`, `yes/no`, `1/0`, any case.
pub fn parse_bool(column: &str, raw: &str) -> std::result::Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "0" => Ok(false),
        _ => Err(format!("{column} '{raw}' is not true or false")),
    }
}

/// RFC 3339 (`2026-11-22T10:00:00Z`) or PostgreSQL's text form (`2026-11-22 10:00:00+00`).
pub fn parse_time(column: &str, raw: &str) -> std::result::Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{column} '{raw}' is not a time like 2026-11-22T10:00:00Z"))
}

/// A bcrypt hash as passlib and the application write it: `$2a$`, `$2b$` or `$2y$`,
/// a two-digit cost from 04 to 31, 53 characters of bcrypt's base64.
pub fn check_bcrypt_hash(raw: &str) -> std::result::Result<(), String> {
    let bad = || "hashed_password is not a bcrypt hash ($2b$NN$ and 53 characters)".to_string();
    let b = raw.as_bytes();
    // ASCII first: the checks below index bytes, and a multi-byte character must not
    // land across one of those indexes (`$2b$€...`).
    if !raw.is_ascii()
        || b.len() != 60
        || !(raw.starts_with("$2a$") || raw.starts_with("$2b$") || raw.starts_with("$2y$"))
    {
        return Err(bad());
    }
    let cost: u32 = raw[4..6].parse().map_err(|_| bad())?;
    if !(4..=31).contains(&cost) || b[6] != b'$' {
        return Err(bad());
    }
    if !b[7..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
    {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: &[&str] = &["id", "title", "price"];

    fn records(text: &str, format: Format) -> Vec<std::result::Result<Record, RowError>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in");
        std::fs::write(&p, text).unwrap();
        let input = Input::open(&p).unwrap();
        Records::new(input, format, COLS).unwrap().collect()
    }

    #[test]
    fn csv_empty_is_null_and_missing_columns_are_absent() {
        let r = records("title,price\nLamp,\n\"Desk, big\",3\n", Format::Csv);
        let a = r[0].as_ref().unwrap();
        assert_eq!(a.line, 2);
        assert_eq!(
            a.fields,
            vec![Field::Absent, Field::Value("Lamp".into()), Field::Null]
        );
        let b = r[1].as_ref().unwrap();
        assert_eq!(b.fields[1], Field::Value("Desk, big".into()));
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
            second.fields,
            vec![Field::Absent, Field::Null, Field::Value("2.5".into())]
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
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.csv");
        std::fs::write(&p, "title,colour\nx,red\n").unwrap();
        let err = Records::new(Input::open(&p).unwrap(), Format::Csv, COLS)
            .err()
            .unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message.contains("colour"));
    }

    #[test]
    fn values() {
        assert_eq!(parse_bool("x", "T"), Ok(true));
        assert!(parse_bool("x", "maybe").is_err());
        assert_eq!(
            parse_time("t", "2026-11-22 22:32:01.885501+00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-22T22:32:01.885501+00:00"
        );
        assert!(parse_time("t", "yesterday").is_err());
        let h = bcrypt::hash_with_result("pw", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert_eq!(check_bcrypt_hash(&h), Ok(()));
        assert!(check_bcrypt_hash("$2b$04$short").is_err());
        assert!(check_bcrypt_hash(&h.replace("$04$", "$99$")).is_err());
        // Multi-byte characters where the cost is read, and where the salt starts.
        let euro = format!("$2b$€{}", &h[7..]);
        assert_eq!(euro.len(), 60);
        assert!(check_bcrypt_hash(&euro).is_err());
        assert!(check_bcrypt_hash(&format!("{}é{}", &h[..5], &h[7..])).is_err());
    }
}

/// The reader and the value checks on any input: no panic, every record has a field per
/// column, and a bad record is a line-numbered error. `fuzz/fuzz_targets/import.rs` runs
/// the same on a fuzzer's input; `PROPTEST_CASES` scales this up.
#[cfg(test)]
pub(crate) mod props {
    use super::*;
    use proptest::prelude::*;

    /// Every record the reader yields from `bytes`, or the file-level error.
    pub(crate) fn read_all(
        bytes: &[u8],
        format: Format,
        columns: &'static [&'static str],
    ) -> Result<Vec<std::result::Result<Record, RowError>>> {
        let dir = tempfile::tempdir().map_err(Error::from)?;
        let p = dir.path().join("in");
        std::fs::write(&p, bytes)?;
        let mut input = Input::open(&p)?;
        let format = input.detect(&p, Some(format))?;
        Ok(Records::new(input, format, columns)?.collect())
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

    const COLS: &[&str] = &["id", "email", "username", "hashed_password"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases() / 3))]

        #[test]
        fn any_file_reads_without_panic(bytes in file_like(), json in any::<bool>()) {
            let format = if json { Format::Json } else { Format::Csv };
            if let Ok(records) = read_all(&bytes, format, COLS) {
                for r in records {
                    match r {
                        Ok(rec) => prop_assert_eq!(rec.fields.len(), COLS.len()),
                        Err(e) => prop_assert!(!e.reason.is_empty()),
                    }
                }
            }
        }

        /// Exactly 60 bytes with bcrypt's prefix and anything at all where the cost and
        /// the salt begin: where a multi-byte character once split a byte index.
        #[test]
        fn hash_shaped_values_never_panic(
            prefix in prop::sample::select(vec!["$2a$", "$2b$", "$2y$"]),
            odd in prop::collection::vec(any::<char>(), 1..4),
            pad in "[./A-Za-z0-9]{60}",
        ) {
            let mut raw: String = prefix.to_string();
            raw.extend(odd);
            raw.push_str(&pad[..60usize.saturating_sub(raw.len())]);
            let _ = check_bcrypt_hash(&raw);
        }

        #[test]
        fn value_checks_never_panic(raw in any::<String>()) {
            let _ = check_bcrypt_hash(&raw);
            let _ = parse_bool("is_active", &raw);
            let _ = parse_time("created_at", &raw);
        }
    }
}
