//! `ecsx man`: the man page of ecsx or of one command, or every page into a
//! folder, built by clap_mangen from the command definition.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::error::{Error, Result};

pub fn run(args: &ManArgs) -> Result<i32> {
    let mut cmd = Cli::command();
    if let Some(dir) = &args.out_dir {
        let unwritable = |e: std::io::Error| {
            Error::Usage(format!(
                "--out-dir {}: cannot write the man pages: {e}; pick a folder you can write to",
                dir.display()
            ))
        };
        std::fs::create_dir_all(dir).map_err(unwritable)?;
        clap_mangen::generate_to(cmd, dir).map_err(unwritable)?;
        return Ok(0);
    }
    // Building sets each command's display name (`ecsx-exec`), which its
    // page is titled with.
    cmd.build();
    let page = match &args.command {
        None => cmd,
        Some(name) => cmd.find_subcommand(name).cloned().ok_or_else(|| {
            Error::Usage(format!(
                "ecsx has no command {name:?}; pick one of: {}",
                cmd.get_subcommands()
                    .map(|c| c.get_name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
    };
    let mut text = Vec::new();
    clap_mangen::Man::new(page).render(&mut text)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&text)?;
    out.flush()?;
    Ok(0)
}
