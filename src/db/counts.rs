//! Row counts for `status`: exact where counting is cheap, the planner's estimate above
//! a threshold, since `count(*)` reads the whole table (about 30 ms per million rows on
//! the benchmark's machine, growing with the table) while the estimate is one catalog
//! row. Backups and restores compare exact counts of their own (`snapshot::row_counts`).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use crate::error::Result;

/// Above this many rows (as estimated) a table's count is the estimate.
pub const ESTIMATE_ABOVE: i64 = 100_000;

/// A table's row count, and how it was had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Exact(i64),
    /// The planner's estimate: `pg_class.reltuples` (as of the last VACUUM or ANALYZE)
    /// scaled to the table's current size, as the planner itself does.
    Estimated(i64),
}

impl Count {
    pub fn rows(self) -> i64 {
        match self {
            Count::Exact(n) | Count::Estimated(n) => n,
        }
    }

    pub fn is_estimate(self) -> bool {
        matches!(self, Count::Estimated(_))
    }
}

#[derive(QueryableByName)]
struct Estimate {
    #[diesel(sql_type = Text)]
    name: String,
    /// -1 when unknown: never vacuumed or analysed.
    #[diesel(sql_type = Double)]
    estimate: f64,
}

/// The counts of `users` and `items` (`None` for a table that does not exist). With
/// `exact`, or where the estimate is unknown or under `ESTIMATE_ABOVE`, the rows are
/// counted.
pub fn users_and_items(
    conn: &mut PgConnection,
    exact: bool,
) -> Result<(Option<Count>, Option<Count>)> {
    // reltuples / relpages is the density the last VACUUM or ANALYZE saw; times the pages
    // the table has now (the planner's own extrapolation, so a table that grew since is
    // not under-reported). The tables' existence comes with it, in one round trip.
    let rows: Vec<Estimate> = diesel::sql_query(
        "SELECT c.relname::text AS name, \
                CASE WHEN c.reltuples < 0 THEN -1 \
                     WHEN c.relpages = 0 THEN c.reltuples::float8 \
                     ELSE c.reltuples / c.relpages \
                          * (pg_relation_size(c.oid) / current_setting('block_size')::int) \
                END::float8 AS estimate \
         FROM pg_class c \
         WHERE c.oid IN (to_regclass('public.users'), to_regclass('public.items'))",
    )
    .load(conn)?;
    let mut one = |table: &str| -> Result<Option<Count>> {
        let Some(row) = rows.iter().find(|r| r.name == table) else {
            return Ok(None);
        };
        let estimate = row.estimate.round() as i64;
        if !exact && estimate >= ESTIMATE_ABOVE {
            return Ok(Some(Count::Estimated(estimate)));
        }
        Ok(Some(Count::Exact(exact_count(conn, table)?)))
    };
    Ok((one("users")?, one("items")?))
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

fn exact_count(conn: &mut PgConnection, table: &str) -> Result<i64> {
    let sql = match table {
        "users" => "SELECT count(*) AS count FROM users",
        _ => "SELECT count(*) AS count FROM items",
    };
    let row: Counted = diesel::sql_query(sql).get_result(conn)?;
    Ok(row.count)
}
