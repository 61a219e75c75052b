//! The floor of `stackctl user list --limit 50`: a bare program that connects with the
//! same libpq (pq-sys, bundled, the very build stackctl links), runs the same statement
//! stackctl sends once (extended protocol, unnamed, the same parameters), reads every
//! value and writes them to stdout, and exits. No schema check, no session settings, no
//! formatting: what is left of stackctl's time above this is stackctl's own.
//!
//! `cargo build --release --example pq_floor`, then `pq_floor CONNINFO [SQL PARAM...]`
//! (scripts/bench.py runs it beside stackctl).

use std::ffi::{CStr, CString};
use std::io::Write;
use std::os::raw::c_char;

use pq_sys::{
    ConnStatusType, ExecStatusType, PQclear, PQconnectdb, PQerrorMessage, PQexecParams, PQfinish,
    PQgetvalue, PQnfields, PQntuples, PQresultErrorMessage, PQresultStatus, PQstatus,
};

/// The statement stackctl sends for `user list --limit 50` (Diesel's text, $1 = limit,
/// $2 = offset).
const USER_LIST: &str = "SELECT \"users\".\"id\", \"users\".\"email\", \"users\".\"username\", \
    \"users\".\"full_name\", \"users\".\"is_active\", \"users\".\"is_superuser\", \
    \"users\".\"created_at\", \"users\".\"updated_at\" FROM \"users\" \
    ORDER BY \"users\".\"created_at\" ASC NULLS FIRST, \"users\".\"id\" ASC LIMIT $1 OFFSET $2";

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(conninfo) = args.next() else {
        eprintln!("usage: pq_floor CONNINFO [SQL PARAM...]");
        std::process::exit(2);
    };
    let sql = args.next().unwrap_or_else(|| USER_LIST.to_string());
    let mut params: Vec<String> = args.collect();
    if params.is_empty() && sql == USER_LIST {
        params = vec!["50".into(), "0".into()];
    }
    let conninfo = CString::new(conninfo).expect("no NUL in the conninfo");
    let sql = CString::new(sql).expect("no NUL in the statement");
    let params: Vec<CString> = params
        .into_iter()
        .map(|p| CString::new(p).expect("no NUL in a parameter"))
        .collect();
    let values: Vec<*const c_char> = params.iter().map(|p| p.as_ptr()).collect();
    let n_params = i32::try_from(values.len()).expect("few parameters");
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    // SAFETY: libpq's documented API: every pointer passed is valid for the call, the
    // connection and result are used only before PQfinish / PQclear, and values read from
    // the result are copied out before it is cleared.
    let code = unsafe {
        let conn = PQconnectdb(conninfo.as_ptr());
        if PQstatus(conn) != ConnStatusType::CONNECTION_OK {
            eprintln!("{}", CStr::from_ptr(PQerrorMessage(conn)).to_string_lossy());
            PQfinish(conn);
            std::process::exit(5);
        }
        let res = PQexecParams(
            conn,
            sql.as_ptr(),
            n_params,
            std::ptr::null(),
            values.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            0,
        );
        let code = if PQresultStatus(res) == ExecStatusType::PGRES_TUPLES_OK {
            for row in 0..PQntuples(res) {
                for col in 0..PQnfields(res) {
                    if col > 0 {
                        let _ = out.write_all(b"\t");
                    }
                    let _ = out.write_all(CStr::from_ptr(PQgetvalue(res, row, col)).to_bytes());
                }
                let _ = out.write_all(b"\n");
            }
            0
        } else {
            eprintln!(
                "{}",
                CStr::from_ptr(PQresultErrorMessage(res)).to_string_lossy()
            );
            1
        };
        PQclear(res);
        PQfinish(conn);
        code
    };
    let _ = out.flush();
    std::process::exit(code);
}
