//! The SQL that removes a difference: statements with the phase they must run in, and
//! identifiers quoted the way PostgreSQL reads them back.

/// When a statement must run relative to the others: what is dropped goes first (an
/// index or constraint before the column it uses), foreign keys after the keys they
/// refer to, indexes last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Drop,
    Table,
    Column,
    Key,
    ForeignKey,
    Index,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub phase: Phase,
    /// The statement, without its semicolon.
    pub text: String,
    /// A warning printed above it as an SQL comment (`drops the column and its data`).
    pub note: Option<&'static str>,
}

impl Statement {
    pub fn new(phase: Phase, text: impl Into<String>) -> Statement {
        Statement {
            phase,
            text: text.into(),
            note: None,
        }
    }

    pub fn noted(mut self, note: &'static str) -> Statement {
        self.note = Some(note);
        self
    }

    /// The statement as a script prints it: its note as a comment, then `text;`.
    pub fn render(&self) -> String {
        match self.note {
            Some(note) => format!("-- {note}\n{};", self.text),
            None => format!("{};", self.text),
        }
    }
}

/// Order statements by phase (stably) and keep each one once.
pub fn script<'a>(statements: impl Iterator<Item = &'a Statement>) -> Vec<Statement> {
    let mut all: Vec<Statement> = Vec::new();
    for s in statements {
        if !all.iter().any(|a| a.text == s.text) {
            all.push(s.clone());
        }
    }
    all.sort_by_key(|s| s.phase);
    all
}

/// Words PostgreSQL reserves (and a few it treats specially as names): an identifier
/// that is one of them must be quoted.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// `name` as SQL reads it back: bare when it is a plain lower-case identifier, else in
/// double quotes with inner quotes doubled.
pub fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_only_when_they_must_be() {
        assert_eq!(ident("full_name"), "full_name");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("Nick"), "\"Nick\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident("1x"), "\"1x\"");
        assert_eq!(ident(""), "\"\"");
    }

    #[test]
    fn scripts_run_drops_first_and_repeat_nothing() {
        let a = Statement::new(Phase::Index, "CREATE INDEX i ON t (c)");
        let b = Statement::new(Phase::Drop, "DROP INDEX j");
        let c = Statement::new(Phase::Column, "ALTER TABLE t ALTER COLUMN c SET DEFAULT 1");
        let all = [a.clone(), c.clone(), b.clone(), c.clone()];
        assert_eq!(script(all.iter()), vec![b, c, a]);
    }
}
