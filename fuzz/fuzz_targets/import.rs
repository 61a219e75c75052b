//! The import reader (CSV, JSON array, NDJSON) and the value checks on arbitrary bytes:
//! never panics; every record has a field per column, every refusal is a reason.
//! The first byte picks the format and the kind's columns; the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackctl::import::{check_bcrypt_hash, parse_bool, parse_time, Field, Format, Input, Records};

const USERS: &[&str] = &[
    "id", "email", "username", "full_name", "is_active", "is_superuser", "created_at",
    "updated_at", "password", "hashed_password",
];
const ITEMS: &[&str] = &[
    "id", "title", "description", "price", "is_available", "owner_id", "owner_email",
    "created_at", "updated_at",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let format = if pick & 1 == 0 { Format::Csv } else { Format::Json };
    let columns = if pick & 2 == 0 { USERS } else { ITEMS };
    let input = Input::from_reader("fuzz".into(), None, Box::new(std::io::Cursor::new(file.to_vec())));
    let Ok(records) = Records::new(input, format, columns) else {
        return;
    };
    for r in records {
        match r {
            Ok(rec) => {
                assert_eq!(rec.fields.len(), columns.len());
                for f in &rec.fields {
                    if let Field::Value(v) = f {
                        let _ = check_bcrypt_hash(v);
                        let _ = parse_bool("is_active", v);
                        let _ = parse_time("created_at", v);
                    }
                }
            }
            Err(e) => assert!(!e.reason.is_empty()),
        }
    }
});
