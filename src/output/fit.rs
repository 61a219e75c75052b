//! Tables a person can read in the terminal they have. With `-o table` and stdout a
//! terminal, a list is drawn to fit its width (`COLUMNS` where set, else the terminal's):
//! the list's columns for reading (`ListWriter::compact`), ids shortened to the shortest
//! prefix unique in the listing (at least 8 characters, as git shortens hashes), times
//! as `YYYY-MM-DD HH:MM` (UTC), sizes in KiB/MiB/GiB, long text cut with `…`; a row that
//! still cannot fit is shown as a vertical record, as psql's expanded display does. Under a
//! pipe or in a file, and with `-o wide`, tables are drawn in full, as they always were.

use std::io::{self, Write};
use std::sync::OnceLock;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

static WIDTH: OnceLock<Option<usize>> = OnceLock::new();

/// Decide, once, whether tables fit a terminal: `table` (`-o table`, not `wide`) and
/// stdout a terminal; its width from `COLUMNS`, else from the terminal.
pub fn init(table: bool) {
    use std::io::IsTerminal;
    let width = (table && std::io::stdout().is_terminal())
        .then(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|&c| c > 0)
                .or_else(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
        })
        .flatten();
    let _ = WIDTH.set(width);
}

/// The width tables fit, when they fit one.
pub fn width() -> Option<usize> {
    WIDTH.get().copied().flatten()
}

/// Draw a list fitted to `width`: `compact` (when given) chooses and orders the columns.
pub fn write(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
    compact: Option<&[&str]>,
    width: usize,
) -> io::Result<()> {
    let keep: Vec<usize> = match compact {
        Some(names) => names
            .iter()
            .filter_map(|n| header.iter().position(|h| h == n))
            .collect(),
        None => (0..header.len()).collect(),
    };
    let header: Vec<&str> = keep.iter().map(|&i| header[i]).collect();
    let mut rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            keep.iter()
                .zip(&header)
                .map(|(&i, name)| for_reading(name, &r[i]))
                .collect()
        })
        .collect();
    for (c, name) in header.iter().enumerate() {
        if is_id(name) {
            shorten_ids(&mut rows, c);
        }
    }
    let natural: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| display(&r[c]))
                .chain(std::iter::once(display(header[c])))
                .max()
                .unwrap_or(1)
                .max(1)
        })
        .collect();
    let borders = 3 * header.len() + 1;
    let Some(widths) = fitted(&natural, &header, width.saturating_sub(borders)) else {
        return expanded(out, &header, &rows, width);
    };
    let cut: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(cell, &w)| truncate(cell, w))
                .collect()
        })
        .collect();
    let header: Vec<String> = header
        .iter()
        .zip(&widths)
        .map(|(h, &w)| truncate(h, w))
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    super::table::write(out, &header, &cut)
}

/// Columns whose cells are ids (UUIDs): shortened.
fn is_id(name: &str) -> bool {
    name == "id" || name.ends_with("_id")
}

/// A cell as a person reads it: a time as `YYYY-MM-DD HH:MM`, a size in KiB/MiB/GiB.
pub(super) fn for_reading(column: &str, cell: &str) -> String {
    if column.ends_with("_at") || column == "at" || column == "created" || column == "time" {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(cell) {
            return t
                .with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M")
                .to_string();
        }
    }
    if column == "size" || column.ends_with("_bytes") {
        if let Ok(n) = cell.parse::<u64>() {
            return human_size(n);
        }
    }
    // One line per cell: the rest is there with -o wide.
    match cell.split_once('\n') {
        Some((first, _)) => format!("{first}…"),
        None => cell.to_string(),
    }
}

/// A byte count as a person reads it.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Shorten the UUIDs in column `c` to the shortest prefix, at least 8 characters, that is
/// unique among the column's values.
fn shorten_ids(rows: &mut [Vec<String>], c: usize) {
    let values: Vec<String> = rows.iter().map(|r| r[c].clone()).collect();
    if !values
        .iter()
        .all(|v| v.is_empty() || uuid::Uuid::parse_str(v).is_ok())
    {
        return;
    }
    let mut len = 8;
    while len < 36 {
        let mut seen = std::collections::HashSet::new();
        let distinct: std::collections::HashSet<&String> =
            values.iter().filter(|v| !v.is_empty()).collect();
        let unique = distinct
            .iter()
            .all(|v| seen.insert(v.get(..len).unwrap_or(v)));
        if unique {
            break;
        }
        len += 1;
    }
    for r in rows.iter_mut() {
        if r[c].len() > len {
            r[c].truncate(len);
        }
    }
}

