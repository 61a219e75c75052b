//! The renderer's own tests: terminal safety and the CSV fast path against serde's.

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
                id: crate::db::models::ItemId::Uuid(uuid::Uuid::new_v4()),
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

/// A user with an awkward email, created at `created`, never updated.
fn user(
    created: &str,
    username: &str,
    superuser: bool,
    name: Option<&str>,
    active: Option<bool>,
) -> User {
    let at = chrono::DateTime::parse_from_rfc3339(created)
        .unwrap()
        .with_timezone(&chrono::Utc);
    User {
        id: uuid::Uuid::new_v4(),
        email: "a,b@example.com".into(),
        username: Some(username.into()),
        full_name: name.map(String::from),
        is_active: active,
        is_superuser: Some(superuser),
        created_at: Some(at),
        updated_at: None,
    }
}

#[test]
fn flat_csv_is_byte_for_byte_the_general_csv() {
    let mk = |name, active| user("2026-11-22T10:00:00.120Z", "x\"y", false, name, active);
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

/// comfy-table's drawing of a listing, the reference `table::write` must match.
fn comfy(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    for r in rows {
        t.add_row(r);
    }
    format!("{t}\n")
}

fn drawn(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut buf = Vec::new();
    table::write(&mut buf, header, rows).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn listing_tables_are_drawn_as_comfy_table_draws_them() {
    let header = ["id", "name", "note"];
    let rows = |cells: &[[&str; 3]]| -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    };
    for case in [
        rows(&[]),
        rows(&[["1", "", ""]]),
        rows(&[
            ["1", "two\nlines", "x"],
            ["22", "漢字 wide", "e\u{301} combining"],
        ]),
        rows(&[
            ["", "\n", "trailing\n"],
            ["🦀", "tab-free", " lead and trail "],
        ]),
    ] {
        assert_eq!(drawn(&header, &case), comfy(&header, &case));
    }
    // Near and beyond comfy-table's u16 widths (padding included) it saturates and wraps;
    // those are drawn by comfy-table itself.
    for n in [65_532, 65_533, 65_534, 65_535, 65_536, 70_000] {
        let wide = rows(&[["x", &"w".repeat(n), "y\nz"]]);
        assert_eq!(drawn(&header, &wide), comfy(&header, &wide), "{n} wide");
    }
}

mod drawing {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a".to_string()),
                Just("Zz9 ".to_string()),
                Just("\n".to_string()),
                Just("漢".to_string()),
                Just("\u{301}".to_string()),
                Just("\u{200b}".to_string()),
                Just("🦀".to_string()),
                Just("é".to_string()),
                // Controls: left to unicode-width, outside the printable-ASCII fast path.
                Just("\t".to_string()),
                Just("\u{7f}".to_string()),
                Just("\0".to_string()),
                Just("\r".to_string()),
                "[ -~]{0,12}",
            ],
            0..6,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::proptest_cases() / 3))]
        #[test]
        fn any_listing_is_drawn_as_comfy_table_draws_it(
            header in proptest::collection::vec("[a-z_]{1,12}", 1..6),
            rows in proptest::collection::vec(proptest::collection::vec(text(), 6), 0..6),
        ) {
            let header: Vec<&str> = header.iter().map(String::as_str).collect();
            let rows: Vec<Vec<String>> =
                rows.into_iter().map(|mut r| { r.truncate(header.len()); r }).collect();
            prop_assert_eq!(drawn(&header, &rows), comfy(&header, &rows));
        }
    }
}

#[test]
fn a_table_of_records_is_the_table_of_their_serde_rows() {
    let mk = |name, active| {
        user(
            "2026-11-22T10:00:00.000120Z",
            "esc\u{1b}]0;title\u{7}",
            true,
            name,
            active,
        )
    };
    let users = [
        mk(None, None),
        mk(Some("Line\nbreak \u{202e}rtl"), Some(true)),
        mk(Some("漢字"), Some(false)),
    ];
    let table = |fast: bool| {
        let mut buf = Vec::new();
        let mut w = ListWriter::new(OutputFormat::Table, User::COLUMNS, &mut buf);
        for u in &users {
            if fast {
                w.record(u).unwrap();
            } else {
                w.row(u).unwrap();
            }
        }
        assert_eq!(w.finish().unwrap(), users.len());
        String::from_utf8(buf).unwrap()
    };
    let general = table(false);
    assert_eq!(table(true), general);
    assert!(general.contains("esc\\x1b]0;title\\x07"), "{general}");
    assert!(general.contains("\\u{202e}rtl"), "{general}");
}
