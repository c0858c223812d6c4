//! Tests of the world (derive, world files, knobs), the ECS and STS handlers,
//! and the HTTP framing, without the SDK (see tests/sandbox_awscli.rs for it).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::wire::ApiError;
use super::world::{AgentStatus, LaunchType, TaskStatus};
use super::*;

fn web_input() -> DeriveInput {
    DeriveInput {
        region: "ap-northeast-1".into(),
        cluster: "app-cluster".into(),
        service: Some("web".into()),
        task_definition: json!({
            "family": "web",
            "cpu": "256",
            "memory": "512",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "taskRoleArn": "arn:aws:iam::123456789012:role/web-task",
            "containerDefinitions": [
                {"name": "app", "image": "web:latest", "essential": true},
                {"name": "sidecar", "image": "nginx:1.27", "essential": false}
            ],
            "tags": [{"key": "team", "value": "platform"}]
        }),
        service_definition: Some(json!({
            "desiredCount": 3,
            "launchType": "FARGATE",
            "healthCheckGracePeriodSeconds": 30,
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": ["subnet-0aaa", "subnet-0bbb"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"
            }}
        })),
    }
}

fn web() -> World {
    World::derive(&web_input())
}

fn overlay(base: World, yaml: &str) -> World {
    World::from_yaml_str(yaml, Path::new("world.yml"), Some(base)).unwrap_or_else(|e| panic!("{e}"))
}

fn ecs(world: &World, op: &str, input: Value) -> Result<Value, ApiError> {
    ecs::handle(world, op, input.to_string().as_bytes())
}

fn ok(world: &World, op: &str, input: Value) -> Value {
    ecs(world, op, input).unwrap_or_else(|e| panic!("{op}: {e:?}"))
}

fn err_code(world: &World, op: &str, input: Value) -> String {
    ecs(world, op, input).expect_err("an error").code
}

// ---- world: derive ----

