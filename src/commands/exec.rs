//! `ecsx exec`: choose a task and container, check that exec can work, call
//! ExecuteCommand, and run the session over the native data channel, exiting
//! with the remote command's status.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, Task};
use base64::Engine;
use tokio::io::AsyncReadExt;

use crate::app::App;
use crate::aws::Aws;
use crate::cli::ExecArgs;
use crate::config::parse_timeout;
use crate::ecs::{self, exec_readiness, last_segment, local_time, task_id, Target};
use crate::error::{Error, Result};
use crate::exec::channel::{Channel, ChannelConfig, Event, InputHandle, SessionInfo};
use crate::exec::terminal::{self, RawGuard};
use crate::exec::wrap::{self, Mode, OutputFilter, Remote};

/// Base64 text per input line: well under the terminal's 4096-byte line limit.
const INPUT_LINE: usize = 1000;
/// End of input for a terminal in canonical mode.
const EOF_BYTE: u8 = 0x04;

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
    let stdin_tty = std::io::stdin().is_terminal();
    let plan = plan(args, stdin_tty)?;
    let timeout = match &args.timeout {
        Some(text) => parse_timeout(text).map_err(|e| {
            exec_error(format!(
                "--timeout {e}; write it like 5m, 300s or 10m0s (0 for none)"
            ))
        })?,
        None => app.config()?.timeout,
    };
    let target = app.target()?;
    let aws = app.aws().await?.clone();

    // The picker may read stdin only when stdin is a terminal and is not the data.
    let can_prompt = stdin_tty && !(plan.mode == Mode::Pipe && plan.input.is_none());
    let task = choose_task(&aws, &target, args.task_id.as_deref(), can_prompt).await?;
    let id = task_id(&task).to_string();

    let container = choose_container(&aws, &target, &task, args.container.as_deref()).await?;
    preflight(&task, &id, &container)?;
    if !args.skip_verify {
        verify_preflight(&aws, &target, &task, &container).await?;
    }
    eprintln!(
        "ecsx: task {id}, container {container}: {}",
        if plan.mode == Mode::Interactive && args.command.is_none() && args.args.is_empty() {
            "sh (interactive)".to_string()
        } else {
            plan.command.clone()
        }
    );

    let started = tokio::time::Instant::now();
    let deadline = timeout.map(|t| started + t);
    let nonce = wrap::new_nonce();
    let remote = wrap::remote_command(&plan.command, plan.mode, &nonce);
    let session = execute_command(&aws, &target, &task, &container, &remote).await?;
    let mut channel = Channel::open(session, ChannelConfig::new(aws.sdk.clone()))
        .await
        .map_err(|e| exec_error(e.to_string()))?;

    let result = drive(
        &mut channel,
        &plan,
        &nonce,
        deadline,
        &aws,
        &target,
        &id,
        timeout,
    )
    .await;
    match &result {
        Ok(_) => {}
        Err(_) => channel.terminate().await,
    }
    result
}

/// Pick the task: by id/prefix, the only running one, or ask.
async fn choose_task(
    aws: &Aws,
    target: &Target,
    id: Option<&str>,
    can_prompt: bool,
) -> Result<Task> {
    if let Some(id) = id {
        return ecs::find_task(aws, target, id, false).await;
    }
    let mut tasks = ecs::list_tasks(aws, target, &[DesiredStatus::Running]).await?;
    tasks.retain(|t| t.last_status() != Some("STOPPED"));
    match tasks.len() {
        0 => Err(exec_error(format!(
            "no running tasks in {}; start one, or check `ecsx status`",
            ecs::scope_label(target)
        ))),
        1 => {
            let task = tasks.remove(0);
            eprintln!("ecsx: using the only running task {}", task_id(&task));
            Ok(task)
        }
        n => {
            let lines: Vec<String> = tasks
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    format!(
                        "{}. {} ({}, started {}, exec {})",
                        i + 1,
                        task_id(t),
                        t.last_status().unwrap_or("?"),
                        t.started_at()
                            .or(t.created_at())
                            .map(local_time)
                            .unwrap_or_else(|| "-".into()),
                        exec_readiness(t)
                    )
                })
                .collect();
            if !can_prompt {
                return Err(exec_error(format!(
                    "{n} tasks are running and stdin is not a terminal, so ecsx won't ask; pass --task-id with one of: {}",
                    tasks.iter().map(task_id).collect::<Vec<_>>().join(", ")
                )));
            }
            let index = prompt(&lines).await?;
            Ok(tasks.remove(index))
        }
    }
}

