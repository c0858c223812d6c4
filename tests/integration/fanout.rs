//! `exec --all-tasks`: one command in every task, prefixed lines, the
//! summary and the combined exit status, and the bound on open sessions.

use std::path::{Path, PathBuf};

use crate::common::*;

fn app() -> PathBuf {
    testdata("app/ecspresso.yml")
}

const IDS: [&str; 5] = [
    "00000000000000000000000000f0f001",
    "00000000000000000000000000f0f002",
    "00000000000000000000000000f0f003",
    "00000000000000000000000000f0f004",
    "00000000000000000000000000f0f005",
];

/// Five tasks; `broken` (if any) gets an image without `sh`.
fn world(dir: &Path, broken: Option<&str>) -> Sandbox {
    let mut yaml = format!(
        "task_count: 0\nexec:\n  root: {}\ntasks:\n",
        dir.join("root").display()
    );
    for id in IDS {
        yaml.push_str(&format!("  - id: {id}\n    service: web\n"));
        if Some(id) == broken {
            yaml.push_str("    containers:\n      - name: app\n        exec_path: /nonexistent\n");
        }
    }
    Sandbox::with_world_text(&app(), dir, &yaml)
}

fn peak_sessions(sb: &Sandbox) -> u64 {
    let addr = sb.url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "GET /_sandbox/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["peakExecSessions"].as_u64().unwrap()
}

#[test]
fn every_task_answers_with_prefixed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let sb = world(dir.path(), None);
    let out = run(sb.ecsx(&app()).args([
        "exec",
        "--all-tasks",
        "--",
        "sh",
        "-c",
        "echo first; printf 'second\\nno newline'",
    ]));
    assert_code(&out, 0);
    let text = stdout(&out);
    for id in IDS {
        let short = &id[..8];
        let mine: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{short} | ")))
            .collect();
        // Ids share their first 8 characters here, so count all.
        assert!(mine.len() >= 3, "{text}");
    }
    assert_eq!(text.lines().count(), 15, "{text}");
    assert_eq!(text.lines().filter(|l| l.ends_with(" | first")).count(), 5);
    assert_eq!(
        text.lines()
            .filter(|l| l.ends_with(" | no newline"))
            .count(),
        5
    );
    assert!(
        stderr(&out)
            .lines()
            .filter(|l| l.contains("exit 0"))
            .count()
            == 5,
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_worst_status_is_ecsx_s_and_failures_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let sb = world(dir.path(), Some(IDS[4]));
    // Task 3 exits 3 (its working folder is named after it); task 5 cannot
    // start the command at all (255).
    let script = format!("case $(pwd) in *{}) exit 3;; esac; echo ok", IDS[2]);
    let out = run(sb
        .ecsx(&app())
        .args(["exec", "--all-tasks", "--command", &script]));
    assert_code(&out, 255);
    let err = stderr(&out);
    assert!(
        err.contains("3 of 5") || err.contains("2 of 5 tasks failed"),
        "{err}"
    );
    assert!(err.lines().any(|l| l.contains("exit 3")), "{err}");
    assert!(err.lines().any(|l| l.contains("exit 255")), "{err}");
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.ends_with(" | ok"))
            .count(),
        3
    );

    // Without the broken task, the failing one's status is ecsx's.
    let list = IDS[..4].join(",");
    let out = run(sb
        .ecsx(&app())
        .args(["exec", "--task-id", &list, "--command", &script]));
    assert_code(&out, 3);
    assert!(
        stderr(&out).contains("1 of 4 tasks failed"),
        "{}",
        stderr(&out)
    );

    // JSON: one object per task.
    let out = run(sb.ecsx(&app()).args([
        "exec",
        "--task-id",
        &list,
        "-o",
        "json",
        "--command",
        &script,
    ]));
    assert_code(&out, 3);
    let rows: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[2]["task"], IDS[2]);
    assert_eq!(rows[2]["exit"], 3);
    assert_eq!(rows[0]["exit"], 0);
    assert_eq!(rows[0]["stdout"], "b2sK"); // "ok\n"
    assert!(rows[0]["durationMs"].as_u64().is_some());
}

#[test]
fn parallel_bounds_the_open_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let sb = world(dir.path(), None);
    let out = run(sb.ecsx(&app()).args([
        "exec",
        "--all-tasks",
        "--parallel",
        "2",
        "--",
        "sleep",
        "0.5",
    ]));
    assert_code(&out, 0);
    assert_eq!(peak_sessions(&sb), 2);
    // The default lets all five run at once (so the bound above is real).
    let out = run(sb
        .ecsx(&app())
        .args(["exec", "--all-tasks", "--", "sleep", "0.5"]));
    assert_code(&out, 0);
    assert_eq!(peak_sessions(&sb), 5);
}

#[test]
fn fan_out_takes_only_one_off_commands() {
    let dir = tempfile::tempdir().unwrap();
    let sb = world(dir.path(), None);
    let out = run(sb
        .ecsx(&app())
        .args(["exec", "--all-tasks", "--interactive", "--", "sh"]));
    assert_one_line_error(&out, 255, &["--all-tasks runs a one-off command"]);
    let out =
        run(sb
            .ecsx(&app())
            .args(["exec", "--parallel", "3", "--task-id", IDS[0], "--", "true"]));
    assert_one_line_error(&out, 255, &["--parallel and --output go with --all-tasks"]);
}

#[test]
fn throttled_execute_commands_are_retried_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    // A quarter of all AWS calls answer ThrottlingException.
    let sb = Sandbox::with_world_text(&app(), dir.path(), "task_count: 6\nthrottle_rate: 0.25\n");
    let out =
        run(sb
            .ecsx(&app())
            .args(["exec", "--all-tasks", "--skip-verify", "--", "echo", "hi"]));
    assert_code(&out, 0);
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.ends_with(" | hi"))
            .count(),
        6
    );
}
