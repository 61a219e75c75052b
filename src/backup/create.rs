//! Taking a backup: pg_dump in the snapshot the manifest's counts were read in, written
//! privately and atomically, checked by reading it back, then retention.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use super::manifest::{self, Format, Manifest};
use super::retention::{self, Rules};
use super::{catalog, directory};
use super::{files, verify, Log};
use crate::db::{self, snapshot::RowCounts};
use crate::error::{Error, Result};
use crate::pgtools::{self, Tools};
use crate::url::PgUrl;

/// What to take.
#[derive(Clone)]
pub struct Request {
    pub dir: PathBuf,
    pub format: Format,
    /// Restore the new backup into a scratch database and compare every table.
    pub verify_restore: bool,
    /// Applied once the new backup verified (when any rule is set).
    pub rules: Rules,
    /// `--pg-dump`.
    pub pg_dump: Option<PathBuf>,
    /// `--jobs`: pg_dump's for a directory dump, pg_restore's for the test restore.
    pub jobs: u32,
    /// `backup --anonymize`: the dump of an anonymised copy, named
    /// `anonymized-<database>-<time>` so neither retention nor a `<database>-*` glob takes
    /// it for a backup of the database.
    pub anonymized: bool,
}

/// The new backup while it is written and checked, under a private temporary name.
enum Partial {
    File(tempfile::NamedTempFile),
    Dir(tempfile::TempDir),
}

impl Partial {
    fn new(dir: &Path, name: &str, format: Format) -> Result<Partial> {
        Ok(match format {
            Format::Directory => Partial::Dir(files::private_temp_dir(dir, name)?),
            Format::Custom | Format::Plain => Partial::File(files::private_temp(dir, name)?),
        })
    }

    fn path(&self) -> &Path {
        match self {
            Partial::File(f) => f.path(),
            Partial::Dir(d) => d.path(),
        }
    }

    /// Its final name, never replacing anything there.
    fn persist(self, path: &Path) -> Result<()> {
        match self {
            Partial::File(f) => files::persist(f, path).map(drop),
            Partial::Dir(d) => files::persist_dir(d, path),
        }
    }
}

/// A backup written, verified and described.
pub struct Created {
    pub path: PathBuf,
    pub manifest: Manifest,
}

/// What the database looked like in the dump's snapshot.
struct Snapshot {
    id: String,
    row_counts: RowCounts,
    checksums: Option<std::collections::BTreeMap<String, String>>,
}

/// Take a backup of the database `conn` and `url` reach (`database` by name). `progress`
/// is told how many bytes pg_dump has written, about five times a second. The dump is
/// checked while it is still a private temporary file: only a verified backup ever carries
/// a final name (its manifest first, then the dump), so nothing counts a failed one.
pub fn create(
    conn: PgConnection,
    url: &PgUrl,
    database: &str,
    req: &Request,
    log: &dyn Log,
    progress: &dyn Fn(u64),
) -> Result<Created> {
    directory::ensure_dir(&req.dir)?;
    let lock = directory::lock(&req.dir, log)?;
    directory::remove_leftovers(&req.dir, &lock, log)?;
    create_locked(conn, url, database, req, &lock, log, progress)
}