/// The numbered picker, on stderr, reading a number from the terminal.
async fn prompt(lines: &[String]) -> Result<usize> {
    // Listen for Ctrl-C before the prompt is shown, so none is missed.
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut err = std::io::stderr();
    writeln!(err, "Select task:")?;
    for line in lines {
        writeln!(err, "{line}")?;
    }
    loop {
        write!(err, "Select task number (1-{}): ", lines.len())?;
        err.flush()?;
        let read = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|n| (n, line))
        });
        let (n, line) = tokio::select! {
            r = read => r.map_err(|e| exec_error(format!("reading the answer failed: {e}")))??,
            _ = sigint.recv() => {
                writeln!(err)?;
                return Err(Error::Interrupted);
            }
        };
        if n == 0 {
            return Err(Error::Interrupted);
        }
        match line.trim().parse::<usize>() {
            Ok(k) if (1..=lines.len()).contains(&k) => return Ok(k - 1),
            _ => writeln!(err, "Enter a number from 1 to {}.", lines.len())?,
        }
    }
}

/// The container: the flag, else the first container of the task's definition.
async fn choose_container(
    aws: &Aws,
    target: &Target,
    task: &Task,
    flag: Option<&str>,
) -> Result<String> {
    let names: Vec<&str> = task.containers().iter().filter_map(|c| c.name()).collect();
    if let Some(name) = flag {
        if names.contains(&name) {
            return Ok(name.to_string());
        }
        return Err(exec_error(format!(
            "task {} has no container {name:?}; its containers are: {}",
            task_id(task),
            names.join(", ")
        )));
    }
    let arn = task.task_definition_arn().unwrap_or_default();
    let out = aws
        .ecs()
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| ecs::ecs_error(aws, target, "DescribeTaskDefinition", e))?;
    let first = out
        .task_definition()
        .and_then(|td| td.container_definitions().first())
        .and_then(|c| c.name())
        .map(str::to_owned);
    match first {
        Some(name) if names.contains(&name.as_str()) => Ok(name),
        _ => names
            .first()
            .map(|n| n.to_string())
            .ok_or_else(|| exec_error(format!("task {} has no containers", task_id(task)))),
    }
}

/// The exec prerequisites visible on the task itself.
fn preflight(task: &Task, id: &str, container: &str) -> Result<()> {
    match task.last_status() {
        Some("RUNNING") => {}
        Some(status @ ("PROVISIONING" | "PENDING" | "ACTIVATING")) => {
            return Err(exec_error(format!(
                "task {id} is {status}, not RUNNING yet; wait a few seconds and try again"
            )))
        }
        status => {
            let reason = task
                .stopped_reason()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Err(exec_error(format!(
                "task {id} is {}{reason}; pick a running task (`ecsx tasks`)",
                status.unwrap_or("not running")
            )));
        }
    }
    if !task.enable_execute_command {
        return Err(exec_error(format!(
            "task {id} was started without exec enabled; run `aws ecs update-service --enable-execute-command --force-new-deployment` (or set \"enableExecuteCommand\": true) and exec into a new task"
        )));
    }
    let agent = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(container))
        .and_then(|c| {
            c.managed_agents()
                .iter()
                .find(|a| a.name().map(|n| n.as_str()) == Some("ExecuteCommandAgent"))
        });
    match agent.and_then(|a| a.last_status()) {
        Some("RUNNING") => Ok(()),
        Some("PENDING") => Err(exec_error(format!(
            "the exec agent in task {id} container {container} is still PENDING; wait a few seconds and try again"
        ))),
        Some(status) => Err(exec_error(format!(
            "the exec agent in task {id} container {container} is {status}{}; start a new task (check the task role's ssmmessages permissions with `ecsx verify`)",
            agent.and_then(|a| a.reason()).map(|r| format!(" ({r})")).unwrap_or_default()
        ))),
        None => Err(exec_error(format!(
            "task {id} container {container} has no exec agent; the task was started without exec enabled; start a new task with exec enabled"
        ))),
    }
}

