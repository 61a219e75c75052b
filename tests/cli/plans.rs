//! The statements stackctl sends for each single-row command and first page use an index:
//! on a fixture big enough that the planner prefers one (and ANALYZEd), no sequential scan
//! and no sort of a whole table on `users` or `items`.
//!
//! The plans are the server's own for the statements the real binary sends, parameters and
//! all: the test database loads `auto_explain` (`session_preload_libraries`, every statement,
//! JSON), and the test reads the plans the server logged for that database (the harness's
//! `log_line_prefix` names it) while the command ran. Nothing is copied from the code, so a
//! query that changes is judged as it is. Against an outside server (TEST_DATABASE_URL) the
//! log is out of reach and the tests fail saying so (`--skip plans::` leaves them out).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{server_log, TestDb};

/// The plans come from the log of the cluster the harness started; with TEST_DATABASE_URL
/// it is out of reach, and these tests fail saying so rather than pass unchecked.
fn own_server_log() -> std::path::PathBuf {
    server_log().expect(
        "the plan checks read auto_explain's plans from the harness's own cluster's log: \
         unset TEST_DATABASE_URL, or leave them out with `cargo test -- --skip plans::`",
    )
}

const USERS: usize = 20_000;
const ITEMS: usize = 60_000;

/// A migrated database with `USERS` users and `ITEMS` items (a few NULL timestamps and
/// prices, as rows the application wrote may have), vacuumed and analysed, logging every
/// plan.
fn fixture() -> TestDb {
    let db = TestDb::new();
    db.sql(&format!(
        "INSERT INTO users (id, email, username, hashed_password, full_name, created_at, updated_at) \
         SELECT md5('u' || g)::uuid, 'user' || g || '@example.com', 'user' || g, \
                '$2b$04$abcdefghijklmnopqrstuuN0d0QpLrPqGJ6UArqhhGmLpQmyZ6ZjW', 'User ' || g, \
                CASE WHEN g % 1000 = 0 THEN NULL ELSE now() - g * interval '1 minute' END, now() \
         FROM generate_series(1, {USERS}) g; \
         INSERT INTO items (id, title, description, price, owner_id, created_at, updated_at) \
         SELECT md5('i' || g)::uuid, 'Item ' || g, 'Description ' || g, \
                CASE WHEN g % 997 = 0 THEN NULL ELSE (g % 100000) / 100.0 END, \
                md5('u' || (g % {USERS} + 1))::uuid, \
                CASE WHEN g % 1000 = 0 THEN NULL ELSE now() - g * interval '1 second' END, now() \
         FROM generate_series(1, {ITEMS}) g"
    ));
    // As autovacuum leaves a table: statistics, and the trigram index's pending list (GIN
    // takes fresh rows into a list it scans whole, which the planner rightly avoids) merged.
    db.sql("VACUUM ANALYZE users");
    db.sql("VACUUM ANALYZE items");
    db.sql(&format!(
        "ALTER DATABASE {0} SET session_preload_libraries = 'auto_explain'; \
         ALTER DATABASE {0} SET auto_explain.log_min_duration = 0; \
         ALTER DATABASE {0} SET auto_explain.log_format = 'json'",
        db.name
    ));
    db
}

/// The plans the server logged for this database while `run` ran: (query text, plan).
fn plans_of(db: &TestDb, log: &std::path::Path, run: impl FnOnce()) -> Vec<(String, Value)> {
    let start = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    run();
    // A backend logs a statement's plan when its portal closes, at the latest as the
    // connection ends: wait until stackctl's backends are gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    ) != "0"
    {
        assert!(Instant::now() < deadline, "stackctl's backends linger");
        std::thread::sleep(Duration::from_millis(20));
    }
    let bytes = std::fs::read(log).expect("read the server log");
    let text = String::from_utf8_lossy(&bytes[start as usize..]).into_owned();
    let marker = format!(" db={} LOG:  duration: ", db.name);
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if !(line.contains(&marker) && line.ends_with("plan:")) {
            continue;
        }
        let mut json = String::new();
        while let Some(next) = lines.peek() {
            let Some(rest) = next.strip_prefix('\t') else {
                break;
            };
            json.push_str(rest);
            json.push('\n');
            lines.next();
        }
        let v: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("auto_explain's JSON ({e}): {json}"));
        out.push((
            v["Query Text"].as_str().unwrap_or("").to_string(),
            v["Plan"].clone(),
        ));
    }
    out
}

fn nodes(plan: &Value) -> Vec<&Value> {
    let mut all = vec![plan];
    if let Some(children) = plan["Plans"].as_array() {
        for c in children {
            all.extend(nodes(c));
        }
    }
    all
}

fn on_our_tables(node: &Value) -> bool {
    matches!(node["Relation Name"].as_str(), Some("users" | "items"))
}

/// A scan of `users` or `items` that reads the whole table: a sequential scan, or an index
/// scan with no condition (it reads every entry; fine under a Limit, not under a Sort).
fn whole_table(node: &Value) -> bool {
    on_our_tables(node)
        && node["Index Cond"].is_null()
        && node["Recheck Cond"].is_null()
        && node["Node Type"]
            .as_str()
            .is_some_and(|t| t.contains("Scan"))
}

