//! The backend StackWizard's generator writes into every project (`support::generated`:
//! fetched from the npm registry at test time, driven in-process through FastAPI's
//! TestClient). Its Alembic (or its models' `create_all`) makes the schema, its startup
//! seeds an admin and five items; stackctl adopts it and administers it, and the
//! application's own API sees what stackctl did, and stackctl what the API did.

use serde_json::{json, Value};

use crate::support::generated;
use crate::support::TestDb;

fn login(email: &str, password: &str, name: &str) -> Value {
    json!({"login": {"email": email, "password": password}, "as": name})
}

fn get(path: &str, name: &str) -> Value {
    json!({"method": "GET", "path": path, "as": name})
}

fn statuses(results: &[Value]) -> Vec<i64> {
    results
        .iter()
        .map(|r| r["status"].as_i64().expect("a status"))
        .collect()
}

/// A database the generated backend made (`make`: its Alembic or its `create_all`) and
/// started on (its startup seeds the admin and five items), adopted by `stackctl migrate`.
fn started_and_adopted(make: fn(&TestDb)) -> TestDb {
    let db = TestDb::empty();
    make(&db);
    let r = generated::api(
        &db,
        json!([login("admin@example.com", "admin123", "admin")]),
    );
    assert_eq!(statuses(&r), [200], "{r:#?}");
    db.ok(&["migrate"]);
    db
}

/// The declarations the generated backend's own columns need, checked before and after.
fn declare_the_application_columns(db: &TestDb) {
    // Before the declaration, an insert is refused (exit 6) naming the column and the
    // command that declares it, and nothing is written.
    let r = db
        .user_add("early@example.com", "early", "Early-Pass-1234")
        .run()
        .fails(6);
    assert!(
        r.stderr.contains("users.is_verified")
            && r.stderr
                .contains("stackctl schema default users.is_verified"),
        "{r:#?}"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM users WHERE email = 'early@example.com'"),
        "0"
    );
    let listed = db.json(&["schema", "default"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["value"].is_null()));
    // Typed and checked against the column.
    db.run(&["schema", "default", "users.login_count", "many"])
        .fails(2);
    db.run(&["schema", "default", "users.email", "x"]).fails(2);
    db.run(&["schema", "default", "users.nope", "1"]).fails(3);
    db.ok(&["schema", "default", "users.is_verified", "false"]);
    db.ok(&["schema", "default", "users.login_count", "0"]);
    let listed = db.json(&["schema", "default"]);
    let value = |c: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["column"] == c)
            .map(|r| r["value"].clone())
    };
    assert_eq!(value("users.is_verified"), Some(json!("false")), "{listed}");
    assert_eq!(value("users.login_count"), Some(json!("0")), "{listed}");
    // Kept in stackctl's own schema, where the application's Alembic does not look.
    assert_eq!(
        db.sql("SELECT count(*) FROM stackctl.stackctl_column_defaults"),
        "2"
    );
}

