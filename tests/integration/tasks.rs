//! `ecsx tasks` against the sandbox.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::*;

fn app() -> std::path::PathBuf {
    testdata("app/ecspresso.yml")
}

#[test]
fn table_lists_the_services_running_tasks() {
    let sb = Sandbox::start(&app(), None);
    let out = run(sb.ecsx(&app()).arg("tasks"));
    assert_code(&out, 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "header + 2 tasks:\n{text}");
    for h in [
        "ID",
        "TaskDefinition",
        "LastStatus",
        "DesiredStatus",
        "CreatedAt",
        "Group",
        "LaunchType",
        "Exec",
    ] {
        assert!(lines[0].contains(h), "header lacks {h}: {}", lines[0]);
    }
    for line in &lines[1..] {
        assert!(line.contains("web:1"), "{line}");
        assert!(line.contains("RUNNING"), "{line}");
        assert!(line.contains("service:web"), "{line}");
        assert!(line.contains("FARGATE"), "{line}");
        assert!(line.trim_end().ends_with("ready"), "{line}");
        assert!(
            !line.contains('\x1b'),
            "no colour when not a terminal: {line}"
        );
    }
}

#[test]
fn json_is_an_array_of_tasks_with_rfc3339_times() {
    let sb = Sandbox::start(&app(), None);
    let out = run(sb.ecsx(&app()).args(["tasks", "--output", "json"]));
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let tasks = v.as_array().expect("array");
    assert_eq!(tasks.len(), 2);
    for t in tasks {
        assert_eq!(t["lastStatus"], "RUNNING");
        assert_eq!(t["exec"], "ready");
        assert_eq!(t["taskDefinition"], "web:1");
        assert_eq!(t["id"].as_str().unwrap().len(), 32);
        let created = t["createdAt"].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(created).expect("RFC 3339");
        let names: Vec<&str> = t["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["app", "sidecar"]);
    }
}

#[test]
fn tsv_has_eight_columns_and_no_header() {
    let sb = Sandbox::start(&app(), None);
    let out = run(sb.ecsx(&app()).args(["tasks", "-o", "tsv"]));
    assert_code(&out, 0);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2);
    for line in text.lines() {
        assert_eq!(line.split('\t').count(), 8, "{line}");
    }
}

#[test]
fn task_id_accepts_a_unique_prefix_and_names_unknown_ones() {
    let sb = Sandbox::start(&app(), None);
    let out = run(sb.ecsx(&app()).args(["tasks", "-o", "tsv"]));
    let first = stdout(&out)
        .lines()
        .next()
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    let out = run(sb
        .ecsx(&app())
        .args(["tasks", "-o", "tsv", "--task-id", &first[..12]]));
    assert_code(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 1);
    assert!(stdout(&out).starts_with(&first));
    let out = run(sb.ecsx(&app()).args(["tasks", "--id", &first]));
    assert_code(&out, 0);
    let out = run(sb
        .ecsx(&app())
        .args(["tasks", "--task-id", "ffffffffffffffffffffffffffffffff"]));
    assert_one_line_error(
        &out,
        1,
        &[
            "ffffffffffffffffffffffffffffffff",
            "not found",
            "ecsx tasks --all",
        ],
    );
    let out = run(sb.ecsx(&app()).args(["tasks", "--task-id", "zz"]));
    assert_one_line_error(&out, 1, &["no task matches \"zz\"", "service web"]);
}

#[test]
fn pages_of_a_large_service_are_all_listed() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(&app(), dir.path(), "task_count: 250\n");
    let out = run(sb.ecsx(&app()).args(["tasks", "-o", "tsv"]));
    assert_code(&out, 0);
    let ids: std::collections::BTreeSet<String> = stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 250);
}

#[test]
fn throttled_calls_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(&app(), dir.path(), "task_count: 300\nthrottle_rate: 0.3\n");
    let out = run(sb
        .ecsx(&app())
        .env("AWS_MAX_ATTEMPTS", "10")
        .args(["tasks", "-o", "tsv"]));
    assert_code(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 300);
}

#[test]
fn without_a_service_the_family_is_listed() {
    let cfg = testdata("family/ecspresso.yml");
    let sb = Sandbox::start(&cfg, None);
    let out = run(sb.ecsx(&cfg).args(["tasks", "-o", "json"]));
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let tasks = v.as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t["taskDefinition"] == "nightly-job:1"));
}

#[test]
fn in_process_sandbox_needs_no_server_and_no_credentials() {
    let out = run(ecsx()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .arg("--sandbox")
        .arg("--config")
        .arg(root().join("ecspresso.yml.example"))
        .args(["tasks", "-o", "tsv"]));
    assert_code(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 2);
}

#[test]
fn a_closed_pipe_exits_zero_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(&app(), dir.path(), "task_count: 2000\n");
    let mut child = sb
        .ecsx(&app())
        .args(["tasks"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here, like `| head -1`.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("ID"), "{first}");
    assert_code(&out, 0);
    assert_eq!(stderr(&out), "", "nothing on stderr");
}
