//! A listing's table, drawn in one pass into the output: byte for byte what comfy-table
//! draws with the `UTF8_FULL_CONDENSED` preset and `ContentArrangement::Disabled` (the
//! property test in `output::tests` holds the two together), without comfy-table's strings
//! per cell, per line and per border, which made drawing a 50-row page cost more than
//! reading it (callgrind: 2.5 of the command's 8.8 million instructions).
//!
//! Cells are split at newlines and padded to the display width of the widest line in
//! their column (`unicode-width`, as comfy-table measures), one space either side. A
//! column wider than comfy-table's `u16` widths is rare enough to leave to comfy-table
//! itself (it wraps such lines), so the two never differ.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

/// The widest column drawn here: comfy-table keeps a column's width with its two spaces of
/// padding in a `u16` (saturating), so anything wider is drawn by comfy-table itself.
const WIDEST: usize = u16::MAX as usize - 2;

/// Draw `header` over `rows` (every row as long as the header), ending in a newline.
pub(super) fn write(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    if widths.iter().any(|&w| w > WIDEST) {
        return fallback(out, header, rows);
    }
    let mut buf =
        Vec::with_capacity((rows.len() + 4) * (widths.iter().sum::<usize>() + 4 * widths.len()));
    border(&mut buf, &widths, ['┌', '─', '┬', '┐']);
    line(&mut buf, &widths, header);
    border(&mut buf, &widths, ['╞', '═', '╪', '╡']);
    for row in rows {
        line(&mut buf, &widths, row);
    }
    border(&mut buf, &widths, ['└', '─', '┴', '┘']);
    out.write_all(&buf)
}

/// A column's width: its widest line, and never less than one.
fn width(cell: &str) -> usize {
    cell.split('\n').map(line_width).max().unwrap_or(0).max(1)
}

/// A line's display width. Printable ASCII is one column a byte, which `unicode-width`
/// also says, only after a walk back through every character (callgrind: an eighth of a
/// 50-row page's instructions went to measuring cells that were all ASCII).
fn line_width(text: &str) -> usize {
    if text.bytes().all(super::printable_ascii) {
        text.len()
    } else {
        text.width()
    }
}

fn push(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

fn border(buf: &mut Vec<u8>, widths: &[usize], [left, fill, between, right]: [char; 4]) {
    push(buf, left);
    for (n, &w) in widths.iter().enumerate() {
        if n > 0 {
            push(buf, between);
        }
        for _ in 0..w + 2 {
            push(buf, fill);
        }
    }
    push(buf, right);
    buf.push(b'\n');
}

/// One row: as many lines as its tallest cell, shorter cells topped up with blanks.
fn line<S: AsRef<str>>(buf: &mut Vec<u8>, widths: &[usize], cells: &[S]) {
    let mut lines: Vec<std::str::Split<'_, char>> =
        cells.iter().map(|c| c.as_ref().split('\n')).collect();
    let height = cells
        .iter()
        .map(|c| c.as_ref().bytes().filter(|&b| b == b'\n').count() + 1)
        .max()
        .unwrap_or(1);
    for _ in 0..height {
        push(buf, '│');
        for (n, (&w, parts)) in widths.iter().zip(lines.iter_mut()).enumerate() {
            if n > 0 {
                push(buf, '┆');
            }
            let text = parts.next().unwrap_or("");
            buf.push(b' ');
            buf.extend_from_slice(text.as_bytes());
            buf.resize(buf.len() + w.saturating_sub(line_width(text)) + 1, b' ');
        }
        push(buf, '│');
        buf.push(b'\n');
    }
}

/// comfy-table's own drawing, for the rare column it wraps.
fn fallback(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    for r in rows {
        t.add_row(r);
    }
    writeln!(out, "{t}")
}