/// Columns a person reads whole (an id, a time, a flag, a number): never cut.
fn whole(name: &str) -> bool {
    is_id(name)
        || name.ends_with("_at")
        || name == "at"
        || name.starts_with("is_")
        || matches!(
            name,
            "file" | "price" | "size" | "users" | "items" | "state"
        )
}

/// Column widths that fit `room` (the width less the borders): the natural widths where
/// they fit, else the widest text columns cut down, none below what its header needs or 6
/// characters; `None` where even that does not fit.
fn fitted(natural: &[usize], header: &[&str], room: usize) -> Option<Vec<usize>> {
    let mut widths = natural.to_vec();
    let floor: Vec<usize> = natural
        .iter()
        .zip(header)
        .map(|(&n, h)| {
            if whole(h) {
                n
            } else {
                n.min(display(h).max(6))
            }
        })
        .collect();
    if floor.iter().sum::<usize>() > room {
        return None;
    }
    while widths.iter().sum::<usize>() > room {
        let (i, _) = widths
            .iter()
            .enumerate()
            .filter(|(i, &w)| w > floor[*i])
            .max_by_key(|(_, &w)| w)?;
        widths[i] -= 1;
    }
    Some(widths)
}

/// Display width, in terminal columns.
fn display(text: &str) -> usize {
    text.width()
}

/// `text` cut to `width` columns, ending in `…` where something was cut.
pub fn truncate(text: &str, width: usize) -> String {
    if display(text) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

/// Every row as a vertical record, psql's expanded display: `-[ RECORD n ]` then one
/// `column | value` line per column, values cut to the width.
fn expanded(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
    width: usize,
) -> io::Result<()> {
    let key = header.iter().map(|h| display(h)).max().unwrap_or(1);
    let value_room = width.saturating_sub(key + 3).max(1);
    for (n, row) in rows.iter().enumerate() {
        let title = format!("-[ RECORD {} ]", n + 1);
        let fill = width.saturating_sub(display(&title)).min(40);
        writeln!(out, "{title}{}", "-".repeat(fill))?;
        for (h, cell) in header.iter().zip(row) {
            let pad = key - display(h);
            writeln!(
                out,
                "{h}{} | {}",
                " ".repeat(pad),
                truncate(cell, value_room)
            )?;
        }
    }
    if rows.is_empty() {
        writeln!(out, "(0 rows)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    fn draw(rows: &[Vec<String>], header: &[&str], width: usize) -> String {
        let mut out = Vec::new();
        write(&mut out, header, rows, None, width).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_wide_list_fits_by_cutting_its_widest_columns() {
        let header = ["id", "title", "description", "created_at"];
        let rows = vec![
            vec![
                "6f1c2a9b-1111-4c3b-9d2e-000000000001".to_string(),
                "Lamp".to_string(),
                "a very long description of a lamp ".repeat(5),
                "2026-12-04T17:05:15.123456Z".to_string(),
            ],
            vec![
                "6f1c2a9b-2222-4c3b-9d2e-000000000002".to_string(),
                "漢字のタイトル🙂".to_string(),
                "short".to_string(),
                "2026-12-04T17:06:00Z".to_string(),
            ],
        ];
        for width in [60, 80, 120] {
            let text = draw(&rows, &header, width);
            assert!(text.lines().all(|l| l.width() <= width), "{width}:\n{text}");
            assert!(text.contains("2026-12-04 17:05"), "{text}");
            assert!(
                text.contains("6f1c2a9b-1"),
                "ids unique in the listing:\n{text}"
            );
            assert!(!text.contains("000000000001"), "ids shortened:\n{text}");
        }
        assert!(draw(&rows, &header, 80).contains('…'));
    }

    #[test]
    fn a_row_that_cannot_fit_becomes_a_record() {
        let header = [
            "id",
            "email",
            "username",
            "full_name",
            "is_active",
            "is_superuser",
        ];
        let rows = vec![header
            .iter()
            .map(|h| format!("{h}-value"))
            .collect::<Vec<_>>()];
        let text = draw(&rows, &header, 30);
        assert!(text.starts_with("-[ RECORD 1 ]"), "{text}");
        assert!(text.lines().all(|l| l.width() <= 30), "{text}");
        assert!(text.contains("is_superuser | is_super"), "{text}");
    }

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(human_size(14601), "14.3 KiB");
        assert_eq!(human_size(48163121), "45.9 MiB");
        assert_eq!(human_size(12), "12 B");
    }
}
