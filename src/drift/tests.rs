//! The comparison on catalogs built by hand: each class of drift, both origins, the query
//! indexes.

use super::expected::{self, Default};
use super::*;
use crate::db::drift::{Column, Constraint, Index};

fn constraint(table: &str, name: &str, kind: &str, def: &str) -> Constraint {
    Constraint {
        table: table.into(),
        name: name.into(),
        kind: kind.into(),
        definition: def.into(),
    }
}

fn index(table: &str, name: &str, unique: bool, constraint: Option<&str>, column: &str) -> Index {
    Index {
        table: table.into(),
        name: name.into(),
        unique,
        constraint: constraint.map(String::from),
        definition: expected::index_definition(unique, name, table, column),
        valid: true,
    }
}

/// `catalog(origin)` with stackctl's query indexes built (the optional one too).
fn with_query_indexes(mut c: Catalog) -> Catalog {
    for q in expected::QUERY_INDEX_LIST {
        c.indexes.push(Index {
            table: q.table.into(),
            name: q.name.into(),
            unique: false,
            constraint: None,
            definition: q.definition(),
            valid: true,
        });
    }
    c
}

fn applied_all() -> BTreeSet<String> {
    [
        expected::INITIAL.to_string(),
        expected::QUERY_INDEXES.to_string(),
    ]
    .into()
}

#[test]
fn query_indexes_are_expected_once_their_migration_is_applied() {
    for origin in Origin::ALL {
        let built = with_query_indexes(catalog(origin));
        let report = compare(&applied_all(), &built);
        assert!(report.is_clean(), "{origin:?}: {:?}", kinds(&report));
        // Pending (an interrupted build): neither expected nor extra, built or not.
        assert!(compare(&applied(), &built).is_clean());
        assert!(compare(&applied(), &catalog(origin)).is_clean());
        // The trigram index is optional (no pg_trgm); the others are not.
        let mut c = built.clone();
        c.indexes.retain(|i| i.name != "stackctl_users_search");
        assert!(compare(&applied_all(), &c).is_clean());
        c.indexes.retain(|i| i.name != "stackctl_items_title_id");
        let report = compare(&applied_all(), &c);
        assert_eq!(
            kinds(&report),
            [(
                "items.stackctl_items_title_id",
                "missing_index",
                Severity::Warning
            )]
        );
        let sql: Vec<String> = report.sql().iter().map(|s| s.text.clone()).collect();
        assert_eq!(
            sql,
            ["CREATE INDEX stackctl_items_title_id ON items USING btree (title, id)"]
        );
        // Left invalid by a failed concurrent build: rebuilt.
        let mut c = built.clone();
        for i in c
            .indexes
            .iter_mut()
            .filter(|i| i.name == "stackctl_users_created_id")
        {
            i.valid = false;
        }
        let report = compare(&applied_all(), &c);
        assert_eq!(
            kinds(&report),
            [(
                "users.stackctl_users_created_id",
                "changed_index",
                Severity::Warning
            )]
        );
        assert_eq!(report.sql().len(), 2);
    }
}

#[test]
fn the_query_index_list_is_the_migrations() {
    let mut listed: Vec<&str> = expected::QUERY_INDEX_LIST.iter().map(|q| q.name).collect();
    let mut built = crate::db::concurrent::indexes_of(expected::QUERY_INDEXES);
    listed.sort();
    built.sort();
    assert_eq!(listed, built);
    let sql = crate::db::migration_sql(expected::QUERY_INDEXES).unwrap();
    for q in expected::QUERY_INDEX_LIST {
        assert!(
            sql.contains(&format!("{} ON {} ", q.name, q.table)),
            "{}",
            q.name
        );
    }
}

