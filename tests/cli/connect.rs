use crate::support::{Cmd, TestDb};

/// Replace `postgresql://` with another accepted scheme.
fn with_scheme(url: &str, scheme: &str) -> String {
    url.replacen("postgresql://", &format!("{scheme}://"), 1)
}

#[test]
fn sqlalchemy_url_forms_connect() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    for scheme in [
        "postgres",
        "postgresql",
        "postgresql+psycopg",
        "postgresql+psycopg2",
        "postgresql+asyncpg",
        "postgresql+pg8000",
    ] {
        let url = with_scheme(&db.url, scheme);
        let r = Cmd::bare(db.dir.path())
            .args(&["--database-url", &url, "-o", "json", "user", "list"])
            .run()
            .success();
        assert_eq!(r.json().as_array().unwrap().len(), 1, "{scheme}");
    }
}

#[test]
fn dotenv_and_env_file_are_read() {
    let db = TestDb::new();
    db.add_user("a@example.com", "alice");
    let url = with_scheme(&db.url, "postgresql+psycopg");
    std::fs::write(
        db.dir.path().join(".env"),
        format!("SECRET_KEY=abc\n# comment\nDATABASE_URL={url}\n"),
    )
    .unwrap();
    let r = Cmd::bare(db.dir.path())
        .args(&["-o", "json", "user", "list"])
        .run()
        .success();
    assert_eq!(r.json().as_array().unwrap().len(), 1);

    let other = tempfile::tempdir().unwrap();
    let file = other.path().join("app.env");
    std::fs::write(&file, format!("DATABASE_URL=\"{url}\"\n")).unwrap();
    std::fs::remove_file(db.dir.path().join(".env")).unwrap();
    let r = Cmd::bare(db.dir.path())
        .args(&[
            "--env-file",
            file.to_str().unwrap(),
            "-o",
            "json",
            "user",
            "list",
        ])
        .run()
        .success();
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    // Nothing else in .env is exported: stackctl runs no child here, but the flag
    // still beats the file.
    let r = Cmd::bare(db.dir.path())
        .args(&[
            "--env-file",
            file.to_str().unwrap(),
            "--database-url",
            "postgresql://127.0.0.1:1/x",
            "status",
        ])
        .run();
    assert_eq!(r.code, 5, "{r:#?}");
}

#[test]
fn other_schemes_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "mysql://root:pw@localhost/db",
        "sqlite:///tmp/x.db",
        "localhost:5432",
    ] {
        let r = Cmd::bare(dir.path())
            .args(&["--database-url", url, "user", "list"])
            .run()
            .fails(2);
        assert!(!r.stderr.contains("pw@"), "{r:#?}");
    }
    let r = Cmd::bare(dir.path())
        .args(&["--env-file", "/nonexistent/.env", "status"])
        .run()
        .fails(2);
    assert!(r.stderr.contains("env file"), "{r:#?}");
}

#[test]
fn unreachable_server_is_exit_5_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let secret = "Sup3rS3cretPw";
    for args in [vec!["status"], vec!["user", "list"], vec!["migrate"]] {
        let url = format!("postgresql://admin:{secret}@127.0.0.1:1/app?connect_timeout=3");
        let mut all = vec!["--database-url", url.as_str(), "-vv"];
        all.extend(args.iter().copied());
        let r = Cmd::bare(dir.path()).args(&all).run().fails(5);
        assert!(
            !r.stderr.contains(secret) && !r.stdout.contains(secret),
            "{r:#?}"
        );
    }
    // A wrong password against a real server: libpq's own message must not leak it.
    let db = TestDb::new();
    let base = TestDb::server_base().replace("postgres@", &format!("nosuchrole:{secret}@"));
    let r = Cmd::bare(db.dir.path())
        .args(&["--database-url", &format!("{base}/{}", db.name), "status"])
        .run()
        .fails(5);
    assert!(!r.stderr.contains(secret), "{r:#?}");
}

#[test]
fn malformed_urls_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "postgresql://h:notaport/db",
        "postgresql://h/db?nosuchoption=1",
        "postgresql://h/db?connect_timeout=abc&x",
        "postgresql://u:pw@h/d b",
    ] {
        let r = Cmd::bare(dir.path())
            .args(&["--database-url", url, "status"])
            .run();
        assert!(r.code == 2, "{url}: {r:#?}");
    }
}

/// Make `timezone` and `client_encoding` the defaults of `db`'s new sessions.
pub fn database_defaults(db: &TestDb, timezone: &str, encoding: &str) {
    let name = &db.name;
    db.sql(&format!(
        "ALTER DATABASE {name} SET timezone = '{timezone}'; \
         ALTER DATABASE {name} SET client_encoding = '{encoding}'"
    ));
}

/// `(TimeZone, client_encoding)` of a session stackctl opens on `url`, each as
/// `(value, source)`: `pg_settings.source` is `session` only when a SET made the value.
pub fn session_settings(url: &str) -> [(String, String); 2] {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        setting: String,
        #[diesel(sql_type = Text)]
        source: String,
    }
    let mut conn = stackctl::db::connect(url).unwrap();
    let rows: Vec<Setting> = diesel::sql_query(
        "SELECT setting, source FROM pg_settings \
         WHERE name IN ('TimeZone', 'client_encoding') ORDER BY name COLLATE \"C\"",
    )
    .load(&mut conn)
    .unwrap();
    let [zone, encoding]: [Setting; 2] = rows.try_into().ok().unwrap();
    [
        (zone.setting, zone.source),
        (encoding.setting, encoding.source),
    ]
}

/// Every connection works in UTC and UTF-8 (Diesel's contract), whatever the database's
/// own defaults are.
#[test]
fn sessions_run_in_utc_and_utf8_whatever_the_database_defaults() {
    let db = TestDb::new();
    for (timezone, encoding) in [
        ("UTC", "UTF8"),
        ("Asia/Tokyo", "LATIN1"),
        ("UTC", "LATIN1"),
        ("Asia/Tokyo", "UTF8"),
        ("Etc/UTC", "UTF8"),
    ] {
        database_defaults(&db, timezone, encoding);
        let [zone, enc] = session_settings(&db.url);
        assert_eq!(
            (zone.0.as_str(), enc.0.as_str()),
            ("UTC", "UTF8"),
            "database defaults {timezone}, {encoding}"
        );
    }
}
