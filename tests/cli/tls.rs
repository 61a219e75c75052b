//! TLS: verify-full against a server whose certificate our test CA signed; require against
//! a server without TLS; DATABASE_SSL_MODE honoured.

use crate::support::{plain_server_port, tls_server, Cmd};

fn run(url: &str, ssl_env: Option<&str>) -> crate::support::Run {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cmd::bare(dir.path())
        .env("DATABASE_URL", url)
        .args(&["-o", "json", "status"]);
    if let Some(m) = ssl_env {
        c = c.env("DATABASE_SSL_MODE", m);
    }
    c.run()
}

#[test]
fn verify_full_connects_with_the_right_ca_only() {
    let (port, certs) = tls_server();
    let ca = certs.join("ca.crt");
    let other = certs.join("other-ca.crt");
    let url = |ca: &std::path::Path, mode: &str| {
        format!(
            "postgresql://postgres@localhost:{port}/postgres?sslmode={mode}&sslrootcert={}",
            ca.display()
        )
    };
    let r = run(&url(&ca, "verify-full"), None);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(r.json()["database"], "postgres");
    // The same server through a CA that did not sign it: refused, exit 5.
    let r = run(&url(&other, "verify-full"), None).fails(5);
    assert!(r.stderr.contains("certificate verify failed"), "{r:#?}");
    // verify-full checks the host name: 127.0.0.1 is in the certificate, a wrong name is not.
    let by_ip = format!(
        "postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={}",
        ca.display()
    );
    assert_eq!(run(&by_ip, None).code, 0);
    // DATABASE_SSL_MODE supplies the mode when the URL has none.
    let no_mode = format!(
        "postgresql://postgres@localhost:{port}/postgres?sslrootcert={}",
        other.display()
    );
    run(&no_mode, Some("verify-full")).fails(5);
    assert_eq!(
        run(&no_mode, None).code,
        0,
        "prefer: connects without verifying"
    );
}

#[test]
fn require_against_a_server_without_tls_is_exit_5() {
    let port = plain_server_port();
    let url = format!("postgresql://postgres@127.0.0.1:{port}/postgres");
    let r = run(&format!("{url}?sslmode=require"), None).fails(5);
    assert!(r.stderr.contains("SSL"), "{r:#?}");
    let r = run(&url, Some("require")).fails(5);
    assert!(r.stderr.contains("SSL"), "{r:#?}");
    // The URL's own sslmode wins over DATABASE_SSL_MODE.
    assert_eq!(
        run(&format!("{url}?sslmode=disable"), Some("require")).code,
        0
    );
}
