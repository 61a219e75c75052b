//! Finding and running PostgreSQL's client tools (pg_dump, pg_restore, psql).
//! The URL's password reaches them through PGPASSWORD, never through their arguments.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{redact, Error, Result};
use crate::url::PgUrl;

/// A pg_dump with its sibling tools and major version.
#[derive(Debug, Clone)]
pub struct Tools {
    pub pg_dump: PathBuf,
    pub pg_restore: PathBuf,
    pub psql: PathBuf,
    pub version: String,
    pub major: u32,
    /// pg_restore's jobs when it restores into a database of its own (`--into`, a test
    /// restore), which is dropped whole if anything fails; a restore in place is one
    /// transaction, which pg_restore cannot split into jobs.
    pub restore_jobs: u32,
}

/// The jobs a restore into a database of its own uses unless `--jobs` says: the client's
/// cores, at most 8 (each job is a connection and a server backend).
pub fn default_jobs() -> u32 {
    std::thread::available_parallelism()
        .map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
        .min(8)
}

/// "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> ("15.18", 15)
pub(crate) fn parse_version(out: &str) -> Option<(String, u32)> {
    let v = out
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let major = v.split(['.', 'b', 'r']).next()?.parse().ok()?;
    Some((v.to_string(), major))
}

fn probe(pg_dump: &Path) -> Option<Tools> {
    let out = Command::new(pg_dump).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let (version, major) = parse_version(&String::from_utf8_lossy(&out.stdout))?;
    let dir = pg_dump.parent().unwrap_or(Path::new(""));
    let sibling = |name: &str| {
        let p = dir.join(name);
        if p.is_file() {
            p
        } else {
            PathBuf::from(name)
        }
    };
    Some(Tools {
        pg_dump: pg_dump.to_path_buf(),
        pg_restore: sibling("pg_restore"),
        psql: sibling("psql"),
        version,
        major,
        restore_jobs: 1,
    })
}

/// Every pg_dump in the directories PostgreSQL's binaries may be in (the same search as
/// the embedded instance's `initdb`); `find` picks by version.
fn candidates() -> Vec<PathBuf> {
    crate::embedded::binaries::search_dirs()
        .into_iter()
        .map(|d| d.join("pg_dump"))
        .filter(|p| p.is_file())
        .collect()
}

/// Client tools whose major version is at least the server's: `--pg-dump` when given,
/// else the newest found on PATH, `pg_config --bindir` or `/usr/lib/postgresql/*/bin`.
pub fn find(explicit: Option<&Path>, server_major: u32) -> Result<Tools> {
    let install = format!(
        "install the PostgreSQL {server_major} client tools (Debian: apt-get install -y postgresql-client-{server_major}) or name one with --pg-dump PATH"
    );
    if let Some(p) = explicit {
        let t = probe(p)
            .ok_or_else(|| Error::failure(format!("{} is not a working pg_dump", p.display())))?;
        if t.major < server_major {
            return Err(Error::failure(format!(
                "{} is version {}, older than the server (major {server_major})",
                p.display(),
                t.version
            ))
            .with_hint(install));
        }
        return Ok(t);
    }
    let found: Vec<Tools> = candidates().iter().filter_map(|p| probe(p)).collect();
    let best = found
        .iter()
        .filter(|t| t.major >= server_major)
        .max_by_key(|t| t.major)
        .cloned();
    best.ok_or_else(|| {
        let seen = if found.is_empty() {
            "no pg_dump was found".to_string()
        } else {
            format!(
                "found only {}",
                found
                    .iter()
                    .map(|t| format!("pg_dump {}", t.version))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Error::failure(format!(
            "the server is PostgreSQL {server_major} but {seen}; pg_dump must be at least as new as the server"
        ))
        .with_hint(install)
    })
}

/// A tool's command, its connection string, and the private file that holds a secret for
/// it (kept until the tool has finished: dropping it removes the file).
pub type ToolCommand = (Command, String, Option<tempfile::TempPath>);

/// A command for a tool, with the password in its environment and dying with us, and the
/// connection string (no secret) for its `--dbname`. A client key's passphrase
/// (`sslpassword`), which libpq takes from no environment variable, goes in a private
/// service file (mode 0600) named by `PGSERVICEFILE`.
pub fn command(tool: &Path, url: &PgUrl) -> Result<ToolCommand> {
    let mut c = Command::new(tool);
    // What the environment could add to the connection is ours to say, not a leftover's.
    c.env_remove("PGPASSWORD").env_remove("PGPASSFILE");
    let mut conninfo = url.conninfo_for_child();
    let mut secret_file = None;
    if let (Some(passphrase), None) = (url.ssl_password(), url.option("service")) {
        use std::io::Write;
        let mut file = tempfile::Builder::new()
            .prefix("stackctl-service-")
            .tempfile()
            .map_err(|e| Error::failure(format!("cannot write a private service file: {e}")))?;
        writeln!(file, "[stackctl_child]\nsslpassword={passphrase}")
            .map_err(|e| Error::failure(format!("cannot write a private service file: {e}")))?;
        let path = file.into_temp_path();
        c.env("PGSERVICEFILE", &path);
        conninfo.push_str(" service='stackctl_child'");
        secret_file = Some(path);
    }
    // The tool's own messages in English: its stderr is read for a lost connection
    // (`Said::is_in`), which libpq and the tool say in the client's language.
    c.env_remove("LC_ALL")
        .env_remove("LANGUAGE")
        .env("LC_MESSAGES", "C");
    if let Some(pw) = url.password() {
        c.env("PGPASSWORD", pw);
    }
    // SAFETY: the closure only makes the prctl system call (async-signal-safe, no
    // allocation); it asks the kernel to kill the child when stackctl dies, so a killed
    // backup leaves no pg_dump writing behind it.
    unsafe {
        c.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            Ok(())
        });
    }
    Ok((c, conninfo, secret_file))
}

