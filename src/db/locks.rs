//! The locks that keep concurrent runs apart. Every lock here lives exactly as long as a
//! transaction or a row, never a session: behind a transaction-pooling PgBouncer a session
//! lock stays on the pooled server connection and is handed to the next client, so two
//! runs could both believe they hold it.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::audit::Actor;
use crate::error::{Error, Result};

/// Advisory-lock key that serialises migrations ("stackctl" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x737461636b63746c;
/// Transaction-level lock key that serialises user writes that can clash on email or
/// username (the unique constraints are case-sensitive, our rule is not).
const USER_IDENTITY_LOCK_KEY: i64 = 0x737461636b757372;
/// How often a waiting run asks again for a lock another run holds.
const POLL: Duration = Duration::from_millis(100);

/// How concurrent migration runs are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// A transaction-level advisory lock around one transaction that applies everything.
    Transaction,
    /// A row in `stackctl_lock`, for servers where advisory locks are not wanted.
    Table,
}

/// Who we are, as a lock holder is shown to the run that waits for it.
fn holder_name() -> String {
    let a = Actor::current();
    format!(
        "stackctl {}@{} pid {}",
        a.os_user,
        a.hostname,
        std::process::id()
    )
}

/// Run `f` holding the migration lock. In `Transaction` mode `f` runs inside the one
/// transaction that holds the lock, so everything it applies commits or rolls back
/// together; waiting longer than `timeout` is a conflict (exit 4) naming the holder.
pub fn with_migration_lock<T>(
    conn: &mut PgConnection,
    mode: LockMode,
    timeout: Duration,
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    match mode {
        LockMode::Transaction => in_locked_transaction(conn, timeout, f),
        LockMode::Table => with_table_lock(conn, timeout, f),
    }
}

/// Run `f` on `conn` outside any transaction (a concurrent index build cannot run in one)
/// while other migrate runs are kept out. The `stackctl_lock` row spans transactions as it
/// is. A transaction-level advisory lock cannot be held across the autocommit statements
/// `f` sends on `conn`, so in `Transaction` mode a second connection to `url` (the guard)
/// takes it in a transaction of its own and stays in it, idle, until `f` returns. That
/// holds behind a transaction pooler, which pins one server connection to the guard's
/// transaction for exactly that long (`f`'s statements take another from the pool), and
/// the server releases it if stackctl dies (its connection closes, its transaction is
/// rolled back). The idle guard holds no snapshot and no lock on `users`/`items`, so the
/// concurrent build, which waits for older snapshots and for writers, never waits for it.
pub fn with_build_lock<T>(
    conn: &mut PgConnection,
    url: &str,
    mode: LockMode,
    timeout: Duration,
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    match mode {
        LockMode::Transaction => {
            let mut guard = super::connect(url)?;
            in_locked_transaction(&mut guard, timeout, |guard| {
                // Diesel sends statements through the extended protocol, whose unnamed
                // portal keeps its snapshot, and so the backend's xmin, until another
                // statement replaces it: the build would wait for that snapshot forever.
                // A simple-protocol statement replaces the portal and drops it when done.
                guard.batch_execute("SELECT 1")?;
                f(conn)
            })
        }
        LockMode::Table => with_table_lock(conn, timeout, f),
    }
}

#[derive(QueryableByName)]
struct Got {
    #[diesel(sql_type = Bool)]
    got: bool,
}

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = Text)]
    holder: String,
}

