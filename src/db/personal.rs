//! A person's data: everything stackctl can find about one user (`user export`), and the
//! pseudonymisation of the audit trail that `user erase` does. The user's row is read with
//! every column the table has (the application's own included) but the password hash, so
//! a role that may not read the hash exports too; rows of the audit trail are found by
//! their target or by a value in their summary equal to one of the person's identifiers.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

use crate::error::{Error, Result};

#[derive(QueryableByName)]
struct Doc {
    #[diesel(sql_type = Nullable<Text>)]
    doc: Option<String>,
}

fn parse(doc: Option<String>) -> Result<serde_json::Value> {
    match doc {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Error::failure(format!("the server's JSON is unreadable: {e}"))),
        None => Ok(serde_json::Value::Null),
    }
}

/// The columns of `table` but the password hash, quoted, for a select list.
fn columns_but_the_hash(conn: &mut PgConnection, table: &str) -> Result<String> {
    let row: Doc = diesel::sql_query(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS doc \
         FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 \
           AND NOT attisdropped AND attname <> 'hashed_password'",
    )
    .bind::<Text, _>(format!("public.{table}"))
    .get_result(conn)?;
    row.doc
        .ok_or_else(|| Error::failure(format!("the table {table} has no columns")))
}

/// The user whose id (as text) is `id`: every column but the hash, as the server writes
/// them (numbers exact, times in RFC 3339).
pub fn user(conn: &mut PgConnection, id: &str) -> Result<serde_json::Value> {
    let columns = columns_but_the_hash(conn, "users")?;
    let row: Doc = diesel::sql_query(format!(
        "SELECT (SELECT to_jsonb(u)::text FROM (SELECT {columns} FROM users WHERE id::text = $1) u) AS doc"
    ))
    .bind::<Text, _>(id)
    .get_result(conn)?;
    parse(row.doc)
}

/// The user's items, every column, prices as decimal strings (exact).
pub fn items(conn: &mut PgConnection, owner_id: &str) -> Result<serde_json::Value> {
    let row: Doc = diesel::sql_query(
        "SELECT coalesce(jsonb_agg(jsonb_set(to_jsonb(i), '{price}', to_jsonb(i.price::text)) \
                                   ORDER BY i.created_at NULLS FIRST, i.id), '[]')::text AS doc \
         FROM items i WHERE i.owner_id::text = $1",
    )
    .bind::<Text, _>(owner_id)
    .get_result(conn)?;
    parse(row.doc)
}

/// The audit trail's rows about the person: a target among `targets`, or a value in the
/// summary equal (any letter case) to one of `identifiers`. In the caller's transaction.
const NAMING: &str = "FROM stackctl_audit a \
     WHERE a.target_id = ANY($1) \
        OR EXISTS (SELECT 1 FROM jsonb_path_query(a.summary, 'strict $.**') v \
                   WHERE jsonb_typeof(v) = 'string' AND lower(v #>> '{}') = ANY($2))";

fn lower(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.to_lowercase()).collect()
}

/// The audit rows about the person, oldest first, each as the server writes it.
pub fn audit(
    conn: &mut PgConnection,
    targets: &[String],
    identifiers: &[String],
) -> Result<serde_json::Value> {
    conn.transaction::<_, Error, _>(|conn| {
        super::own::search_path(conn)?;
        let row: Doc = diesel::sql_query(format!(
            "SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.id), '[]')::text AS doc {NAMING}"
        ))
        .bind::<Array<Text>, _>(targets)
        .bind::<Array<Text>, _>(lower(identifiers))
        .get_result(conn)?;
        parse(row.doc)
    })
}