#[test]
fn the_generated_backend_adopted_and_administered_both_ways() {
    let db = TestDb::empty();
    generated::alembic_upgrade(&db);
    // Its startup seeds the admin and five items (no price); a user registers through the
    // API and adds an item with a float price.
    let r = generated::api(
        &db,
        json!([
            login("admin@example.com", "admin123", "admin"),
            {"method": "POST", "path": "/api/v1/auth/register",
             "json": {"email": "reg@example.com", "password": "Registered-Pass-1"}},
            login("reg@example.com", "Registered-Pass-1", "reg"),
            {"method": "POST", "path": "/api/v1/items/", "as": "reg",
             "json": {"title": "Desk", "description": "oak", "price": 129.99}},
        ]),
    );
    assert_eq!(statuses(&r), [200, 200, 200, 200], "{r:#?}");
    let desk = r[3]["body"]["id"].as_i64().expect("an integer item id");

    // stackctl adopts it: the generated schema is the baseline, and the two columns it
    // cannot fill are named with the command that declares them.
    let m = db.ok(&["migrate"]);
    assert!(
        m.stderr
            .contains("stackctl schema default users.login_count")
            && m.stderr.contains("generated backend"),
        "{m:#?}"
    );
    db.ok(&["schema", "diff"]);
    declare_the_application_columns(&db);

    // What the application wrote reads back with the same values and types.
    let items = db.json(&["item", "list", "--all"]);
    let items = items.as_array().expect("a list");
    assert_eq!(items.len(), 6, "{items:?}");
    let d = items.iter().find(|i| i["id"] == desk).expect("the desk");
    assert_eq!(d["price"], "129.99", "{d}");
    assert_eq!(d["owner_email"], "reg@example.com", "{d}");
    assert!(items
        .iter()
        .filter(|i| i["title"] != "Desk")
        .all(|i| i["price"].is_null() && i["id"].is_i64()));
    let reg = db.json(&["user", "show", "reg@example.com"]);
    assert_eq!(reg["items"][0]["id"], desk, "{reg}");
    let shown = db.json(&["item", "show", &desk.to_string()]);
    assert_eq!(shown["title"], "Desk");

    // Users stackctl adds log in through the application's own /auth/login (bcrypt cost
    // 12 and 4; one without a username); its superuser has the application's admin powers.
    // The application's startup fails with two superusers (init_db reads "the" one), so
    // stackctl warns when a second appears, and the seeded admin steps down.
    let r = db
        .cmd()
        .args(&[
            "--bcrypt-cost",
            "12",
            "user",
            "add",
            "--email",
            "ops@example.com",
        ])
        .args(&["--username", "ops", "--superuser", "--password-stdin"])
        .stdin("Ops-Pass-1234")
        .run()
        .success();
    assert!(r.stderr.contains("2 superusers"), "{r:#?}");
    db.ok(&["user", "update", "admin", "--no-superuser"]);
    db.cmd()
        .args(&[
            "--bcrypt-cost",
            "4",
            "user",
            "add",
            "--email",
            "plain@example.com",
        ])
        .args(&["--password-stdin"])
        .stdin("Plain-Pass-1234")
        .run()
        .success();
    let plain = db.json(&["user", "show", "plain@example.com"]);
    assert!(plain["username"].is_null(), "{plain}");
    // Items stackctl adds: an integer id, the exact price.
    let lamp = db.json(&[
        "item",
        "add",
        "--owner",
        "plain@example.com",
        "--title",
        "Lamp",
        "--price",
        "12.30",
    ]);
    let lamp_id = lamp["id"].as_i64().expect("an integer id");
    assert_eq!(lamp["price"], "12.30");
    let r = generated::api(
        &db,
        json!([
            login("ops@example.com", "Ops-Pass-1234", "ops"),
            login("plain@example.com", "Plain-Pass-1234", "plain"),
            get("/api/v1/admin/users?limit=100", "ops"),
            get("/api/v1/admin/users", "plain"),
            get(&format!("/api/v1/items/{lamp_id}"), "plain"),
        ]),
    );
    assert_eq!(statuses(&r), [200, 200, 200, 403, 200], "{r:#?}");
    assert_eq!(r[0]["body"]["user"]["is_superuser"], true);
    assert!(r[1]["body"]["user"]["username"].is_null());
    assert_eq!(r[4]["body"]["id"], lamp_id);
    assert_eq!(r[4]["body"]["price"], 12.3);
    assert_eq!(r[4]["body"]["title"], "Lamp");
    // The application counted the login from the value stackctl declared.
    assert_eq!(
        db.sql("SELECT login_count FROM users WHERE email = 'plain@example.com'"),
        "1"
    );

    // deactivate, set-password, item update and delete take effect in the application.
    db.ok(&["user", "deactivate", "plain@example.com"]);
    db.cmd()
        .args(&["user", "set-password", "ops", "--password-stdin"])
        .stdin("New-Ops-Pass-99")
        .run()
        .success();
    db.ok(&["item", "update", &lamp_id.to_string(), "--price", "15.05"]);
    let r = generated::api(
        &db,
        json!([
            login("plain@example.com", "Plain-Pass-1234", "plain"),
            login("ops@example.com", "Ops-Pass-1234", "old"),
            login("ops@example.com", "New-Ops-Pass-99", "ops"),
            get(&format!("/api/v1/items/{lamp_id}"), "ops"),
        ]),
    );
    assert_eq!(statuses(&r), [401, 401, 200, 200], "{r:#?}");
    assert_eq!(r[3]["body"]["price"], 15.05);
    // A price the column cannot hold to the cent is refused, nothing written.
    db.run(&[
        "item",
        "update",
        &lamp_id.to_string(),
        "--price",
        "90071992547409.93",
    ])
    .fails(2);
    db.run(&["item", "show", "not-an-id"]).fails(2);
    db.run(&["item", "show", "99999"]).fails(3);

    // The foreign key has no cascade: user delete deletes the user's items itself, in the
    // same transaction, and says how many.
    let r = db.ok(&["user", "delete", "reg@example.com", "--yes"]);
    assert!(r.stderr.contains("1 item(s)"), "{r:#?}");
    assert_eq!(
        db.sql(&format!("SELECT count(*) FROM items WHERE id = {desk}")),
        "0"
    );
    db.ok(&["item", "delete", &lamp_id.to_string(), "--yes"]);
    let r = generated::api(
        &db,
        json!([
            login("reg@example.com", "Registered-Pass-1", "reg"),
            login("ops@example.com", "New-Ops-Pass-99", "ops"),
            get(&format!("/api/v1/items/{lamp_id}"), "ops"),
        ]),
    );
    assert_eq!(statuses(&r), [401, 200, 404], "{r:#?}");
    db.ok(&["schema", "diff"]);
    db.ok(&["status", "--check"]);
}