#[test]
fn derive_builds_cluster_definition_service_and_running_tasks() {
    let w = web();
    assert_eq!(w.region, "ap-northeast-1");
    assert_eq!(w.clusters.len(), 1);
    assert_eq!(w.clusters[0].name, "app-cluster");
    assert_eq!(w.clusters[0].status, "ACTIVE");
    assert_eq!(w.task_definitions[0].key(), "web:1");
    assert_eq!(w.task_definitions[0].tags[0].key, "team");
    let s = &w.services[0];
    assert_eq!(
        (s.name.as_str(), s.desired_count, s.enable_execute_command),
        ("web", 3, true)
    );
    assert_eq!(s.task_definition, "web:1");
    assert_eq!(
        w.tasks.len(),
        2,
        "task_count defaults to 2, whatever desiredCount says"
    );
    for t in &w.tasks {
        assert_eq!(t.id.len(), 32);
        assert!(t.id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(t.group, "service:web");
        assert_eq!(t.last_status, TaskStatus::Running);
        assert!(t.enable_execute_command);
        assert_eq!(t.launch_type, LaunchType::Fargate);
        assert_eq!(t.started_by.as_deref(), Some(s.deployments[0].id.as_str()));
        assert_eq!(t.containers.len(), 2);
        for c in &t.containers {
            assert_eq!(
                c.exec_agent.as_ref().unwrap().last_status,
                AgentStatus::Running
            );
        }
        assert!(t
            .network
            .as_ref()
            .unwrap()
            .subnet_id
            .starts_with("subnet-0"));
    }
    assert_ne!(w.tasks[0].id, w.tasks[1].id);
    // Deterministic: the same config gives the same ids.
    assert_eq!(web().tasks[0].id, w.tasks[0].id);
}

#[test]
fn derive_defaults_desired_count_to_two() {
    let mut input = web_input();
    input.service_definition = None;
    input.cluster = "arn:aws:ecs:ap-northeast-1:123456789012:cluster/by-arn".into();
    let w = World::derive(&input);
    assert_eq!(w.services[0].desired_count, 2);
    assert_eq!(w.clusters[0].name, "by-arn");
}

#[test]
fn derive_without_service_makes_standalone_tasks_of_the_family() {
    let mut input = web_input();
    input.service = None;
    input.service_definition = None;
    let w = World::derive(&input);
    assert!(w.services.is_empty());
    assert_eq!(w.tasks.len(), 2);
    assert!(w
        .tasks
        .iter()
        .all(|t| t.group == "family:web" && t.started_by.is_none()));
    let listed = ok(
        &w,
        "ListTasks",
        json!({"cluster": "app-cluster", "family": "web"}),
    );
    assert_eq!(listed["taskArns"].as_array().unwrap().len(), 2);
}

// ---- world files ----

#[test]
fn syntax_error_names_line_and_column() {
    let text = "task_count: 3\nclusters:\n  - name: app\n  status: [ACTIVE\n";
    let err = World::from_yaml_str(text, Path::new("w.yml"), None).unwrap_err();
    let WorldError::Syntax { line, column, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((*line, *column), (4, 3), "{err}");
    assert!(err.to_string().starts_with("w.yml:4:3: "), "{err}");
}

#[test]
fn unknown_key_is_an_error_at_its_position() {
    let err = World::from_yaml_str(
        "task_count: 3\nthrotle_rate: 0.5\n",
        Path::new("w.yml"),
        None,
    )
    .unwrap_err();
    let WorldError::Syntax {
        line,
        column,
        message,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*line, *column), (2, 1), "{err}");
    assert!(message.contains("throtle_rate"), "{message}");
}

#[test]
fn bad_knob_values_are_errors_with_position() {
    for (text, line, needle) in [
        ("latency: fast\n", 1, "latency: `fast` is not a duration"),
        (
            "clusters:\n  - name: a\n    status: BOGUS\n",
            3,
            "clusters[0].status: unknown value `BOGUS`",
        ),
        ("account: 42\n", 1, "12 digits"),
        (
            "\nthrottle_rate: 1.5\n",
            2,
            "not a fraction from 0.0 to 1.0",
        ),
        ("task_count: -1\n", 1, "task_count"),
        ("tasks:\n  - last_status: SLEEPING\n", 2, "SLEEPING"),
    ] {
        let err = World::from_yaml_str(text, Path::new("w.yml"), Some(web())).unwrap_err();
        let WorldError::Syntax {
            line: l, message, ..
        } = &err
        else {
            panic!("{text}: {err:?}")
        };
        assert_eq!(*l, line, "{text}: {err}");
        assert!(err.to_string().contains(needle), "{text}: {message}");
    }
}

#[test]
fn missing_file_is_a_read_error() {
    let err = World::from_yaml_file(Path::new("/nonexistent/world.yml"), None).unwrap_err();
    assert!(matches!(err, WorldError::Read { .. }), "{err:?}");
}

#[test]
fn knobs_apply_on_a_derived_world() {
    let w = overlay(
        web(),
        "account: '210987654321'\nregion: eu-west-1\ncaller: arn:aws:sts::210987654321:assumed-role/Dev/alice\n\
         latency: 20ms\nthrottle_rate: 0.25\ntask_count: 7\n",
    );
    assert_eq!(w.account, "210987654321");
    assert_eq!(w.region, "eu-west-1");
    assert_eq!(w.latency, Duration::from_millis(20));
    assert_eq!(w.throttle_rate, 0.25);
    assert_eq!(w.tasks.len(), 7);
    assert!(w
        .task_arn("c", "x")
        .starts_with("arn:aws:ecs:eu-west-1:210987654321:task/"));
    assert_eq!(
        w.caller_arn(),
        "arn:aws:sts::210987654321:assumed-role/Dev/alice"
    );
}

#[test]
fn an_empty_world_file_changes_nothing() {
    let w = overlay(web(), "# nothing\n");
    assert_eq!(w.tasks.len(), 2);
}

#[test]
fn five_thousand_tasks_are_quick_to_make_and_list() {
    let started = Instant::now();
    let w = overlay(web(), "task_count: 5000\n");
    assert_eq!(w.tasks.len(), 5000);
    let mut token: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        let mut input = json!({"cluster": "app-cluster", "serviceName": "web", "maxResults": 100});
        if let Some(t) = &token {
            input["nextToken"] = json!(t);
        }
        let page = ok(&w, "ListTasks", input);
        for arn in page["taskArns"].as_array().unwrap() {
            assert!(seen.insert(arn.as_str().unwrap().to_string()));
        }
        match page.get("nextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5000);
    let ids: Vec<Value> = seen.iter().take(100).map(|a| json!(a)).collect();
    let described = ok(
        &w,
        "DescribeTasks",
        json!({"cluster": "app-cluster", "tasks": ids}),
    );
    assert_eq!(described["tasks"].as_array().unwrap().len(), 100);
    // Generous for a debug build on a shared 2-core machine.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn complete_world_file_needs_no_base() {
    let text = r#"
account: "111122223333"
region: us-west-2
clusters:
  - name: prod
    execute_command_configuration:
      kms_key_id: arn:aws:kms:us-west-2:111122223333:key/abcd
      logging: OVERRIDE
      log_configuration:
        cloud_watch_log_group_name: /ecs/exec
        cloud_watch_encryption_enabled: true
task_definitions:
  - family: api
    requiresCompatibilities: [FARGATE]
    networkMode: awsvpc
    cpu: "512"
    memory: "1024"
    containerDefinitions:
      - {name: api, image: "api:2"}
  - family: api
    containerDefinitions:
      - {name: api, image: "api:3"}
services:
  - name: api
    task_definition: api:1
    desired_count: 1
    task_count: 1
tasks:
  - id: 0123456789abcdef0123456789abcdef
    service: api
    last_status: STOPPED
    stopped_reason: "Essential container in task exited"
"#;
    let w = World::from_yaml_str(text, Path::new("w.yml"), None).unwrap();
    assert_eq!(w.clusters[0].name, "prod");
    assert_eq!(
        w.task_definitions[1].key(),
        "api:2",
        "revisions count up per family"
    );
    assert_eq!(w.tasks.len(), 2);
    let stopped = &w.tasks[1];
    assert_eq!(stopped.id, "0123456789abcdef0123456789abcdef");
    assert_eq!(stopped.desired_status, TaskStatus::Stopped);
    assert!(stopped.stopped_at.is_some());
    assert_eq!(stopped.group, "service:api");
    // The running one is listed by default, the stopped one with desiredStatus STOPPED.
    let running = ok(&w, "ListTasks", json!({"cluster": "prod"}));
    assert_eq!(running["taskArns"].as_array().unwrap().len(), 1);
    let stopped = ok(
        &w,
        "ListTasks",
        json!({"cluster": "prod", "desiredStatus": "STOPPED"}),
    );
    assert_eq!(
        stopped["taskArns"][0],
        "arn:aws:ecs:us-west-2:111122223333:task/prod/0123456789abcdef0123456789abcdef"
    );
    let td = ok(
        &w,
        "DescribeTaskDefinition",
        json!({"taskDefinition": "api"}),
    );
    assert_eq!(
        td["taskDefinition"]["revision"], 2,
        "a bare family is its latest revision"
    );
}

#[test]
fn overlay_adds_broken_tasks_for_exec_checks() {
    let w = overlay(
        web(),
        r#"
task_count: 0
tasks:
  - id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    service: web
    enable_execute_command: false
  - id: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
    service: web
    containers:
      - name: app
        agent: PENDING
      - name: sidecar
        agent: STOPPED
        agent_reason: "agent exited"
  - id: cccccccccccccccccccccccccccccccc
    service: web
    last_status: PENDING
  - id: dddddddddddddddddddddddddddddddd
    service: web
    last_status: STOPPED
    stop_code: TaskFailedToStart
    stopped_reason: "CannotPullContainerError: pull image manifest has been retried"
"#,
    );
    assert_eq!(w.tasks.len(), 4);
    let d = ok(
        &w,
        "DescribeTasks",
        json!({"cluster": "app-cluster", "tasks": ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            "cccccccccccccccccccccccccccccccc", "dddddddddddddddddddddddddddddddd"]}),
    );
    let tasks = d["tasks"].as_array().unwrap();
    assert_eq!(tasks[0]["enableExecuteCommand"], false);
    assert!(tasks[0]["containers"][0].get("managedAgents").is_none());
    let agents = |t: &Value, i: usize| t["containers"][i]["managedAgents"][0].clone();
    assert_eq!(agents(&tasks[1], 0)["lastStatus"], "PENDING");
    assert_eq!(agents(&tasks[1], 1)["lastStatus"], "STOPPED");
    assert_eq!(agents(&tasks[1], 1)["reason"], "agent exited");
    assert_eq!(tasks[2]["lastStatus"], "PENDING");
    assert_eq!(tasks[2]["desiredStatus"], "RUNNING");
    assert!(tasks[2].get("startedAt").is_none());
    assert_eq!(agents(&tasks[2], 0)["lastStatus"], "PENDING");
    assert_eq!(tasks[3]["lastStatus"], "STOPPED");
    assert_eq!(tasks[3]["stopCode"], "TaskFailedToStart");
    assert!(tasks[3]["stoppedReason"]
        .as_str()
        .unwrap()
        .starts_with("CannotPull"));
    assert!(tasks[3].get("stoppedAt").is_some() && tasks[3].get("stoppingAt").is_some());
    // The service counts what runs.
    let s = ok(
        &w,
        "DescribeServices",
        json!({"cluster": "app-cluster", "services": ["web"]}),
    );
    assert_eq!(s["services"][0]["runningCount"], 2);
    assert_eq!(s["services"][0]["pendingCount"], 1);
}

#[test]
fn overlay_patches_entities_by_name() {
    let w = overlay(
        web(),
        r#"
services:
  - name: web
    enable_execute_command: false
    events:
      - message: "(service web) was unable to place a task."
clusters:
  - name: app-cluster
    execute_command_configuration:
      logging: NONE
"#,
    );
    assert!(!w.services[0].enable_execute_command);
    assert!(
        w.tasks.iter().all(|t| !t.enable_execute_command),
        "generated tasks follow the service"
    );
    assert_eq!(w.services[0].events.len(), 1);
    let c = ok(
        &w,
        "DescribeClusters",
        json!({"clusters": ["app-cluster"], "include": ["CONFIGURATIONS"]}),
    );
    assert_eq!(
        c["clusters"][0]["configuration"]["executeCommandConfiguration"]["logging"],
        "NONE"
    );
}

#[test]
fn dangling_references_are_invalid() {
    for text in [
        "services:\n  - name: x\n    cluster: nowhere\n",
        "services:\n  - name: x\n    task_definition: nope:9\n",
        "tasks:\n  - service: nope\n",
        "tasks:\n  - service: web\n    enable_execute_command: false\n    containers: [{name: app, agent: RUNNING}]\n",
        "task_definitions:\n  - cpu: '256'\n",
    ] {
        let err = World::from_yaml_str(text, Path::new("w.yml"), Some(web())).unwrap_err();
        assert!(matches!(err, WorldError::Invalid { .. }), "{text}: {err:?}");
    }
}

#[test]
fn world_files_in_testdata_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/worlds");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            World::from_yaml_file(&path, Some(web())).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
    }
    assert!(count >= 2);
}

