//! `ecsx completion SHELL`: the shell's completion script for ecsx, built by
//! clap_complete from the same command definition the parser uses.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionArgs};
use crate::error::Result;

pub fn run(args: &CompletionArgs) -> Result<i32> {
    // Into memory first: clap_complete panics on a failed write, and a
    // closed pipe (`ecsx completion bash | head`) must end quietly.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "ecsx", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(0)
}
