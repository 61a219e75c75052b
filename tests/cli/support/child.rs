//! Every child process the harness waits for has a deadline: a hang fails its own test,
//! naming the command, instead of stalling the whole suite.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long one child may run: `STACKCTL_TEST_TIMEOUT` seconds, else ten minutes (the
/// slowest child, the benchmark at its tiny size, takes well under one).
pub fn deadline() -> Duration {
    let secs = std::env::var("STACKCTL_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(secs)
}

/// `Command::output` and `Command::status` with the harness's deadline.
pub trait Timed {
    /// Runs to completion with stdout and stderr captured; stdin is closed unless the
    /// command set it.
    fn timed_output(&mut self) -> std::io::Result<Output>;
    /// Runs to completion with the streams inherited.
    fn timed_status(&mut self) -> std::io::Result<ExitStatus>;
}

impl Timed for Command {
    fn timed_output(&mut self) -> std::io::Result<Output> {
        let what = describe(self);
        let child = self.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        Ok(wait_output(child, None, &what))
    }

    fn timed_status(&mut self) -> std::io::Result<ExitStatus> {
        let what = describe(self);
        let mut child = self.spawn()?;
        Ok(wait(&mut child, &what))
    }
}

/// The program and its arguments, for the message when the deadline fires.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Feed `input` (if any) to the child, collect its output, and wait for it within the
/// deadline; past it the child is killed and the test fails naming `what`.
pub fn wait_output(mut child: Child, input: Option<Vec<u8>>, what: &str) -> Output {
    let feeder = match (input, child.stdin.take()) {
        (Some(bytes), Some(mut stdin)) => Some(std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        })),
        _ => None,
    };
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait(&mut child, what);
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Wait for a child within the deadline; past it, kill it and fail naming `what`.
pub fn wait(child: &mut Child, what: &str) -> ExitStatus {
    let limit = deadline();
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if start.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`{what}` did not finish within {} s (STACKCTL_TEST_TIMEOUT); killed",
                    limit.as_secs()
                );
            }
            Err(e) => panic!("waiting for `{what}`: {e}"),
        }
    }
}