/// `create` in a directory whose lock the caller holds (and whose leftovers it removed).
pub fn create_locked(
    mut conn: PgConnection,
    url: &PgUrl,
    database: &str,
    req: &Request,
    lock: &directory::DirLock,
    log: &dyn Log,
    progress: &dyn Fn(u64),
) -> Result<Created> {
    let server_version = db::server_version(&mut conn)?;
    let tools = pgtools::Tools {
        restore_jobs: req.jobs,
        ..pgtools::find(
            req.pg_dump.as_deref(),
            db::snapshot::server_major(&mut conn)?,
        )?
    };
    let schema_version = db::applied_versions(&mut conn)?.into_iter().next_back();
    let stem = match req.anonymized {
        true => format!("anonymized-{}", catalog::file_stem(database)),
        false => catalog::file_stem(database),
    };
    let (started_at, final_path) = reserve_name(&req.dir, &stem, req.format);
    let file_name = file_name(&final_path);
    let tmp = Partial::new(&req.dir, &file_name, req.format)?;
    if req.format == Format::Directory {
        log.debug(format!(
            "pg_dump writes the directory with {} job(s); --jobs to change",
            req.jobs
        ));
    }

    let snapshot = take_snapshot(&mut conn, req.verify_restore)?;
    let clock = Instant::now();
    let dumped = dump(&tools, url, req, &snapshot.id, &tmp, progress);
    db::snapshot::release(&mut conn);
    drop(conn);
    dumped?;
    let duration_ms = clock.elapsed().as_millis() as u64;

    let files::Digest {
        sha256,
        size,
        files,
    } = files::digest(tmp.path())?;
    let manifest = Manifest {
        file: file_name,
        database: database.to_string(),
        server_version,
        pg_dump_version: tools.version.clone(),
        format: req.format,
        size,
        sha256,
        started_at,
        duration_ms,
        row_counts: snapshot.row_counts,
        stackctl_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version,
        table_checksums: snapshot.checksums,
        files,
        anonymized: req.anonymized,
    };
    let checked = Checked {
        tmp: tmp.path(),
        named: &final_path,
    };
    verify_new(&checked, &manifest, &tools, url, req.verify_restore, log)?;
    files::write_private_atomic(
        &req.dir,
        &manifest::path_for(&final_path),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    tmp.persist(&final_path)?;
    directory::sync_dir(&req.dir)?;
    if req.rules.any() {
        retention::apply(&req.dir, lock, database, &req.rules, false, log)?;
    }
    Ok(Created {
        path: final_path,
        manifest,
    })
}

/// `<stem>-<yyyymmddTHHMMSSZ>.<ext>`, one name per second: wait for the next second rather
/// than overwrite.
fn reserve_name(dir: &Path, stem: &str, format: Format) -> (DateTime<Utc>, PathBuf) {
    loop {
        let now = Utc::now();
        let p = dir.join(format!(
            "{stem}-{}.{}",
            now.format("%Y%m%dT%H%M%SZ"),
            format.extension()
        ));
        // Anything at the name, even a dangling link, takes it.
        if p.symlink_metadata().is_err() {
            return (now, p);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Export the snapshot pg_dump will dump and read the counts (and checksums) in it; the
/// transaction stays open until pg_dump is done.
fn take_snapshot(conn: &mut PgConnection, checksums: bool) -> Result<Snapshot> {
    let id = db::snapshot::export(conn)?;
    let row_counts = db::snapshot::row_counts(conn)?;
    let checksums = if checksums {
        Some(db::snapshot::table_checksums(conn)?)
    } else {
        None
    };
    Ok(Snapshot {
        id,
        row_counts,
        checksums,
    })
}

/// Run pg_dump into the partial file or directory and fsync what it wrote.
fn dump(
    tools: &Tools,
    url: &PgUrl,
    req: &Request,
    snapshot: &str,
    out: &Partial,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let (mut cmd, safe_url, _secret_file) = pgtools::command(&tools.pg_dump, url)?;
    match req.format {
        Format::Custom => {
            cmd.arg("--format=custom");
        }
        Format::Plain => {
            cmd.args([
                "--format=plain",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
            ]);
        }
        Format::Directory => {
            // pg_dump fills the empty private directory; every job shares the snapshot.
            cmd.arg("--format=directory")
                .arg(format!("--jobs={}", req.jobs))
                .arg("--file")
                .arg(out.path());
        }
    }
    cmd.arg(format!("--snapshot={snapshot}"))
        .arg(format!("--dbname={safe_url}"))
        .stdin(std::process::Stdio::null());
    match out {
        Partial::File(f) => cmd.stdout(f.as_file().try_clone()?),
        Partial::Dir(_) => cmd.stdout(std::process::Stdio::null()),
    };
    pgtools::run_watching(cmd, "pg_dump", |_| progress(files::size(out.path())))?;
    match out {
        Partial::File(f) => f.as_file().sync_all()?,
        Partial::Dir(d) => {
            for entry in std::fs::read_dir(d.path())?.flatten() {
                File::open(entry.path())?.sync_all()?;
            }
            directory::sync_dir(d.path())?;
        }
    }
    Ok(())
}

/// A dump being checked: where it is, and the name it will have (for messages).
struct Checked<'a> {
    tmp: &'a Path,
    named: &'a Path,
}

/// A new backup is successful only once it reads back (and, when asked, restores to the
/// same rows). On failure the temporary file is dropped, so no final name is ever given.
fn verify_new(
    dump: &Checked,
    manifest: &Manifest,
    tools: &Tools,
    url: &PgUrl,
    test_restore: bool,
    log: &dyn Log,
) -> Result<()> {
    if let Err(e) = verify::check(dump.tmp, Some(manifest), tools) {
        return Err(Error::failure(format!(
            "the backup {} did not verify, so it was not kept: {}",
            dump.named.display(),
            e.message
        )));
    }
    if !test_restore {
        return Ok(());
    }
    let report = verify::test_restore(dump.tmp, manifest, tools, url, log)?;
    if !report.ok {
        return Err(Error::failure(format!(
            "the backup {} did not restore to the same rows, so it was not kept: {}",
            dump.named.display(),
            report.detail
        )));
    }
    log.info(format!(
        "test restore of {}: {}",
        dump.named.display(),
        report.detail
    ));
    Ok(())
}
