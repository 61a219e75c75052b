//! Plain-format dumps are scripts for psql, and psql runs backslash meta-commands (`\!`
//! runs a shell command) as whoever restores. Before psql sees a byte, the script is read
//! here, streaming: it must start with pg_dump's header, and no line outside COPY data
//! may start with a backslash, except pg_dump's own `\restrict KEY` / `\unrestrict KEY`,
//! which are dropped (the restore puts psql in restricted mode with a key of its own).

use std::io::{self, BufRead, BufReader, Read};

use crate::error::Error;

/// The lines every pg_dump plain script starts with.
const HEADER: &[u8] = b"--\n-- PostgreSQL database dump\n";

/// Lines are handled in pieces of at most this many bytes, so memory stays constant
/// whatever a line's length.
const PIECE: u64 = 64 * 1024;

/// Why a script was not passed on.
#[derive(Debug)]
pub enum ScanError {
    /// Not pg_dump output, or a meta-command in it: exit 2, nothing run.
    Refused(Error),
    /// Reading the script or writing it on failed.
    Io(io::Error),
}

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> Self {
        ScanError::Io(e)
    }
}

impl From<ScanError> for Error {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Refused(e) => e,
            ScanError::Io(e) => e.into(),
        }
    }
}

/// Where the scan is: in SQL text, or in the data of a `COPY ... FROM stdin;`.
#[derive(Default)]
struct State {
    in_copy: bool,
    /// The current line began with `COPY ` (outside COPY data).
    copy_statement: bool,
    line: u64,
}

/// The tables a plain dump creates, newest first, when it was written without `--clean`
/// (as the Simple DB design's `pg_dump > backup.sql` writes it): restoring it over a live
/// database drops them first, in the restore's own transaction, as a `--clean` dump would.
/// Empty for a dump that drops what it creates itself. Names are taken only as pg_dump
/// writes them (`schema.name`, quoted where needed); anything else is left out.
pub fn tables_to_replace(input: impl Read) -> io::Result<Vec<String>> {
    let mut reader = BufReader::with_capacity(PIECE as usize, input);
    let (mut tables, mut buf) = (Vec::new(), Vec::new());
    let (mut at_start, mut in_copy) = (true, false);
    loop {
        buf.clear();
        if (&mut reader).take(PIECE).read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = std::mem::replace(&mut at_start, buf.ends_with(b"\n"));
        if !line {
            continue;
        }
        let text = String::from_utf8_lossy(trimmed(&buf));
        if in_copy {
            in_copy = text != "\\.";
        } else if text.starts_with("COPY ") && text.ends_with("FROM stdin;") {
            in_copy = true;
        } else if text.starts_with("DROP ") {
            return Ok(Vec::new());
        } else if let Some(rest) = text.strip_prefix("CREATE TABLE ") {
            let name = rest.split([' ', '(']).next().unwrap_or_default();
            let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '"' | '$');
            if !name.is_empty() && name.chars().all(plain) {
                tables.push(name.to_string());
            }
        }
    }
    tables.reverse();
    Ok(tables)
}

