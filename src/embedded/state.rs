//! What `local status` reports about an instance, read without starting anything.

use std::path::Path;

use super::Instance;

/// Whether the instance exists and runs; shown as `not created`, `running`, `stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    #[serde(rename = "not created")]
    NotCreated,
    Running,
    Stopped,
}

/// What `local status` reports.
#[derive(Debug, serde::Serialize)]
pub struct State {
    pub state: Lifecycle,
    pub data_dir: String,
    pub socket: String,
    pub server_version: Option<String>,
    pub pid: Option<u32>,
    pub size_bytes: u64,
}

pub const STATE_COLUMNS: &[&str] = &[
    "state",
    "data_dir",
    "socket",
    "server_version",
    "pid",
    "size_bytes",
];

impl Instance {
    pub fn state(&self) -> State {
        let conn = self.probe();
        let state = if !self.is_created() {
            Lifecycle::NotCreated
        } else if conn.is_some() {
            Lifecycle::Running
        } else {
            Lifecycle::Stopped
        };
        let server_version = match conn {
            Some(mut c) => crate::db::server_version(&mut c).ok(),
            None => self.data_major().map(|m| m.to_string()),
        };
        let pid = (state == Lifecycle::Running)
            .then(|| std::fs::read_to_string(self.pgdata.join("postmaster.pid")).ok())
            .flatten()
            .and_then(|s| s.lines().next()?.trim().parse().ok());
        State {
            state,
            data_dir: self.dir.display().to_string(),
            socket: self.socket_str().to_string(),
            server_version,
            pid,
            size_bytes: dir_size(&self.pgdata),
        }
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(path) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}
