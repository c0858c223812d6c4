//! `ecsx exec` end to end: the binary, the SDK, the sandbox's data channel,
//! and local processes in pseudo-terminals.

use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::*;

fn app() -> std::path::PathBuf {
    testdata("app/ecspresso.yml")
}

/// A sandbox whose service runs one task (so no picker), plus world text.
fn one_task(extra: &str) -> (tempfile::TempDir, Sandbox) {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(&app(), dir.path(), &format!("task_count: 1\n{extra}"));
    (dir, sb)
}

fn exec(sb: &Sandbox) -> Command {
    let mut cmd = sb.ecsx(&app());
    cmd.arg("exec");
    cmd
}

/// 4 MiB of scrambled bytes (every byte value, no long runs) in `dir`.
fn four_mib_file(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
    let data: Vec<u8> = (0..4 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let file = dir.join("4mib.bin");
    std::fs::write(&file, &data).unwrap();
    (file, data)
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn one_off_stdout_is_exactly_the_commands_output() {
    let (_d, sb) = one_task("");
    let out = run(exec(&sb).args(["--", "echo", "hi"]));
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "hi\n");
    assert!(stderr(&out).contains("ecsx: "), "banners go to stderr");
}

#[test]
fn the_remote_exit_status_is_ours() {
    let (_d, sb) = one_task("");
    for code in [0, 1, 7, 42, 255] {
        let out = run(exec(&sb).args(["--", "sh", "-c", &format!("echo out; exit {code}")]));
        assert_code(&out, code);
        assert_eq!(stdout(&out), "out\n");
    }
    let out = run(exec(&sb).args(["--command", "exit 3"]));
    assert_code(&out, 3);
}

#[test]
fn arguments_survive_any_quoting() {
    let (_d, sb) = one_task("");
    let tricky = [
        "a b",
        "it's",
        "\"dq\"",
        "$HOME",
        "`id`",
        "*",
        "line1\nline2",
        "back\\slash",
        "",
        "--",
        "ü日本",
    ];
    let out = run(exec(&sb).args(["--", "printf", "[%s]\\n"]).args(tricky));
    assert_code(&out, 0);
    let expected: String = tricky.iter().map(|a| format!("[{a}]\n")).collect();
    assert_eq!(stdout(&out), expected);
}

#[test]
fn binary_output_is_byte_identical() {
    let (dir, sb) = one_task("");
    let mut data: Vec<u8> = (0..=255u8).cycle().take(256 * 1024).collect();
    data.extend_from_slice(b"\r\n\n\r\r\nend without newline");
    let file = dir.path().join("blob.bin");
    std::fs::write(&file, &data).unwrap();
    let out = run(exec(&sb).args(["--", "cat"]).arg(&file));
    assert_code(&out, 0);
    assert_eq!(out.stdout.len(), data.len());
    assert_eq!(sha(&out.stdout), sha(&data));
}

/// A reader that stalls (a pager, a full disk, a slow pipeline) must hold
/// the stream back, not make ecsx drop output it then waits seconds per
/// message to get again: the agent resends only its oldest message.
#[test]
fn a_stalled_reader_slows_the_stream_without_losing_or_crawling() {
    use std::io::Read;
    let (dir, sb) = one_task("");
    let (file, data) = four_mib_file(dir.path());
    let mut child = exec(&sb)
        .args(["--timeout", "20s", "--skip-verify", "--", "cat"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut got = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_code(&out, 0);
    assert_eq!(got.len(), data.len(), "{}", stderr(&out));
    // A crawl (one message per resend timeout) takes about a minute here,
    // so it would end in --timeout's 124.
    assert_eq!(sha(&got), sha(&data));
}

#[test]
fn pipe_streams_stdin_into_the_command() {
    let (_d, sb) = one_task("");
    let data: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let out = run_with_stdin(exec(&sb).args(["--pipe", "cat"]), data.clone());
    assert_code(&out, 0);
    assert_eq!(out.stdout.len(), data.len(), "{}", stderr(&out));
    assert_eq!(sha(&out.stdout), sha(&data));
}

#[test]
fn input_text_feeds_sh_by_default() {
    let (_d, sb) = one_task("");
    let out = run(exec(&sb).args(["-i", "echo \"from $((40 + 2))\"; exit 5"]));
    assert_code(&out, 5);
    assert_eq!(stdout(&out), "from 42\n");
    let out = run(exec(&sb).args(["--pipe", "wc -l", "--input", "a\nb\nc"]));
    assert_code(&out, 0);
    assert_eq!(stdout(&out).trim(), "3");
}

#[test]
fn a_heredoc_on_stdin_runs_as_a_script() {
    let (_d, sb) = one_task("");
    let out = run_with_stdin(&mut exec(&sb), b"x='Hello from sh'\necho \"$x\"\n".to_vec());
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "Hello from sh\n");
}

#[test]
fn the_first_container_is_the_default_and_others_can_be_named() {
    let (_d, sb) = one_task("");
    let out = run(exec(&sb).args(["--", "printenv", "MODE"]));
    assert_code(&out, 0);
    assert_eq!(
        stdout(&out),
        "production\n",
        "the app container's environment"
    );
    let out = run(exec(&sb).args(["--container", "sidecar", "--", "printenv", "MODE"]));
    assert_code(&out, 1);
    let out = run(exec(&sb).args(["--container", "nope", "--", "true"]));
    assert_one_line_error(&out, 255, &["no container \"nope\"", "app, sidecar"]);
}

#[test]
fn timeout_ends_the_session_with_124() {
    let (_d, sb) = one_task("");
    let started = Instant::now();
    let out = run(exec(&sb).args(["--timeout", "1s", "--", "sleep", "30"]));
    assert_code(&out, 124);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(stderr(&out).contains("--timeout"), "{}", stderr(&out));
}

#[test]
fn several_tasks_without_a_terminal_fail_with_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(&app(), dir.path(), "task_count: 3\n");
    let out = run(exec(&sb).args(["--", "true"]));
    assert_one_line_error(&out, 255, &["3 tasks are running", "--task-id"]);
}

const BROKEN: &str = "tasks:
  - id: aaaa0000000000000000000000000001
    service: web
  - id: aaaa0000000000000000000000000002
    service: web
  - id: bbbb00000000000000000000000000e0
    service: web
    enable_execute_command: false
  - id: bbbb0000000000000000000000000a9e
    service: web
    containers:
      - name: app
        agent: PENDING
  - id: bbbb0000000000000000000000005709
    service: web
    last_status: STOPPED
    stopped_reason: \"Essential container in task exited\"
";

#[test]
fn task_ids_ids_prefixes_and_their_errors() {
    let (_d, sb) = one_task(BROKEN);
    let out = run(exec(&sb).args([
        "--task-id",
        "aaaa0000000000000000000000000001",
        "--",
        "echo",
        "ok",
    ]));
    assert_code(&out, 0);
    let out = run(exec(&sb).args(["--id", "aaaa", "--", "true"]));
    assert_one_line_error(
        &out,
        255,
        &[
            "ambiguous",
            "aaaa0000000000000000000000000001",
            "aaaa0000000000000000000000000002",
        ],
    );
    let out = run(exec(&sb).args(["--task-id", "cccc", "--", "true"]));
    assert_one_line_error(&out, 255, &["no task matches \"cccc\""]);
    let out = run(exec(&sb).args([
        "--task-id",
        "ffffffffffffffffffffffffffffffff",
        "--",
        "true",
    ]));
    assert_one_line_error(&out, 255, &["not found"]);
}

#[test]
fn exec_refuses_tasks_where_exec_cannot_work() {
    let (_d, sb) = one_task(BROKEN);
    let out = run(exec(&sb).args([
        "--task-id",
        "bbbb00000000000000000000000000e0",
        "--",
        "true",
    ]));
    assert_one_line_error(
        &out,
        255,
        &["without exec enabled", "--enable-execute-command"],
    );
    let out = run(exec(&sb).args([
        "--task-id",
        "bbbb0000000000000000000000000a9e",
        "--",
        "true",
    ]));
    assert_one_line_error(&out, 255, &["PENDING", "app"]);
    let out = run(exec(&sb).args([
        "--task-id",
        "bbbb0000000000000000000000005709",
        "--",
        "true",
    ]));
    assert_one_line_error(
        &out,
        255,
        &["STOPPED", "Essential container in task exited"],
    );
}

#[test]
fn bad_flags_are_one_line_255() {
    let (_d, sb) = one_task("");
    let out = run(exec(&sb).args(["--pipe", "sh", "--interactive"]));
    assert_one_line_error(&out, 255, &["--pipe and --interactive"]);
    let out = run(exec(&sb).args(["--command", ""]));
    assert_one_line_error(&out, 255, &["empty"]);
    let out = run(exec(&sb).args(["--timeout", "soon", "--", "true"]));
    assert_one_line_error(&out, 255, &["--timeout"]);
}

#[test]
fn secrets_never_reach_the_output() {
    let (_d, sb) = one_task("");
    let out = run(exec(&sb)
        .env("AWS_SESSION_TOKEN", "SESSIONTOKENSECRET")
        .arg("--debug")
        .args(["--", "echo", "hi"]));
    assert_code(&out, 0);
    let all = stdout(&out) + &stderr(&out);
    for secret in [
        "test-secret-do-not-print",
        "SESSIONTOKENSECRET",
        "AKIDTESTEXAMPLE",
    ] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
    // The session's own token travels in ExecuteCommand's answer: never shown.
    assert!(!all.to_ascii_lowercase().contains("tokenvalue"), "{all}");
}

/// Every data-channel fault at once (duplicates, reordering, delayed and
/// dropped acks, a pause, one socket drop with ResumeSession, a
/// TargetNotConnectedException): 20 transfers of 4 MiB, each bounded in time,
/// each byte-identical.
#[test]
fn transfers_survive_every_fault_twenty_times() {
    let dir = tempfile::tempdir().unwrap();
    let faults = std::fs::read_to_string(testdata("worlds/exec-faults.yml")).unwrap();
    let sb = Sandbox::with_world_text(&app(), dir.path(), &format!("task_count: 1\n{faults}"));
    let (file, data) = four_mib_file(dir.path());
    let want = sha(&data);
    let runs: Vec<_> = (0..4)
        .map(|worker| {
            let mut cmds: Vec<Command> = (0..5)
                .map(|_| {
                    let mut c = exec(&sb);
                    c.args(["--timeout", "60s", "--skip-verify", "--", "cat"])
                        .arg(&file);
                    c
                })
                .collect();
            let want = want.clone();
            std::thread::spawn(move || {
                for (i, cmd) in cmds.iter_mut().enumerate() {
                    let started = Instant::now();
                    let out = run(cmd);
                    assert_code(&out, 0);
                    assert_eq!(
                        sha(&out.stdout),
                        want,
                        "worker {worker} run {i}: {}",
                        stderr(&out)
                    );
                    assert!(started.elapsed() < Duration::from_secs(60));
                }
            })
        })
        .collect();
    for r in runs {
        r.join().expect("a run failed");
    }
}

#[test]
fn images_without_sh_or_base64_are_named_and_plain_commands_need_only_sh() {
    let dir = tempfile::tempdir().unwrap();
    // An "image" with sh but no base64: a PATH holding only sh.
    let only_sh = dir.path().join("only-sh");
    std::fs::create_dir(&only_sh).unwrap();
    std::os::unix::fs::symlink("/bin/sh", only_sh.join("sh")).unwrap();
    let world = format!(
        "task_count: 0
tasks:
  - id: 000000000000000000000000000005a0
    service: web
    containers:
      - name: app
        exec_path: /nonexistent
  - id: 000000000000000000000000000005a1
    service: web
    containers:
      - name: app
        exec_path: {}
",
        only_sh.display()
    );
    let sb = Sandbox::with_world_text(&app(), dir.path(), &world);
    let out = run(exec(&sb).args([
        "--task-id",
        "000000000000000000000000000005a0",
        "--",
        "true",
    ]));
    assert_code(&out, 255);
    let err = stderr(&out);
    assert!(err.contains("the image needs `sh`"), "{err}");
    // A plain command needs only `sh` (the command is not base64-carried)...
    let out = run(exec(&sb).args([
        "--task-id",
        "000000000000000000000000000005a1",
        "--",
        "echo",
        "it's",
        "héllo",
    ]));
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "it's héllo\n");
    // ...input does.
    let out = run(exec(&sb).args([
        "--task-id",
        "000000000000000000000000000005a1",
        "--input",
        "echo hi",
    ]));
    assert_one_line_error(&out, 255, &["no `base64`", "--pipe, --input, cp uploads"]);
}