/// Run a tool to completion; a failure is exit 1 with the tool's last error line.
pub fn run(mut c: Command, what: &str) -> Result<std::process::Output> {
    let out = c
        .output()
        .map_err(|e| Error::failure(format!("cannot run {what}: {e}")))?;
    check_status(out, what)
}

/// stderr read on a thread, so a chatty tool never blocks on a full pipe.
fn drain_stderr(child: &mut std::process::Child) -> std::thread::JoinHandle<Vec<u8>> {
    let mut stderr_pipe = child.stderr.take();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = stderr_pipe.as_mut() {
            let _ = std::io::Read::read_to_end(p, &mut buf);
        }
        buf
    })
}

/// Like `run` for a tool whose stdout is already redirected (pg_dump into its file),
/// calling `tick` with the elapsed time about five times a second.
pub fn run_watching(
    mut c: Command,
    what: &str,
    mut tick: impl FnMut(std::time::Duration),
) -> Result<std::process::Output> {
    let started = std::time::Instant::now();
    let mut child = c
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::failure(format!("cannot run {what}: {e}")))?;
    let reader = drain_stderr(&mut child);
    while child.try_wait()?.is_none() {
        tick(started.elapsed());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut out = child.wait_with_output()?;
    out.stderr = reader.join().unwrap_or_default();
    check_status(out, what)
}

/// Run a tool whose stdin `feed` writes (psql reading a script). Should `feed` fail, the
/// tool is killed before its stdin closes, so it never takes a cut-off input for the whole
/// (psql would commit it); `feed`'s error is returned. stderr is drained as it comes.
pub fn run_feeding(
    mut c: Command,
    what: &str,
    feed: impl FnOnce(&mut std::process::ChildStdin) -> Result<()>,
) -> Result<std::process::Output> {
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::failure(format!("cannot run {what}: {e}")))?;
    let reader = drain_stderr(&mut child);
    let mut stdin = child.stdin.take();
    let fed = match stdin.as_mut() {
        Some(stdin) => feed(stdin),
        None => Err(Error::failure(format!("cannot write to {what}"))),
    };
    if fed.is_err() {
        let _ = child.kill();
    }
    drop(stdin);
    let mut out = child.wait_with_output()?;
    out.stderr = reader.join().unwrap_or_default();
    fed?;
    check_status(out, what)
}

/// psql's version as (major, minor), from `psql --version`.
pub fn psql_version(psql: &Path) -> Option<(u32, u32)> {
    let out = Command::new(psql).arg("--version").output().ok()?;
    let (version, major) = parse_version(&String::from_utf8_lossy(&out.stdout))?;
    // "18beta1" and other pre-releases count as .0.
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    Some((major, minor))
}

/// Whether this psql has `\restrict` (the fix for CVE-2025-8714): 13.22, 14.19, 15.14,
/// 16.10, 17.6, 18 and later.
pub fn psql_can_restrict((major, minor): (u32, u32)) -> bool {
    match major {
        13 => minor >= 22,
        14 => minor >= 19,
        15 => minor >= 14,
        16 => minor >= 10,
        17 => minor >= 6,
        m => m >= 18,
    }
}

pub(crate) fn check_status(out: std::process::Output, what: &str) -> Result<std::process::Output> {
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        let message = format!("{what} failed ({}): {}", out.status, redact(last.trim()));
        // The tool lost (or never had) its server: that is exit 5, as for stackctl itself.
        if crate::error::Said::ConnectionLost.is_in(&stderr) {
            return Err(Error::unreachable(message));
        }
        return Err(Error::failure(message));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psql_restricts_from_the_fixed_minors_on() {
        for (v, ok) in [
            ((15, 13), false),
            ((15, 14), true),
            ((15, 18), true),
            ((16, 9), false),
            ((16, 10), true),
            ((17, 6), true),
            ((18, 0), true),
            ((12, 99), false),
            ((13, 22), true),
        ] {
            assert_eq!(psql_can_restrict(v), ok, "{v:?}");
        }
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(("15.18".into(), 15))
        );
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 17beta1"),
            Some(("17beta1".into(), 17))
        );
    }
}
