//! Every error a user can cause: one clear line, the right exit code.

use std::path::PathBuf;

use crate::common::*;

/// Write files into a fresh folder; returns it and the config's path.
fn case(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let cfg = dir.path().join("ecspresso.yml");
    (dir, cfg)
}

const TD: &str =
    r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx"}]}"#;

#[test]
fn no_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(ecsx().current_dir(dir.path()).arg("tasks"));
    assert_one_line_error(&out, 3, &["no config file", "ecspresso.yml", "--config"]);
}

#[test]
fn config_named_by_flag_is_missing() {
    let out = run(ecsx().args(["--config", "/nonexistent/ecspresso.yml", "tasks"]));
    assert_one_line_error(
        &out,
        3,
        &["/nonexistent/ecspresso.yml", "cannot read config file"],
    );
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let (_d, cfg) = case(&[(
        "ecspresso.yml",
        "region: us-east-1\ncluster: [oops\nservice: web\n",
    )]);
    let out = run(ecsx().arg("--config").arg(&cfg).arg("tasks"));
    assert_one_line_error(&out, 3, &["ecspresso.yml:", "YAML syntax error"]);
    let line = stderr(&out);
    let pos = line.split("ecspresso.yml:").nth(1).unwrap();
    let mut parts = pos.split(':');
    let l: usize = parts.next().unwrap().parse().expect("line number");
    let c: usize = parts.next().unwrap().parse().expect("column number");
    assert!(l >= 2 && c >= 1, "{line}");
}

#[test]
fn missing_task_definition_file() {
    let (_d, cfg) = case(&[("ecspresso.yml", "cluster: c\ntask_definition: nope.json\n")]);
    let out = run(ecsx().arg("--config").arg(&cfg).arg("render"));
    assert_one_line_error(
        &out,
        3,
        &["nope.json", "cannot read task definition", "no such file"],
    );
}

#[test]
fn template_syntax_error_names_file_and_line() {
    let td = "{\n  \"family\": \"web\",\n  \"x\": \"{{ env `A` \"\n}\n";
    let (_d, cfg) = case(&[
        ("ecspresso.yml", "task_definition: td.json\n"),
        ("td.json", td),
    ]);
    let out = run(ecsx().arg("--config").arg(&cfg).arg("render"));
    assert_one_line_error(&out, 3, &["td.json:3"]);
}

#[test]
fn missing_must_env_names_the_variable_and_file() {
    let td = "{\n\"family\": \"web\",\n\"containerDefinitions\": [{\"name\": \"app\", \"image\": \"x:{{ must_env `ECSX_UNSET_TAG` }}\"}]}\n";
    let (_d, cfg) = case(&[
        ("ecspresso.yml", "task_definition: td.json\n"),
        ("td.json", td),
    ]);
    let out = run(ecsx().arg("--config").arg(&cfg).arg("render"));
    assert_one_line_error(&out, 3, &["ECSX_UNSET_TAG", "td.json:3"]);
}

#[test]
fn unknown_template_function() {
    let td =
        "{\"family\": \"{{ frobnicate `x` }}\", \"containerDefinitions\": [{\"name\": \"a\"}]}";
    let (_d, cfg) = case(&[
        ("ecspresso.yml", "task_definition: td.json\n"),
        ("td.json", td),
    ]);
    let out = run(ecsx().arg("--config").arg(&cfg).arg("render"));
    assert_one_line_error(&out, 3, &["frobnicate", "td.json"]);
}

#[test]
fn tfstate_address_not_found() {
    let state = std::fs::read_to_string(testdata("tfstate/terraform.tfstate")).unwrap();
    let td = "{\"family\": \"web\",\n\"taskRoleArn\": \"{{ tfstate `aws_iam_role.missing.arn` }}\", \"containerDefinitions\": [{\"name\": \"a\"}]}";
    let (_d, cfg) = case(&[
        ("ecspresso.yml", "task_definition: td.json\nplugins:\n  - name: tfstate\n    config:\n      path: terraform.tfstate\n"),
        ("td.json", td),
        ("terraform.tfstate", &state),
    ]);
    let out = run(ecsx().arg("--config").arg(&cfg).arg("render"));
    assert_one_line_error(&out, 3, &["aws_iam_role.missing.arn", "td.json:2"]);
}