#[test]
fn kms_encrypted_sessions_work_end_to_end() {
    let (_d, sb) = one_task(&std::fs::read_to_string(testdata("worlds/exec-kms.yml")).unwrap());
    let out = run(exec(&sb)
        .args(["--task-id"])
        .arg(first_healthy_task(&sb))
        .args(["--", "printf", "%s|", "secret", "data"]));
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "secret|data|");
    let out = run_with_stdin(
        exec(&sb).args(["--task-id", &first_healthy_task(&sb), "--pipe", "wc -c"]),
        vec![b'x'; 200_000],
    );
    assert_code(&out, 0);
    assert_eq!(stdout(&out).trim(), "200000");
}

/// A running task of the service whose app container has a usable PATH.
fn first_healthy_task(sb: &Sandbox) -> String {
    let out = run(sb.ecsx(&app()).args(["tasks", "-o", "tsv"]));
    stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .find(|id| id != "0000000000000000000000000000d157")
        .expect("a healthy task")
}

#[test]
fn target_not_connected_is_retried_then_explained() {
    let (_d, sb) = one_task("exec:\n  target_not_connected: 2\n");
    let out = run(exec(&sb).args(["--skip-verify", "--", "echo", "connected"]));
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "connected\n");
    let (_d, sb) = one_task("exec:\n  target_not_connected: 1000\n");
    let started = Instant::now();
    let out = run(exec(&sb).args(["--skip-verify", "--", "true"]));
    assert_one_line_error(&out, 255, &["TargetNotConnectedException", "ssmmessages"]);
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// Issue 11: when AWS goes away mid-session (the sandbox is killed), the
/// data channel cannot be resumed and ResumeSession cannot reach AWS; that
/// is one short line (operation, cause, fix), never the SDK's Debug dump.
#[test]
fn aws_disappearing_mid_session_is_one_short_line() {
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    // The tasks' working folders inside `dir`: a killed server cannot
    // remove them itself.
    let world = format!(
        "task_count: 1\nexec:\n  root: {}\n",
        dir.path().join("tasks").display()
    );
    let mut sb = Sandbox::with_world_text(&app(), dir.path(), &world);
    // The sandbox's tasks are local processes: the command tells the test
    // it runs by creating a file.
    let started = dir.path().join("started");
    let command = format!("touch {}; sleep 8", started.display());
    let child = exec(&sb)
        .args(["--skip-verify", "--", "sh", "-c", &command])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waiting = Instant::now();
    while !started.exists() {
        assert!(waiting.elapsed() < Duration::from_secs(30), "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Instant::now();
    sb.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        killed.elapsed() < Duration::from_secs(60),
        "{:?}",
        killed.elapsed()
    );
    assert_one_line_error(&out, 255, &["ResumeSession", "cannot reach", "127.0.0.1"]);
    let line = stderr(&out).lines().last().unwrap_or_default().to_string();
    for dump in [
        "DispatchFailure",
        "ConnectorError",
        "source:",
        "{ ",
        "Some(",
    ] {
        assert!(!line.contains(dump), "a Debug dump ({dump:?}): {line}");
    }
    assert!(line.len() < 400, "not short ({} chars): {line}", line.len());
}

/// The tasks of a sandbox, in the order ecsx lists them.
fn task_ids(sb: &Sandbox, config: &std::path::Path) -> Vec<String> {
    let out = run(sb.ecsx(config).args(["tasks", "-o", "tsv"]));
    stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

/// Issue 11: ecspresso's filter command picks the task with no terminal at
/// all: the environment variable, the flag, and the config key (the flag
/// and the variable win over the config); an empty answer cancels with 130.
#[test]
fn a_filter_command_picks_the_task_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(&app(), dir.path(), "task_count: 3\n");
    let ids = task_ids(&sb, &app());
    assert_eq!(ids.len(), 3);

    let out = run(exec(&sb).env("ECSPRESSO_FILTER_COMMAND", "head -1").args([
        "--skip-verify",
        "--",
        "echo",
        "picked",
    ]));
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "picked\n");
    assert!(
        stderr(&out).contains(&format!("task {}", ids[0])),
        "{}",
        stderr(&out)
    );

    let out = run(exec(&sb)
        .env("ECSPRESSO_FILTER_COMMAND", "head -1")
        .args(["--filter-command", &format!("grep {}", ids[1])])
        .args(["--skip-verify", "--", "echo", "picked"]));
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains(&format!("task {}", ids[1])),
        "{}",
        stderr(&out)
    );

    // The config's key, in a copy of the app's config.
    let app_dir = app().parent().unwrap().to_path_buf();
    let config = dir.path().join("ecspresso.yml");
    let text = std::fs::read_to_string(app())
        .unwrap()
        .replace(
            "ecs-service-def.json",
            &app_dir.join("ecs-service-def.json").display().to_string(),
        )
        .replace(
            "ecs-task-def.json",
            &app_dir.join("ecs-task-def.json").display().to_string(),
        );
    std::fs::write(&config, format!("{text}filter_command: tail -n 1\n")).unwrap();
    let mut cmd = sb.ecsx(&config);
    let out = run(cmd.args(["exec", "--skip-verify", "--", "echo", "picked"]));
    assert_code(&out, 0);
    assert!(
        stderr(&out).contains(&format!("task {}", ids[2])),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("filter_command"),
        "no warning: {}",
        stderr(&out)
    );
    let mut cmd = sb.ecsx(&config);
    let out = run(cmd.env("ECSPRESSO_FILTER_COMMAND", "head -1").args([
        "exec",
        "--skip-verify",
        "--",
        "echo",
        "picked",
    ]));
    assert!(
        stderr(&out).contains(&format!("task {}", ids[0])),
        "{}",
        stderr(&out)
    );

    // Nothing chosen: cancelled, nothing run.
    let out = run(exec(&sb)
        .env("ECSPRESSO_FILTER_COMMAND", "grep no-such-task")
        .args(["--skip-verify", "--", "echo", "picked"]));
    assert_code(&out, 130);
    assert_eq!(stdout(&out), "");
    // A filter command that cannot run is one line saying which.
    let out = run(exec(&sb)
        .env("ECSPRESSO_FILTER_COMMAND", "/nonexistent/peco")
        .args(["--skip-verify", "--", "echo", "picked"]));
    assert_one_line_error(
        &out,
        255,
        &["/nonexistent/peco", "ECSPRESSO_FILTER_COMMAND"],
    );
}

