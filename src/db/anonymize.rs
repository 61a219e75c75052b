//! Anonymised copies (`backup restore FILE --into NAME --anonymize`, and the scratch copy
//! `backup --anonymize` dumps): run on the database a restore made, before it takes its
//! name or is dumped. Set-based SQL in one transaction; fails closed.
//!
//! 1. Every column of `users` and `items` is one stackctl knows, or the operator said
//!    `--keep` or `--clear` for it: otherwise exit 2 naming each, nothing kept.
//! 2. The source's identifying values (emails, usernames or names, full names, password
//!    hashes) are hashed into a table of the copy's, unlogged and dropped before the
//!    transaction commits: the proof compares hashes, so it copies no personal data
//!    anywhere. Not a temporary table: the server scans those in one process only, and
//!    the proof's joins want every core.
//! 3. `--sample`: a deterministic choice of users (by the key) is kept, with their items.
//! 4. Each user's identifying values are replaced with a pseudonym derived from the key
//!    and the user's id; every password hash with one hash; `--clear` columns emptied; the
//!    audit trail emptied.
//! 5. The proof: no text value anywhere in the copy, nor any email inside one, has the
//!    hash of a source value (an item description quoting an email is found). A value
//!    found is exit 1 naming the column; the caller then drops the copy. And the copy's
//!    columns, indexes and constraints are what they were before (exit 1 otherwise).

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Text};
use serde::Serialize;

use super::shape;
use crate::drift::sql::ident;
use crate::error::{Error, Result};

/// How many users a sample keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    Percent(f64),
    Count(i64),
}

impl Sample {
    /// `5%` or `100`.
    pub fn parse(raw: &str) -> Result<Sample> {
        let bad = || {
            Error::invalid(
                "--sample",
                format!("{raw:?} is not a percentage (0.01% to 100%) nor a count of users"),
            )
        };
        match raw.strip_suffix('%') {
            Some(p) => {
                let p: f64 = p.trim().parse().map_err(|_| bad())?;
                if !(p > 0.0 && p <= 100.0) {
                    return Err(bad());
                }
                Ok(Sample::Percent(p))
            }
            None => {
                let n: i64 = raw.trim().parse().map_err(|_| bad())?;
                if n < 1 {
                    return Err(bad());
                }
                Ok(Sample::Count(n))
            }
        }
    }
}

/// A `TABLE.COLUMN` of `users` or `items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub table: String,
    pub column: String,
}

impl Column {
    pub fn parse(flag: &str, raw: &str) -> Result<Column> {
        match raw.split_once('.') {
            Some((t @ ("users" | "items"), c)) if !c.is_empty() => Ok(Column {
                table: t.to_string(),
                column: c.to_string(),
            }),
            _ => Err(Error::invalid(
                flag,
                format!("{raw:?} is not users.COLUMN or items.COLUMN"),
            )),
        }
    }

