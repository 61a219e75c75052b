//! libpq's own parser (`PQconninfoParse`): the one place a URL is taken apart.

use std::ffi::{CStr, CString};

use crate::error::{Error, Result};

/// libpq's own parse of a URL: a malformed one is a usage error (2) rather than a
/// connection failure (5).
pub(super) fn libpq_parse(url: &str) -> Result<Vec<(String, String)>> {
    let c_url = CString::new(url)
        .map_err(|_| Error::usage("invalid database URL: it contains a NUL byte"))?;
    let mut errmsg: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: c_url is a valid C string. PQconninfoParse returns either an options array
    // terminated by an entry with a NULL keyword, or NULL with an error message; both are
    // freed with libpq's own calls, and nothing borrowed from them outlives this block.
    unsafe {
        let opts = pq_sys::PQconninfoParse(c_url.as_ptr(), &mut errmsg);
        if !opts.is_null() {
            let mut out = Vec::new();
            let mut p = opts;
            while !(*p).keyword.is_null() {
                if !(*p).val.is_null() {
                    out.push((
                        CStr::from_ptr((*p).keyword).to_string_lossy().into_owned(),
                        CStr::from_ptr((*p).val).to_string_lossy().into_owned(),
                    ));
                }
                p = p.add(1);
            }
            pq_sys::PQconninfoFree(opts);
            return Ok(out);
        }
        let msg = if errmsg.is_null() {
            "libpq could not parse it".to_string()
        } else {
            let m = CStr::from_ptr(errmsg).to_string_lossy().trim().to_string();
            pq_sys::PQfreemem(errmsg.cast());
            m
        };
        Err(Error::usage(format!(
            "invalid database URL: {}",
            crate::error::redact(&msg)
        )))
    }
}