#[test]
fn the_example_in_docs_loads() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sandbox.md"))
            .unwrap();
    let mut blocks = 0;
    for block in doc.split("```yaml\n").skip(1) {
        let text = block.split("```").next().unwrap();
        World::from_yaml_str(text, Path::new("docs/sandbox.md"), Some(web()))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        blocks += 1;
    }
    assert!(blocks >= 1);
}

// ---- ECS handlers ----

#[test]
fn list_tasks_pages_with_opaque_tokens() {
    let w = overlay(web(), "task_count: 250\n");
    let first = ok(&w, "ListTasks", json!({"cluster": "app-cluster"}));
    assert_eq!(first["taskArns"].as_array().unwrap().len(), 100);
    let token = first["nextToken"].as_str().unwrap();
    let second = ok(
        &w,
        "ListTasks",
        json!({"cluster": "app-cluster", "nextToken": token}),
    );
    let third = ok(
        &w,
        "ListTasks",
        json!({"cluster": "app-cluster", "nextToken": second["nextToken"], "maxResults": 100}),
    );
    assert_eq!(third["taskArns"].as_array().unwrap().len(), 50);
    assert!(third.get("nextToken").is_none());
    // Stable order: the same call gives the same page.
    assert_eq!(
        ok(&w, "ListTasks", json!({"cluster": "app-cluster"})),
        first
    );
    // A token belongs to its listing.
    let other = ecs(
        &w,
        "ListTasks",
        json!({"cluster": "app-cluster", "desiredStatus": "STOPPED", "nextToken": token}),
    );
    assert_eq!(other.unwrap_err().code, "InvalidParameterException");
}

