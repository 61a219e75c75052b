//! The application's real Alembic beside stackctl (tests/data/alembic: the design
//! document's initial migration and a second release adding `users.phone` and `tags`):
//! adoption in either order, everyday commands, Alembic's own upgrade and downgrade after
//! stackctl, and what `alembic revision --autogenerate` would propose with and without the
//! `include_name` hook docs/alembic.md gives.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::support::{python, TestDb, Timed as _};

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/alembic")
}

/// The database's URL as the application's SQLAlchemy takes it.
fn app_url(db: &TestDb) -> String {
    db.url.replacen("postgresql://", "postgresql+psycopg://", 1)
}

/// `alembic ARGS` in the project, against `db`.
fn alembic(db: &TestDb, args: &[&str]) {
    let out = std::process::Command::new(python())
        .args(["-m", "alembic", "-c"])
        .arg(project().join("alembic.ini"))
        .args(args)
        .env("APP_DATABASE_URL", app_url(db))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .timed_output()
        .expect("run alembic");
    assert!(
        out.status.success(),
        "alembic {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The operations autogenerate would propose, one line each.
fn autogenerate(db: &TestDb, hook: bool) -> BTreeSet<String> {
    let mut cmd = std::process::Command::new(python());
    cmd.arg(project().join("compare.py")).arg(app_url(db));
    if hook {
        cmd.arg("hook");
    }
    let out = cmd
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .timed_output()
        .expect("run compare.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// The everyday commands, on a database the application's Alembic made.
fn everyday(db: &TestDb, who: &str) {
    db.add_user(&format!("{who}@example.com"), who);
    db.ok(&[
        "item", "add", "--owner", who, "--title", "Lamp", "--price", "12.50",
    ]);
    let items = db.json(&["item", "list", "--owner", who]);
    assert_eq!(items[0]["price"], "12.50", "{items}");
    db.ok(&["user", "update", who, "--full-name", "Ada"]);
    db.ok(&["user", "deactivate", who]);
    assert_eq!(db.json(&["user", "show", who])["is_active"], false);
    db.ok(&["user", "activate", who]);
    assert!(db
        .json(&["audit", "list", "--target", who])
        .as_array()
        .is_some_and(|a| a.len() >= 4));
    db.ok(&["schema", "diff"]);
    db.ok(&["status", "--check"]);
}

/// Adopted at the application's first release, then the application migrates to its
/// second and back: stackctl works throughout and Alembic's own migrations run over
/// stackctl's objects.
#[test]
fn adopted_before_the_applications_second_release() {
    let db = TestDb::empty();
    alembic(&db, &["upgrade", "001"]);
    let r = db.ok(&["migrate"]);
    assert!(r.stderr.contains("adopted"), "{r:#?}");
    everyday(&db, "first");
    alembic(&db, &["upgrade", "head"]);
    everyday(&db, "second");
    assert_eq!(db.ok(&["schema", "diff"]).code, 0);
    alembic(&db, &["downgrade", "-1"]);
    assert_eq!(db.sql("SELECT to_regclass('tags') IS NULL"), "t");
    everyday(&db, "third");
}

/// Adopted after the application's second release (a column and a table it added): the
/// superset is adopted and named, and everyday commands work.
#[test]
fn adopted_after_the_applications_second_release() {
    let db = TestDb::empty();
    alembic(&db, &["upgrade", "head"]);
    let r = db.ok(&["migrate"]);
    assert!(r.stderr.contains("adopted"), "{r:#?}");
    assert!(r.stderr.contains("column users.phone"), "{r:#?}");
    assert!(r.stderr.contains("table tags"), "{r:#?}");
    everyday(&db, "grown");
    alembic(&db, &["downgrade", "001"]);
    everyday(&db, "shrunk");
}

/// What autogenerate proposes on a database stackctl has migrated and used, against what
/// it proposes on the same application's database without stackctl: with the documented
/// hook, nothing more; without it, no `remove_table` (stackctl's tables are in a schema of
/// their own), only `remove_index` of stackctl's indexes on the application's tables.
#[test]
fn autogenerate_proposes_nothing_for_stackctls_objects() {
    let plain = TestDb::empty();
    alembic(&plain, &["upgrade", "head"]);
    let before = autogenerate(&plain, false);

    let db = TestDb::empty();
    alembic(&db, &["upgrade", "head"]);
    db.ok(&["migrate"]);
    everyday(&db, "used");

    let with_hook = autogenerate(&db, true);
    let extra: Vec<&String> = with_hook.difference(&before).collect();
    assert!(
        extra.is_empty(),
        "with the hook, autogenerate proposes more: {extra:#?}"
    );

    let without = autogenerate(&db, false);
    assert!(
        without.iter().all(|d| !d.starts_with("remove_table")),
        "{without:#?}"
    );
    let extra: Vec<&String> = without.difference(&before).collect();
    assert!(
        !extra.is_empty(),
        "stackctl's indexes are visible without the hook"
    );
    assert!(
        extra
            .iter()
            .all(|d| d.starts_with("remove_index stackctl_") || d.starts_with("remove_index idx_")),
        "{extra:#?}"
    );
}