/// The catalog as the initial migration (`Migrated`) or adoption of `create_all`'s
/// tables (`Adopted`) leaves it.
fn catalog(origin: Origin) -> Catalog {
    let columns = origin
        .columns()
        .iter()
        .map(|c| Column {
            table: c.table.into(),
            name: c.name.into(),
            ty: c.ty.into(),
            not_null: c.not_null,
            default: match expected::default_of(origin, c.table, c.name) {
                Default::None => None,
                Default::NewUuid => Some("uuid_generate_v4()".into()),
                Default::Expr(e) => Some(e.into()),
            },
        })
        .collect();
    let mut constraints = vec![
        constraint("users", "users_pkey", "p", "PRIMARY KEY (id)"),
        constraint("items", "items_pkey", "p", "PRIMARY KEY (id)"),
        constraint(
            "items",
            expected::foreign_key_name(origin),
            "f",
            expected::foreign_key(origin),
        ),
    ];
    let mut indexes = vec![
        index("users", "users_pkey", true, Some("users_pkey"), "id"),
        index("items", "items_pkey", true, Some("items_pkey"), "id"),
    ];
    for col in expected::UNIQUE {
        let name = expected::unique_name(origin, col);
        if origin == Origin::Migrated {
            constraints.push(constraint("users", &name, "u", &format!("UNIQUE ({col})")));
            indexes.push(index("users", &name, true, Some(&name), col));
        } else {
            indexes.push(index("users", &name, true, None, col));
        }
    }
    for (t, name, col) in expected::INDEXES {
        indexes.push(index(t, name, false, None, col));
    }
    Catalog {
        tables: vec!["items".into(), "users".into()],
        other_tables: Vec::new(),
        columns,
        constraints,
        indexes,
    }
}

fn applied() -> BTreeSet<String> {
    [expected::INITIAL.to_string()].into()
}

fn kinds(report: &Report) -> Vec<(&str, &str, Severity)> {
    report
        .differences
        .iter()
        .map(|d| (d.object.as_str(), d.kind, d.severity))
        .collect()
}

#[test]
fn migrated_adopted_and_generated_schemas_have_no_drift() {
    for origin in Origin::ALL {
        let report = compare(&applied(), &catalog(origin));
        assert!(report.is_clean(), "{origin:?}: {:?}", kinds(&report));
        assert_eq!(report.origin, Some(origin));
    }
    // Without uuid-ossp the ids default to gen_random_uuid(), possibly schema-qualified.
    let mut c = catalog(Origin::Migrated);
    for col in c.columns.iter_mut().filter(|c| c.name == "id") {
        col.default = Some("gen_random_uuid()".into());
    }
    assert!(compare(&applied(), &c).is_clean());
    c.columns[0].default = Some("extensions.uuid_generate_v4()".into());
    assert!(compare(&applied(), &c).is_clean());
}

#[test]
fn nothing_is_compared_before_the_initial_migration() {
    let report = compare(&BTreeSet::new(), &Catalog::default());
    assert!(report.is_clean() && report.origin.is_none());
}

#[test]
fn each_class_of_drift_is_named_with_its_severity_and_fix() {
    let base = catalog(Origin::Migrated);
    let check =
        |edit: &dyn Fn(&mut Catalog), object: &str, kind: &str, sev: Severity, sql: &str| {
            let mut c = base.clone();
            edit(&mut c);
            let report = compare(&applied(), &c);
            assert_eq!(kinds(&report), vec![(object, kind, sev)], "{kind}");
            let script: Vec<String> = report.sql().iter().map(|s| s.render()).collect();
            assert!(script.iter().any(|s| s.contains(sql)), "{kind}: {script:?}");
        };
    check(
        &|c| c.indexes.retain(|i| i.name != "idx_users_is_active"),
        "users.idx_users_is_active",
        "missing_index",
        Severity::Warning,
        "CREATE INDEX idx_users_is_active ON users (is_active);",
    );
    check(
            &|c| c.columns[1].ty = "text".into(),
            "users.email",
            "changed_type",
            Severity::Critical,
            "ALTER TABLE users ALTER COLUMN email TYPE character varying(255) USING email::character varying(255);",
        );
    check(
            &|c| c.constraints.retain(|k| k.kind != "f"),
            "items.fk_items_owner",
            "missing_foreign_key",
            Severity::Critical,
            "ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (owner_id) REFERENCES users(id) ON DELETE CASCADE;",
        );
    check(
        &|c| c.columns[10].not_null = false,
        "items.title",
        "changed_nullability",
        Severity::Critical,
        "ALTER TABLE items ALTER COLUMN title SET NOT NULL;",
    );
    check(
        &|c| {
            for k in c.constraints.iter_mut().filter(|k| k.kind == "f") {
                k.definition =
                    "FOREIGN KEY (owner_id) REFERENCES public.users(id) ON DELETE SET NULL".into();
            }
        },
        "items.fk_items_owner",
        "changed_foreign_key",
        Severity::Critical,
        "ALTER TABLE items DROP CONSTRAINT fk_items_owner;",
    );
    check(
        &|c| c.constraints.retain(|k| k.name != "users_email_key"),
        "users.users_email_key",
        "missing_constraint",
        Severity::Critical,
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
    );
}

