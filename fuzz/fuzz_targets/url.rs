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
        // Wherever the password stood, the shown URL has `***` there (the same text may
        // also stand in the user or database name: only the password's place is judged),
        // and a child's connection string has no password at all.
        if url.password().is_some() {
            let shown = PgUrl::parse_unregistered(&url.redacted(), mode)
                .expect("a redacted URL is still a URL");
            assert_eq!(shown.password(), Some("***"), "{}", url.redacted());
            // A value's quote is escaped (`\'`), so `password='` after a space or at the start
            // can only be a keyword.
            let child = url.conninfo_for_child();
            assert!(!child.starts_with("password='") && !child.contains(" password='"), "{child}");
        }
    }
});
