//! `backup --anonymize`: a dump file with no personal data in it. The database is dumped
//! privately, restored into a scratch database of its own (checked against that dump's
//! manifest), anonymised and proven there by the same code as `backup restore --into
//! --anonymize`, and the scratch database is dumped into the backup directory with a
//! manifest that says `anonymized`. The live database is only read.

use std::cell::RefCell;

use diesel::PgConnection;

use super::{server_tools, Ctx};
use crate::backup::verify::{self, Afterwards, RowChange};
use crate::backup::{create, directory, files, retention, Format};
use crate::cli::PgTools;
use crate::db::{self, anonymize};
use crate::error::{Error, Result};
use crate::url::PgUrl;

/// Take the anonymised dump `req` describes (its `anonymized` set here) of the database
/// `conn` and `url` reach.
pub(super) fn create(
    mut conn: PgConnection,
    url: &PgUrl,
    database: &str,
    req: &create::Request,
    opts: &anonymize::Options,
    tools_args: &PgTools,
    ctx: &Ctx,
) -> Result<(create::Created, anonymize::Summary)> {
    // The scratch database needs a server that takes writes; the columns are checked on
    // the live database first, so a refusal comes before anything is dumped.
    db::server::ensure_writable(&mut conn)?;
    anonymize::check(&mut conn, opts)?;
    let tools = server_tools(&mut conn, tools_args)?;
    directory::ensure_dir(&req.dir)?;
    // One lock for the whole run: no other backup in the directory takes the work
    // directory below for a killed run's leftover while it is in use.
    let lock = directory::lock(&req.dir, ctx)?;
    directory::remove_leftovers(&req.dir, &lock, ctx)?;
    // The source's dump holds the people: private (0700), in the backup directory where
    // the room for dumps is, removed when the run ends; a killed run's is a leftover the
    // next backup removes.
    let work = files::private_temp_dir(&req.dir, "anonymize")?;
    let bar = crate::progress::bytes(ctx.global.quiet, None);
    let progress = |bytes| bar.set_position(bytes);
    bar.set_message("pg_dump");
    let source_req = create::Request {
        dir: work.path().to_path_buf(),
        format: Format::Custom,
        verify_restore: false,
        rules: retention::Rules::default(),
        pg_dump: req.pg_dump.clone(),
        jobs: req.jobs,
        anonymized: false,
    };
    let source = create::create_locked(conn, url, database, &source_req, &lock, ctx, &progress);
    bar.finish_and_clear();
    let source = source?;

    let copy = AnonymisedCopy::new(opts);
    let done = RefCell::new(None);
    let then = |scratch: &PgUrl| -> Result<()> {
        let summary = copy
            .summary
            .borrow_mut()
            .take()
            .ok_or_else(|| Error::failure("the copy was not anonymised"))?;
        // A connection of its own: the anonymisation's has its own search path.
        let conn = db::connect(scratch.libpq())?;
        let bar = crate::progress::bytes(ctx.global.quiet, None);
        bar.set_message("pg_dump of the anonymised copy");
        let anonymized = create::Request {
            anonymized: true,
            rules: retention::Rules::default(),
            ..req.clone()
        };
        let created =
            create::create_locked(conn, scratch, database, &anonymized, &lock, ctx, &|bytes| {
                bar.set_position(bytes)
            });
        bar.finish_and_clear();
        *done.borrow_mut() = Some((created?, summary));
        Ok(())
    };
    let report = verify::restore_beside(
        &source.path,
        Some(&source.manifest),
        Format::Custom,
        &tools,
        url,
        Afterwards::Use {
            change: &copy,
            then: &then,
        },
        ctx,
    )?;
    drop(work);
    if !report.ok {
        return Err(Error::failure(format!(
            "the database's dump did not restore to the same rows, so no anonymised dump was written: {}",
            report.detail
        )));
    }
    done.into_inner()
        .ok_or_else(|| Error::failure("the anonymised dump was not written"))
}

/// The change a restore makes an anonymised copy with (`backup restore --into
/// --anonymize`, and the scratch copy `backup --anonymize` dumps), and what it did.
pub(super) struct AnonymisedCopy<'a> {
    opts: &'a anonymize::Options,
    pub summary: RefCell<Option<anonymize::Summary>>,
}

impl<'a> AnonymisedCopy<'a> {
    pub fn new(opts: &'a anonymize::Options) -> Self {
        AnonymisedCopy {
            opts,
            summary: RefCell::new(None),
        }
    }
}

impl RowChange for AnonymisedCopy<'_> {
    /// Only the people's rows, unless a sample or a cleared items column needs the
    /// items'.
    fn only(&self) -> Option<&[(&str, &str)]> {
        anonymize::people_first(self.opts).then_some(anonymize::PEOPLE)
    }

    fn change(&self, url: &PgUrl) -> Result<()> {
        let mut conn = db::connect(url.libpq())?;
        *self.summary.borrow_mut() = Some(match self.only() {
            Some(_) => anonymize::people(&mut conn, self.opts)?,
            None => anonymize::run(&mut conn, self.opts)?,
        });
        Ok(())
    }

    /// The proof, where `change` did not make it.
    fn check(&self, url: &PgUrl) -> Result<()> {
        match self.only() {
            Some(_) => anonymize::prove(&mut db::connect(url.libpq())?),
            None => Ok(()),
        }
    }
}
