//! The URL normaliser on arbitrary input: never panics; what it accepts normalises to
//! itself, and its shown form never carries the password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackctl::config::{normalize_unregistered, redact_url};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (raw, mode) = match text.split_once('\n') {
        Some((u, m)) => (u, Some(m)),
        None => (text, None),
    };
    if let Ok(url) = normalize_unregistered(raw, mode) {
        assert!(url.starts_with("postgresql://"));
        let again = normalize_unregistered(&url, mode).expect("a normalised URL is accepted");
        assert_eq!(again, url);
        // Where the URL has a password, the shown form has `***` in its place.
        let password = |u: &str| -> Option<String> {
            let rest = u.split_once("://")?.1;
            let authority = rest.split(['/', '?']).next()?;
            let userinfo = authority.rsplit_once('@')?.0;
            Some(userinfo.split_once(':')?.1.to_string())
        };
        if password(&url).is_some_and(|p| !p.is_empty()) {
            assert_eq!(password(&redact_url(&url)).as_deref(), Some("***"), "{url}");
        }
    }
});
