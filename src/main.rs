//! The `ecsx` binary: parse, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
    // in wall time, and less CPU; docs/benchmarks.md). The rest fan out
    // AWS calls and parse their answers on every core.
    let mut builder = match cli.command {
        ecsx::cli::Command::Exec(_) | ecsx::cli::Command::Cp(_) => {
            tokio::runtime::Builder::new_current_thread()
        }
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