#[test]
fn list_tasks_rejects_bad_parameters() {
    let w = web();
    for input in [
        json!({"cluster": "app-cluster", "maxResults": 0}),
        json!({"cluster": "app-cluster", "maxResults": 101}),
        json!({"cluster": "app-cluster", "nextToken": "garbage!!"}),
        json!({"cluster": "app-cluster", "nextToken": "Z2FyYmFnZQ=="}),
        json!({"cluster": "app-cluster", "desiredStatus": "SLEEPING"}),
        json!({"cluster": "app-cluster", "startedBy": "me", "family": "web"}),
    ] {
        assert_eq!(
            err_code(&w, "ListTasks", input.clone()),
            "InvalidParameterException",
            "{input}"
        );
    }
    assert_eq!(
        err_code(&w, "ListTasks", json!({})),
        "ClusterNotFoundException",
        "default cluster"
    );
    assert_eq!(
        err_code(&w, "ListTasks", json!({"cluster": "nope"})),
        "ClusterNotFoundException"
    );
    assert_eq!(
        err_code(
            &w,
            "ListTasks",
            json!({"cluster": "app-cluster", "serviceName": "nope"})
        ),
        "ServiceNotFoundException"
    );
    assert_eq!(
        err_code(&w, "ListTasks", json!({"cluster": 5})),
        "SerializationException"
    );
}

#[test]
fn list_tasks_filters() {
    let w = web();
    let arn = "arn:aws:ecs:ap-northeast-1:123456789012:cluster/app-cluster";
    let by_arn = ok(
        &w,
        "ListTasks",
        json!({"cluster": arn, "serviceName": "web", "launchType": "FARGATE"}),
    );
    assert_eq!(by_arn["taskArns"].as_array().unwrap().len(), 2);
    let deployment = w.services[0].deployments[0].id.clone();
    let started = ok(
        &w,
        "ListTasks",
        json!({"cluster": "app-cluster", "startedBy": deployment}),
    );
    assert_eq!(started["taskArns"].as_array().unwrap().len(), 2);
    let none = ok(
        &w,
        "ListTasks",
        json!({"cluster": "app-cluster", "family": "other"}),
    );
    assert!(none["taskArns"].as_array().unwrap().is_empty());
    let ec2 = ok(
        &w,
        "ListTasks",
        json!({"cluster": "app-cluster", "launchType": "EC2"}),
    );
    assert!(ec2["taskArns"].as_array().unwrap().is_empty());
}

