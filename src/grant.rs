//! The privileges stackctl needs beyond an application role's usual DML grants, as `GRANT`
//! statements: for an operator role (every data command) or a read-only role (reads,
//! exports, status; the password hashes withheld). Pure: `commands/grant.rs` connects.

use serde::Serialize;

use crate::drift::sql::ident;

/// One statement of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// What is granted on (`table users`, `schema public`, ...).
    pub object: String,
    /// The privileges, as the statement names them.
    pub privileges: String,
    pub statement: String,
}

/// Which of stackctl's own tables the database has (a plan only names what exists).
#[derive(Debug, Clone, Default)]
pub struct Present {
    pub migrations: bool,
    pub audit: bool,
    pub checksums: bool,
    /// The Simple DB layout: no items table and no password column in users, whose ids
    /// come from this sequence (`user add` takes the next value).
    pub simple_users_seq: Option<String>,
    /// The generated backend's integer item ids come from this sequence (`item add`).
    pub items_seq: Option<String>,
    /// `stackctl_column_defaults` (migration 000006): what `schema default` declared, read
    /// by every insert into `users`.
    pub column_defaults: bool,
    /// Where stackctl's own tables are: `stackctl`, or `public` where a role that could
    /// not create that schema left them (`db::own`).
    pub own_schema: &'static str,
}

/// An object of the operator list as it stands in a database whose own tables are in
/// `own_schema`: `stackctl.x` is `x` in `public` there, and the schema itself is absent.
pub fn located<'a>(name: &'a str, own_schema: &str) -> Option<&'a str> {
    match (own_schema, name) {
        ("public", "stackctl") => None,
        ("public", n) => Some(n.strip_prefix("stackctl.").unwrap_or(n)),
        (_, n) => Some(n),
    }
}

/// The users columns a read-only role may read: everything but `hashed_password`.
const USER_COLUMNS_READABLE: &str =
    "id, email, username, full_name, is_active, is_superuser, created_at, updated_at";

/// The privileges an operator role needs on each object stackctl touches, in the order a
/// plan lists them: (object kind, name, privileges).
pub const OPERATOR: &[(&str, &str, &str)] = &[
    ("SCHEMA", "public", "USAGE"),
    ("TABLE", "users", "SELECT, INSERT, UPDATE, DELETE"),
    ("TABLE", "items", "SELECT, INSERT, UPDATE, DELETE"),
    ("SCHEMA", "stackctl", "USAGE"),
    ("TABLE", "stackctl.__diesel_schema_migrations", "SELECT"),
    ("TABLE", "stackctl.stackctl_migration_checksums", "SELECT"),
    // Read by inserts; declaring (`schema default`) is the owner's, like `migrate`.
    ("TABLE", "stackctl.stackctl_column_defaults", "SELECT"),
    // UPDATE: `user erase` pseudonymises the rows about the person it erases.
    ("TABLE", "stackctl.stackctl_audit", "SELECT, INSERT, UPDATE"),
    ("SEQUENCE", "stackctl.stackctl_audit_id_seq", "USAGE"),
];

fn grant(kind: &str, name: &str, privileges: &str, role: &str) -> Grant {
    let target = if kind == "TABLE" {
        name.to_string()
    } else {
        format!("{kind} {name}")
    };
    Grant {
        object: format!("{} {name}", kind.to_ascii_lowercase()),
        privileges: privileges.to_string(),
        statement: format!("GRANT {privileges} ON {target} TO {role};"),
    }
}

/// The plan for `role` on database `database`.
pub fn plan(role: &str, database: &str, read_only: bool, present: Present) -> Vec<Grant> {
    let role = ident(role);
    let mut out = vec![Grant {
        object: format!("database {database}"),
        privileges: "CONNECT".into(),
        statement: format!("GRANT CONNECT ON DATABASE {} TO {role};", ident(database)),
    }];
    for (kind, name, privileges) in OPERATOR {
        let Some(here) = located(name, present.own_schema) else {
            continue;
        };
        let exists = match *name {
            "items" => present.simple_users_seq.is_none(),
            "stackctl" => present.migrations || present.checksums || present.audit,
            "stackctl.__diesel_schema_migrations" => present.migrations,
            "stackctl.stackctl_migration_checksums" => present.checksums,
            "stackctl.stackctl_column_defaults" => present.column_defaults,
            "stackctl.stackctl_audit" | "stackctl.stackctl_audit_id_seq" => present.audit,
            _ => true,
        };
        if !exists {
            continue;
        }
        let privileges = if read_only {
            match *name {
                "users" if present.simple_users_seq.is_some() => "SELECT",
                "users" => {
                    let p = format!("SELECT ({USER_COLUMNS_READABLE})");
                    out.push(grant(kind, here, &p, &role));
                    continue;
                }
                "stackctl.stackctl_audit_id_seq" => continue,
                "public" | "stackctl" => "USAGE",
                _ => "SELECT",
            }
        } else {
            privileges
        };
        out.push(grant(kind, here, privileges, &role));
        if let (false, "items", Some(seq)) = (read_only, *name, &present.items_seq) {
            // nextval for adds; SELECT and UPDATE for an import's setval past explicit ids.
            out.push(grant(
                "SEQUENCE",
                &ident(seq),
                "USAGE, SELECT, UPDATE",
                &role,
            ));
        }
        if let (false, "users", Some(seq)) = (read_only, *name, &present.simple_users_seq) {
            // nextval for adds; SELECT and UPDATE for an import's setval past explicit ids.
            out.push(grant(
                "SEQUENCE",
                &ident(seq),
                "USAGE, SELECT, UPDATE",
                &role,
            ));
        }
    }
    out
}

