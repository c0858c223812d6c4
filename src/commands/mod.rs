//! One module per command. Each takes the [`App`](crate::app::App) and its
//! parsed arguments and returns the exit code.

pub mod completion;
pub mod cp;
pub mod exec;
pub mod man;
pub mod port_forward;
pub mod render;
pub mod sandbox;
pub mod status;
pub mod tasks;
pub mod verify;

use std::time::Duration;

use crate::app::App;
use crate::error::{Error, Result};

/// `--timeout` (humantime; `0` for none), else the config's `timeout`.
/// `error` wraps the message in the command's own error kind.
pub(crate) fn session_timeout(
    app: &mut App,
    flag: Option<&str>,
    error: fn(String) -> Error,
) -> Result<Option<Duration>> {
    match flag {
        Some(text) => crate::config::parse_timeout(text).map_err(|e| {
            error(format!(
                "--timeout {e}; write it like 5m, 300s or 10m0s (0 for none)"
            ))
        }),
        None => Ok(app.config()?.timeout),
    }
}
