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
