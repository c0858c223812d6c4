//! `ecsx render` of the testdata configs against their expected renders.

use crate::common::*;

fn render(case: &str, what: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = ecsx();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(cmd
        .arg("--config")
        .arg(testdata(&format!("{case}/ecspresso.yml")))
        .args(["render", what]));
    assert_code(&out, 0);
    serde_json::from_str(&stdout(&out)).expect("render prints JSON")
}

fn expected(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(testdata(rel)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn go_template_forms_render_as_ecspresso_does() {
    let got = render("app", "task-definition", &[("TAG", "v1.2.3")]);
    assert_eq!(got, expected("app/expected-task-def.json"));
}

#[test]
fn if_else_takes_the_other_branch_when_the_variable_is_set() {
    let got = render(
        "app",
        "task-definition",
        &[("ECSX_TEST_DEBUG", "1"), ("GREETING", "a\tb")],
    );
    let env = &got["containerDefinitions"][0]["environment"];
    assert_eq!(env[0]["value"], "a\tb");
    assert_eq!(env[1]["value"], "debug");
    assert!(got["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap()
        .ends_with(":latest"));
}

#[test]
fn tfstate_lookups_render() {
    let got = render("tfstate", "task-definition", &[("TAG", "abc")]);
    assert_eq!(got, expected("tfstate/expected-task-def.json"));
}

#[test]
fn wrapped_pascal_case_definitions_render_camel_case() {
    let got = render("wrapped", "task-definition", &[]);
    assert_eq!(got, expected("wrapped/expected-task-def.json"));
}

#[test]
fn service_definition_and_config_render() {
    let got = render("app", "service-definition", &[]);
    assert_eq!(got["serviceName"], "web");
    assert_eq!(got["loadBalancers"][0]["containerPort"], 8080);
    let cfg = render("app", "config", &[]);
    assert_eq!(cfg["cluster"], "app-cluster");
    assert_eq!(cfg["timeout"], "10m");
    let cfg = render("family", "config", &[]);
    assert_eq!(cfg["timeout"], "0");
    assert_eq!(cfg["cluster"], "batch");
}

// ------------------------------------------------------------ Jsonnet

fn jsonnet_cmd() -> std::process::Command {
    let mut cmd = ecsx();
    cmd.env("SERVICE", "web")
        .env("TAG", "v2")
        .env("OWNER", "me")
        .arg("--config")
        .arg(testdata("jsonnet/ecspresso.jsonnet"));
    cmd
}

/// Every JSON document printed, in order.
fn documents(text: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .map(|d| d.expect("render prints JSON documents"))
        .collect()
}

#[test]
fn jsonnet_config_and_definitions_render_with_ext_vars_and_natives() {
    let out = run(jsonnet_cmd()
        .args(["--ext-str", "WorkerID=7", "--ext-code", "Storage=20 + 1"])
        .args(["--ext-code", "TIMEOUT_MINUTES=5"])
        .args(["render", "config", "servicedef", "taskdef"]));
    assert_code(&out, 0);
    let docs = documents(&stdout(&out));
    assert_eq!(docs.len(), 3, "{}", stdout(&out));
    let (cfg, sv, td) = (&docs[0], &docs[1], &docs[2]);
    assert_eq!(cfg["region"], "eu-west-1", "env() default");
    assert_eq!(cfg["service"], "web", "template after Jsonnet");
    assert_eq!(cfg["timeout"], "5m", "ext-code");
    assert_eq!(
        sv["serviceName"], "web",
        "serviceName is the config's service"
    );
    assert_eq!(sv["desiredCount"], 2);
    let c = &td["containerDefinitions"][0];
    assert_eq!(
        c["image"], "nginx:v2",
        "template inside an imported libsonnet"
    );
    assert_eq!(c["portMappings"][0]["containerPort"], 8080, "nested import");
    assert_eq!(c["environment"][0]["value"], "7");
    assert_eq!(c["environment"][1]["value"], "me", "must_env native");
    assert_eq!(
        c["environment"][2]["value"], "say \\\"hi\\\"",
        "json_escape native"
    );
    assert_eq!(td["ephemeralStorage"]["sizeInGiB"], 21);
    assert_eq!(
        td["taskRoleArn"], "arn:aws:iam::123456789012:role/jsonnet-task",
        "tfstate native"
    );
}

#[test]
fn jsonnet_ext_vars_come_from_ecspresso_environment_variables() {
    let out = run(jsonnet_cmd()
        .env("ECSPRESSO_EXT_STR", "WorkerID=8")
        .env("ECSPRESSO_EXT_CODE", "Storage=30;TIMEOUT_MINUTES=1")
        .env("ECSX_TEST_REGION", "ap-south-1")
        .args(["render", "task-definition", "config"]));
    assert_code(&out, 0);
    let docs = documents(&stdout(&out));
    assert_eq!(
        docs[0]["containerDefinitions"][0]["environment"][0]["value"],
        "8"
    );
    assert_eq!(docs[0]["ephemeralStorage"]["sizeInGiB"], 30);
    assert_eq!(docs[1]["timeout"], "1m");
    assert_eq!(docs[1]["region"], "ap-south-1");
}

#[test]
fn jsonnet_errors_are_one_line_with_file_line_and_fix() {
    // No ext vars at all: the config names the missing variable.
    let out = run(jsonnet_cmd().args(["render", "config"]));
    assert_one_line_error(
        &out,
        3,
        &["ecspresso.jsonnet:", "TIMEOUT_MINUTES", "--ext-str"],
    );
    // must_env native without the variable.
    let out = run(jsonnet_cmd()
        .env_remove("OWNER")
        .args(["--ext-str", "WorkerID=7", "--ext-code", "Storage=1"])
        .args(["--ext-code", "TIMEOUT_MINUTES=5", "render", "taskdef"]));
    assert_one_line_error(&out, 3, &["td.jsonnet:", "OWNER is not set"]);
    // A syntax error in a definition.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ecspresso.yml"),
        "cluster: c\ntask_definition: td.jsonnet\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("td.jsonnet"),
        "{\n  family: 'x',\n  cpu: ,\n}\n",
    )
    .unwrap();
    let out = run(ecsx()
        .arg("--config")
        .arg(dir.path().join("ecspresso.yml"))
        .args(["render", "taskdef"]));
    assert_one_line_error(&out, 3, &["td.jsonnet:3", "syntax error"]);
    // A bad --ext-str is a usage error.
    let out = run(jsonnet_cmd().args(["--ext-str", "novalue", "render", "config"]));
    assert_one_line_error(&out, 2, &["--ext-str", "KEY=VALUE"]);
}

// ------------------------------------------------------------ config

fn write_config(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("ecspresso.yml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn two_tfstate_plugins_without_func_prefix_fail_when_the_config_loads() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "cluster: c\ntask_definition: td.json\nplugins:\n  - name: tfstate\n    config: {path: a.tfstate}\n  - name: tfstate\n    config: {path: b.tfstate}\n",
    );
    // Even `render config`, which renders no definition, fails.
    let out = run(ecsx()
        .arg("--config")
        .arg(&config)
        .args(["render", "config"]));
    assert_one_line_error(
        &out,
        3,
        &[
            "ecspresso.yml",
            "template function tfstate already exists",
            "func_prefix",
        ],
    );
}

#[test]
fn render_config_shows_the_region_from_aws_region() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "cluster: c\ntask_definition: td.json\n");
    let out = run(ecsx()
        .env("AWS_REGION", "ap-northeast-2")
        .arg("--config")
        .arg(&config)
        .args(["render", "config"]));
    assert_code(&out, 0);
    assert_eq!(documents(&stdout(&out))[0]["region"], "ap-northeast-2");
    let out = run(ecsx()
        .arg("--config")
        .arg(&config)
        .args(["render", "config"]));
    assert_eq!(
        documents(&stdout(&out))[0]["region"],
        serde_json::Value::Null
    );
}