/// The application's other path to its schema: its models' `create_all`, no Alembic.
#[test]
fn the_generated_backend_made_by_create_all_is_adopted_too() {
    let db = started_and_adopted(generated::create_all);
    db.ok(&["schema", "diff"]);
    declare_the_application_columns(&db);
    db.cmd()
        .args(&[
            "user",
            "add",
            "--email",
            "ops@example.com",
            "--password-stdin",
        ])
        .stdin("Ops-Pass-1234")
        .run()
        .success();
    assert_eq!(db.json(&["item", "list"]).as_array().map(Vec::len), Some(5));
    let r = generated::api(
        &db,
        json!([login("ops@example.com", "Ops-Pass-1234", "ops")]),
    );
    assert_eq!(statuses(&r), [200], "{r:#?}");
}

/// A least-privilege role on the generated backend's schema: DML on the two tables, then
/// what `grant` adds (the item id sequence, the declarations) is all it needs.
#[test]
fn a_least_privilege_role_administers_the_generated_backend_after_grant() {
    let db = TestDb::empty();
    generated::alembic_upgrade(&db);
    db.ok(&["migrate"]);
    db.ok(&["schema", "default", "users.is_verified", "true"]);
    db.ok(&["schema", "default", "users.login_count", "0"]);
    let app = crate::privileges::role(&db, "gen_app", "");
    crate::privileges::dml_only(&db, &app);
    let grants = db.ok(&["grant", &app]);
    assert!(
        grants.stdout.contains("ON SEQUENCE items_id_seq"),
        "{grants:#?}"
    );
    db.ok(&["grant", &app, "--apply"]);
    let url = crate::privileges::url_as(&db, &app);
    db.cmd_url(&url)
        .args(&[
            "user",
            "add",
            "--email",
            "app@example.com",
            "--password-stdin",
        ])
        .stdin("App-Pass-1234")
        .run()
        .success();
    assert_eq!(
        db.sql("SELECT is_verified FROM users WHERE email = 'app@example.com'"),
        "t"
    );
    let item = db
        .cmd_url(&url)
        .args(&["-o", "json", "item", "add", "--owner", "app@example.com"])
        .args(&["--title", "Chair", "--price", "40"])
        .run()
        .success()
        .json();
    assert_eq!(item["id"], 1, "{item}");
    assert_eq!(item["price"], "40.00", "{item}");
    // An import that gives ids moves the sequence past them: what `grant` gave on it does.
    let file = db.dir.path().join("items.csv");
    std::fs::write(
        &file,
        "id,title,owner_email\n50,Desk,app@example.com\n,Lamp,app@example.com\n",
    )
    .unwrap();
    db.cmd_url(&url)
        .args(&["item", "import", file.to_str().unwrap()])
        .run()
        .success();
    assert_eq!(db.sql("SELECT last_value FROM items_id_seq"), "50");
    assert_eq!(
        db.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM items"),
        "1,2,50"
    );
}