/// Why a plan is not acceptable, if it is not: a sequential scan of users/items, a sort
/// (plain or incremental) above a scan that reads a whole table, or a Memoize.
fn refusal(plan: &Value) -> Option<String> {
    for node in nodes(plan) {
        let kind = node["Node Type"].as_str().unwrap_or("");
        if kind == "Seq Scan" && on_our_tables(node) {
            return Some(format!("a Seq Scan on {}", node["Relation Name"]));
        }
        if kind.ends_with("Sort") && nodes(node).iter().any(|n| whole_table(n)) {
            return Some(format!("a {kind} of a whole table"));
        }
        // A Memoize sizes its cache for every distinct key it expects (an item's owner
        // among all users) before the first row: 1.6 ms of a 50-item page on 10M items and
        // 1M users, where the page itself takes 0.1 ms.
        if kind == "Memoize" {
            return Some("a Memoize".into());
        }
    }
    None
}

/// Run stackctl `args` against the fixture and check every plan that touches users/items;
/// what is wrong goes to `failures`, so one run names every command that scans.
fn check(
    db: &TestDb,
    log: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
    failures: &mut Vec<String>,
) {
    let plans = plans_of(db, log, || {
        let mut cmd = db.cmd().args(args);
        if let Some(input) = stdin {
            cmd = cmd.stdin(input);
        }
        cmd.run().success();
    });
    let ours: Vec<&(String, Value)> = plans
        .iter()
        .filter(|(_, p)| nodes(p).iter().any(|n| on_our_tables(n)))
        .collect();
    assert!(
        !ours.is_empty(),
        "{args:?}: no plan on users/items was logged ({} plans in all)",
        plans.len()
    );
    for (query, plan) in ours {
        if let Some(why) = refusal(plan) {
            failures.push(format!(
                "{args:?} sends a statement planned with {why}:\n{query}\n{}",
                serde_json::to_string_pretty(plan).unwrap()
            ));
        }
    }
}

#[test]
fn single_row_commands_and_first_pages_use_indexes() {
    let log = own_server_log();
    let db = fixture();
    let mut failures = Vec::new();
    let f = &mut failures;
    // The user named in another letter case: the exact match finds nothing, the
    // case-insensitive one must not scan.
    check(
        &db,
        &log,
        &["user", "show", "USER5000@Example.com"],
        None,
        f,
    );
    check(&db, &log, &["user", "show", "User5000"], None, f);
    // Ids by a prefix: a range of the primary key, never a scan.
    let item = db.sql("SELECT id FROM items ORDER BY id OFFSET 100 LIMIT 1");
    check(&db, &log, &["item", "show", &item[..8]], None, f);
    let user = db.sql("SELECT id FROM users ORDER BY id OFFSET 100 LIMIT 1");
    check(&db, &log, &["user", "show", &user[..8]], None, f);
    // The uniqueness check of an add (rolled back: a dry run).
    check(
        &db,
        &log,
        &[
            "--dry-run",
            "user",
            "add",
            "--email",
            "Fresh.One@example.com",
            "--username",
            "fresh_one",
            "--password-stdin",
        ],
        Some("password123\n"),
        f,
    );
    for sort in ["created", "email", "username"] {
        for desc in [&[][..], &["--desc"]] {
            let mut args = vec!["user", "list", "--limit", "50", "--sort", sort];
            args.extend_from_slice(desc);
            check(&db, &log, &args, None, f);
        }
    }
    check(
        &db,
        &log,
        &["user", "list", "--search", "user5000@", "--limit", "50"],
        None,
        f,
    );
    for sort in ["created", "price", "title"] {
        for desc in [&[][..], &["--desc"]] {
            let mut args = vec!["item", "list", "--limit", "50", "--sort", sort];
            args.extend_from_slice(desc);
            check(&db, &log, &args, None, f);
        }
    }
    check(
        &db,
        &log,
        &[
            "item",
            "list",
            "--owner",
            "user5000@example.com",
            "--limit",
            "50",
        ],
        None,
        f,
    );
    assert!(
        failures.is_empty(),
        "{} statement(s) scan or sort a whole table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The checker itself: the plans the schema had before the query indexes are refused.
#[test]
fn the_plan_check_refuses_scans_and_whole_table_sorts() {
    let log = own_server_log();
    let db = fixture();
    db.sql(
        "DROP INDEX stackctl_users_email_lower, stackctl_items_created_id, \
         stackctl_items_price_id, stackctl_items_title_id",
    );
    for args in [
        &["user", "show", "USER5000@Example.com"][..],
        &["item", "list", "--limit", "50"],
    ] {
        let plans = plans_of(&db, &log, || {
            db.cmd().args(args).run().success();
        });
        assert!(
            plans.iter().any(|(_, p)| refusal(p).is_some()),
            "{args:?}: {plans:#?}"
        );
    }
}