/// What to do about a missing privilege, when the server has not said which one is missing.
pub const GENERIC_HINT: &str =
    "the role lacks a privilege; `stackctl grant ROLE` prints every grant stackctl needs \
     (`--apply` runs them as the owner)";

/// The hint for a role the server refused: the operator plan's first GRANT the role lacks
/// (`missing` are those of its privileges the server says the role does not hold), and
/// the command that prints every grant.
pub fn hint_for_missing(kind: &str, name: &str, missing: &[&str]) -> String {
    let g = grant(kind, name, &missing.join(", "), "ROLE");
    format!(
        "as the owner run `{}`; `stackctl grant ROLE` prints every grant stackctl needs \
         (`--apply` runs them as the owner)",
        g.statement
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_privilege_gets_its_grant() {
        assert_eq!(
            hint_for_missing("TABLE", "stackctl.__diesel_schema_migrations", &["SELECT"]),
            "as the owner run `GRANT SELECT ON stackctl.__diesel_schema_migrations TO ROLE;`; \
             `stackctl grant ROLE` prints every grant stackctl needs (`--apply` runs them as the owner)"
        );
        assert!(
            hint_for_missing("SEQUENCE", "stackctl.stackctl_audit_id_seq", &["USAGE"])
                .contains("GRANT USAGE ON SEQUENCE stackctl.stackctl_audit_id_seq TO ROLE;")
        );
        assert!(hint_for_missing("TABLE", "users", &["INSERT", "UPDATE"])
            .contains("GRANT INSERT, UPDATE ON users TO ROLE;"));
    }

    #[test]
    fn read_only_plans_withhold_hashes_and_writes() {
        let all = Present {
            migrations: true,
            audit: true,
            checksums: true,
            column_defaults: true,
            own_schema: "stackctl",
            ..Present::default()
        };
        let ro = plan("Reader", "app", true, all.clone());
        let text: Vec<&str> = ro.iter().map(|g| g.statement.as_str()).collect();
        assert!(text.contains(&"GRANT SELECT (id, email, username, full_name, is_active, is_superuser, created_at, updated_at) ON users TO \"Reader\";"));
        assert!(text
            .iter()
            .all(|s| !s.contains("INSERT") && !s.contains("hashed_password")));
        let op = plan("app_rw", "app", false, Present::default());
        assert!(op.iter().all(|g| !g.statement.contains("stackctl_audit")));
        assert_eq!(op[0].statement, "GRANT CONNECT ON DATABASE app TO app_rw;");
    }

    #[test]
    fn the_generated_backends_item_ids_need_their_sequence() {
        let generated = Present {
            items_seq: Some("items_id_seq".into()),
            column_defaults: true,
            own_schema: "stackctl",
            ..Present::default()
        };
        let op: Vec<String> = plan("app", "db", false, generated.clone())
            .into_iter()
            .map(|g| g.statement)
            .collect();
        assert!(op
            .contains(&"GRANT USAGE, SELECT, UPDATE ON SEQUENCE items_id_seq TO app;".to_string()));
        assert!(
            op.contains(&"GRANT SELECT ON stackctl.stackctl_column_defaults TO app;".to_string())
        );
        let ro: Vec<String> = plan("app", "db", true, generated)
            .into_iter()
            .map(|g| g.statement)
            .collect();
        assert!(ro.iter().all(|s| !s.contains("SEQUENCE")), "{ro:?}");
    }

    #[test]
    fn simple_layout_plans_name_no_items_and_the_id_sequence() {
        let simple = Present {
            audit: true,
            simple_users_seq: Some("users_id_seq".into()),
            ..Present::default()
        };
        let op: Vec<String> = plan("app", "db", false, simple.clone())
            .into_iter()
            .map(|g| g.statement)
            .collect();
        assert!(op.iter().all(|s| !s.contains("items")), "{op:?}");
        assert!(op
            .contains(&"GRANT USAGE, SELECT, UPDATE ON SEQUENCE users_id_seq TO app;".to_string()));
        let ro: Vec<String> = plan("app", "db", true, simple)
            .into_iter()
            .map(|g| g.statement)
            .collect();
        assert!(
            ro.contains(&"GRANT SELECT ON users TO app;".to_string()),
            "{ro:?}"
        );
        assert!(ro.iter().all(|s| !s.contains("SEQUENCE users_id_seq")));
    }
}