/// An anonymised copy of the generated backend's database: its own columns fail closed
/// until kept or cleared; the application then starts on the copy, loads it through its
/// SQLAlchemy models and logs in a pseudonymised user with the operator's password.
#[test]
fn an_anonymised_copy_of_the_generated_backend_serves_the_application() {
    let db = started_and_adopted(generated::alembic_upgrade);
    let dir = db.dir.path().join("b");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let file = dir.join(m["file"].as_str().unwrap());
    let f = file.to_str().unwrap();
    let copy = format!("{}_staging", db.name);
    let r = db
        .run(&["backup", "restore", f, "--into", &copy, "--anonymize"])
        .fails(2);
    for column in [
        "users.is_verified",
        "users.password_reset_token",
        "users.last_login_at",
    ] {
        assert!(r.stderr.contains(column), "{column}: {r:#?}");
    }
    db.cmd()
        .args(&["backup", "restore", f, "--into", &copy, "--anonymize"])
        .args(&["--keep", "users.is_verified", "--keep", "users.login_count"])
        .args(&[
            "--clear",
            "users.password_reset_token",
            "--clear",
            "users.password_reset_at",
        ])
        .args(&["--clear", "users.email_verification_token"])
        .args(&[
            "--clear",
            "users.email_verified_at",
            "--clear",
            "users.last_login_at",
        ])
        .args(&["--password-stdin"])
        .stdin("Staging-Pass-1")
        .run()
        .success();
    let url = db
        .url
        .replacen(&format!("/{}", db.name), &format!("/{copy}"), 1);
    let email = crate::support::psql(&url, "SELECT email FROM users");
    assert!(email.ends_with("@example.invalid"), "{email}");
    let r = generated::api_at(
        &url,
        json!([
            login(&email, "Staging-Pass-1", "staff"),
            get("/api/v1/items/", "staff"),
            login("admin@example.com", "admin123", "old"),
        ]),
    );
    assert_eq!(statuses(&r), [200, 200, 401], "{r:#?}");
    assert_eq!(r[1]["body"].as_array().map(Vec::len), Some(5), "{r:#?}");
    db.sql(&format!("DROP DATABASE {copy} WITH (FORCE)"));
}

