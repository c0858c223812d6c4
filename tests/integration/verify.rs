//! `ecsx verify` against the sandbox: each world in testdata/verify/worlds
//! breaks one prerequisite, and verify reports exactly that one.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

fn config() -> PathBuf {
    testdata("verify/ecspresso.yml")
}

fn worlds() -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = std::fs::read_dir(testdata("verify/worlds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    list.sort();
    list
}

/// `# expect: STATUS ID [CONTAINER]` and `# args: ...` from a world's header.
fn header(world: &Path) -> (String, String, Option<String>, Vec<String>) {
    let text = std::fs::read_to_string(world).unwrap();
    let mut expect = None;
    let mut args = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# expect: ") {
            expect = Some(
                rest.split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            );
        }
        if let Some(rest) = line.strip_prefix("# args: ") {
            args = rest.split_whitespace().map(str::to_owned).collect();
        }
    }
    let expect = expect.unwrap_or_else(|| panic!("{} has no `# expect:` line", world.display()));
    (
        expect[0].clone(),
        expect[1].clone(),
        expect.get(2).cloned(),
        args,
    )
}

fn verify_json(sb: &Sandbox, args: &[String]) -> (Value, i32) {
    let out = run(sb
        .ecsx(&config())
        .arg("verify")
        .args(args)
        .args(["-o", "json"]));
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", stdout(&out), stderr(&out)));
    (v, out.status.code().unwrap())
}

/// Checks that found a problem, leaving out those that could not check.
fn problems(v: &Value) -> Vec<&Value> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["status"] == "NG"
                || (c["status"] == "WARN"
                    && !c["message"]
                        .as_str()
                        .unwrap()
                        .starts_with("could not check"))
        })
        .collect()
}

/// The (id, resource, container, status) of every check, for comparisons.
fn shape(v: &Value) -> Vec<(String, String, String, String)> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["resource"].as_str().unwrap().to_string(),
                c["container"].as_str().unwrap_or("").to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn each_broken_world_reports_exactly_its_check() {
    let list = worlds();
    assert!(list.len() >= 10, "worlds: {list:?}");
    for world in list {
        let (status, id, container, args) = header(&world);
        let sb = Sandbox::start(&config(), Some(&world));
        let (v, code) = verify_json(&sb, &args);
        let found = problems(&v);
        let name = world.file_name().unwrap().to_string_lossy().to_string();
        assert!(!found.is_empty(), "{name}: {id} not reported");
        for c in &found {
            assert_eq!(
                c["id"],
                id.as_str(),
                "{name}: expected only {id}, got {found:#?}"
            );
            assert_eq!(c["status"], status.as_str(), "{name}");
            if let Some(container) = &container {
                assert_eq!(c["container"], container.as_str(), "{name}");
            }
            assert!(
                !c["fix"].as_str().unwrap_or("").is_empty(),
                "{name}: no fix in {c}"
            );
            if id.starts_with("exec.") {
                assert!(c["row"].is_u64(), "{name}: exec rows carry their row");
            }
        }
        let expected_code = if status == "NG" { 4 } else { 0 };
        assert_eq!(code, expected_code, "{name}");
        assert_eq!(v["exitCode"], expected_code, "{name}");

        // People see the same line and its fix.
        let out = run(sb.ecsx(&config()).arg("verify").args(&args));
        assert_eq!(out.status.code(), Some(expected_code), "{name}");
        let text = stdout(&out);
        let line = text
            .lines()
            .position(|l| l.contains(&format!("[{status}]")) && l.contains(&id))
            .unwrap_or_else(|| panic!("{name}: no [{status}] {id} line:\n{text}"));
        let next = text.lines().nth(line + 1).unwrap();
        assert!(next.trim_start().starts_with("fix: "), "{name}: {next}");

        // --strict turns a WARN into a failure.
        if status == "WARN" {
            let out = run(sb.ecsx(&config()).arg("verify").arg("--strict").args(&args));
            assert_code(&out, 4);
        }
    }
}

#[test]
fn a_healthy_service_passes() {
    let sb = Sandbox::start(&config(), None);
    let (v, code) = verify_json(&sb, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["summary"]["ng"], 0);
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    // Every row the sandbox can answer is OK.
    for id in [
        "exec.caller.identity",
        "exec.cluster.active",
        "exec.cluster.exec_configuration",
        "exec.service.enable_execute_command",
        "exec.task.running",
        "exec.task.enable_execute_command",
        "exec.task.agent_running",
        "exec.task.platform_version",
        "exec.container.readonly_root_filesystem",
        "exec.container.init_process_enabled",
        "exec.container.credential_variables",
        "exec.task_definition.pid_mode",
        "resource.target_group.container_port",
    ] {
        let rows: Vec<&Value> = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] == id)
            .collect();
        assert!(!rows.is_empty(), "no {id}");
        assert!(rows.iter().all(|c| c["status"] == "OK"), "{id}: {rows:#?}");
    }
    // Two tasks of two containers: agent rows per task and container.
    let agents = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == "exec.task.agent_running")
        .count();
    assert_eq!(agents, 4);
}

