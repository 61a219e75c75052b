//! The embedded default (contract, *Connecting*, point 4): when no database is configured,
//! stackctl keeps a private PostgreSQL cluster of its own under the data directory.
//! As root, the cluster belongs to the `postgres` account and the server tools run as that
//! account through `runuser`.
//!
//! Layout of the data directory:
//! `pgdata/` (the cluster), `socket/` (0700, the server's socket), `server.log`,
//! `.lock` (taken while creating or starting, so two commands never both do it).

mod account;
pub mod binaries;
mod dirs;
mod instance;
mod state;

pub use dirs::{data_dir, ROOT_DATA_DIR};
pub use instance::Instance;
pub use state::{State, STATE_COLUMNS};

/// The database, and the superuser, of the embedded cluster.
pub const DATABASE: &str = "stackctl";

pub(crate) const INSTALL_HINT: &str = "install the PostgreSQL server package (Debian: apt-get install -y postgresql), point STACKCTL_PG_BIN at its bin directory, or set DATABASE_URL to use an existing database";