#[test]
fn render_takes_ecspresso_target_names_and_rejects_others() {
    let config = testdata("app/ecspresso.yml");
    let long = run(ecsx()
        .arg("--config")
        .arg(&config)
        .args(["render", "task-definition"]));
    let short = run(ecsx()
        .arg("--config")
        .arg(&config)
        .args(["render", "taskdef"]));
    assert_code(&short, 0);
    assert_eq!(stdout(&long), stdout(&short));
    let out = run(ecsx()
        .arg("--config")
        .arg(&config)
        .args(["render", "servicedef", "taskdef"]));
    let docs = documents(&stdout(&out));
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["serviceName"], "web");
    let out = run(ecsx()
        .arg("--config")
        .arg(&config)
        .args(["render", "appspec"]));
    assert_code(&out, 2);
    assert!(stderr(&out).contains("task-definition"), "{}", stderr(&out));
}

#[test]
fn envfiles_load_before_templates_later_files_win() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.env"), "TAG=from-one\nGREETING=hello\n").unwrap();
    std::fs::write(
        dir.path().join("two.env"),
        "# the second wins\nexport TAG=\"from-two\"\n",
    )
    .unwrap();
    let out = run(ecsx()
        .arg("--config")
        .arg(testdata("app/ecspresso.yml"))
        .arg("--envfile")
        .arg(dir.path().join("one.env"))
        .arg("--envfile")
        .arg(dir.path().join("two.env"))
        .args(["render", "taskdef"]));
    assert_code(&out, 0);
    let td = &documents(&stdout(&out))[0];
    assert!(
        td["containerDefinitions"][0]["image"]
            .as_str()
            .unwrap()
            .ends_with(":from-two"),
        "{td}"
    );
    // ECSPRESSO_ENVFILE, comma-separated.
    let out = run(ecsx()
        .env(
            "ECSPRESSO_ENVFILE",
            format!(
                "{},{}",
                dir.path().join("two.env").display(),
                dir.path().join("one.env").display()
            ),
        )
        .arg("--config")
        .arg(testdata("app/ecspresso.yml"))
        .args(["render", "taskdef"]));
    let td = &documents(&stdout(&out))[0];
    assert!(td["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap()
        .ends_with(":from-one"));
    // A bad line and a missing file: one line each.
    std::fs::write(dir.path().join("bad.env"), "A=1\nnot a pair\n").unwrap();
    let out = run(ecsx()
        .arg("--envfile")
        .arg(dir.path().join("bad.env"))
        .args(["render", "config"]));
    assert_one_line_error(&out, 3, &["bad.env", "line 2", "KEY=VALUE"]);
    let out = run(ecsx()
        .arg("--envfile")
        .arg(dir.path().join("missing.env"))
        .args(["render", "config"]));
    assert_one_line_error(&out, 3, &["missing.env", "no such file"]);
}