    fn name(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

pub struct Options {
    /// What the pseudonyms are derived from: the operator's key file, or random bytes
    /// (then each copy differs).
    pub key: Vec<u8>,
    pub sample: Option<Sample>,
    pub keep: Vec<Column>,
    pub clear: Vec<Column>,
    /// The one bcrypt hash every copied user gets.
    pub password_hash: String,
}

/// What the copy's anonymisation did, per column.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// `users.email` and the number of values replaced, one per column.
    pub replaced: Vec<(String, i64)>,
    pub cleared: Vec<(String, i64)>,
    pub kept: Vec<String>,
    pub users_dropped_by_sample: i64,
    pub audit_rows_removed: i64,
}

impl Summary {
    pub fn describe(&self) -> String {
        let list = |v: &[(String, i64)]| {
            v.iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = vec![format!("replaced {}", list(&self.replaced))];
        if !self.cleared.is_empty() {
            parts.push(format!("cleared {}", list(&self.cleared)));
        }
        if !self.kept.is_empty() {
            parts.push(format!("kept as they are {}", self.kept.join(", ")));
        }
        if self.users_dropped_by_sample > 0 {
            parts.push(format!(
                "{} user(s) left out by the sample",
                self.users_dropped_by_sample
            ));
        }
        parts.push(format!(
            "audit trail emptied ({} row(s))",
            self.audit_rows_removed
        ));
        parts.join("; ")
    }
}

/// The identifying columns of each layout: replaced, never kept.
fn personal(simple: bool) -> &'static [&'static str] {
    if simple {
        &["email", "name"]
    } else {
        &["email", "username", "full_name", "hashed_password"]
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> Result<i64> {
    Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n)
}

/// The pseudonym of the row's id under the key (`$1`): 64 bits of a keyed SHA-256 as 20
/// decimal digits. Digits, not hex: the application's trigram index over the pseudonyms
/// (`users_search`) has a third as many distinct keys and builds in two thirds the time.
const PSEUDONYM: &str = "lpad(((('x' || left(encode(sha256($1 || convert_to(id::text, 'UTF8')), 'hex'), 16))::bit(64)::bigint)::numeric + 9223372036854775808)::text, 20, '0')";

/// Anonymise the database `conn` is connected to (a restore's own database, every row
/// restored) and prove it.
pub fn run(conn: &mut PgConnection, opts: &Options) -> Result<Summary> {
    let summary = change(conn, opts)?;
    prove(conn)?;
    Ok(summary)
}

/// The tables `people` changes ((schema, name), those of them that exist): an archive
/// restores their rows first (`verify::RowChange::only`).
pub const PEOPLE: &[(&str, &str)] = &[
    ("public", "users"),
    ("stackctl", "stackctl_audit"),
    ("public", "stackctl_audit"),
];

/// Whether `people` does all `opts` ask: no sample, nothing of `items` to clear (those
/// need the items' rows).
pub fn people_first(opts: &Options) -> bool {
    opts.sample.is_none() && opts.clear.iter().all(|c| c.table == "users")
}

/// Anonymise the people of the database `conn` is connected to, whose `users` and audit
/// trail rows are restored and the rest not yet (`people_first(opts)`); `prove` once the
/// rest is there.
pub fn people(conn: &mut PgConnection, opts: &Options) -> Result<Summary> {
    if !people_first(opts) {
        return Err(Error::failure(
            "a sample or an items column to clear needs the items' rows",
        ));
    }
    change(conn, opts)
}

/// Replace the people, with whatever rows are restored.
fn change(conn: &mut PgConnection, opts: &Options) -> Result<Summary> {
    // Every row of users changes and the table is rewritten afterwards. A custom or
    // directory dump's indexes, keys and triggers are not there yet (the restore makes
    // them after this: `verify::restore_beside`); a plain dump's are, and its indexes (but
    // those behind its constraints) are dropped first and made again once, from the
    // server's own definitions, instead of being updated row by row and then rebuilt.
    // Only stackctl's own statements run: no search path an object in the dump could
    // stand in (every name here is schema-qualified), no row security hiding rows from
    // the change and the proof, and no trigger or rule of the dump's running as this role.
    conn.batch_execute(SESSION)?;
    refuse_triggers(conn)?;
    refuse_children(conn)?;
    let schema = schema_of(conn)?;
    let indexes = plain_indexes(conn, "users")?;
    let summary = conn.transaction::<_, Error, _>(|conn| {
        for (name, _) in &indexes {
            conn.batch_execute(&format!("DROP INDEX public.{}", ident(name)))?;
        }
        anonymise(conn, opts)
    })?;
    // The replaced values' old row versions are gone from the tables' files only once
    // the tables are rewritten; fresh statistics, as the planner's samples of the old
    // values go with them.
    conn.batch_execute("VACUUM (FULL, ANALYZE) public.users")?;
    for (_, definition) in &indexes {
        conn.batch_execute(definition)?;
    }
    if opts.clear.iter().any(|c| c.table == "items") || summary.users_dropped_by_sample > 0 {
        conn.batch_execute("VACUUM (FULL, ANALYZE) public.items")?;
    }
    // The other half of the proof: only values changed, the schema is the source's.
    if schema_of(conn)? != schema {
        return Err(Error::failure(
            "the anonymised copy's schema differs from the source's (an index or constraint was not made again), so it was not kept",
        ));
    }
    Ok(summary)
}

/// The session every statement here runs in.
const SESSION: &str = "SET search_path = pg_catalog, pg_temp; SET row_security = off";

/// Every column (type, nullability, default), index and constraint of every table outside
/// the system schemas (but the source's hashes), as one text: equal texts, equal schemas.
fn schema_of(conn: &mut PgConnection) -> Result<String> {
    #[derive(QueryableByName)]
    struct Schema {
        #[diesel(sql_type = Text)]
        s: String,
    }
    const OURS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
                        AND n.nspname NOT LIKE 'pg\\_%'";
    Ok(diesel::sql_query(format!(
        "SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') AS s FROM ( \
           SELECT format('column %I.%I.%I %s %s %s', n.nspname, c.relname, a.attname, \
                         format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                         pg_get_expr(d.adbin, d.adrelid)) AS x \
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
           WHERE c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped \
             AND {OURS} AND c.oid IS DISTINCT FROM to_regclass('{HASHES}') \
           UNION ALL \
           SELECT 'index ' || pg_get_indexdef(i.indexrelid) \
           FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {OURS} \
           UNION ALL \
           SELECT format('constraint %I.%I %I %s', n.nspname, c.relname, k.conname, \
                         pg_get_constraintdef(k.oid)) \
           FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {OURS}) s"
    ))
    .get_result::<Schema>(conn)?
    .s)
}

/// Exit 1 when `users` has child tables or partitions: an archive restores their rows
/// after the change, which would not replace them, nor would the proof know their values.
fn refuse_children(conn: &mut PgConnection) -> Result<()> {
    let n = count(
        conn,
        "SELECT count(*) AS n FROM pg_inherits \
         WHERE inhparent = to_regclass('public.users') OR inhrelid = to_regclass('public.users')",
    )?;
    if n > 0 {
        return Err(Error::failure(
            "the backup's users table has child tables or partitions (or is one), which the anonymisation does not cover; the copy was not kept",
        )
        .with_hint("anonymise such a database by hand"));
    }
    Ok(())
}

/// Exit 1 when the copy's users, items or audit trail carry a trigger or a rule of the
/// dump's, or the copy an event trigger: the anonymisation's statements would run it as
/// this role.
fn refuse_triggers(conn: &mut PgConnection) -> Result<()> {
    let n = count(
        conn,
        "SELECT (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                  JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE NOT t.tgisinternal AND n.nspname IN ('public', 'stackctl') \
                    AND c.relname IN ('users', 'items', 'stackctl_audit')) \
              + (SELECT count(*) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class \
                  JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE r.rulename <> '_RETURN' AND n.nspname IN ('public', 'stackctl') \
                    AND c.relname IN ('users', 'items', 'stackctl_audit')) \
              + (SELECT count(*) FROM pg_event_trigger WHERE evtenabled <> 'D') AS n",
    )?;
    if n > 0 {
        return Err(Error::failure(format!(
            "the backup's users, items or audit trail carry {n} trigger(s) or rule(s) (or the database event triggers), which anonymising would run as this role; the copy was not kept"
        ))
        .with_hint("drop them in the source (or anonymise by hand)"));
    }
    Ok(())
}

/// The indexes of `public.<table>` that no constraint owns: (name, definition as
/// `pg_get_indexdef` gives it, schema-qualified).
fn plain_indexes(conn: &mut PgConnection, table: &str) -> Result<Vec<(String, String)>> {
    #[derive(QueryableByName)]
    struct Index {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        definition: String,
    }
    let rows: Vec<Index> = diesel::sql_query(
        "SELECT c.relname::text AS name, pg_get_indexdef(i.indexrelid) AS definition \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE i.indrelid = to_regclass('public.' || quote_ident($1)) \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) \
         ORDER BY 1",
    )
    .bind::<Text, _>(table)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.name, r.definition)).collect())
}