#[test]
fn task_definition_without_containers() {
    let (_d, cfg) = case(&[
        ("ecspresso.yml", "task_definition: td.json\n"),
        ("td.json", r#"{"family": "web"}"#),
    ]);
    let out = run(ecsx().arg("--config").arg(&cfg).arg("render"));
    assert_one_line_error(&out, 3, &["td.json", "containerDefinitions"]);
}

#[test]
fn task_definition_json_syntax_error() {
    let (_d, cfg) = case(&[
        ("ecspresso.yml", "task_definition: td.json\n"),
        ("td.json", "{\n\"family\": \"web\",,\n}"),
    ]);
    let out = run(ecsx().arg("--config").arg(&cfg).arg("render"));
    assert_one_line_error(&out, 3, &["td.json:2:", "JSON syntax error"]);
}

#[test]
fn invalid_timeout() {
    let (_d, cfg) = case(&[("ecspresso.yml", "service: web\ntimeout: 5 parsecs\n")]);
    let out = run(ecsx().arg("--config").arg(&cfg).arg("tasks"));
    assert_one_line_error(&out, 3, &["ecspresso.yml", "timeout", "5m"]);
}

#[test]
fn unknown_cluster() {
    let cfg = testdata("app/ecspresso.yml");
    let sb = Sandbox::start(&cfg, None);
    let out = run(sb
        .ecsx(&cfg)
        .env("ECSX_TEST_CLUSTER", "nope-cluster")
        .arg("tasks"));
    assert_one_line_error(&out, 1, &["cluster nope-cluster not found", "cluster:"]);
}

#[test]
fn unknown_service() {
    let cfg = testdata("app/ecspresso.yml");
    let sb = Sandbox::start(&cfg, None);
    let (_d, other) = case(&[
        (
            "ecspresso.yml",
            "cluster: app-cluster\nservice: nope-svc\ntask_definition: td.json\n",
        ),
        ("td.json", TD),
    ]);
    let out = run(sb.ecsx(&other).arg("tasks"));
    assert_one_line_error(&out, 1, &["service nope-svc not found", "app-cluster"]);
    let out = run(sb.ecsx(&other).arg("status"));
    assert_one_line_error(&out, 1, &["service nope-svc not found"]);
}

#[test]
fn no_credentials() {
    let cfg = testdata("app/ecspresso.yml");
    let sb = Sandbox::start(&cfg, None);
    let out = run(sb
        .ecsx(&cfg)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .arg("tasks"));
    assert_one_line_error(&out, 1, &["no AWS credentials", "AWS_PROFILE"]);
}

#[test]
fn endpoint_unreachable_fails_fast() {
    let cfg = testdata("app/ecspresso.yml");
    // Bind and drop a listener: a port that nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let out = run(ecsx().arg("--config").arg(&cfg).args([
        "--endpoint-url",
        &format!("http://127.0.0.1:{port}"),
        "tasks",
    ]));
    assert_one_line_error(&out, 1, &["cannot reach", &format!("127.0.0.1:{port}")]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn usage_errors_exit_2() {
    let out = run(ecsx().args(["tasks", "--output", "xml"]));
    assert_code(&out, 2);
    let out = run(ecsx().arg("frobnicate"));
    assert_code(&out, 2);
}

#[test]
fn non_loopback_sandbox_needs_a_flag() {
    let cfg = testdata("app/ecspresso.yml");
    let out =
        run(ecsx()
            .arg("--config")
            .arg(&cfg)
            .args(["sandbox", "serve", "--addr", "0.0.0.0:0"]));
    assert_one_line_error(&out, 2, &["0.0.0.0:0", "--allow-remote"]);
}

#[test]
fn credentials_never_appear_in_output_even_with_debug() {
    let cfg = testdata("app/ecspresso.yml");
    let sb = Sandbox::start(&cfg, None);
    let out = run(sb
        .ecsx(&cfg)
        .env("AWS_SESSION_TOKEN", "SESSIONTOKENSECRET")
        .args(["--debug", "tasks"]));
    assert_code(&out, 0);
    let all = stdout(&out) + &stderr(&out);
    assert!(stderr(&out).contains("[debug]"), "debug output expected");
    for secret in [
        "test-secret-do-not-print",
        "SESSIONTOKENSECRET",
        "AKIDTESTEXAMPLE",
    ] {
        assert!(!all.contains(secret), "{secret} leaked");
    }
}

#[test]
fn version_prints() {
    let out = run(ecsx().arg("--version"));
    assert_code(&out, 0);
    assert!(stdout(&out).starts_with("ecsx "));
}