#[test]
fn ctrl_c_during_a_one_off_command_leaves_no_echo_in_stdout() {
    let (_d, sb) = one_task("");
    let mut child = exec(&sb)
        .args([
            "--command",
            "trap 'echo caught; exit 3' INT; echo started; while :; do sleep 0.1; done",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the command to run, then interrupt ecsx as a terminal would.
    let mut stdout_pipe = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 64];
    // (A trailing newline is held back until more output shows it is not
    // the one before the exit marker.)
    while !seen.starts_with(b"started") {
        use std::io::Read as _;
        let n = stdout_pipe.read(&mut buf).unwrap();
        assert!(n > 0, "ecsx ended before the command started");
        seen.extend_from_slice(&buf[..n]);
    }
    // SAFETY: kill has no memory arguments.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let mut rest = Vec::new();
    use std::io::Read as _;
    stdout_pipe.read_to_end(&mut rest).unwrap();
    let status = child.wait().unwrap();
    seen.extend_from_slice(&rest);
    assert_eq!(String::from_utf8_lossy(&seen), "started\ncaught\n");
    assert_eq!(status.code(), Some(3));
}

#[test]
fn a_stdout_nobody_reads_still_times_out_with_124() {
    let (_d, sb) = one_task("");
    // stdout is a pipe that is never read: the command's output fills it
    // and ecsx's writes block; --timeout must still end the session.
    let mut child = exec(&sb)
        .args([
            "--timeout",
            "3s",
            "--",
            "sh",
            "-c",
            "yes ecsx-blocked-output",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("ecsx did not end with its stdout blocked");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(124));
    let mut err = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("--timeout 3s"), "{err}");
}
