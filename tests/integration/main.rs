//! Integration tests: the real `ecsx` binary, the real AWS SDK inside it, and
//! the sandbox served by `ecsx sandbox serve` on 127.0.0.1. One test binary,
//! one module per area, a shared helper module.

mod common;
mod cp;
mod errors;
mod exec;
mod fanout;
mod interactive;
mod port_forward;
mod render;
mod shell;
mod status;
mod tasks;
mod verify;
