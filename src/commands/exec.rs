//! `ecsx exec`: choose a task and container, check that exec can work, call
//! ExecuteCommand, and run the session over the native data channel, exiting
//! with the remote command's status.

use std::io::IsTerminal;

use crate::app::App;
use crate::cli::{ExecArgs, TextFormat};
use crate::error::{Error, Result};
use crate::exec::fanout;
use crate::exec::run::{self, Input, RunOptions, StdoutPipe};
use crate::exec::session::ExecSession;
use crate::exec::target;
use crate::exec::wrap::{self, Mode};

/// What to run, decided from the flags.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    mode: Mode,
    /// The shell command line to run in the container.
    command: String,
    /// For `--pipe`: the input text, or `None` to read stdin.
    input: Option<Vec<u8>>,
}

fn exec_error(message: impl Into<String>) -> Error {
    Error::Exec(message.into())
}

/// Turn flags into a plan, refusing combinations that make no sense.
fn plan(args: &ExecArgs, stdin_is_terminal: bool) -> Result<Plan> {
    if args.pipe.is_some() && args.interactive {
        return Err(exec_error(
            "--pipe and --interactive don't mix: --pipe feeds stdin to a command, --interactive is a terminal session; pick one",
        ));
    }
    if args.input.is_some() && args.interactive {
        return Err(exec_error(
            "--input feeds text to a --pipe command; it can't be used with --interactive",
        ));
    }
    if let Some(pipe) = &args.pipe {
        if pipe.trim().is_empty() {
            return Err(exec_error(
                "--pipe is empty; name the command that reads stdin, e.g. --pipe 'rails runner -'",
            ));
        }
        if args.command.is_some() || !args.args.is_empty() {
            return Err(exec_error(
                "--pipe names the command already; drop --command / `-- CMD`",
            ));
        }
    }
    let command = match (&args.command, args.args.is_empty()) {
        (Some(c), _) => Some(c.clone()),
        (None, false) => Some(wrap::join_argv(&args.args)),
        (None, true) => None,
    };
    if let Some(c) = &command {
        if c.trim().is_empty() {
            return Err(exec_error(
                "the command is empty; pass `-- CMD ARGS...` or --command \"...\"",
            ));
        }
    }
    let input = args.input.as_ref().map(|text| {
        let mut bytes = text.clone().into_bytes();
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        bytes
    });
    if let Some(pipe) = &args.pipe {
        return Ok(Plan {
            mode: Mode::Pipe,
            command: pipe.clone(),
            input,
        });
    }
    if args.input.is_some() {
        // hoop's `-i TEXT` without a command: the text is a script for sh.
        return Ok(Plan {
            mode: Mode::Pipe,
            command: command.unwrap_or_else(|| "sh".into()),
            input,
        });
    }
    if args.interactive {
        return Ok(Plan {
            mode: Mode::Interactive,
            command: command.unwrap_or_else(|| "sh".into()),
            input: None,
        });
    }
    match command {
        Some(command) => Ok(Plan {
            mode: Mode::OneOff,
            command,
            input: None,
        }),
        // No command: a shell, interactive at a terminal, else a script on stdin.
        None if stdin_is_terminal => Ok(Plan {
            mode: Mode::Interactive,
            command: "sh".into(),
            input: None,
        }),
        None => Ok(Plan {
            mode: Mode::Pipe,
            command: "sh".into(),
            input: None,
        }),
    }
}