#[test]
fn describe_tasks_reports_real_fields_and_failures() {
    let w = web();
    let t = &w.tasks[0];
    let arn = w.task_arn(&t.cluster, &t.id);
    let d = ok(
        &w,
        "DescribeTasks",
        json!({"cluster": "app-cluster", "tasks": [arn, "ffffffffffffffffffffffffffffffff"], "include": ["TAGS"]}),
    );
    let task = &d["tasks"][0];
    assert_eq!(task["taskArn"], arn);
    assert_eq!(
        task["clusterArn"],
        "arn:aws:ecs:ap-northeast-1:123456789012:cluster/app-cluster"
    );
    assert_eq!(
        task["taskDefinitionArn"],
        "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/web:1"
    );
    assert_eq!(task["group"], "service:web");
    assert_eq!(task["platformVersion"], "1.4.0");
    assert_eq!(task["platformFamily"], "Linux");
    assert_eq!(task["cpu"], "256");
    assert_eq!(task["connectivity"], "CONNECTED");
    assert!(task["startedBy"].as_str().unwrap().starts_with("ecs-svc/"));
    assert!(
        task["createdAt"].is_number()
            && task["startedAt"].is_number()
            && task["pullStartedAt"].is_number()
    );
    assert!(task["availabilityZone"]
        .as_str()
        .unwrap()
        .starts_with("ap-northeast-1"));
    assert_eq!(task["tags"], json!([]));
    assert_eq!(task["overrides"]["containerOverrides"][0]["name"], "app");
    let details = task["attachments"][0]["details"].as_array().unwrap();
    assert!(details.iter().any(|d| d["name"] == "privateIPv4Address"));
    assert!(details
        .iter()
        .any(|d| d["name"] == "subnetId" && d["value"] == "subnet-0aaa"));
    let c = &task["containers"][0];
    assert_eq!(c["taskArn"], arn);
    assert_eq!(c["name"], "app");
    let runtime = c["runtimeId"].as_str().unwrap();
    assert!(
        runtime.starts_with(&format!("{}-", t.id)) && runtime.len() == 43,
        "{runtime}"
    );
    assert_eq!(c["managedAgents"][0]["name"], "ExecuteCommandAgent");
    assert_eq!(c["managedAgents"][0]["lastStatus"], "RUNNING");
    assert!(c["containerArn"]
        .as_str()
        .unwrap()
        .contains(":container/app-cluster/"));
    assert_eq!(
        d["failures"],
        json!([{"arn": "arn:aws:ecs:ap-northeast-1:123456789012:task/app-cluster/ffffffffffffffffffffffffffffffff", "reason": "MISSING"}])
    );
    let no_tags = ok(
        &w,
        "DescribeTasks",
        json!({"cluster": "app-cluster", "tasks": [t.id]}),
    );
    assert!(no_tags["tasks"][0].get("tags").is_none());
}

#[test]
fn describe_tasks_limits() {
    let w = web();
    assert_eq!(
        err_code(
            &w,
            "DescribeTasks",
            json!({"cluster": "app-cluster", "tasks": []})
        ),
        "InvalidParameterException"
    );
    assert_eq!(
        err_code(&w, "DescribeTasks", json!({"cluster": "app-cluster"})),
        "InvalidParameterException"
    );
    let many: Vec<String> = (0..101).map(|i| format!("{i:032x}")).collect();
    assert_eq!(
        err_code(
            &w,
            "DescribeTasks",
            json!({"cluster": "app-cluster", "tasks": many})
        ),
        "InvalidParameterException"
    );
    assert_eq!(
        err_code(
            &w,
            "DescribeTasks",
            json!({"cluster": "nope", "tasks": ["x"]})
        ),
        "ClusterNotFoundException"
    );
}