/// verify's rows for this task and container (caller's ecs:ExecuteCommand,
/// the task role's ssmmessages, KMS, logging, the task definition), run
/// concurrently. NG lines stop exec; WARN lines are shown and exec goes on.
async fn verify_preflight(aws: &Aws, target: &Target, task: &Task, container: &str) -> Result<()> {
    let started = std::time::Instant::now();
    let results = crate::verify::preflight(aws, target, task, container).await;
    crate::debug!(
        "pre-flight: {} checks in {:?}",
        results.len(),
        started.elapsed()
    );
    let line = |r: &crate::verify::CheckResult| {
        let fix = r
            .fix
            .as_ref()
            .map(|f| format!("; fix: {f}"))
            .unwrap_or_default();
        format!("{}: {}{fix}", r.id, r.message)
    };
    let mut ng = 0;
    for r in &results {
        match r.status {
            crate::verify::Status::Ng => {
                ng += 1;
                eprintln!("ecsx: [NG] {}", line(r));
            }
            crate::verify::Status::Warn => eprintln!("ecsx: [WARN] {}", line(r)),
            _ => {}
        }
    }
    if ng > 0 {
        return Err(exec_error(format!(
            "exec pre-flight: {ng} check{} NG (above); fix {}, or pass --skip-verify to try anyway",
            if ng == 1 { "" } else { "s" },
            if ng == 1 { "it" } else { "them" }
        )));
    }
    Ok(())
}

/// ExecuteCommand, retrying TargetNotConnectedException for a few seconds
/// (the agent reports RUNNING before it is connected).
async fn execute_command(
    aws: &Aws,
    target: &Target,
    task: &Task,
    container: &str,
    command: &str,
) -> Result<SessionInfo> {
    let backoff = [250u64, 500, 1000, 1500, 2000, 2500];
    let mut attempt = 0;
    loop {
        let result = aws
            .ecs()
            .execute_command()
            .cluster(&target.cluster)
            .task(task.task_arn().unwrap_or_default())
            .container(container)
            .command(command)
            .interactive(true)
            .send()
            .await;
        match result {
            Ok(out) => {
                let session = out.session.ok_or_else(|| exec_error("ExecuteCommand returned no session"))?;
                let runtime_id = task
                    .containers()
                    .iter()
                    .find(|c| c.name() == Some(container))
                    .and_then(|c| c.runtime_id())
                    .unwrap_or_default();
                let cluster = task.cluster_arn().map(last_segment).unwrap_or(&target.cluster);
                return Ok(SessionInfo {
                    session_id: session.session_id.unwrap_or_default(),
                    stream_url: session.stream_url.unwrap_or_default(),
                    token_value: session.token_value.unwrap_or_default(),
                    target: format!("ecs:{cluster}_{}_{runtime_id}", task_id(task)),
                });
            }
            Err(e) => match ecs::ecs_error(aws, target, "ExecuteCommand", e) {
                Error::Aws { code, .. } if code == "TargetNotConnectedException" && attempt < backoff.len() => {
                    crate::debug!("TargetNotConnectedException, retrying in {} ms", backoff[attempt]);
                    tokio::time::sleep(Duration::from_millis(backoff[attempt])).await;
                    attempt += 1;
                }
                Error::Aws { code, message, .. } if code == "TargetNotConnectedException" => {
                    return Err(exec_error(format!(
                        "ExecuteCommand kept failing with TargetNotConnectedException ({message}); the agent in task {} is not connected: wait a minute after the task starts, or check the task role's ssmmessages permissions and VPC endpoints (`ecsx verify`)",
                        task_id(task)
                    )))
                }
                Error::Aws { code, message, .. } if code == "InvalidParameterException" => {
                    return Err(exec_error(format!("ExecuteCommand refused: {message}")))
                }
                Error::Aws { code, message, .. } if code == "AccessDeniedException" => {
                    return Err(exec_error(format!(
                        "ExecuteCommand denied: {message}; the caller needs ecs:ExecuteCommand on this task"
                    )))
                }
                other => return Err(other),
            },
        }
    }
}

/// How often the task is checked for having stopped during a session.
fn task_poll_interval() -> Duration {
    std::env::var("ECSX_TASK_POLL_INTERVAL")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(Duration::from_secs(10))
}

/// The task's stoppedReason if it has stopped (or is stopping, or is gone).
async fn stopped_reason(aws: &Aws, target: &Target, id: &str) -> Option<String> {
    let (tasks, missing) = ecs::describe_tasks(aws, target, &[id.to_string()])
        .await
        .ok()?;
    match tasks.first() {
        Some(task)
            if matches!(
                task.last_status(),
                Some("STOPPED" | "DEPROVISIONING" | "STOPPING")
            ) =>
        {
            Some(
                task.stopped_reason()
                    .unwrap_or("no reason given")
                    .to_string(),
            )
        }
        None if !missing.is_empty() => Some("the task no longer exists".into()),
        _ => None,
    }
}

