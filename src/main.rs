//! The `ecsx` binary: parse, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `ecsx --version` alone: answered before clap builds the whole command
    // line (its allocations and code are most of what start-up costs after
    // loading); the same text clap prints.
    if let Some(version) = version_only(std::env::args_os().skip(1)) {
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{version}");
        return ExitCode::SUCCESS;
    }
    let cli = match ecsx::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                ecsx::error::exit::USAGE
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    // --envfile: before any thread exists, so that setting variables races
    // with nothing.
    ecsx::aws::set_debug(cli.global.debug);
    if let Err(e) = ecsx::envfile::export(&cli.global.envfile) {
        eprintln!("ecsx: {e}");
        return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
    }
    // exec is one stream between the socket and stdout: on one thread its
    // hand-offs cost no cross-thread wake-ups (about 8% of a 64 MiB `cat`
    // in wall time, and less CPU; docs/benchmarks.md). port-forward is
    // streams between sockets, likewise. The rest fan out AWS calls and
    // parse their answers on every core.
    let mut builder = match cli.command {
        ecsx::cli::Command::Exec(_)
        | ecsx::cli::Command::Cp(_)
        | ecsx::cli::Command::PortForward(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ecsx: cannot start the async runtime: {e}");
            return ExitCode::from(ecsx::error::exit::EXEC_FAILURE as u8);
        }
    };
    let result = runtime.block_on(ecsx::app::run(cli));
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    let code = match result {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            eprintln!("ecsx: {e}");
            e.exit_code()
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// `Some("ecsx VERSION")` when the arguments are exactly `--version` or `-V`.
fn version_only(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<String> {
    let first = args.next()?;
    if args.next().is_some() || (first != "--version" && first != "-V") {
        return None;
    }
    Some(format!("ecsx {}", env!("CARGO_PKG_VERSION")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_fast_version_is_claps() {
        let clap = ecsx::cli::Cli::command().render_version();
        let ours = version_only(["--version".into()].into_iter()).unwrap();
        assert_eq!(format!("{ours}\n"), clap);
        assert_eq!(version_only(["-V".into()].into_iter()), Some(ours));
        assert_eq!(
            version_only(["--version".into(), "tasks".into()].into_iter()),
            None
        );
        assert_eq!(version_only(["tasks".into()].into_iter()), None);
        assert_eq!(version_only(std::iter::empty()), None);
    }
}