#[test]
fn describe_services_counts_and_failures() {
    let w = web();
    let s = ok(
        &w,
        "DescribeServices",
        json!({"cluster": "app-cluster", "services": ["web", "ghost"]}),
    );
    let svc = &s["services"][0];
    assert_eq!(
        svc["serviceArn"],
        "arn:aws:ecs:ap-northeast-1:123456789012:service/app-cluster/web"
    );
    assert_eq!(svc["status"], "ACTIVE");
    assert_eq!(
        (
            svc["desiredCount"].clone(),
            svc["runningCount"].clone(),
            svc["pendingCount"].clone()
        ),
        (json!(3), json!(2), json!(0))
    );
    assert_eq!(svc["enableExecuteCommand"], true);
    assert_eq!(svc["launchType"], "FARGATE");
    assert_eq!(svc["platformVersion"], "LATEST");
    assert_eq!(
        svc["healthCheckGracePeriodSeconds"], 30,
        "service definition extras pass through"
    );
    assert_eq!(
        svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"][0],
        "subnet-0aaa"
    );
    let dep = &svc["deployments"][0];
    assert_eq!(dep["status"], "PRIMARY");
    assert_eq!(dep["rolloutState"], "COMPLETED");
    assert_eq!(dep["runningCount"], 2);
    assert_eq!(dep["taskDefinition"], svc["taskDefinition"]);
    let events = svc["events"].as_array().unwrap();
    let times: Vec<f64> = events
        .iter()
        .map(|e| e["createdAt"].as_f64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|p| p[0] >= p[1]),
        "newest first: {times:?}"
    );
    assert_eq!(s["failures"][0]["reason"], "MISSING");
    assert_eq!(
        s["failures"][0]["arn"],
        "arn:aws:ecs:ap-northeast-1:123456789012:service/app-cluster/ghost"
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("s{i}")).collect();
    assert_eq!(
        err_code(
            &w,
            "DescribeServices",
            json!({"cluster": "app-cluster", "services": eleven})
        ),
        "InvalidParameterException"
    );
    assert_eq!(
        err_code(
            &w,
            "DescribeServices",
            json!({"cluster": "app-cluster", "services": []})
        ),
        "InvalidParameterException"
    );
}

#[test]
fn describe_task_definition_by_family_revision_and_arn() {
    let w = web();
    for reference in [
        "web",
        "web:1",
        "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/web:1",
    ] {
        let d = ok(
            &w,
            "DescribeTaskDefinition",
            json!({"taskDefinition": reference}),
        );
        let td = &d["taskDefinition"];
        assert_eq!(
            td["taskDefinitionArn"],
            "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/web:1"
        );
        assert_eq!(
            (
                td["family"].clone(),
                td["revision"].clone(),
                td["status"].clone()
            ),
            (json!("web"), json!(1), json!("ACTIVE"))
        );
        assert!(td["registeredAt"].is_number());
        assert_eq!(td["taskRoleArn"], "arn:aws:iam::123456789012:role/web-task");
        assert_eq!(
            td["containerDefinitions"][1]["essential"], false,
            "given values stay"
        );
        assert_eq!(
            td["containerDefinitions"][0]["portMappings"],
            json!([]),
            "defaults filled"
        );
        assert!(td.get("tags").is_none());
        assert_eq!(d["tags"], json!([]));
    }
    let tagged = ok(
        &w,
        "DescribeTaskDefinition",
        json!({"taskDefinition": "web", "include": ["TAGS"]}),
    );
    assert_eq!(
        tagged["tags"],
        json!([{"key": "team", "value": "platform"}])
    );
    let e = ecs(
        &w,
        "DescribeTaskDefinition",
        json!({"taskDefinition": "web:2"}),
    )
    .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("ClientException", "Unable to describe task definition.")
    );
}