/// The columns of `users` and `items`, and which layout they make.
struct Tables {
    columns: Vec<shape::CatalogColumn>,
    simple: bool,
    items: bool,
}

impl Tables {
    fn read(conn: &mut PgConnection) -> Result<Tables> {
        let columns = shape::columns(conn)?;
        let has = |t: &str, c: &str| {
            columns
                .iter()
                .any(|r| r.table_name == t && r.column_name == c)
        };
        let simple = has("users", "name") && !has("users", "hashed_password");
        let items = columns.iter().any(|r| r.table_name == "items");
        Ok(Tables {
            columns,
            simple,
            items,
        })
    }

    fn has(&self, c: &Column) -> bool {
        self.columns
            .iter()
            .any(|r| r.table_name == c.table && r.column_name == c.column)
    }
}

/// Fail closed, before anything is copied: every column of `users` and `items` of the
/// database `conn` reaches is one stackctl knows or one the operator said `--keep` or
/// `--clear` for, and those name columns there that are not personal data. Else exit 2
/// naming each.
pub fn check(conn: &mut PgConnection, opts: &Options) -> Result<()> {
    fail_closed(&Tables::read(conn)?, opts)
}

fn fail_closed(tables: &Tables, opts: &Options) -> Result<()> {
    let simple = tables.simple;
    for c in opts.keep.iter().chain(&opts.clear) {
        if !tables.has(c) {
            return Err(Error::usage(format!(
                "{} has no column {}",
                c.table, c.column
            )));
        }
        if c.table == "users" && personal(simple).contains(&c.column.as_str()) {
            return Err(Error::usage(format!(
                "{} is personal data the copy always replaces; it cannot be kept or cleared",
                c.name()
            )));
        }
    }
    let unknown: Vec<String> = tables
        .columns
        .iter()
        .filter(|r| {
            let known = shape::is_known(&r.table_name, &r.column_name)
                || (simple && r.table_name == "users" && r.column_name == "name");
            let said = opts
                .keep
                .iter()
                .chain(&opts.clear)
                .any(|c| c.table == r.table_name && c.column == r.column_name);
            !known && !said
        })
        .map(|r| format!("{}.{} ({})", r.table_name, r.column_name, r.column_type))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::usage(format!(
            "the copy would carry column(s) stackctl does not know, which may hold personal data: {}",
            unknown.join(", ")
        ))
        .with_hint("say for each: --keep TABLE.COLUMN copies it as it is, --clear TABLE.COLUMN empties it"));
    }
    Ok(())
}

