//! Sixteen processes at once doing mixed writes on the same rows for a few seconds: every
//! exit code is 0, 3 or 4, and the final database is exactly what the successful commands
//! imply.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::support::{Cmd, TestDb};

const WORKERS: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(4);
/// Emails every worker tries to add: each can be created once.
const POOL: usize = 6;

#[derive(Default)]
struct Log {
    added: Vec<String>,
    deactivated: Vec<String>,
    items_added: Vec<String>,
    items_deleted: Vec<String>,
    codes: Vec<(String, i32)>,
}

fn worker(url: String, dir: std::path::PathBuf, w: usize, owners: Vec<String>) -> Log {
    let mut log = Log::default();
    let started = Instant::now();
    let mut n = 0usize;
    let cmd = || Cmd::bare(&dir).env("DATABASE_URL", &url);
    while started.elapsed() < RUN_FOR {
        n += 1;
        let pick = (w * 7 + n * 13) % POOL;
        match n % 4 {
            0 => {
                let email = format!("pool{pick}@example.com");
                let r = cmd()
                    .args(&[
                        "-q",
                        "user",
                        "add",
                        "--email",
                        &email,
                        "--username",
                        &format!("pool{pick}"),
                        "--random-password",
                    ])
                    .run();
                if r.code == 0 {
                    log.added.push(email);
                }
                log.codes.push(("user add".into(), r.code));
            }
            1 => {
                let who = &owners[(w + n) % owners.len()];
                let r = cmd().args(&["-q", "user", "deactivate", who]).run();
                if r.code == 0 {
                    log.deactivated.push(who.clone());
                }
                log.codes.push(("user deactivate".into(), r.code));
            }
            2 => {
                let owner = &owners[(w + n) % owners.len()];
                let r = cmd()
                    .args(&[
                        "-q",
                        "-o",
                        "json",
                        "item",
                        "add",
                        "--owner",
                        owner,
                        "--title",
                        &format!("w{w}-{n}"),
                    ])
                    .run();
                if r.code == 0 {
                    log.items_added
                        .push(r.json()["id"].as_str().unwrap().to_string());
                }
                log.codes.push(("item add".into(), r.code));
            }
            _ => {
                // Delete one of ours, sometimes twice (the second is a 3).
                let Some(id) = log
                    .items_added
                    .get(n % (log.items_added.len().max(1)))
                    .cloned()
                else {
                    continue;
                };
                let r = cmd().args(&["-q", "item", "delete", &id, "--yes"]).run();
                if r.code == 0 {
                    log.items_deleted.push(id);
                }
                log.codes.push(("item delete".into(), r.code));
            }
        }
    }
    log
}

