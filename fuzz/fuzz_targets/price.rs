//! The price parser on arbitrary input: never panics; what it accepts is within the
//! contract's range and re-parses from its canonical form to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackctl::db::models::format_price;
use stackctl::validate::Price;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Price::parse(text) {
        let canonical = format_price(p.value());
        let again = Price::parse(&canonical).expect("the canonical form re-parses");
        assert_eq!(again.value(), p.value());
        assert!(!canonical.starts_with('-'));
        assert!(canonical.len() <= "99999999.99".len());
    }
});