// ------------------------------------------------ AWS at render time

#[test]
fn ssm_secretsmanager_and_s3_state_come_from_the_sandbox() {
    let empty = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::world_only(&testdata("remote/world.yml"), empty.path());
    let out = run(sandbox
        .ecsx(&testdata("remote/ecspresso.yml"))
        .args(["--debug", "render", "taskdef"]));
    assert_code(&out, 0);
    let td = &documents(&stdout(&out))[0];
    assert_eq!(
        td["taskRoleArn"],
        "arn:aws:iam::123456789012:role/remote-task"
    );
    let c = &td["containerDefinitions"][0];
    assert_eq!(c["image"], "nginx:1.25.3");
    let env: Vec<&str> = c["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        env,
        [
            "s3cr3t-do-not-print",
            "db-b.internal",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-Ab12Cd",
            "vpc-0123abcd",
            "1.25.3",
        ]
    );
    let err = stderr(&out);
    // Counted (each parameter once: answers are cached) and never shown.
    assert!(
        err.contains("render: 6 AWS calls (s3:GetObject 2, secretsmanager:DescribeSecret 1, ssm:GetParameter 3)"),
        "{err}"
    );
    assert!(
        err.contains("/app/db-password is a SecureString (value not shown)"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t-do-not-print"), "{err}");
    assert!(!err.contains("test-secret-do-not-print"), "{err}");
}

#[test]
fn s3_state_honours_aws_endpoint_url_s3() {
    let empty = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::world_only(&testdata("remote/world.yml"), empty.path());
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "region: us-east-1\ncluster: c\ntask_definition: td.json\nplugins:\n  - name: tfstate\n    config:\n      url: s3://tf-states/network/terraform.tfstate\n",
    );
    std::fs::write(
        dir.path().join("td.json"),
        "{\"family\": \"f\", \"containerDefinitions\": [{\"name\": \"a\", \"image\": \"{{ tfstate `output.vpc_id` }}\"}]}",
    )
    .unwrap();
    // Every other AWS call would go to a closed port; S3 goes to the sandbox.
    let out = run(ecsx()
        .env("AWS_ENDPOINT_URL_S3", &sandbox.url)
        .args(["--endpoint-url", "http://127.0.0.1:9"])
        .arg("--config")
        .arg(&config)
        .args(["render", "taskdef"]));
    assert_code(&out, 0);
    assert_eq!(
        documents(&stdout(&out))[0]["containerDefinitions"][0]["image"],
        "vpc-0123abcd"
    );
    // A key the bucket lacks: S3's error, with the state's URL.
    std::fs::write(
        &config,
        "region: us-east-1\ncluster: c\ntask_definition: td.json\nplugins:\n  - name: tfstate\n    config:\n      url: s3://tf-states/nope.tfstate\n",
    )
    .unwrap();
    let out = run(ecsx()
        .env("AWS_ENDPOINT_URL_S3", &sandbox.url)
        .arg("--config")
        .arg(&config)
        .args(["render", "taskdef"]));
    assert_one_line_error(&out, 3, &["s3://tf-states/nope.tfstate", "NoSuchKey"]);
}

#[test]
fn render_time_lookup_errors_name_file_and_line() {
    let empty = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::world_only(&testdata("remote/world.yml"), empty.path());
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "region: us-east-1\ncluster: c\ntask_definition: td.json\n",
    );
    std::fs::write(
        dir.path().join("td.json"),
        "{\"family\": \"f\",\n \"containerDefinitions\": [{\"name\": \"a\", \"image\": \"{{ ssm `/app/missing` }}\"}]}",
    )
    .unwrap();
    let out = run(sandbox.ecsx(&config).args(["render", "taskdef"]));
    assert_one_line_error(&out, 3, &["td.json:2", "/app/missing", "ParameterNotFound"]);
    // Another backend than local files and S3 keeps a clear error.
    std::fs::write(
        &config,
        "cluster: c\ntask_definition: td.json\nplugins:\n  - name: tfstate\n    config: {url: 'gs://bucket/state'}\n",
    )
    .unwrap();
    let out = run(ecsx()
        .arg("--config")
        .arg(&config)
        .args(["render", "taskdef"]));
    assert_one_line_error(
        &out,
        3,
        &[
            "gs://bucket/state",
            "s3://BUCKET/KEY",
            "terraform state pull",
        ],
    );
}

