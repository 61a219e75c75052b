//! The import reader (CSV, JSON array, NDJSON) and the row checks on arbitrary bytes:
//! never panics; every refusal is a reason. The first byte picks the format and the kind;
//! the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackctl::import::items::ItemRow;
use stackctl::import::users::UserRow;
use stackctl::import::{Format, Input, Records};

fn input(file: &[u8]) -> Input {
    Input::from_reader("fuzz".into(), None, Box::new(std::io::Cursor::new(file.to_vec())))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let format = if pick & 1 == 0 { Format::Csv } else { Format::Json };
    // Absent times take this one (any time serves).
    let now = Default::default();
    if pick & 2 == 0 {
        let Ok(records) = Records::<UserRow>::new(input(file), format) else {
            return;
        };
        for r in records {
            match r {
                Ok(r) => drop(r.row.check(now)),
                Err(e) => assert!(!e.reason.is_empty()),
            }
        }
    } else {
        let Ok(records) = Records::<ItemRow>::new(input(file), format) else {
            return;
        };
        for r in records {
            match r {
                Ok(r) => drop(r.row.check(now)),
                Err(e) => assert!(!e.reason.is_empty()),
            }
        }
    }
});