/// Resolves when the task has stopped, with its reason.
async fn watch_task(aws: Aws, target: Target, id: String) -> String {
    let interval = task_poll_interval();
    loop {
        tokio::time::sleep(interval).await;
        if let Some(reason) = stopped_reason(&aws, &target, &id).await {
            return reason;
        }
    }
}

/// Send stdin (or the --input text) as base64 lines, then end-of-file.
async fn feed_input(input: InputHandle, text: Option<Vec<u8>>) -> Result<()> {
    let engine = base64::engine::general_purpose::STANDARD;
    let send_b64 = |chunk: &[u8]| {
        let mut text = engine.encode(chunk).into_bytes();
        let mut out = Vec::with_capacity(text.len() + text.len() / INPUT_LINE + 1);
        for line in text.chunks_mut(INPUT_LINE) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out
    };
    let io = |e: crate::exec::channel::ChannelError| exec_error(e.to_string());
    match text {
        Some(bytes) => input.send_input(&send_b64(&bytes)).await.map_err(io)?,
        None => {
            let mut stdin = tokio::io::stdin();
            // A multiple of 3 so that only the last piece carries padding, and
            // of INPUT_LINE * 3 / 4 so that lines stay whole.
            let piece = INPUT_LINE / 4 * 3 * 48;
            let mut buf = vec![0u8; piece];
            let mut filled = 0;
            loop {
                let n = stdin.read(&mut buf[filled..]).await?;
                if n == 0 {
                    if filled > 0 {
                        input
                            .send_input(&send_b64(&buf[..filled]))
                            .await
                            .map_err(io)?;
                    }
                    break;
                }
                filled += n;
                if filled == piece {
                    input.send_input(&send_b64(&buf)).await.map_err(io)?;
                    filled = 0;
                }
            }
        }
    }
    input.send_input(&[EOF_BYTE]).await.map_err(io)
}

/// Raw keys from the terminal, and the window size on every resize.
async fn forward_terminal(input: InputHandle) -> Result<()> {
    let io = |e: crate::exec::channel::ChannelError| exec_error(e.to_string());
    if let Some((cols, rows)) = terminal::size() {
        input.send_size(cols, rows).await.map_err(io)?;
    }
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            n = stdin.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    return Ok(());
                }
                input.send_input(&buf[..n]).await.map_err(io)?;
            }
            _ = winch.recv() => {
                if let Some((cols, rows)) = terminal::size() {
                    input.send_size(cols, rows).await.map_err(io)?;
                }
            }
        }
    }
}

/// Write filtered output; a closed stdout ends the session quietly.
fn write_out(filtered: wrap::Filtered) -> Result<()> {
    if !filtered.stderr.is_empty() {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(&filtered.stderr);
        let _ = err.flush();
    }
    if !filtered.stdout.is_empty() {
        match raw_stdout().write_all(&filtered.stdout) {
            // No stdout at all (`>&-`): as std's stdout, output goes nowhere.
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {}
            result => result?,
        }
    }
    Ok(())
}

/// Standard output without std's line buffering, which would split every
/// write at its last newline into two system calls. Nothing else writes to
/// stdout during a session, so nothing is buffered ahead of it.
fn raw_stdout() -> std::mem::ManuallyDrop<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: descriptor 1 stays open for the whole process, and ManuallyDrop
    // means this File never closes it.
    std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) })
}