#[test]
fn template_errors_in_jsonnet_output_say_where_they_are() {
    let out = run(jsonnet_cmd().env_remove("SERVICE").args([
        "--ext-code",
        "TIMEOUT_MINUTES=5",
        "render",
        "config",
    ]));
    assert_one_line_error(
        &out,
        3,
        &[
            "ecspresso.jsonnet (as evaluated by Jsonnet):",
            "SERVICE is not set",
        ],
    );
}

#[test]
fn the_sandbox_never_looks_up_aws_for_a_config() {
    // Deriving a world renders the definitions: ssm must not reach AWS.
    for args in [
        &["--sandbox", "render", "taskdef"][..],
        &["sandbox", "serve", "--addr", "127.0.0.1:0"][..],
    ] {
        let out = run(ecsx()
            .arg("--config")
            .arg(testdata("remote/ecspresso.yml"))
            .args(args));
        assert_one_line_error(
            &out,
            3,
            &["AWS lookups at render time are off for the sandbox"],
        );
    }
}

#[test]
fn render_config_shows_filter_command_as_ecspresso_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ecspresso.yml");
    std::fs::write(
        &config,
        "cluster: c\nservice: s\ntask_definition: td.json\nfilter_command: fzf\n",
    )
    .unwrap();
    let out = run(ecsx()
        .arg("--config")
        .arg(&config)
        .args(["render", "config"]));
    assert_code(&out, 0);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["filter_command"], "fzf");
}
