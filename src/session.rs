//! A command's way to its database: which URL (the main one, the direct one, or the
//! embedded instance, started and migrated on the way), the schema gate, the transaction
//! settings that hold behind a transaction pooler (`SET LOCAL`), and the write protocol
//! (one transaction, audited, or rolled back for a dry run) on the `Session` the gate
//! hands a command: its connection, the layout, whether writes are audited and whether a
//! transaction for reads is open, all in its type. Nothing here prints but through `Ctx`.

use diesel::{Connection, PgConnection};

use crate::change::Change;
use crate::commands::Ctx;
use crate::config::{self, Target};
use crate::db;
use crate::error::Result;
use crate::layout::Layout;

/// How a command's reads run: one statement at a time (autocommit), or inside one
/// transaction begun for `--statement-timeout`, whose `SET LOCAL` limit must cover them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    OneStatementEach,
    InTransaction,
}

/// A command's way into its database once the schema gate has let it through: the
/// connection, the layout the database has, whether writes append to the audit trail,
/// and whether a transaction for reads is open. Reads go through the connection (the
/// session derefs to it); every write goes through `write`, which owns the transaction.
pub struct Session<'c> {
    ctx: &'c Ctx,
    pub conn: PgConnection,
    pub layout: Layout,
    /// Writes append to `stackctl_audit`: always on the StackWizard layout (a migration
    /// made it), on the Simple DB layout where `migrate` added it.
    pub audit: bool,
    pub reads: Reads,
    /// The StackWizard tables' column types and the application's unfilled columns, as
    /// the catalog has them (the design document's on the Simple DB layout).
    pub shape: db::shape::Shape,
}

impl std::ops::Deref for Session<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Session<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Session<'_> {
    /// Open the reads' transaction (`--statement-timeout` only).
    fn begin_reads(&mut self) -> Result<()> {
        self.reads = self.ctx.begin_reads(&mut self.conn)?;
        Ok(())
    }

    /// End the reads' transaction, if one is open (it wrote nothing): before a write, or
    /// before work that runs transactions of its own (an import's load).
    pub fn end_reads(&mut self) -> Result<()> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        if self.reads == Reads::InTransaction {
            AnsiTransactionManager::rollback_transaction(&mut self.conn)?;
            self.reads = Reads::OneStatementEach;
        }
        Ok(())
    }

    /// One write: `f` makes the change in a transaction and says what it changed. The
    /// audit rows go into the same transaction. With `--dry-run` everything is rolled back,
    /// the plan is printed, and `None` tells the caller to print nothing else. Reads that
    /// ran in a transaction go on in a new one afterwards.
    pub fn write<T>(
        &mut self,
        command: &str,
        f: impl FnOnce(&mut PgConnection) -> Result<(T, Vec<Change>)>,
    ) -> Result<Option<T>> {
        let ctx = self.ctx;
        let reading = self.reads;
        self.end_reads()?;
        let audit = self.audit;
        let conn = &mut self.conn;
        let outcome = if ctx.global.dry_run {
            db::rolled_back(conn, |conn| {
                ctx.limit_statements(conn)?;
                f(conn)
            })
            .map(|(_, changes)| (None, changes))
        } else {
            conn.transaction::<_, crate::error::Error, _>(|conn| {
                ctx.limit_statements(conn)?;
                let (value, changes) = f(conn)?;
                if audit {
                    db::audit::record(conn, command, &changes)?;
                }
                Ok((Some(value), Vec::new()))
            })
        };
        let (value, plan) = outcome.map_err(|e| db::server::explain_refusal(conn, e))?;
        if reading == Reads::InTransaction {
            self.begin_reads()?;
        }
        if ctx.global.dry_run {
            ctx.print_plan(&plan)?;
        }
        Ok(value)
    }
}

impl Ctx {
    /// The configured database, else the embedded instance.
    pub fn target(&self) -> Result<Target> {
        let env = |k: &str| std::env::var(k).ok();
        match config::resolve(
            self.global.database_url.as_deref(),
            self.global.env_file.as_deref(),
            &env,
        )? {
            Some(target) => Ok(target),
            None => self.instance()?.target(),
        }
    }

