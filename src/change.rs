//! What a write changes, as data: the plan a `--dry-run` prints and the summary an audit
//! row keeps. Before/after images are the printed rows (`User` has no hash), so neither
//! ever holds a secret.

use std::io::Write;

use serde::Serialize;
use serde_json::{json, Value};

use crate::cli::OutputFormat;
use crate::error::Result;
use crate::output::ListWriter;

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// create, update, delete, apply, revert, restore
    pub action: &'static str,
    /// user, item, migration, database
    pub kind: &'static str,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// What goes with it (a deleted user's items), moves, or is replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

fn image<T: Serialize>(row: &T) -> Option<Value> {
    serde_json::to_value(row).ok()
}

impl Change {
    fn new(action: &'static str, kind: &'static str, id: impl ToString) -> Change {
        Change {
            action,
            kind,
            id: id.to_string(),
            before: None,
            after: None,
            detail: None,
        }
    }

    pub fn create<T: Serialize>(kind: &'static str, id: impl ToString, after: &T) -> Change {
        Change {
            after: image(after),
            ..Change::new("create", kind, id)
        }
    }

    pub fn update<T: Serialize>(
        kind: &'static str,
        id: impl ToString,
        before: &T,
        after: &T,
    ) -> Change {
        Change {
            before: image(before),
            after: image(after),
            ..Change::new("update", kind, id)
        }
    }

    pub fn delete<T: Serialize>(kind: &'static str, id: impl ToString, before: &T) -> Change {
        Change {
            before: image(before),
            ..Change::new("delete", kind, id)
        }
    }

    /// A migration applied or reverted, a database restored.
    pub fn other(action: &'static str, kind: &'static str, id: impl ToString) -> Change {
        Change::new(action, kind, id)
    }

    pub fn with_before(mut self, before: Value) -> Change {
        self.before = Some(before);
        self
    }

    pub fn with_after(mut self, after: Value) -> Change {
        self.after = Some(after);
        self
    }

    pub fn with_detail(mut self, detail: Value) -> Change {
        self.detail = Some(detail);
        self
    }
}

/// One line of a plan in table or CSV form: a field that changes.
#[derive(Serialize)]
struct PlanRow<'a> {
    action: &'a str,
    kind: &'a str,
    id: &'a str,
    field: String,
    before: Value,
    after: Value,
}

const PLAN_COLUMNS: &[&str] = &["action", "kind", "id", "field", "before", "after"];

/// Print what a dry run would have changed: JSON `{"dry_run": true, "changes": [...]}`,
/// else one row per changed field.
pub fn print_plan(format: OutputFormat, changes: &[Change], mut out: impl Write) -> Result<()> {
    if format == OutputFormat::Json {
        crate::output::json::to_writer_pretty(
            &mut out,
            &json!({"dry_run": true, "changes": changes}),
        )?;
        writeln!(out)?;
        out.flush()?;
        return Ok(());
    }
    let mut w = ListWriter::new(format, PLAN_COLUMNS, out);
    for c in changes {
        let empty = serde_json::Map::new();
        let obj = |v: &Option<Value>| match v {
            Some(Value::Object(m)) => m.clone(),
            _ => empty.clone(),
        };
        let (before, after) = (obj(&c.before), obj(&c.after));
        let mut fields: Vec<&String> = after.keys().collect();
        fields.extend(before.keys().filter(|k| !after.contains_key(*k)));
        let mut any = false;
        for f in fields {
            let (b, a) = (
                before.get(f).cloned().unwrap_or(Value::Null),
                after.get(f).cloned().unwrap_or(Value::Null),
            );
            if b != a {
                any = true;
                w.row(&PlanRow {
                    action: c.action,
                    kind: c.kind,
                    id: &c.id,
                    field: f.clone(),
                    before: b,
                    after: a,
                })?;
            }
        }
        for (k, v) in c.detail.iter().filter_map(|d| d.as_object()).flatten() {
            any = true;
            w.row(&PlanRow {
                action: c.action,
                kind: c.kind,
                id: &c.id,
                field: k.clone(),
                before: Value::Null,
                after: v.clone(),
            })?;
        }
        if !any {
            w.row(&PlanRow {
                action: c.action,
                kind: c.kind,
                id: &c.id,
                field: String::new(),
                before: Value::Null,
                after: Value::Null,
            })?;
        }
    }
    w.finish()?;
    Ok(())
}