#[test]
fn describe_clusters_configuration_and_missing() {
    let w = overlay(
        web(),
        "clusters:\n  - name: app-cluster\n    execute_command_configuration:\n      kms_key_id: key-1\n      logging: OVERRIDE\n      log_configuration:\n        s3_bucket_name: exec-logs\n        s3_encryption_enabled: true\n",
    );
    let c = ok(
        &w,
        "DescribeClusters",
        json!({"clusters": ["app-cluster", "ghost"], "include": ["CONFIGURATIONS", "STATISTICS", "SETTINGS"]}),
    );
    let cluster = &c["clusters"][0];
    assert_eq!(cluster["clusterName"], "app-cluster");
    assert_eq!(cluster["status"], "ACTIVE");
    assert_eq!(cluster["runningTasksCount"], 2);
    assert_eq!(cluster["activeServicesCount"], 1);
    assert_eq!(cluster["registeredContainerInstancesCount"], 0);
    let exec = &cluster["configuration"]["executeCommandConfiguration"];
    assert_eq!(exec["kmsKeyId"], "key-1");
    assert_eq!(exec["logging"], "OVERRIDE");
    assert_eq!(exec["logConfiguration"]["s3BucketName"], "exec-logs");
    assert_eq!(exec["logConfiguration"]["s3EncryptionEnabled"], true);
    assert!(cluster["statistics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "runningFargateTasksCount" && s["value"] == "2"));
    assert_eq!(cluster["settings"][0]["name"], "containerInsights");
    assert_eq!(
        c["failures"],
        json!([{"arn": "arn:aws:ecs:ap-northeast-1:123456789012:cluster/ghost", "reason": "MISSING"}])
    );
    let plain = ok(&w, "DescribeClusters", json!({"clusters": ["app-cluster"]}));
    assert!(
        plain["clusters"][0].get("configuration").is_none(),
        "only with include CONFIGURATIONS"
    );
    let default = ok(&w, "DescribeClusters", json!({}));
    assert_eq!(
        default["failures"][0]["reason"], "MISSING",
        "the default cluster is not in this world"
    );
}

#[test]
fn unknown_operation() {
    let w = web();
    assert_eq!(
        err_code(&w, "RunTask", json!({})),
        "UnknownOperationException"
    );
}

#[test]
fn list_services_and_clusters() {
    let w = web();
    let s = ok(&w, "ListServices", json!({"cluster": "app-cluster"}));
    assert_eq!(
        s["serviceArns"],
        json!(["arn:aws:ecs:ap-northeast-1:123456789012:service/app-cluster/web"])
    );
    let c = ok(&w, "ListClusters", json!({}));
    assert_eq!(
        c["clusterArns"][0],
        "arn:aws:ecs:ap-northeast-1:123456789012:cluster/app-cluster"
    );
}

// ---- HTTP ----

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

/// One HTTP/1.1 POST over a fresh connection.
async fn post(addr: std::net::SocketAddr, headers: &[(&str, &str)], body: &str) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Reply {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

async fn start(
    world: World,
) -> (
    std::net::SocketAddr,
    Arc<Sandbox>,
    tokio::sync::oneshot::Sender<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sandbox = Sandbox::new(world);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = sandbox.clone();
    tokio::spawn(async move {
        serve(listener, served, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    (addr, sandbox, tx)
}

const ECS_JSON: (&str, &str) = ("Content-Type", "application/x-amz-json-1.1");

#[tokio::test]
async fn http_json_answers_and_errors() {
    let (addr, sandbox, _stop) = start(web()).await;
    let ok = post(
        addr,
        &[
            ECS_JSON,
            (
                "X-Amz-Target",
                "AmazonEC2ContainerServiceV20141113.ListTasks",
            ),
        ],
        r#"{"cluster":"app-cluster"}"#,
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(
        ok.headers
            .contains("content-type: application/x-amz-json-1.1"),
        "{}",
        ok.headers
    );
    assert!(ok.headers.contains("x-amzn-requestid: "), "{}", ok.headers);
    let v: Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(v["taskArns"].as_array().unwrap().len(), 2);

    let missing = post(
        addr,
        &[
            ECS_JSON,
            (
                "X-Amz-Target",
                "AmazonEC2ContainerServiceV20141113.ListTasks",
            ),
        ],
        r#"{"cluster":"nope"}"#,
    )
    .await;
    assert_eq!(missing.status, 400);
    assert!(missing
        .headers
        .contains("x-amzn-errortype: clusternotfoundexception"));
    assert_eq!(
        serde_json::from_str::<Value>(&missing.body).unwrap(),
        json!({"__type": "ClusterNotFoundException", "message": "Cluster not found."})
    );

    let unknown = post(
        addr,
        &[ECS_JSON, ("X-Amz-Target", "AmazonSSM.PutParameter")],
        "{}",
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.contains("UnknownOperationException"));
    let stats = sandbox.stats();
    assert_eq!(stats.calls, 3);
    assert_eq!(stats.by_operation.get("ecs:ListTasks"), Some(&2));
}

#[tokio::test]
async fn http_sts_speaks_query_xml() {
    let (addr, _sandbox, _stop) = start(web()).await;
    let form = (
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    let auth = (
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDSANDBOX/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00",
    );
    let r = post(
        addr,
        &[form, auth],
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.headers.contains("content-type: text/xml"));
    assert!(r.body.contains(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
    assert!(r
        .body
        .contains("<Arn>arn:aws:iam::123456789012:user/sandbox</Arn>"));
    assert!(r.body.contains("<Account>123456789012</Account>"));
    assert!(r.body.contains("<RequestId>"));
    assert!(
        !r.body.contains("AKIDSANDBOX"),
        "credentials are never echoed"
    );
    let bad = post(addr, &[form, auth], "Action=AssumeRole&Version=2011-06-15").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("<ErrorResponse"));
    assert!(bad.body.contains("<Type>Sender</Type>"));
    assert!(bad.body.contains("<Code>InvalidAction</Code>"));
    assert!(!bad.body.contains("AKIDSANDBOX"));
}

#[tokio::test]
async fn http_throttle_and_latency() {
    let (addr, sandbox, _stop) = start(overlay(web(), "throttle_rate: 1.0\nlatency: 50ms\n")).await;
    let started = Instant::now();
    let r = post(
        addr,
        &[
            ECS_JSON,
            (
                "X-Amz-Target",
                "AmazonEC2ContainerServiceV20141113.ListTasks",
            ),
        ],
        r#"{"cluster":"app-cluster"}"#,
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(r.status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({"__type": "ThrottlingException", "message": "Rate exceeded"})
    );
    let sts = post(addr, &[], "Action=GetCallerIdentity&Version=2011-06-15").await;
    assert!(sts.body.contains("<Code>Throttling</Code>"), "{}", sts.body);
    assert_eq!(sandbox.stats().throttled, 2);
    // A live change to the world takes effect at once.
    sandbox.update_world(|w| {
        w.throttle_rate = 0.0;
        w.latency = Duration::ZERO;
    });
    let r = post(addr, &[], "Action=GetCallerIdentity&Version=2011-06-15").await;
    assert_eq!(r.status, 200);
}

#[test]
fn throttle_rate_is_roughly_the_fraction() {
    let sandbox = Sandbox::new(World::empty());
    let hits = (0..10_000).filter(|_| sandbox.roll_throttle(0.3)).count();
    assert!((2_700..3_300).contains(&hits), "{hits}");
    assert!(!(0..1000).any(|_| sandbox.roll_throttle(0.0)));
    assert!((0..1000).all(|_| sandbox.roll_throttle(1.0)));
}

#[tokio::test]
async fn shutdown_future_stops_the_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, Sandbox::new(web()), async move {
        let _ = rx.await;
    }));
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

// ---- resources read by templates: parameter values, secret ARNs, S3 ----

#[test]
fn parameter_values_secret_arns_and_s3_objects_from_the_world_file() {
    let w = overlay(
        web(),
        "resources:\n  parameters:\n    - {name: /p/str, type: String, value: plain}\n    - {name: /p/sec, value: hidden}\n    - {name: /p/list, type: StringList, value: 'a,b'}\n  secrets:\n    - {name: app/db, arn: 'arn:aws:secretsmanager:us-east-1:1:secret:app/db-Zz9Yy8'}\n  s3_objects:\n    - {bucket: b, key: k/state.json, body: '{\"x\": 1}'}\n",
    );
    let get = |name: &str, decrypt: bool| {
        resources::handle_json(
            &w,
            "AmazonSSM",
            "GetParameter",
            json!({"Name": name, "WithDecryption": decrypt})
                .to_string()
                .as_bytes(),
        )
    };
    let p = get("/p/str", false).unwrap();
    assert_eq!(p["Parameter"]["Type"], "String");
    assert_eq!(p["Parameter"]["Value"], "plain");
    assert_eq!(get("/p/sec", true).unwrap()["Parameter"]["Value"], "hidden");
    let enc = get("/p/sec", false).unwrap();
    assert_eq!(enc["Parameter"]["Type"], "SecureString");
    assert!(!enc.to_string().contains("hidden"), "{enc}");
    assert_eq!(get("/p/list", false).unwrap()["Parameter"]["Value"], "a,b");
    assert_eq!(get("/p/none", true).unwrap_err().code, "ParameterNotFound");

    let secret = resources::handle_json(
        &w,
        resources::SECRETS_PREFIX,
        "DescribeSecret",
        br#"{"SecretId": "app/db"}"#,
    )
    .unwrap();
    assert_eq!(
        secret["ARN"],
        "arn:aws:secretsmanager:us-east-1:1:secret:app/db-Zz9Yy8"
    );
    let by_arn = resources::handle_json(
        &w,
        resources::SECRETS_PREFIX,
        "DescribeSecret",
        br#"{"SecretId": "arn:aws:secretsmanager:us-east-1:1:secret:app/db-Zz9Yy8"}"#,
    )
    .unwrap();
    assert_eq!(by_arn["Name"], "app/db");

    assert_eq!(
        w.resources
            .s3_objects
            .get(&("b".to_string(), "k/state.json".to_string())),
        Some(&b"{\"x\": 1}".to_vec())
    );
    let found = resources::get_object(&w, "/b/k%2Fstate.json", "rid");
    assert_eq!(found.status(), 200);
    assert_eq!(resources::get_object(&w, "/b/other", "rid").status(), 404);
    assert_eq!(
        resources::get_object(&w, "/nobucket/k", "rid").status(),
        404
    );
}

#[test]
fn bad_resource_entries_are_invalid() {
    for text in [
        "resources:\n  parameters:\n    - {name: /p, type: Number, value: '1'}\n",
        "resources:\n  secrets:\n    - {name: s, arn: 'not-an-arn'}\n",
        "resources:\n  s3_objects:\n    - {bucket: b, key: k}\n",
        "resources:\n  s3_objects:\n    - {bucket: b, key: k, body: x, file: y}\n",
        "resources:\n  s3_objects:\n    - {bucket: b, key: k, file: /nonexistent/state}\n",
    ] {
        let err = World::from_yaml_str(text, Path::new("w.yml"), Some(web())).unwrap_err();
        assert!(matches!(err, WorldError::Invalid { .. }), "{text}: {err:?}");
    }
}
