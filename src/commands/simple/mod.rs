//! The Simple DB layout's commands: users (`users.rs`) and what `migrate` does beside the
//! application's own table (`migrate.rs`).

pub mod import;
pub mod migrate;
pub mod users;