#[test]
fn json_follows_the_documented_schema() {
    let sb = Sandbox::start(&config(), None);
    let (v, _) = verify_json(&sb, &[]);
    assert_eq!(v["schemaVersion"], 1);
    assert_eq!(v["cluster"], "app-cluster");
    assert_eq!(v["service"], "web");
    assert_eq!(v["region"], "ap-northeast-1");
    assert_eq!(v["strict"], false);
    assert_eq!(v["result"], "OK");
    let s = &v["summary"];
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(s["total"], checks.len());
    let count = |st: &str| checks.iter().filter(|c| c["status"] == st).count();
    assert_eq!(s["ok"], count("OK"));
    assert_eq!(s["warn"], count("WARN"));
    assert_eq!(s["skip"], count("SKIP"));
    for c in checks {
        for key in ["id", "group", "resource", "status", "message"] {
            assert!(c[key].is_string(), "{key} in {c}");
        }
        for key in ["row", "task", "container", "fix"] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
        let st = c["status"].as_str().unwrap();
        assert!(["OK", "NG", "WARN", "SKIP"].contains(&st));
        assert_eq!(c["fix"].is_string(), st == "NG" || st == "WARN", "{c}");
    }
}

#[test]
fn junit_has_one_testcase_per_check() {
    let world = testdata("verify/worlds/exec.task.agent_running.yml");
    let sb = Sandbox::start(&config(), Some(&world));
    let (v, _) = verify_json(&sb, &[]);
    let out = run(sb.ecsx(&config()).args(["verify", "-o", "junit"]));
    assert_code(&out, 4);
    let xml = stdout(&out);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert!(xml.trim_end().ends_with("</testsuites>"));
    assert_eq!(
        xml.matches("<testcase ").count(),
        v["summary"]["total"].as_u64().unwrap() as usize
    );
    assert_eq!(xml.matches("<failure ").count(), 1);
    assert_eq!(
        xml.matches("<skipped ").count(),
        v["summary"]["skip"].as_u64().unwrap() as usize
    );
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    assert!(xml.contains("name=\"exec.task.agent_running (sidecar)\""));
    // Every attribute value is escaped: no raw `<` or `&` inside quotes.
    for line in xml.lines().filter(|l| l.contains("message=\"")) {
        let value = line.split("message=\"").nth(1).unwrap();
        let value = &value[..value.find('"').unwrap()];
        assert!(
            !value.contains('<')
                && !value
                    .replace("&amp;", "")
                    .replace("&lt;", "")
                    .replace("&gt;", "")
                    .replace("&quot;", "")
                    .replace("&apos;", "")
                    .contains('&'),
            "{line}"
        );
    }
}

#[test]
fn throttling_does_not_change_the_results() {
    let calm = Sandbox::start(&config(), None);
    let (expected, _) = verify_json(&calm, &[]);
    let dir = tempfile::tempdir().unwrap();
    let flaky = Sandbox::with_world_text(&config(), dir.path(), "throttle_rate: 0.3\n");
    let mut cmd = flaky.ecsx(&config());
    cmd.env("AWS_MAX_ATTEMPTS", "12")
        .args(["verify", "-o", "json"]);
    let out = run(&mut cmd);
    let got: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shape(&got), shape(&expected));
}

#[test]
fn task_id_and_container_narrow_the_rows() {
    let world = testdata("verify/worlds/exec.task.agent_running.yml");
    let sb = Sandbox::start(&config(), Some(&world));
    let id = "5e7c0000000000000000000000000007";
    let (v, code) = verify_json(
        &sb,
        &["--task-id".into(), "5e7c00000000000000000000000000".into()],
    );
    assert_eq!(code, 4);
    let tasks: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["task"].as_str())
        .collect();
    assert!(
        !tasks.is_empty() && tasks.iter().all(|t| *t == id),
        "{tasks:?}"
    );

    let (v, code) = verify_json(
        &sb,
        &[
            "--task-id".into(),
            id.into(),
            "--container".into(),
            "app".into(),
        ],
    );
    assert_eq!(code, 0, "the broken agent is in sidecar");
    let containers: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["container"].as_str())
        .collect();
    assert!(containers.iter().all(|c| *c == "app"), "{containers:?}");

    let out = run(sb
        .ecsx(&config())
        .args(["verify", "--task-id", id, "--container", "nope"]));
    assert_one_line_error(&out, 1, &["nope", "app, sidecar"]);
    let out = run(sb.ecsx(&config()).args(["verify", "--task-id", "ffff"]));
    assert_one_line_error(&out, 1, &["ffff"]);
}