/// Ask `pg_try_advisory_xact_lock` in a short transaction until it is granted or
/// `timeout` passes, then run `f` in the transaction that got it. Each refused attempt
/// ends its transaction, so a waiting run pins no pooled server connection while it waits
/// (the holder may need one more for a concurrent build), and polling lets us name the
/// holder where a `lock_timeout` would only abort.
fn in_locked_transaction<T>(
    conn: &mut PgConnection,
    timeout: Duration,
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut f = Some(f);
    loop {
        let done = conn.transaction(|conn| {
            // The holder's name is what a waiting run reads in pg_stat_activity.
            diesel::sql_query("SELECT set_config('application_name', $1, true)")
                .bind::<Text, _>(holder_name())
                .execute(conn)?;
            let row: Got = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS got")
                .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
                .get_result(conn)?;
            match f.take() {
                Some(f) if row.got => f(conn).map(Some),
                unused => {
                    f = unused;
                    Ok(None)
                }
            }
        })?;
        if let Some(value) = done {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            let who: Vec<Holder> = diesel::sql_query(
                "SELECT coalesce(nullif(a.application_name, ''), 'a session') || ' (server pid ' \
                 || a.pid || ', in its transaction since ' \
                 || coalesce(a.xact_start::text, '?') || ')' AS holder \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted \
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND l.classid = ($1 >> 32)::oid AND l.objid = ($1 & 4294967295)::oid",
            )
            .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
            .load(conn)?;
            let by = who
                .into_iter()
                .next()
                .map_or("another migrate run".to_string(), |w| w.holder);
            return Err(
                Error::conflict(format!("the migration lock is held by {by}"))
                    .with_hint("wait for that run to finish, or raise --lock-timeout"),
            );
        }
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

#[derive(QueryableByName)]
struct LockRow {
    #[diesel(sql_type = Text)]
    holder: String,
    #[diesel(sql_type = Text)]
    since: String,
}

/// The `stackctl_lock` row: taken in one transaction, released in another, so it also
/// holds across the transactions of a pooler. A run that died leaves it behind; the hint
/// says how to clear it.
fn with_table_lock<T>(
    conn: &mut PgConnection,
    timeout: Duration,
    f: impl FnOnce(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    let holder = holder_name();
    // In the schema stackctl once migration 000005 has moved stackctl's tables there,
    // else in public, where that migration finds it. Two first runs may race to create
    // the table: the loser's error is harmless.
    let table = match crate::db::own::find(conn, "stackctl_lock")? {
        Some(table) => table,
        None => {
            let table = crate::db::own::home(conn, "stackctl_lock")?;
            if conn
                .batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {table} (name TEXT PRIMARY KEY, holder TEXT NOT NULL, \
                     acquired_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                ))
                .is_err()
            {
                conn.batch_execute(&format!("SELECT 1 FROM {table} LIMIT 0"))?;
            }
            table
        }
    };
    let deadline = Instant::now() + timeout;
    let mut table = table;
    loop {
        // The holder's run may move the table meanwhile (migration 000005).
        if let Ok(Some(now)) = crate::db::own::find(conn, "stackctl_lock") {
            table = now;
        }
        let got: Vec<LockRow> = match diesel::sql_query(format!(
            "INSERT INTO {table} (name, holder) VALUES ('migrate', $1) ON CONFLICT (name) DO NOTHING \
             RETURNING holder, acquired_at::text AS since"
        ))
        .bind::<Text, _>(&holder)
        .load(conn)
        {
            Ok(got) => got,
            // Moved between the look-up and the insert: look again.
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.sqlstate() == Some(diesel::pg::sql_state::UNDEFINED_TABLE) =>
            {
                std::thread::sleep(POLL);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if !got.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let who: Vec<LockRow> = diesel::sql_query(format!(
                "SELECT holder, acquired_at::text AS since FROM {table} WHERE name = 'migrate'"
            ))
            .load(conn)?;
            let by = who.first().map_or("another run".to_string(), |w| {
                format!("{} since {}", w.holder, w.since)
            });
            return Err(Error::conflict(format!("the migration lock is held by {by}")).with_hint(
                format!("wait and retry; if that process is gone: DELETE FROM {table} WHERE name = 'migrate'"),
            ));
        }
        std::thread::sleep(POLL * 2);
    }
    let result = f(conn);
    // The run may have moved the table (migration 000005): release it where it is now.
    let table = crate::db::own::find(conn, "stackctl_lock")
        .ok()
        .flatten()
        .unwrap_or(table);
    let release = diesel::sql_query(format!(
        "DELETE FROM {table} WHERE name = 'migrate' AND holder = $1"
    ))
    .bind::<Text, _>(&holder)
    .execute(conn);
    let value = result?;
    release?;
    Ok(value)
}

/// Take the transaction-level lock that serialises identity changes to users.
pub fn lock_user_identities(conn: &mut PgConnection) -> Result<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(USER_IDENTITY_LOCK_KEY)
        .execute(conn)?;
    Ok(())
}