#[test]
fn sixteen_writers_leave_a_consistent_database() {
    let db = TestDb::new();
    let owners: Vec<String> = (0..4)
        .map(|i| {
            let u = format!("owner{i}");
            db.add_user(&format!("{u}@example.com"), &u);
            u
        })
        .collect();
    let audit_before: usize = db
        .sql("SELECT count(*) FROM stackctl_audit")
        .parse()
        .unwrap();
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (url, dir, owners) = (db.url.clone(), db.dir.path().to_path_buf(), owners.clone());
            std::thread::spawn(move || worker(url, dir, w, owners))
        })
        .collect();
    let logs: Vec<Log> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    let mut by_code: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for l in &logs {
        for (what, code) in &l.codes {
            assert!([0, 3, 4].contains(code), "{what} exited {code}");
            *by_code.entry((what.clone(), *code)).or_default() += 1;
        }
    }
    let total: usize = by_code.values().sum();
    assert!(total >= 100, "only {total} commands ran: {by_code:?}");

    // Each pool email was created at most once, and exactly the created ones exist.
    let added: Vec<&String> = logs.iter().flat_map(|l| &l.added).collect();
    let unique: BTreeSet<&String> = added.iter().copied().collect();
    assert_eq!(
        added.len(),
        unique.len(),
        "an email was created twice: {added:?}"
    );
    let in_db: BTreeSet<String> = db
        .sql("SELECT email FROM users WHERE email LIKE 'pool%'")
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(in_db, unique.into_iter().cloned().collect());
    assert_eq!(
        db.sql("SELECT count(*) FROM (SELECT lower(email) FROM users GROUP BY 1 HAVING count(*) > 1) d"),
        "0"
    );

    // Items: created minus deleted, no more, no less; each delete succeeded once.
    let created: BTreeSet<String> = logs.iter().flat_map(|l| l.items_added.clone()).collect();
    let deleted: Vec<String> = logs.iter().flat_map(|l| l.items_deleted.clone()).collect();
    let deleted_set: BTreeSet<String> = deleted.iter().cloned().collect();
    assert_eq!(
        deleted.len(),
        deleted_set.len(),
        "an item was deleted twice"
    );
    let expected: BTreeSet<String> = created.difference(&deleted_set).cloned().collect();
    let items: BTreeSet<String> = db
        .sql("SELECT id FROM items")
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(items, expected);
    assert_eq!(
        db.sql("SELECT count(*) FROM items i LEFT JOIN users u ON u.id = i.owner_id WHERE u.id IS NULL"),
        "0"
    );

    // Every owner someone deactivated is inactive (nobody activates).
    for who in logs.iter().flat_map(|l| &l.deactivated) {
        assert_eq!(
            db.sql(&format!(
                "SELECT is_active FROM users WHERE username = '{who}'"
            )),
            "f"
        );
    }
    // One audit row per successful write (deactivating an inactive user writes nothing).
    let writes = logs
        .iter()
        .map(|l| l.added.len() + l.items_added.len() + l.items_deleted.len())
        .sum::<usize>();
    let deactivations = logs.iter().map(|l| l.deactivated.len()).sum::<usize>();
    let audited: usize = db
        .sql("SELECT count(*) FROM stackctl_audit")
        .parse()
        .unwrap();
    let audited_deactivations: usize = db
        .sql("SELECT count(*) FROM stackctl_audit WHERE command = 'user deactivate'")
        .parse()
        .unwrap();
    assert_eq!(audited - audit_before - audited_deactivations, writes);
    assert!(audited_deactivations <= deactivations && audited_deactivations <= 4);
}

/// `user import` checks uniqueness before hashing, which takes seconds here; a `user add`
/// of the same email in another letter case during the hashing must not leave two users
/// who differ only in case: the import checks again under the identity lock, in its
/// writing transaction, and exits 4 having written nothing.
#[test]
fn an_add_during_a_slow_import_leaves_one_user_per_identity() {
    let db = TestDb::new();
    let file = db.dir.path().join("users.csv");
    let mut csv = String::from("email,username,password\nada@example.com,ada,password-ada\n");
    for i in 0..40 {
        csv.push_str(&format!("user{i}@example.com,user{i},password-{i:04}\n"));
    }
    std::fs::write(&file, csv).unwrap();
    let import = db.cmd().env("STACKCTL_BCRYPT_COST", "12").args(&[
        "user",
        "import",
        file.to_str().unwrap(),
    ]);
    let started = std::time::Instant::now();
    let handle = std::thread::spawn(move || import.run());
    std::thread::sleep(std::time::Duration::from_millis(700));
    db.user_add("ADA@EXAMPLE.COM", "ada_upper", "password123\n")
        .run()
        .success();
    let r = handle.join().unwrap();
    assert!(
        started.elapsed() > std::time::Duration::from_millis(1500),
        "the import was too quick for the add to land during its hashing"
    );
    let r = r.fails(4);
    assert!(r.stderr.contains("while this import ran"), "{r:#?}");
    assert_eq!(
        db.sql("SELECT count(*) FROM users WHERE lower(email) = 'ada@example.com'"),
        "1"
    );
    assert_eq!(db.sql("SELECT count(*) FROM users"), "1");
}
