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

/// Text for an SQL comment line: every control character (a newline above all, which
/// would end the comment) and every bidirectional override written as an escape, so the
/// text stays inside its `--` line whatever a name holds.
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
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
    } else if name.chars().any(needs_escape) {
        // Control characters (a newline above all) written as Unicode escapes, so the
        // name stays on its line: `U&"x\000a"` is the name `x` and a newline.
        let mut out = String::from("U&\"");
        for c in name.chars() {
            match c {
                '"' => out.push_str("\"\""),
                '\\' => out.push_str("\\\\"),
                c if needs_escape(c) && (c as u32) <= 0xffff => {
                    out.push_str(&format!("\\{:04x}", c as u32))
                }
                c if needs_escape(c) => out.push_str(&format!("\\+{:06x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// What may not appear raw in a script's line: controls, line and paragraph separators,
/// bidirectional overrides.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_never_spans_two_lines() {
        let name = "app\n\\! touch pwned\r\nDROP TABLE t;--\u{2028}x";
        let c = comment(name);
        assert!(
            !c.contains('\n') && !c.contains('\r') && !c.contains('\u{2028}'),
            "{c}"
        );
        assert_eq!(
            c,
            "app\\u{a}\\! touch pwned\\u{d}\\u{a}DROP TABLE t;--\\u{2028}x"
        );
    }

    #[test]
    fn identifiers_are_quoted_only_when_they_must_be() {
        assert_eq!(ident("full_name"), "full_name");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("Nick"), "\"Nick\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident("x\n\\! y\""), "U&\"x\\000a\\\\! y\"\"\"");
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