fn anonymise(conn: &mut PgConnection, opts: &Options) -> Result<Summary> {
    let tables = Tables::read(conn)?;
    let (simple, items) = (tables.simple, tables.items);
    let mut summary = Summary::default();

    // 1. Fail closed.
    fail_closed(&tables, opts)?;
    summary.kept = opts.keep.iter().map(Column::name).collect();

    // 2. The source's identifying values, as hashes only: two 64-bit hashes of each
    // (`hashed`), which the proof's join computes and compares cheaply. Each once: the
    // server then hashes this table once for every core, where with repeats (one password
    // hash shared by many users) it makes each process its own copy without them.
    let sources: Vec<String> = personal(simple)
        .iter()
        .map(|c| format!("SELECT {} FROM public.users", lowered(c)))
        .collect();
    conn.batch_execute(&format!(
        "CREATE UNLOGGED TABLE {HASHES} AS \
         SELECT DISTINCT hashtextextended(v, 0) AS x, hashtextextended(v, 1) AS y \
         FROM ({}) s(v) WHERE v IS NOT NULL AND length(v) >= 3; \
         ANALYZE {HASHES}",
        sources.join(" UNION ALL ")
    ))?;

    // 3. The sample: the users whose keyed hash ranks first, with their items.
    if let Some(sample) = opts.sample {
        let total = count(conn, "SELECT count(*) AS n FROM public.users")?;
        let keep = match sample {
            Sample::Count(n) => n.min(total),
            Sample::Percent(p) => ((total as f64) * p / 100.0).ceil() as i64,
        };
        diesel::sql_query(format!(
            "CREATE TEMPORARY TABLE stackctl_sampled ON COMMIT DROP AS \
             SELECT id FROM public.users ORDER BY {PSEUDONYM}, id LIMIT $2"
        ))
        .bind::<Bytea, _>(&opts.key)
        .bind::<BigInt, _>(keep)
        .execute(conn)?;
        if items {
            conn.batch_execute(
                "DELETE FROM public.items WHERE owner_id IS NOT NULL \
                 AND owner_id NOT IN (SELECT id FROM stackctl_sampled)",
            )?;
        }
        summary.users_dropped_by_sample = diesel::sql_query(
            "DELETE FROM public.users WHERE id NOT IN (SELECT id FROM stackctl_sampled)",
        )
        .execute(conn)? as i64;
    }

    // 4. The pseudonyms, the one password hash, the cleared columns, the audit trail.
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::Array<BigInt>)]
        n: Vec<i64>,
    }
    let counted = personal(simple)
        .iter()
        .map(|c| format!("count({c})"))
        .collect::<Vec<_>>()
        .join(", ");
    let counts = diesel::sql_query(format!("SELECT ARRAY[{counted}] AS n FROM public.users"))
        .get_result::<Counts>(conn)?
        .n;
    for (c, n) in personal(simple).iter().zip(counts) {
        summary.replaced.push((format!("users.{c}"), n));
    }
    // The pseudonym is computed once per row (`OFFSET 0` keeps the server from copying
    // its expression into each column's).
    let (columns, values) = if simple {
        (
            "email, name",
            "'user-' || p || '@example.invalid', 'Person ' || right(p, 8)",
        )
    } else {
        (
            "email, username, full_name, hashed_password",
            "'user-' || p || '@example.invalid', \
             CASE WHEN username IS NULL THEN NULL ELSE 'user-' || p END, \
             CASE WHEN full_name IS NULL THEN NULL ELSE 'Person ' || right(p, 8) END, $2",
        )
    };
    let q = diesel::sql_query(format!(
        "UPDATE public.users SET ({columns}) = \
         (SELECT {values} FROM (SELECT {PSEUDONYM} OFFSET 0) s(p))"
    ))
    .bind::<Bytea, _>(&opts.key);
    if simple {
        q.execute(conn)?;
    } else {
        q.bind::<Text, _>(&opts.password_hash).execute(conn)?;
    }
    for c in &opts.clear {
        let col = tables
            .columns
            .iter()
            .find(|r| r.table_name == c.table && r.column_name == c.column)
            .expect("checked above");
        let empty = if !col.not_null {
            "NULL"
        } else if col.column_type == "text" || col.column_type.starts_with("character") {
            "''"
        } else {
            return Err(Error::usage(format!(
                "{} is NOT NULL and not text: it cannot be emptied",
                c.name()
            ))
            .with_hint(format!("--keep {} copies it as it is", c.name())));
        };
        let n = diesel::sql_query(format!(
            "UPDATE public.{t} SET {col} = {empty} WHERE {col} IS NOT NULL",
            t = ident(&c.table),
            col = ident(&c.column)
        ))
        .execute(conn)?;
        summary.cleared.push((c.name(), n as i64));
    }
    if let Some(audit) = super::own::find(conn, "stackctl_audit")? {
        summary.audit_rows_removed = count(conn, &format!("SELECT count(*) AS n FROM {audit}"))?;
        conn.batch_execute(&format!("TRUNCATE {audit}"))?;
    }

    Ok(summary)
}

