//! JSON as serde_json writes it, with one difference: C1 control characters
//! (U+0080 to U+009F) are written as `\u00XX` escapes too. serde_json escapes only the C0
//! controls, and a terminal may act on a raw C1 (U+009B is a CSI), so a value the
//! application stored could otherwise steer the terminal reading an error or a listing.
//! The escaped text is the same JSON value.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// A formatter that escapes C1 controls in strings, and otherwise is `F`.
struct EscapeC1<F>(F);

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $name<W: ?Sized + Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.0.$name(w $(, $arg)*)
        })*
    };
}

impl<F: Formatter> Formatter for EscapeC1<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some((i, c)) = rest.char_indices().find(|&(_, c)| is_c1(c)) {
            writer.write_all(&rest.as_bytes()[..i])?;
            write!(writer, "\\u{:04x}", c as u32)?;
            rest = &rest[i + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }
}

/// `serde_json::to_writer`, C1 controls escaped.
pub fn to_writer<W: Write, T: ?Sized + Serialize>(writer: W, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, EscapeC1(CompactFormatter));
    value.serialize(&mut ser)
}

/// `serde_json::to_writer_pretty`, C1 controls escaped.
pub fn to_writer_pretty<W: Write, T: ?Sized + Serialize>(
    writer: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, EscapeC1(PrettyFormatter::new()));
    value.serialize(&mut ser)
}

/// `serde_json::to_string`, C1 controls escaped.
pub fn to_string<T: ?Sized + Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and every value given here serialises.
    let _ = to_writer(&mut out, value);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn c1_controls_are_escaped_and_the_value_is_unchanged() {
        let value = serde_json::json!({"title": "a\u{9b}31m\u{85}\u{e9}\u{a0}\u{1b}", "n": [1]});
        let text = super::to_string(&value);
        // C1 escaped; C0 escaped as serde_json does; a no-break space (U+00A0) and é kept.
        assert_eq!(
            text,
            "{\"title\":\"a\\u009b31m\\u0085\u{e9}\u{a0}\\u001b\",\"n\":[1]}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