#[test]
fn an_adopted_schema_is_judged_by_create_all_not_by_the_migration() {
    let mut c = catalog(Origin::Adopted);
    c.indexes.retain(|i| i.name != "ix_users_username");
    let report = compare(&applied(), &c);
    assert_eq!(report.origin, Some(Origin::Adopted));
    assert_eq!(
        kinds(&report),
        vec![(
            "users.ix_users_username",
            "missing_constraint",
            Severity::Critical
        )]
    );
    let sql: Vec<String> = report.sql().iter().map(|s| s.text.clone()).collect();
    assert_eq!(
        sql,
        ["CREATE UNIQUE INDEX ix_users_username ON users (username)"]
    );
}

#[test]
fn a_missing_table_is_one_difference_whose_fix_creates_it_with_its_indexes() {
    let mut c = catalog(Origin::Migrated);
    c.tables.retain(|t| t != "items");
    c.columns.retain(|col| col.table != "items");
    c.constraints.retain(|k| k.table != "items");
    c.indexes.retain(|i| i.table != "items");
    let report = compare(&applied(), &c);
    assert_eq!(
        kinds(&report),
        vec![("items", "missing_table", Severity::Critical)]
    );
    let sql = report.sql();
    assert!(sql[0]
        .text
        .starts_with("CREATE TABLE items (\n    id uuid NOT NULL DEFAULT uuid_generate_v4(),"));
    assert!(sql[0]
        .text
        .contains("CONSTRAINT fk_items_owner FOREIGN KEY"));
    assert_eq!(sql.len(), 4, "{sql:?}");
}

/// What the application added or chose (columns, a NOT NULL column without default, a
/// check constraint, an index, another default, a NOT NULL on a column stackctl may leave
/// empty, other tables) is listed as the application's: severity INFO, never drift, never
/// in the fix script.
#[test]
fn the_applications_additions_are_its_own_not_drift() {
    let mut c = catalog(Origin::Migrated);
    c.columns.push(Column {
        table: "users".into(),
        name: "nickname".into(),
        ty: "text".into(),
        not_null: false,
        default: None,
    });
    c.columns.push(Column {
        table: "items".into(),
        name: "Sku".into(),
        ty: "text".into(),
        not_null: true,
        default: None,
    });
    c.constraints.push(constraint(
        "items",
        "price_positive",
        "c",
        "CHECK ((price > (0)::numeric))",
    ));
    c.indexes.push(Index {
        table: "users".into(),
        name: "ix_users_nickname".into(),
        unique: false,
        constraint: None,
        definition: "CREATE INDEX ix_users_nickname ON public.users USING btree (nickname)".into(),
        valid: true,
    });
    c.columns[5].default = Some("false".into());
    let full_name = c
        .columns
        .iter()
        .position(|col| col.name == "full_name")
        .unwrap();
    c.columns[full_name].not_null = true;
    c.other_tables.push("tags".into());
    let report = compare(&applied(), &c);
    assert!(report.is_clean(), "{:?}", kinds(&report));
    assert!(report.sql().is_empty());
    let mut additions: Vec<(&str, &str, Severity)> = report
        .additions
        .iter()
        .map(|d| (d.object.as_str(), d.kind, d.severity))
        .collect();
    additions.sort();
    assert_eq!(
        additions,
        vec![
            ("items.Sku", "application_column", Severity::Info),
            (
                "items.price_positive",
                "application_constraint",
                Severity::Info
            ),
            ("tags", "application_table", Severity::Info),
            ("users.full_name", "application_nullability", Severity::Info),
            ("users.is_active", "application_default", Severity::Info),
            (
                "users.ix_users_nickname",
                "application_index",
                Severity::Info
            ),
            ("users.nickname", "application_column", Severity::Info),
        ]
    );
    assert!(report.additions.iter().all(|d| d.fix.is_empty()));
    assert!(
        report
            .summary()
            .contains("addition(s) of the application's"),
        "{}",
        report.summary()
    );
}

/// The generated backend's shape is its own baseline, and is still held to it: a type
/// changed away from it, or a cascade added to its foreign key, is drift.
#[test]
fn the_generated_backends_schema_is_held_to_its_own_shape() {
    let base = catalog(Origin::Generated);
    assert!(compare(&applied(), &base).is_clean());
    let mut c = base.clone();
    for col in c
        .columns
        .iter_mut()
        .filter(|c| c.table == "items" && c.name == "price")
    {
        col.ty = "real".into();
    }
    let report = compare(&applied(), &c);
    assert_eq!(report.origin, Some(Origin::Generated));
    assert_eq!(
        kinds(&report),
        [("items.price", "changed_type", Severity::Critical)]
    );
}
