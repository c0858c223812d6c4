//! Interactive sessions under tmux: typing, resizing, Ctrl-C, exit, and the
//! local terminal restored (`stty -a` identical) after every kind of ending.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// A private tmux server running one shell in a pane.
struct Tmux {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    fn start(env: &[(&str, String)]) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
            eprintln!("tmux not found: skipping the interactive test");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = format!("ecsx-test-{}-{}", std::process::id(), rand_suffix());
        let mut cmd = Command::new("tmux");
        cmd.args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
        ]);
        for (k, v) in env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        // bash, not dash: after Ctrl-C it carries on with the command list
        // when the foreground program exits by itself, as ecsx does (130).
        cmd.args(["bash", "--norc", "--noprofile"]);
        let ok = cmd.status().unwrap().success();
        assert!(ok, "tmux new-session");
        let t = Tmux { socket, dir };
        // sh ignores PS1 from the environment for root: set it, then wait
        // until the shell has run something.
        t.line("PS1='$ '; echo pane-ready-$((1 + 1))");
        t.wait_for("pane-ready-2", Duration::from_secs(10));
        Some(t)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn send(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0"])
            .args(keys)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn line(&self, text: &str) {
        self.send(&["-l", text]);
        self.send(&["Enter"]);
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-t",
                "0",
                "-S",
                "-200",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[track_caller]
    fn wait_for(&self, text: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            if start.elapsed() > limit {
                panic!("timed out waiting for {text:?}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clear the screen and the history, so later waits see only new text.
    fn clear(&self) {
        self.line("clear");
        std::thread::sleep(Duration::from_millis(200));
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "clear-history", "-t", "0"])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn resize(&self, cols: u16, rows: u16) {
        let ok = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "resize-window",
                "-t",
                "0",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Run ecsx in the pane between two `stty -a` snapshots; returns the
    /// marker the pane prints with ecsx's exit status when it is done.
    fn run_between_snapshots(&self, ecsx_args: &str, tag: &str) -> String {
        let env = if tag == "panic" {
            "ECSX_TEST_PANIC_IN_SESSION=1 "
        } else {
            ""
        };
        let before = self.path(&format!("{tag}.before"));
        let after = self.path(&format!("{tag}.after"));
        self.line(&format!(
            "stty -a > {}; {env}{} {ecsx_args}; s=$?; stty -a > {}; echo DONE-{tag}-$s",
            before.display(),
            env!("CARGO_BIN_EXE_ecsx"),
            after.display()
        ));
        format!("DONE-{tag}-")
    }

    #[track_caller]
    fn assert_restored(&self, tag: &str) {
        // The window size is the test's doing (it resizes); every setting
        // ecsx could change must be identical.
        let settings = |name: String| {
            let text = std::fs::read_to_string(self.path(&name)).unwrap();
            text.split_once('\n')
                .map(|(_, rest)| rest.to_string())
                .unwrap_or_default()
        };
        let (before, after) = (
            settings(format!("{tag}.before")),
            settings(format!("{tag}.after")),
        );
        assert!(
            before.contains("icanon") && before.contains("echo"),
            "{before}"
        );
        assert_eq!(before, after, "stty -a differs after the {tag} ending");
    }

    /// Wait for the marker followed by digits (the typed command line shows
    /// the marker followed by `$s`), and return those digits.
    #[track_caller]
    fn exit_status(&self, marker: &str, limit: Duration) -> i32 {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            for tail in screen.split(marker).skip(1) {
                let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
                if !digits.is_empty() {
                    return digits.parse().unwrap();
                }
            }
            if start.elapsed() > limit {
                panic!("timed out waiting for {marker:?}<status>; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// The environment the pane's shell gets: what `ecsx()` would set.
fn pane_env(sb_url: &str, config: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "AKIDTESTEXAMPLE".into()),
        ("AWS_SECRET_ACCESS_KEY", "test-secret-do-not-print".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/nonexistent/ecsx-test/config".into()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/ecsx-test/credentials".into(),
        ),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL", sb_url.into()),
        ("ECSPRESSO_CONFIG", config.display().to_string()),
        ("ECSX_TASK_POLL_INTERVAL", "300ms".into()),
        ("PS1", "$ ".into()),
        ("TERM", "xterm".into()),
    ]
}

#[test]
fn type_resize_interrupt_and_exit() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(
        &testdata("app/ecspresso.yml"),
        dir.path(),
        "task_count: 1\n",
    );
    let Some(t) = Tmux::start(&pane_env(&sb.url, &testdata("app/ecspresso.yml"))) else {
        return;
    };
    let done = t.run_between_snapshots("exec --interactive -- sh", "normal");
    t.wait_for("container app", Duration::from_secs(20));
    t.line("PS1='remote> '");
    t.wait_for("remote> ", Duration::from_secs(10));
    t.line("echo typed-$((20 + 22))");
    t.wait_for("typed-42", Duration::from_secs(10));
    t.resize(120, 40);
    std::thread::sleep(Duration::from_millis(300));
    t.line("stty size");
    t.wait_for("40 120", Duration::from_secs(10));
    t.line("sleep 100");
    std::thread::sleep(Duration::from_millis(300));
    t.send(&["C-c"]);
    t.line("echo after-interrupt-$?");
    t.wait_for("after-interrupt-130", Duration::from_secs(10));
    t.line("exit 4");
    assert_eq!(t.exit_status(&done, Duration::from_secs(20)), 4);
    t.assert_restored("normal");
}

#[test]
fn the_terminal_is_restored_after_every_other_ending() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = testdata("app/ecspresso.yml");
    // A sandbox of its own, to be killed.
    let doomed = Sandbox::with_world_text(&cfg, dir.path(), "task_count: 1\n");
    let sb = Sandbox::with_world_text(&cfg, dir.path(), "task_count: 1\n");
    let Some(t) = Tmux::start(&pane_env(&sb.url, &cfg)) else {
        return;
    };

    // Timeout.
    t.clear();
    let done = t.run_between_snapshots("exec --interactive --timeout 2s -- sh", "timeout");
    assert_eq!(t.exit_status(&done, Duration::from_secs(30)), 124);
    t.assert_restored("timeout");

    // The remote process killed.
    let pidfile = t.path("remote.pid");
    t.clear();
    let done = t.run_between_snapshots(
        &format!(
            "exec --interactive -- sh -c 'echo $$ > {}; exec sleep 100'",
            pidfile.display()
        ),
        "killed",
    );
    let start = Instant::now();
    while !pidfile.exists() || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "no remote pid");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    let status = t.exit_status(&done, Duration::from_secs(20));
    assert_eq!(
        status, 137,
        "the remote status of a process killed by SIGKILL"
    );
    t.assert_restored("killed");

    // The sandbox killed mid-session.
    t.clear();
    let done = t.run_between_snapshots(
        &format!("--endpoint-url {} exec --interactive -- sh", doomed.url),
        "sandbox",
    );
    t.wait_for("container app", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    drop(doomed);
    assert_eq!(t.exit_status(&done, Duration::from_secs(60)), 255);
    t.assert_restored("sandbox");

    // An error: the task stops during the session.
    let out = run(sb.ecsx(&cfg).args(["tasks", "-o", "tsv"]));
    let task = stdout(&out).split('\t').next().unwrap().to_string();
    t.clear();
    let done = t.run_between_snapshots("exec --interactive -- sh", "stopped");
    t.wait_for("container app", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    stop_task(&sb.url, "app-cluster", &task);
    assert_eq!(t.exit_status(&done, Duration::from_secs(30)), 255);
    t.assert_restored("stopped");
    let screen = t.screen();
    assert!(screen.contains("stopped during the session"), "{screen}");

    // A panic inside the session (debug builds honour the hook).
    let sb2 = Sandbox::with_world_text(&cfg, dir.path(), "task_count: 1\n");
    t.clear();
    let done = t.run_between_snapshots(
        &format!("--endpoint-url {} exec --interactive -- sh", sb2.url),
        "panic",
    );
    assert_eq!(t.exit_status(&done, Duration::from_secs(30)), 101);
    t.assert_restored("panic");
}

/// ECS StopTask against the sandbox, as any client would send it.
pub fn stop_task(url: &str, cluster: &str, task: &str) {
    let body =
        format!(r#"{{"cluster":"{cluster}","task":"{task}","reason":"Stopped by the test"}}"#);
    let answer = post(url, "AmazonEC2ContainerServiceV20141113.StopTask", &body);
    assert!(answer.contains("STOPPED"), "StopTask answer: {answer}");
}

#[test]
fn the_picker_numbers_tasks_and_ctrl_c_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = testdata("app/ecspresso.yml");
    let sb = Sandbox::with_world_text(&cfg, dir.path(), "task_count: 3\n");
    let Some(t) = Tmux::start(&pane_env(&sb.url, &cfg)) else {
        return;
    };
    let out = run(sb.ecsx(&cfg).args(["tasks", "-o", "tsv"]));
    let ids: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);

    let done = t.run_between_snapshots("exec -- echo picked", "pick");
    let screen = t.wait_for("Select task number (1-3):", Duration::from_secs(20));
    for (i, id) in ids.iter().enumerate() {
        assert!(
            screen.contains(&format!("{}. {id} (RUNNING, started ", i + 1)),
            "{screen}"
        );
    }
    assert!(screen.contains("exec ready"), "{screen}");
    t.line("9");
    t.wait_for("Enter a number from 1 to 3.", Duration::from_secs(10));
    t.line("2");
    assert_eq!(t.exit_status(&done, Duration::from_secs(20)), 0);
    let screen = t.screen();
    assert!(screen.contains(&format!("task {}", ids[1])), "{screen}");
    assert!(screen.contains("picked"), "{screen}");

    t.clear();
    let done = t.run_between_snapshots("exec -- echo never", "cancel");
    t.wait_for("Select task number (1-3):", Duration::from_secs(20));
    t.send(&["C-c"]);
    assert_eq!(t.exit_status(&done, Duration::from_secs(20)), 130);
    t.assert_restored("cancel");
    assert!(!t.screen().contains("never\n"));
}

/// The README's quick start, as a newcomer runs it at a terminal: no AWS
/// account, a picker for the example service's two tasks, then the output.
#[test]
fn the_readme_quick_start_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("$ cargo run --release -- "))
        .expect("quick start line");
    let args = line.trim_start_matches("$ cargo run --release -- ");
    assert!(args.ends_with("exec -- uname -a"), "{line}");
    let env: Vec<(&str, String)> = vec![
        ("PS1", "$ ".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ];
    let Some(t) = Tmux::start(&env) else { return };
    t.line(&format!("cd {}", root().display()));
    let done = t.run_between_snapshots(args, "quick");
    t.wait_for("Select task number (1-2):", Duration::from_secs(30));
    t.line("1");
    assert_eq!(t.exit_status(&done, Duration::from_secs(30)), 0);
    let uname = Command::new("uname").arg("-s").output().unwrap();
    let kernel = String::from_utf8_lossy(&uname.stdout).trim().to_string();
    assert!(t.screen().contains(&kernel), "{}", t.screen());
    t.assert_restored("quick");
}

/// Issue 11: a wait longer than 300 ms shows a spinner on stderr at a
/// terminal, cleared when the wait ends; `--quiet` and a non-terminal
/// stderr never show it.
#[test]
fn slow_waits_show_a_spinner_only_at_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = testdata("app/ecspresso.yml");
    let sb = Sandbox::with_world_text(&cfg, dir.path(), "task_count: 1\nlatency: 1500ms\n");
    let Some(t) = Tmux::start(&pane_env(&sb.url, &cfg)) else {
        return;
    };
    let done = t.run_between_snapshots("tasks", "spin");
    t.wait_for("listing the tasks of service web", Duration::from_secs(20));
    assert_eq!(t.exit_status(&done, Duration::from_secs(30)), 0);
    let screen = t.screen();
    assert!(screen.contains("RUNNING"), "{screen}");
    assert!(
        !screen.contains("listing the tasks"),
        "not cleared:\n{screen}"
    );
    t.assert_restored("spin");

    t.clear();
    let done = t.run_between_snapshots("--quiet tasks", "quiet");
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        assert!(!t.screen().contains("listing the tasks"), "{}", t.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(t.exit_status(&done, Duration::from_secs(30)), 0);

    let out = run(sb.ecsx(&cfg).arg("tasks"));
    assert_code(&out, 0);
    assert_eq!(stderr(&out), "", "no spinner on a pipe");
}
