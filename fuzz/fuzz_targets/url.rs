//! The URL parser on arbitrary input: never panics; what it accepts normalises to itself,
//! and neither its shown form nor a child's connection string carries the password,
//! whichever form carried it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackctl::url::PgUrl;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (raw, mode) = match text.split_once('\n') {
        Some((u, m)) => (u, Some(m)),
        None => (text, None),
    };
    if let Ok(url) = PgUrl::parse_unregistered(raw, mode) {
        assert!(url.libpq().starts_with("postgresql://"));
        let again =
            PgUrl::parse_unregistered(url.libpq(), mode).expect("a normalised URL is accepted");
        assert_eq!(again, url);
        if let Some(pw) = url.password().filter(|p| p.len() >= 6) {
            assert!(!url.redacted().contains(pw), "{}", url.redacted());
            assert!(!url.conninfo_for_child().contains(pw));
        }
    }
});
