//! The opened import file (`-` is stdin), its size when known, the bytes read so far (for
//! the progress bar) and the format it is in.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::Format;
use crate::error::{Error, Result};

/// Counts the bytes read, for the progress bar.
pub(super) struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub(super) type Reader = BufReader<Counting<Box<dyn Read + Send>>>;

/// How many bytes of an input have been read, from any thread.
#[derive(Clone)]
pub struct BytesRead(Arc<AtomicU64>);

impl BytesRead {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct Input {
    /// The file as messages name it (`stdin` for `-`).
    pub name: String,
    pub size: Option<u64>,
    read: Arc<AtomicU64>,
    pub(super) reader: Reader,
}

impl Input {
    pub fn open(path: &Path) -> Result<Input> {
        let (inner, name, size): (Box<dyn Read + Send>, String, Option<u64>) =
            if path == Path::new("-") {
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
                // A pipe or a device has no size to go by.
                let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
                (Box::new(f), path.display().to_string(), size)
            };
        Ok(Input::from_reader(name, size, inner))
    }

    /// Any reader as an input (the fuzz target reads from memory).
    pub fn from_reader(name: String, size: Option<u64>, inner: Box<dyn Read + Send>) -> Input {
        let read = Arc::new(AtomicU64::new(0));
        Input {
            name,
            size,
            read: read.clone(),
            reader: BufReader::with_capacity(256 * 1024, Counting { inner, read }),
        }
    }

    pub fn bytes_read(&self) -> BytesRead {
        BytesRead(self.read.clone())
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
        Ok(match first_byte(&mut self.reader)? {
            Some(b'[' | b'{') => Format::Json,
            _ => Format::Csv,
        })
    }
}

/// The first non-blank byte of what `reader` has buffered, without consuming it.
pub(super) fn first_byte(reader: &mut impl BufRead) -> Result<Option<u8>> {
    let buf = reader.fill_buf()?;
    Ok(buf.iter().find(|b| !b.is_ascii_whitespace()).copied())
}