/// The session loop: output, input, timeout, signals, the task's fate.
#[allow(clippy::too_many_arguments)]
async fn drive(
    channel: &mut Channel,
    plan: &Plan,
    nonce: &str,
    deadline: Option<tokio::time::Instant>,
    aws: &Aws,
    target: &Target,
    id: &str,
    timeout: Option<Duration>,
) -> Result<i32> {
    let mut filter = OutputFilter::new(plan.mode, nonce);
    let _raw = if plan.mode == Mode::Interactive {
        RawGuard::enable()?
    } else {
        None
    };
    // Debug builds only: lets the tests prove the terminal survives a panic.
    #[cfg(debug_assertions)]
    if std::env::var_os("ECSX_TEST_PANIC_IN_SESSION").is_some() {
        panic!("panic requested by ECSX_TEST_PANIC_IN_SESSION");
    }
    let mut input_task: Option<tokio::task::JoinHandle<Result<()>>> = None;
    if plan.mode == Mode::Interactive {
        input_task = Some(tokio::spawn(forward_terminal(channel.input())));
    }
    let watcher = watch_task(aws.clone(), target.clone(), id.to_string());
    tokio::pin!(watcher);
    let sleep_until = deadline
        .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86400));
    let expiry = tokio::time::sleep_until(sleep_until);
    tokio::pin!(expiry);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut interrupted: Option<tokio::time::Instant> = None;
    let mut exited: Option<i32> = None;

    let outcome = loop {
        tokio::select! {
            event = channel.next_event() => match event {
                Some(Ok(Event::Output(bytes))) => {
                    let before = filter.state().clone();
                    if let Err(e) = write_out(filter.feed(&bytes)) {
                        break Err(e);
                    }
                    match filter.state() {
                        Remote::Running if before == Remote::Starting && plan.mode == Mode::Pipe => {
                            input_task = Some(tokio::spawn(feed_input(channel.input(), plan.input.clone())));
                        }
                        Remote::NoBase64 => break Err(exec_error(
                            "the container has no `base64`; ecsx needs `sh` and `base64` in the image (busybox or coreutils)",
                        )),
                        Remote::NoStty => break Err(exec_error(
                            "the container has no `stty`, which --pipe needs to turn terminal echo off; install coreutils or busybox in the image, or pass the script with --command",
                        )),
                        Remote::Exited(code) => {
                            exited = Some(*code);
                        }
                        _ => {}
                    }
                }
                Some(Ok(Event::HandshakeComplete { customer_message })) => {
                    if let Some(m) = customer_message.filter(|m| !m.trim().is_empty()) {
                        eprintln!("ecsx: {}", m.trim());
                    }
                }
                Some(Ok(Event::Closed { output })) => {
                    let _ = write_out(filter.finish());
                    if let Some(text) = output.filter(|t| !t.trim().is_empty()) {
                        crate::debug!("channel closed: {}", text.trim());
                    }
                    break Ok(());
                }
                Some(Err(e)) => {
                    // A task that stops takes its channel with it: say why.
                    break Err(match stopped_reason(aws, target, id).await {
                        Some(reason) => exec_error(format!("task {id} stopped during the session: {reason}")),
                        None => exec_error(e.to_string()),
                    });
                }
                None => {
                    let _ = write_out(filter.finish());
                    break Ok(());
                }
            },
            Some(joined) = async { match input_task.as_mut() { Some(t) => Some(t.await), None => None } } => {
                input_task = None;
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) if plan.mode != Mode::Interactive => break Err(e),
                    _ => {}
                }
            }
            _ = &mut expiry, if deadline.is_some() => {
                drop(_raw);
                let shown = timeout.map(|t| humantime::format_duration(t).to_string()).unwrap_or_default();
                return Err(Error::Timeout(shown));
            }
            reason = &mut watcher => {
                break Err(exec_error(format!("task {id} stopped during the session: {reason}")));
            }
            _ = sigint.recv() => {
                // In one-off and pipe modes Ctrl-C is ours: pass it on once,
                // then give up if the remote side does not end.
                if interrupted.is_some() {
                    return Err(Error::Interrupted);
                }
                interrupted = Some(tokio::time::Instant::now());
                let _ = channel.send_input(&[0x03]).await;
            }
            _ = term.recv() => return Err(Error::Interrupted),
            _ = hup.recv() => return Err(Error::Interrupted),
            _ = async {
                match interrupted {
                    Some(at) => tokio::time::sleep_until(at + Duration::from_secs(3)).await,
                    None => std::future::pending().await,
                }
            } => return Err(Error::Interrupted),
        }
        if exited.is_some() && !matches!(plan.mode, Mode::Interactive) {
            // Wait briefly for channel_closed so the agent can finish cleanly.
            let waited = tokio::time::Instant::now();
            let closed = tokio::time::timeout(Duration::from_millis(300), async {
                while let Some(Ok(ev)) = channel.next_event().await {
                    if matches!(ev, Event::Closed { .. }) {
                        break;
                    }
                }
            })
            .await;
            crate::debug!(
                "exit status seen; channel {} after {:?}",
                if closed.is_ok() {
                    "closed"
                } else {
                    "still open"
                },
                waited.elapsed()
            );
            break Ok(());
        }
    };
    if let Some(t) = input_task {
        t.abort();
    }
    outcome?;
    if interrupted.is_some() && exited.is_none() {
        return Err(Error::Interrupted);
    }
    match (exited, filter.state()) {
        (Some(code), _) => Ok(code),
        (None, Remote::Starting) => Err(exec_error(
            "the session ended before the command started; the image needs `sh` and `base64` (the output above may say more)",
        )),
        (None, _) => Err(exec_error(
            "the session ended without the command's exit status (the connection or the task went away)",
        )),
    }
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