/// The source's hashed values, from the change to the end of the proof: a table of the
/// copy's, unlogged and dropped by `prove`. Not a temporary table: the server scans those
/// in one process only, and the proof's joins want every core.
const HASHES: &str = "public.stackctl_anonymize_source_hashes";

/// A value as the proof compares it: lower case by the database's own rules whatever the
/// column's collation (the same on both sides, and one collation for a table's columns
/// together), then its bytes (collation "C": a column's own collation could hash equal
/// texts apart).
fn lowered(expr: &str) -> String {
    format!("(lower({expr}::text COLLATE \"default\") COLLATE \"C\")")
}

/// `v` is a source value: both its hashes are in `HASHES` (two independent 64-bit hashes:
/// a false match is as likely as a collision of 128 bits).
fn hashed(v: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {HASHES} h \
                 WHERE h.x = hashtextextended({v}, 0) AND h.y = hashtextextended({v}, 1))"
    )
}

#[derive(QueryableByName)]
struct TextColumn {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    column: String,
}

#[derive(QueryableByName)]
struct Found {
    /// The table's place in the list of tables with text columns.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    t: i32,
    /// The column's place in the table's list.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    i: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The proof, once every row is restored and changed: no text value of any table in the
/// copy is a source value, nor is any email inside one (a word with an `@`, split at
/// spaces and punctuation but `@ . _ + -`). Found: exit 1 naming each column. Then the
/// source's hashes are dropped.
///
/// One query, a semi-join against the hashes, which the server runs as one hash join on
/// every core (the source's hashes loaded once, not once per table): the values of each
/// text column (a scan of its own, which costs less than making rows of a table's
/// columns), and the words with an `@` of the rows with one (most have none, and the scan
/// leaves them out before anything is split). A row found by its value and by a word is
/// counted once. The pseudonyms are not split: their one word with an `@` is the whole
/// value.
pub fn prove(conn: &mut PgConnection) -> Result<()> {
    conn.batch_execute(SESSION)?;
    let simple = Tables::read(conn)?.simple;
    let columns: Vec<TextColumn> = diesel::sql_query(
        "SELECT n.nspname::text AS schema, c.relname::text AS table, a.attname::text AS column \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_%' \
           AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, \
                              'json'::regtype, 'jsonb'::regtype, 'name'::regtype) \
         ORDER BY 1, 2, a.attnum",
    )
    .load(conn)?;
    let tables: Vec<&[TextColumn]> = columns
        .chunk_by(|a, b| (&a.schema, &a.table) == (&b.schema, &b.table))
        .collect();
    let pseudonym = |c: &TextColumn| {
        c.schema == "public" && c.table == "users" && personal(simple).contains(&c.column.as_str())
    };
    // Each table's branches, and a query for at most `BATCH` of them (tables whole, so
    // a row is counted in one query): thousands of columns make no statement too deep
    // for the server.
    const BATCH: usize = 200;
    let mut batches: Vec<Vec<String>> = vec![Vec::new()];
    for (t, table) in tables.iter().enumerate() {
        let from = format!("{}.{} o", ident(&table[0].schema), ident(&table[0].table));
        let col = |c: &TextColumn| format!("o.{}::text", ident(&c.column));
        // The row: its table's (a partitioned or inherited table's scan reads its
        // children's rows) and its place there.
        let row = "o.tableoid, o.ctid";
        let mut branches = Vec::new();
        for (i, c) in table.iter().enumerate() {
            branches.push(format!(
                "SELECT {t} AS t, {i} AS i, {row}, {} AS v FROM {from} WHERE {} IS NOT NULL",
                lowered(&col(c)),
                col(c)
            ));
        }
        let split: Vec<(usize, &TextColumn)> = table
            .iter()
            .enumerate()
            .filter(|(_, c)| !pseudonym(c))
            .collect();
        if !split.is_empty() {
            let at = |e: &str| format!("strpos({e}, '@') > 0");
            branches.push(format!(
                "SELECT {t}, c.i, {row}, trim(both '.' from w.word) FROM {from} \
                 CROSS JOIN LATERAL (VALUES {}) c(i, v) \
                 CROSS JOIN LATERAL regexp_split_to_table(c.v, '[^[:alnum:]@._+-]+') w(word) \
                 WHERE ({}) AND {} AND {}",
                split
                    .iter()
                    .map(|(i, c)| format!("({i}, {})", lowered(&col(c))))
                    .collect::<Vec<_>>()
                    .join(", "),
                split
                    .iter()
                    .map(|(_, c)| at(&format!("({} COLLATE \"C\")", col(c))))
                    .collect::<Vec<_>>()
                    .join(" OR "),
                at("c.v"),
                at("w.word"),
            ));
        }
        let last = batches.last_mut().expect("one batch at least");
        if !last.is_empty() && last.len() + branches.len() > BATCH {
            batches.push(branches);
        } else {
            last.extend(branches);
        }
    }
    // A bigger hash table than the default's 4 MB keeps the join in memory (the server
    // spills what does not fit, in batches); no cache of the split words (every value
    // is another), where the server has that cache (14 and later).
    conn.batch_execute(
        "SET work_mem = '64MB'; \
         SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'enable_memoize'",
    )?;
    let mut hits: Vec<Found> = Vec::new();
    for branches in batches.iter().filter(|b| !b.is_empty()) {
        hits.extend(
            diesel::sql_query(format!(
                "SELECT s.t, s.i, count(DISTINCT (s.tableoid, s.ctid)) AS n FROM ({}) s \
                 WHERE {} GROUP BY s.t, s.i ORDER BY s.t, s.i",
                branches.join(" UNION ALL "),
                hashed("s.v")
            ))
            .load::<Found>(conn)?,
        );
    }
    if hits.is_empty() {
        conn.batch_execute(&format!("DROP TABLE {HASHES}"))?;
        return Ok(());
    }
    // Named as SQL names (quoted where they need it): a name is the dump's, and may
    // hold a dot, a comma or a control character.
    let found: Vec<String> = hits
        .iter()
        .filter_map(|f| {
            let c = tables
                .get(usize::try_from(f.t).ok()?)?
                .get(usize::try_from(f.i).ok()?)?;
            Some(format!(
                "{}.{}.{} ({} row(s))",
                ident(&c.schema),
                ident(&c.table),
                ident(&c.column),
                f.n
            ))
        })
        .collect();
    Err(Error::failure(format!(
        "the copy still holds personal data of the source, so it was not kept: a value of the source found in {}",
        found.join(", ")
    ))
    .with_hint("clear those columns with --clear TABLE.COLUMN, or keep the value out of the source"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_and_columns_parse_or_are_usage_errors() {
        assert_eq!(Sample::parse("5%").unwrap(), Sample::Percent(5.0));
        assert_eq!(Sample::parse("100").unwrap(), Sample::Count(100));
        for bad in ["0%", "101%", "0", "-3", "x", "5%%"] {
            assert_eq!(Sample::parse(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert!(Column::parse("--keep", "users.phone").is_ok());
        for bad in ["phone", "orders.x", "users.", ".x"] {
            assert_eq!(
                Column::parse("--keep", bad).unwrap_err().exit_code(),
                2,
                "{bad}"
            );
        }
    }
}