/// Read a plain dump from `input` and hand psql's input to `out`, piece by piece.
pub fn scan(
    input: impl Read,
    mut out: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<(), ScanError> {
    let mut reader = BufReader::with_capacity(PIECE as usize, input);
    check_header(&mut reader)?;
    out(HEADER)?;
    let mut state = State {
        line: 2,
        ..State::default()
    };
    let mut piece = Vec::with_capacity(PIECE as usize);
    let mut at_line_start = true;
    loop {
        piece.clear();
        if (&mut reader).take(PIECE).read_until(b'\n', &mut piece)? == 0 {
            return Ok(());
        }
        if at_line_start {
            state.line += 1;
            if !start_line(&mut state, &piece)? {
                out(b"\n")?;
                at_line_start = true;
                continue;
            }
        }
        at_line_start = piece.ends_with(b"\n");
        if at_line_start && state.copy_statement {
            state.in_copy = trimmed(&piece).ends_with(b" FROM stdin;");
            state.copy_statement = false;
        }
        out(&piece)?;
    }
}

fn check_header(reader: &mut impl BufRead) -> Result<(), ScanError> {
    let mut head = Vec::with_capacity(HEADER.len());
    reader.take(HEADER.len() as u64).read_to_end(&mut head)?;
    if head != HEADER {
        return Err(ScanError::Refused(
            Error::usage(
                "not a pg_dump plain-format dump (it lacks pg_dump's header), so it is not run",
            )
            .with_hint(
                "restore only files pg_dump wrote; stackctl backup --format plain writes them",
            ),
        ));
    }
    Ok(())
}

/// Look at the first piece of a line: `false` when the line is dropped (pg_dump's own
/// `\restrict` and `\unrestrict`), an error when it is a meta-command.
fn start_line(state: &mut State, piece: &[u8]) -> Result<bool, ScanError> {
    let line = trimmed(piece);
    if state.in_copy {
        // COPY data may start with a backslash (`\N` is NULL); `\.` ends it.
        state.in_copy = line != b"\\.";
        return Ok(true);
    }
    if line.first() != Some(&b'\\') {
        state.copy_statement = line.starts_with(b"COPY ");
        return Ok(true);
    }
    if is_restrict(line) {
        return Ok(false);
    }
    let shown: String = String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned();
    Err(ScanError::Refused(
        Error::usage(format!(
            "line {} of the dump is a psql meta-command ({shown}...), which pg_dump never writes there; refusing to run it",
            state.line
        ))
        .with_hint("the file was altered after pg_dump wrote it: restore a backup you trust"),
    ))
}

/// `\restrict KEY` or `\unrestrict KEY` as pg_dump writes them (KEY alphanumeric).
fn is_restrict(line: &[u8]) -> bool {
    let key = line
        .strip_prefix(b"\\restrict ")
        .or_else(|| line.strip_prefix(b"\\unrestrict "));
    key.is_some_and(|k| !k.is_empty() && k.iter().all(u8::is_ascii_alphanumeric))
}

fn trimmed(piece: &[u8]) -> &[u8] {
    let piece = piece.strip_suffix(b"\n").unwrap_or(piece);
    piece.strip_suffix(b"\r").unwrap_or(piece)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> Result<String, String> {
        let mut out = Vec::new();
        scan(script.as_bytes(), |p| {
            out.extend_from_slice(p);
            Ok(())
        })
        .map(|()| String::from_utf8_lossy(&out).into_owned())
        .map_err(|e| Error::from(e).message)
    }

    const HEAD: &str = "--\n-- PostgreSQL database dump\n--\n\n";

    #[test]
    fn tables_of_a_dump_without_clean_are_named_newest_first() {
        let dump = "--\n-- PostgreSQL database dump\n--\nCREATE TABLE public.users (\n    id integer\n);\n\
                    CREATE TABLE public.\"Odd\" (x int);\nCOPY public.users (id) FROM stdin;\n\
                    CREATE TABLE not_a_table (\n\\.\nCREATE TABLE x; DROP y (z int);\n";
        let got = tables_to_replace(dump.as_bytes()).unwrap();
        assert_eq!(got, ["public.\"Odd\"", "public.users"]);
        let clean = "--\n-- PostgreSQL database dump\nDROP TABLE IF EXISTS public.users;\nCREATE TABLE public.users (id int);\n";
        assert!(tables_to_replace(clean.as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn a_dump_passes_without_its_restrict_lines() {
        let script = format!(
            "{HEAD}\\restrict abc123\n\nSET x = 1;\nCOPY public.t (a, b) FROM stdin;\n\\N\t1\n\\\\x\t2\n\\.\n\nSELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc123\n\n"
        );
        let out = run(&script).unwrap();
        assert!(!out.contains("restrict"), "{out}");
        assert!(out.contains("\\N\t1\n\\\\x\t2\n\\.\n"), "{out}");
        assert_eq!(out.lines().count(), script.lines().count());
    }

    #[test]
    fn meta_commands_outside_copy_data_are_refused() {
        for bad in [
            "\\! touch /tmp/x\n",
            "\\restrict\n",
            "\\unrestrict k; \\! id\n",
            "COPY t (a) FROM stdin;\n1\n\\.\n\\! id\n",
            "COPY t (a) FROM stdin;x\n\\! id\n",
            "\\copy t from '/etc/passwd'\n",
        ] {
            let e = run(&format!("{HEAD}{bad}")).unwrap_err();
            assert!(e.contains("meta-command"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn files_pg_dump_did_not_write_are_refused() {
        for bad in [
            "",
            "SELECT 1;\n",
            "-- PostgreSQL database dump\n",
            "--\n-- PostgreSQL",
        ] {
            let e = run(bad).unwrap_err();
            assert!(e.contains("not a pg_dump"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn long_lines_are_read_in_pieces() {
        let long = "x".repeat(3 * PIECE as usize);
        let script = format!("{HEAD}SELECT '{long}';\n\\! id\n");
        assert!(run(&script).unwrap_err().contains("line 6"));
        // A backslash inside a long line is not at a line's start.
        let script = format!("{HEAD}SELECT '{long}\\! id';\n");
        assert_eq!(run(&script).unwrap(), script);
    }
}