/// Replace, in the audit rows about the person, every value equal to one of
/// `identifiers` (and a target among `targets`) with `pseudonym`. In the caller's
/// transaction; the number of rows changed.
pub fn pseudonymise(
    conn: &mut PgConnection,
    targets: &[String],
    identifiers: &[String],
    pseudonym: &str,
) -> Result<usize> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        target_id: String,
        #[diesel(sql_type = Text)]
        summary: String,
    }
    conn.batch_execute("SET LOCAL search_path = stackctl, public")?;
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT a.id, a.target_id, a.summary::text AS summary {NAMING} ORDER BY a.id FOR UPDATE"
    ))
    .bind::<Array<Text>, _>(targets)
    .bind::<Array<Text>, _>(lower(identifiers))
    .load(conn)?;
    let wanted = lower(identifiers);
    for row in &rows {
        let mut summary: serde_json::Value = serde_json::from_str(&row.summary)
            .map_err(|e| Error::failure(format!("an audit row's summary is unreadable: {e}")))?;
        replace(&mut summary, &wanted, pseudonym);
        let target = if targets.contains(&row.target_id) {
            pseudonym
        } else {
            row.target_id.as_str()
        };
        diesel::sql_query(
            "UPDATE stackctl_audit SET target_id = $1, summary = $2::jsonb WHERE id = $3",
        )
        .bind::<Text, _>(target)
        .bind::<Text, _>(summary.to_string())
        .bind::<BigInt, _>(row.id)
        .execute(conn)?;
    }
    Ok(rows.len())
}

/// Every string in `v` equal (any letter case) to one of `wanted` becomes `pseudonym`.
fn replace(v: &mut serde_json::Value, wanted: &[String], pseudonym: &str) {
    match v {
        serde_json::Value::String(s) if wanted.contains(&s.to_lowercase()) => {
            *s = pseudonym.to_string();
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| replace(x, wanted, pseudonym)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| replace(x, wanted, pseudonym)),
        _ => {}
    }
}

/// The values that named the person in the audit trail's rows about them (their own
/// rows: target `id`), earlier emails, usernames and names included.
pub fn former_identifiers(conn: &mut PgConnection, id: &str) -> Result<Vec<String>> {
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = Text)]
        v: String,
    }
    conn.transaction::<_, Error, _>(|conn| {
        super::own::search_path(conn)?;
        let rows: Vec<Value> = diesel::sql_query(
            "SELECT DISTINCT x.v FROM stackctl_audit a, LATERAL (VALUES \
               (a.summary #>> '{before,email}'), (a.summary #>> '{after,email}'), \
               (a.summary #>> '{before,username}'), (a.summary #>> '{after,username}'), \
               (a.summary #>> '{before,full_name}'), (a.summary #>> '{after,full_name}'), \
               (a.summary #>> '{before,name}'), (a.summary #>> '{after,name}')) x(v) \
             WHERE a.target_kind = 'user' AND a.target_id = $1 AND x.v IS NOT NULL AND x.v <> ''",
        )
        .bind::<Text, _>(id)
        .load(conn)?;
        Ok(rows.into_iter().map(|r| r.v).collect())
    })
}

/// A stable pseudonym for a person: the same id always gives the same one, and it does
/// not give the id back.
pub fn pseudonym(id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("stackctl erase {id}").as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("erased-{hex}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_naming_the_person_become_the_pseudonym_anywhere_in_a_summary() {
        let mut v = serde_json::json!({
            "before": {"email": "Ada@Example.com", "username": "ada", "full_name": "Ada L"},
            "after": null,
            "detail": {"owner_email": "ada@example.com", "list": ["ADA", "other"], "n": 3}
        });
        let wanted = vec![
            "ada@example.com".to_string(),
            "ada".to_string(),
            "ada l".to_string(),
        ];
        super::replace(&mut v, &wanted, "erased-1");
        assert_eq!(
            v,
            serde_json::json!({
                "before": {"email": "erased-1", "username": "erased-1", "full_name": "erased-1"},
                "after": null,
                "detail": {"owner_email": "erased-1", "list": ["erased-1", "other"], "n": 3}
            })
        );
        assert_eq!(super::pseudonym("x"), super::pseudonym("x"));
        assert_ne!(super::pseudonym("x"), super::pseudonym("y"));
        assert!(
            !super::pseudonym("x").contains('x') || super::pseudonym("x").starts_with("erased-")
        );
    }
}