    /// The server without a pooler in between, for backups, restores and migrations: the
    /// direct URL when one is configured, else the main target.
    pub fn direct_target(&self) -> Result<Target> {
        match self.configured_direct()? {
            Some(target) => Ok(target),
            None => self.target(),
        }
    }

    /// The direct URL, when one is configured.
    fn configured_direct(&self) -> Result<Option<Target>> {
        let env = |k: &str| std::env::var(k).ok();
        config::resolve_direct(
            self.global.direct_url.as_deref(),
            self.global.env_file.as_deref(),
            &env,
        )
    }

    /// Refuse to run a client tool (pg_dump, pg_restore, psql) through a transaction
    /// pooler: their session settings (`search_path = ''` among them) would apply to only
    /// some of their statements and stay on pooled server connections for other clients.
    pub fn refuse_pooled_tools(&self, target: &Target, what: &str) -> Result<()> {
        if matches!(target.source, config::Source::Embedded(_))
            || self.configured_direct()?.is_some()
        {
            return Ok(());
        }
        if db::server::behind_transaction_pooler(target.url.libpq())? {
            return Err(crate::error::Error::usage(format!(
                "{what} cannot run through a transaction pooler: {} shares server connections between clients",
                target.display
            ))
            .with_hint(
                "set DIRECT_DATABASE_URL (or --direct-url) to a URL that reaches PostgreSQL directly",
            ));
        }
        Ok(())
    }

    /// A refusal for a missing privilege, with the GRANT that fixes it: the server is asked
    /// on a connection of its own which privilege the role lacks. Where it cannot be asked,
    /// the refusal keeps its general hint.
    pub fn explain_denial(&self, err: crate::error::Error) -> crate::error::Error {
        let hint = self
            .target()
            .and_then(|t| db::connect(t.url.libpq()))
            .and_then(|mut conn| db::server::missing_grant_hint(&mut conn));
        match hint {
            Ok(Some(hint)) => err.with_hint(hint),
            _ => err,
        }
    }

    /// The embedded instance under the data directory.
    pub fn instance(&self) -> Result<crate::embedded::Instance> {
        let env = |k: &str| std::env::var(k).ok();
        crate::embedded::Instance::new(crate::embedded::data_dir(
            self.global.data_dir.as_deref(),
            &env,
        )?)
    }

    /// Connect without checking the schema (migrate, status). The embedded instance
    /// is created, started and (unless `auto_migrate` is off) migrated on the way.
    pub fn connect_raw(&self) -> Result<(PgConnection, Target)> {
        self.connect_target(self.target()?)
    }

    /// `connect_raw` for a given target.
    pub fn connect_target(&self, target: Target) -> Result<(PgConnection, Target)> {
        let (conn, target, _) = self.connect_inner(target)?;
        Ok((conn, target))
    }

    /// `SET LOCAL statement_timeout` for the transaction just begun: a setting that lives
    /// no longer than the transaction holds behind a transaction pooler and leaks nowhere.
    pub fn limit_statements(&self, conn: &mut PgConnection) -> Result<()> {
        use diesel::connection::SimpleConnection;
        if let Some(ms) = self.statement_timeout_ms {
            conn.batch_execute(&format!("SET LOCAL statement_timeout = {ms}"))?;
        }
        Ok(())
    }

