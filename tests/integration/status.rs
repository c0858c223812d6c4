//! `ecsx status` against the sandbox.

use crate::common::*;

#[test]
fn text_shows_service_counts_deployments_and_events() {
    let cfg = testdata("app/ecspresso.yml");
    let sb = Sandbox::start(&cfg, None);
    let out = run(sb.ecsx(&cfg).arg("status"));
    assert_code(&out, 0);
    let text = stdout(&out);
    for fragment in [
        "Service: web",
        "Cluster: app-cluster",
        "TaskDefinition: web:1",
        "Exec: enabled",
        "Tasks: desired 2, running 2, pending 0",
        "Deployments:",
        "PRIMARY",
        "Events:",
    ] {
        assert!(text.contains(fragment), "lacks {fragment:?}:\n{text}");
    }
}

#[test]
fn json_has_deployments_and_events_oldest_first() {
    let cfg = testdata("app/ecspresso.yml");
    let sb = Sandbox::start(&cfg, None);
    let out = run(sb
        .ecsx(&cfg)
        .args(["status", "-o", "json", "--events", "5"]));
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["service"], "web");
    assert_eq!(v["runningCount"], 2);
    assert_eq!(v["enableExecuteCommand"], true);
    assert_eq!(v["deployments"][0]["status"], "PRIMARY");
    let events = v["events"].as_array().unwrap();
    assert!(!events.is_empty() && events.len() <= 5);
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["createdAt"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
}

#[test]
fn status_without_a_service_says_how_to_fix() {
    let cfg = testdata("family/ecspresso.yml");
    let out = run(ecsx().arg("--config").arg(&cfg).arg("status"));
    assert_one_line_error(&out, 3, &["ecspresso.yml", "service:"]);
}