/// stackctl's files on the generated backend's shape: users without a username import
/// (the column is nullable there); items import with and without their integer ids, new
/// ones numbered by the application's own sequence, which moves past the ids a file gives
/// so the application's next item does not collide; an export imports back with the same
/// ids and prices; a backup restores beside the live database and serves the application.
#[test]
fn the_generated_backend_through_import_export_and_backup() {
    let db = started_and_adopted(generated::alembic_upgrade);
    db.ok(&["schema", "default", "users.is_verified", "true"]);
    db.ok(&["schema", "default", "users.login_count", "0"]);
    let file = |name: &str, text: &str| {
        let p = db.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };

    // Two users without a username are not a repeat of each other; a username that
    // repeats in another letter case still is.
    let users = file(
        "users.csv",
        "email,username,password\n\
         ann@example.com,,Ann-Pass-1234\n\
         bob@example.com,,Bob-Pass-1234\n\
         cy@example.com,cyd,Cy-Pass-1234\n",
    );
    db.ok(&["--bcrypt-cost", "4", "user", "import", &users]);
    assert_eq!(
        db.sql("SELECT count(*) FROM users WHERE username IS NULL AND email IN ('ann@example.com', 'bob@example.com')"),
        "2"
    );
    let again = file(
        "again.csv",
        "email,username,password\nd@example.com,CYD,D-Pass-12345\n",
    );
    let r = db.run(&["user", "import", &again]).fails(4);
    assert!(r.stderr.contains("username"), "{r:#?}");

    // Items without ids take the sequence's next values; an id the file gives moves the
    // sequence past it; a price is checked as the column holds it.
    let before = db.sql("SELECT max(id) FROM items");
    let new = file(
        "new.csv",
        "title,price,owner_email\nLamp,12.30,ann@example.com\nRug,0.10,ann@example.com\n",
    );
    db.ok(&["item", "import", &new]);
    let numbered = db.sql(
        "SELECT string_agg(id::text, ',' ORDER BY id) FROM items WHERE title IN ('Lamp', 'Rug')",
    );
    let first: i32 = before.parse::<i32>().unwrap() + 1;
    assert_eq!(numbered, format!("{},{}", first, first + 1));
    let given = file(
        "given.csv",
        "id,title,price,owner_email\n500,Vase,7.25,bob@example.com\n",
    );
    db.ok(&["item", "import", &given]);
    let bad = file(
        "bad.csv",
        "id,title,price,owner_email\n\
         x1,Cup,1.00,bob@example.com\n\
         501,Cup,1.00,bob@example.com\n\
         501,Mug,1.00,bob@example.com\n",
    );
    let r = db.run(&["item", "import", &bad]).fails(2);
    assert!(
        r.stderr.contains("line 2") && r.stderr.contains("line 4"),
        "{r:#?}"
    );
    let r = db.run(&["item", "import", &given]).fails(4);
    assert!(r.stderr.contains("500"), "{r:#?}");
    let r = generated::api(
        &db,
        json!([
            login("bob@example.com", "Bob-Pass-1234", "bob"),
            {"method": "POST", "path": "/api/v1/items/", "as": "bob",
             "json": {"title": "Bowl", "price": 3.5}},
            get("/api/v1/items/500", "bob"),
        ]),
    );
    assert_eq!(statuses(&r), [200, 200, 200], "{r:#?}");
    assert_eq!(r[1]["body"]["id"], 501, "{r:#?}");
    assert_eq!(r[2]["body"]["price"], 7.25, "{r:#?}");

    // A dry run neither draws from the sequence nor moves it (a rollback would not undo
    // either); an id drawn for one row that another row gives is named, nothing written.
    let seq = || db.sql("SELECT last_value FROM items_id_seq");
    let at = seq();
    let more = file(
        "more.csv",
        "id,title,owner_email\n,Cup,bob@example.com\n9000,Jug,bob@example.com\n",
    );
    db.ok(&["--dry-run", "item", "import", &more]);
    assert_eq!(seq(), at);
    let next = at.parse::<i64>().unwrap() + 1;
    let clash = file(
        "clash.csv",
        &format!("id,title,owner_email\n,Cup,bob@example.com\n{next},Jug,bob@example.com\n"),
    );
    let r = db.run(&["item", "import", &clash]).fails(2);
    assert!(
        r.stderr.contains("line 3") && r.stderr.contains("drawn from the sequence"),
        "{r:#?}"
    );
    assert_eq!(
        db.sql("SELECT count(*) FROM items WHERE title IN ('Cup', 'Jug')"),
        "0"
    );

    // A backup restores beside the live database with the same rows; the export of the
    // live items imports into it with --on-conflict skip as rows that exist already.
    let dir = db.dir.path().join("b");
    let m = db.json(&["backup", "--dir", dir.to_str().unwrap()]);
    let dump = dir.join(m["file"].as_str().unwrap());
    let copy = format!("{}_copy", db.name);
    db.ok(&["backup", "restore", dump.to_str().unwrap(), "--into", &copy]);
    let url = db
        .url
        .replacen(&format!("/{}", db.name), &format!("/{copy}"), 1);
    let list = |url: &str| {
        db.cmd_url(url)
            .args(&["-o", "json", "item", "list", "--all", "--sort", "created"])
            .run()
            .success()
            .json()
    };
    let live = list(&db.url);
    assert_eq!(list(&url), live);
    let export = db.ok(&["-o", "csv", "item", "list", "--all"]).stdout;
    let exported = file("items.csv", &export);
    let r = db
        .cmd_url(&url)
        .args(&[
            "-o",
            "json",
            "item",
            "import",
            &exported,
            "--on-conflict",
            "skip",
        ])
        .run()
        .success()
        .json();
    assert_eq!(r["imported"], 0, "{r}");
    assert_eq!(
        r["skipped"].as_u64(),
        live.as_array().map(|a| a.len() as u64)
    );
    // Into a database without them, the same ids and prices come back.
    crate::support::psql(&url, "DELETE FROM items WHERE id >= 500");
    db.cmd_url(&url)
        .args(&["item", "import", &exported, "--on-conflict", "skip"])
        .run()
        .success();
    assert_eq!(list(&url), live);
    let r = generated::api_at(
        &url,
        json!([
            login("ann@example.com", "Ann-Pass-1234", "ann"),
            get("/api/v1/items/", "ann"),
        ]),
    );
    assert_eq!(statuses(&r), [200, 200], "{r:#?}");
    // The API lists every item to any user; Ann's are the two she was given.
    let ann = &r[0]["body"]["user"]["id"];
    let mut prices: Vec<f64> = r[1]["body"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|i| &i["owner_id"] == ann)
        .map(|i| i["price"].as_f64().expect("a price"))
        .collect();
    prices.sort_by(f64::total_cmp);
    assert_eq!(prices, [0.1, 12.3]);
    db.sql(&format!("DROP DATABASE {copy} WITH (FORCE)"));
}