#[test]
fn unknown_operations_are_could_not_check_not_ok() {
    let sb = Sandbox::start(&config(), None);
    let (v, _) = verify_json(&sb, &[]);
    for c in v["checks"].as_array().unwrap() {
        let message = c["message"].as_str().unwrap();
        if message.starts_with("could not check") {
            assert_eq!(c["status"], "WARN", "{c}");
            assert!(
                message.contains("did not answer") || message.contains("needs "),
                "{c}"
            );
        }
    }
}

#[test]
fn every_check_passes_on_the_derived_world() {
    let sb = Sandbox::start(&config(), None);
    let (v, code) = verify_json(&sb, &[]);
    assert_eq!(code, 0);
    for c in v["checks"].as_array().unwrap() {
        assert!(c["status"] == "OK" || c["status"] == "SKIP", "{c}");
    }
    assert_eq!(v["summary"]["skip"], 1, "only the non-ECR image is skipped");
}

#[test]
fn simulation_denied_is_could_not_check() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(&config(), dir.path(), "iam:\n  deny_simulation: true\n");
    let (v, code) = verify_json(&sb, &[]);
    assert_eq!(code, 0, "WARN, not NG");
    let sims: Vec<&Value> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            [
                "exec.caller.execute_command",
                "exec.task_role.ssmmessages",
                "exec.task_role.exec_logging",
            ]
            .contains(&c["id"].as_str().unwrap())
        })
        .collect();
    assert_eq!(sims.len(), 3, "{sims:#?}");
    for c in sims {
        assert_eq!(c["status"], "WARN", "{c}");
        assert_eq!(
            c["message"],
            "could not check: needs iam:SimulatePrincipalPolicy"
        );
    }
    let out = run(sb.ecsx(&config()).args(["verify", "--strict"]));
    assert_code(&out, 4);
}

#[test]
fn an_assumed_role_caller_is_simulated_as_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_world_text(
        &config(),
        dir.path(),
        "caller: arn:aws:sts::123456789012:assumed-role/Developer/alice\n",
    );
    let (v, code) = verify_json(&sb, &[]);
    assert_eq!(code, 0, "{v:#}");
    let c = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "exec.caller.execute_command")
        .unwrap();
    assert_eq!(c["status"], "OK");
    assert!(
        c["message"].as_str().unwrap().contains(":role/Developer"),
        "{c}"
    );
}

/// The rows exec's pre-flight runs after its own one-line task checks.
const PREFLIGHT_ROWS: &[&str] = &[
    "exec.caller.execute_command",
    "exec.caller.kms_generate_data_key",
    "exec.task_role.ssmmessages",
    "exec.task_role.kms_decrypt",
    "exec.task_role.exec_logging",
    "exec.container.readonly_root_filesystem",
    "exec.service.enable_execute_command",
];

#[test]
fn exec_refuses_with_verifys_own_line_and_skip_verify_goes_on() {
    let mut tested = 0;
    for world in worlds() {
        let (status, id, _container, args) = header(&world);
        if status != "NG" || !PREFLIGHT_ROWS.contains(&id.as_str()) {
            continue;
        }
        let sb = Sandbox::start(&config(), Some(&world));
        let out = run(sb.ecsx(&config()).args(["tasks", "-o", "tsv"]));
        let task = stdout(&out).split('\t').next().unwrap().to_string();
        let mut narrowed = args.clone();
        narrowed.extend(["--task-id".to_string(), task.clone()]);
        let (v, _) = verify_json(&sb, &narrowed);
        let check = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.as_str() && c["status"] == "NG")
            .unwrap_or_else(|| panic!("{}: verify has no NG {id}", world.display()))
            .clone();
        let out = run(sb
            .ecsx(&config())
            .args(["exec", "--task-id", &task, "--", "echo", "ran"]));
        assert_code(&out, 255);
        let err = stderr(&out);
        let expected = format!("[NG] {id}: {}", check["message"].as_str().unwrap());
        assert!(
            err.contains(&expected),
            "{}: exec's stderr lacks {expected:?}:\n{err}",
            world.display()
        );
        assert!(err.contains("--skip-verify"), "{err}");
        assert!(
            !stdout(&out).contains("ran"),
            "exec must not run the command"
        );
        // The sandbox does not enforce IAM on ExecuteCommand: skipping the
        // pre-flight reaches the container.
        let out = run(sb.ecsx(&config()).args([
            "exec",
            "--skip-verify",
            "--task-id",
            &task,
            "--",
            "echo",
            "ran",
        ]));
        assert_code(&out, 0);
        assert_eq!(stdout(&out), "ran\n");
        tested += 1;
    }
    assert!(tested >= 4, "only {tested} pre-flight worlds found");
}