pub async fn run(app: &mut App, args: &ExecArgs) -> Result<i32> {
    if let Some(code) = super::port_forward::from_exec(app, args).await? {
        return Ok(code);
    }
    let stdin_tty = std::io::stdin().is_terminal();
    let plan = plan(args, stdin_tty)?;
    let many = args.all_tasks || args.task_id.as_deref().is_some_and(|t| t.contains(','));
    if many {
        return run_many(app, args, &plan).await;
    }
    if args.parallel != 8 || args.output != TextFormat::Text {
        return Err(exec_error(
            "--parallel and --output go with --all-tasks (or --task-id A,B,C)",
        ));
    }
    let timeout = super::session_timeout(app, args.timeout.as_deref(), Error::Exec)?;
    let target = app.target()?;
    let aws = app.aws().await?.clone();

    // The picker may read stdin only when stdin is a terminal and is not the data.
    let can_prompt = stdin_tty && !(plan.mode == Mode::Pipe && plan.input.is_none());
    let chosen = target::choose_ready(
        &aws,
        &target,
        args.task_id.as_deref(),
        args.container.as_deref(),
        can_prompt,
    )
    .await?;
    if !args.skip_verify {
        target::verify_preflight(&aws, &target, &chosen).await?;
    }
    eprintln!(
        "ecsx: task {}, container {}: {}",
        chosen.task_id,
        chosen.container,
        if plan.mode == Mode::Interactive && args.command.is_none() && args.args.is_empty() {
            "sh (interactive)".to_string()
        } else {
            plan.command.clone()
        }
    );

    let deadline = run::deadline(timeout);
    let session = crate::progress::while_waiting(
        "opening the session (ExecuteCommand, then the data channel)",
        ExecSession::start(&aws, &target, &chosen, &plan.command, plan.mode),
    )
    .await?;
    let input = match (plan.mode, plan.input) {
        (Mode::Interactive, _) => Input::Terminal,
        (Mode::Pipe | Mode::Upload, Some(bytes)) => Input::Bytes(bytes),
        (Mode::Pipe | Mode::Upload, None) => Input::Stdin,
        (Mode::OneOff, _) => Input::None,
    };
    let options = RunOptions {
        deadline,
        watch: Some((aws.clone(), target.clone())),
        signals: true,
        input,
        on_input: None,
    };
    let mut stdout = StdoutPipe::spawn();
    let status = run::run(session, options, &mut stdout, &mut run::write_stderr).await;
    match status {
        // Output already queued still goes out; a closed pipe ends quietly.
        Ok(code) => {
            stdout.flush().await?;
            Ok(code)
        }
        // What the command printed before the failure still goes out, unless
        // the reader of stdout is what holds everything up.
        Err(e) => {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), stdout.flush()).await;
            Err(e)
        }
    }
}