    /// With `--statement-timeout`, begin the transaction that a connection's reads run in,
    /// so that the limit applies to them; the transaction it begun, if any. For commands
    /// that read through `connect_raw` (status, schema diff, checks); a `Session` does the
    /// same through its own `reads`.
    pub fn begin_reads(&self, conn: &mut PgConnection) -> Result<Reads> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        if self.statement_timeout_ms.is_none() {
            return Ok(Reads::OneStatementEach);
        }
        AnsiTransactionManager::begin_transaction(conn)?;
        self.limit_statements(conn)?;
        Ok(Reads::InTransaction)
    }

    /// Connect; for the embedded instance also start it and (with `auto_migrate`) bring
    /// its schema to this binary's version: the StackWizard migrations, or on the Simple DB
    /// layout (`--layout simple` on an empty instance) that design's schema. The gate's
    /// facts, when read on the way and still true, come back so the gate need not read
    /// them again.
    fn connect_inner(
        &self,
        target: Target,
    ) -> Result<(PgConnection, Target, Option<db::layout::Facts>)> {
        self.debug(format!(
            "connecting to {} (from {})",
            target.display, target.source
        ));
        let config::Source::Embedded(dir) = &target.source else {
            let conn = db::connect(target.url.libpq())?;
            return Ok((conn, target, None));
        };
        let mut conn = match db::connect(target.url.libpq()) {
            Ok(conn) => conn,
            Err(e) => {
                self.debug(format!("embedded instance not ready ({e}); starting it"));
                crate::embedded::Instance::new(dir.clone())?.ensure_running(&|m| self.info(m))?;
                db::connect(target.url.libpq())?
            }
        };
        if !self.auto_migrate {
            return Ok((conn, target, None));
        }
        let facts = db::layout::read(&mut conn, self.global.layout)?;
        if crate::layout::resolve(facts.found, self.global.layout)? == Layout::Simple {
            if facts.found == crate::layout::Found::Empty {
                conn.transaction(db::simple::create_schema)?;
                self.info("created the Simple DB schema (users) and stackctl's audit trail in the embedded instance");
                return Ok((conn, target, None));
            }
            return Ok((conn, target, Some(facts)));
        }
        let state = db::SchemaState {
            embedded: db::embedded_migrations()?,
            applied: facts.applied.clone(),
        };
        if state.pending().is_empty() || !state.unknown().is_empty() {
            return Ok((conn, target, Some(facts)));
        }
        let lock = db::concurrent::LockSpec {
            mode: db::locks::LockMode::Transaction,
            timeout: std::time::Duration::from_secs(60),
            url: target.url.libpq(),
        };
        let applied = db::concurrent::apply_all(
            &mut conn,
            &lock,
            false,
            |conn| Ok((db::run_pending(conn)?, db::concurrent::next(conn)?)),
            &|m| self.info(m),
        )?;
        for name in applied.names {
            self.info(format!("applied migration {name} to the embedded instance"));
        }
        Ok((conn, target, None))
    }

    /// Another way to the database `connect` reached, for reads alongside the first
    /// connection (an import's lookups, from its reading thread, while the first is busy
    /// with a COPY). The schema was checked on the first; each statement here is a
    /// transaction of its own.
    pub fn connector(&self) -> Result<impl Fn() -> Result<PgConnection> + Sync> {
        let target = self.target()?;
        Ok(move || db::connect(target.url.libpq()))
    }

    /// Connect through the schema gate, whatever the layout: a `Session` saying which
    /// layout the database has and whether writes are audited. On the Simple DB layout a
    /// command line that needs what the layout lacks (`layout::simple_lacks`) is refused
    /// here, exit 2, before anything is written.
    pub fn open(&self) -> Result<Session<'_>> {
        let (mut conn, _, facts) = self.connect_inner(self.target()?)?;
        let (layout, audit) = match facts {
            Some(facts) => db::gate_on(facts, self.global.layout)?,
            None => db::gate(&mut conn, self.global.layout)?,
        };
        if layout == Layout::Simple {
            if let Some(lacks) = self.simple_lacks {
                return Err(crate::layout::refusal(lacks));
            }
        }
        let shape = match layout {
            Layout::StackWizard => db::shape::read(&mut conn)?,
            Layout::Simple => db::shape::Shape::default(),
        };
        let mut session = Session {
            ctx: self,
            conn,
            layout,
            audit,
            reads: Reads::OneStatementEach,
            shape,
        };
        session.begin_reads()?;
        Ok(session)
    }

    /// Connect to a StackWizard database whose schema is at this binary's version.
    pub fn connect(&self) -> Result<Session<'_>> {
        let session = self.open()?;
        match session.layout {
            Layout::StackWizard => Ok(session),
            Layout::Simple => Err(crate::layout::refusal(
                self.simple_lacks
                    .unwrap_or("StackWizard tables this command reads"),
            )),
        }
    }

    /// Audit changes made outside one transaction of ours (migrations, restores),
    /// when the audit table exists.
    pub fn audit_after(
        &self,
        conn: &mut PgConnection,
        command: &str,
        changes: &[Change],
    ) -> Result<()> {
        if db::own::find(conn, "stackctl_audit")?.is_some() {
            db::audit::record(conn, command, changes)?;
        }
        Ok(())
    }
}
