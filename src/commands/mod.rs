//! One module per command. Each takes the [`App`](crate::app::App) and its
//! parsed arguments and returns the exit code.

pub mod completion;
pub mod cp;
pub mod exec;
pub mod man;
pub mod render;
pub mod sandbox;
pub mod status;
pub mod tasks;
pub mod verify;