/// `--all-tasks` / `--task-id A,B,C`: the one-off command in each task.
async fn run_many(app: &mut App, args: &ExecArgs, plan: &Plan) -> Result<i32> {
    if plan.mode != Mode::OneOff {
        return Err(exec_error(
            "--all-tasks runs a one-off command: pass `-- CMD ARGS...` or --command, without --interactive, --pipe or --input",
        ));
    }
    if args.parallel == 0 {
        return Err(exec_error("--parallel must be at least 1"));
    }
    let timeout = super::session_timeout(app, args.timeout.as_deref(), Error::Exec)?;
    let target = app.target()?;
    let aws = app.aws().await?.clone();
    let tasks = match &args.task_id {
        Some(list) => {
            let mut tasks = Vec::new();
            for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                tasks.push(crate::ecs::find_task(&aws, &target, id, false).await?);
            }
            tasks
        }
        None => target::running_tasks(&aws, &target).await?,
    };
    if tasks.is_empty() {
        return Err(exec_error(format!(
            "no running tasks in {}; start one, or check `ecsx status`",
            crate::ecs::scope_label(&target)
        )));
    }
    let chosen = target::choose_containers(&aws, &target, tasks, args.container.as_deref()).await?;
    if !args.skip_verify {
        // IAM, KMS and the task definition are shared: check them once.
        target::verify_preflight(&aws, &target, &chosen[0]).await?;
    }
    eprintln!(
        "ecsx: {} tasks, container {}, at most {} at once: {}",
        chosen.len(),
        chosen[0].container,
        args.parallel.min(chosen.len()),
        plan.command
    );
    let deadline = run::deadline(timeout);
    let pipe = StdoutPipe::spawn();
    let output = match args.output {
        TextFormat::Json => fanout::Output::Collected,
        TextFormat::Text => fanout::Output::Prefixed {
            pipe: &pipe,
            color: crate::output::color_enabled(app.global.no_color)
                && std::io::stdout().is_terminal(),
        },
    };
    let all = fanout::run_all(
        &aws,
        &target,
        chosen,
        &plan.command,
        args.parallel,
        deadline,
        output,
    );
    let results = tokio::select! {
        results = all => results,
        _ = tokio::signal::ctrl_c() => return Err(Error::Interrupted),
    };
    match args.output {
        TextFormat::Json => {
            let engine = base64::engine::general_purpose::STANDARD;
            for r in &results {
                let line = serde_json::json!({
                    "task": r.task_id,
                    "exit": r.exit,
                    "durationMs": r.duration.as_millis() as u64,
                    "stdout": base64::Engine::encode(&engine, &r.stdout),
                    "error": r.error,
                });
                pipe.send(format!("{line}\n").into_bytes()).await?;
            }
        }
        TextFormat::Text => {
            for r in &results {
                let status = match &r.error {
                    Some(e) => format!("exit {} ({e})", r.exit),
                    None => format!("exit {}", r.exit),
                };
                eprintln!(
                    "ecsx: {}  {status}  {:.1}s",
                    fanout::short_id(&r.task_id),
                    r.duration.as_secs_f64()
                );
            }
        }
    }
    pipe.flush().await?;
    let failed = results.iter().filter(|r| r.exit != 0).count();
    if failed > 0 {
        eprintln!(
            "ecsx: {failed} of {} tasks failed: {}",
            results.len(),
            results
                .iter()
                .filter(|r| r.exit != 0)
                .map(|r| fanout::short_id(&r.task_id))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(fanout::combined_status(&results))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut ExecArgs)) -> ExecArgs {
        let mut a = ExecArgs {
            task_id: None,
            container: None,
            command: None,
            interactive: false,
            pipe: None,
            input: None,
            timeout: None,
            skip_verify: false,
            all_tasks: false,
            parallel: 8,
            output: TextFormat::Text,
            port_forward: false,
            forward: Default::default(),
            args: vec![],
        };
        f(&mut a);
        a
    }

    #[test]
    fn plans_follow_the_flags() {
        let p = plan(&args(|a| a.args = vec!["ls".into(), "-la".into()]), false).unwrap();
        assert_eq!((p.mode, p.command.as_str()), (Mode::OneOff, "ls -la"));
        let p = plan(&args(|a| a.command = Some("ls | wc -l".into())), true).unwrap();
        assert_eq!((p.mode, p.command.as_str()), (Mode::OneOff, "ls | wc -l"));
        let p = plan(&args(|a| a.pipe = Some("rails runner -".into())), false).unwrap();
        assert_eq!((p.mode, p.input), (Mode::Pipe, None));
        let p = plan(&args(|a| a.input = Some("puts 1".into())), true).unwrap();
        assert_eq!((p.mode, p.command.as_str()), (Mode::Pipe, "sh"));
        assert_eq!(p.input.as_deref(), Some(&b"puts 1\n"[..]));
        let p = plan(&args(|a| a.interactive = true), true).unwrap();
        assert_eq!((p.mode, p.command.as_str()), (Mode::Interactive, "sh"));
        assert_eq!(plan(&args(|_| {}), true).unwrap().mode, Mode::Interactive);
        assert_eq!(plan(&args(|_| {}), false).unwrap().mode, Mode::Pipe);
    }

    #[test]
    fn nonsense_combinations_are_refused() {
        let e = plan(
            &args(|a| {
                a.pipe = Some("sh".into());
                a.interactive = true;
            }),
            true,
        )
        .unwrap_err();
        assert!(e.to_string().contains("--pipe and --interactive"), "{e}");
        assert_eq!(e.exit_code(), 255);
        let e = plan(&args(|a| a.command = Some("  ".into())), true).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = plan(&args(|a| a.pipe = Some("".into())), true).unwrap_err();
        assert!(e.to_string().contains("--pipe is empty"), "{e}");
    }
}
