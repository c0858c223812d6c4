//! What verify reads of a task definition, from the rendered JSON or from
//! DescribeTaskDefinition, and the rows that need nothing else (13, 14, 15,
//! 17).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{CheckResult, Group};

/// Variables that override the task role's credentials (row 15).
pub const CREDENTIAL_VARIABLES: [&str; 3] = [
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
];

/// A task definition, as far as verify needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDef {
    /// `family:revision`, or `family (rendered)`.
    pub label: String,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    pub pid_mode: Option<String>,
    pub containers: Vec<ContainerDef>,
}

/// A container definition, as far as verify needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerDef {
    pub name: String,
    pub image: String,
    pub readonly_root_filesystem: Option<bool>,
    pub init_process_enabled: Option<bool>,
    /// Names in `environment`.
    pub environment: Vec<String>,
    /// `(name, valueFrom)` of `secrets`.
    pub secrets: Vec<(String, String)>,
    pub log_driver: Option<String>,
    pub log_options: BTreeMap<String, String>,
    /// `containerPort`s of `portMappings`.
    pub ports: Vec<i32>,
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl TaskDef {
    /// From the rendered (camelCased) JSON.
    pub fn from_json(td: &Value) -> TaskDef {
        let family = s(td, "family").unwrap_or_default();
        let label = match td.get("revision").and_then(Value::as_i64) {
            Some(rev) => format!("{family}:{rev}"),
            None => format!("{family} (rendered)"),
        };
        let containers = td
            .get("containerDefinitions")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|c| ContainerDef {
                        name: s(c, "name").unwrap_or_default(),
                        image: s(c, "image").unwrap_or_default(),
                        readonly_root_filesystem: c
                            .get("readonlyRootFilesystem")
                            .and_then(Value::as_bool),
                        init_process_enabled: c
                            .get("linuxParameters")
                            .and_then(|l| l.get("initProcessEnabled"))
                            .and_then(Value::as_bool),
                        environment: c
                            .get("environment")
                            .and_then(Value::as_array)
                            .map(|e| e.iter().filter_map(|kv| s(kv, "name")).collect())
                            .unwrap_or_default(),
                        secrets: c
                            .get("secrets")
                            .and_then(Value::as_array)
                            .map(|e| {
                                e.iter()
                                    .map(|kv| {
                                        (
                                            s(kv, "name").unwrap_or_default(),
                                            s(kv, "valueFrom").unwrap_or_default(),
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        log_driver: c.get("logConfiguration").and_then(|l| s(l, "logDriver")),
                        log_options: c
                            .get("logConfiguration")
                            .and_then(|l| l.get("options"))
                            .and_then(Value::as_object)
                            .map(|o| {
                                o.iter()
                                    .filter_map(|(k, v)| {
                                        v.as_str().map(|v| (k.clone(), v.to_string()))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        ports: c
                            .get("portMappings")
                            .and_then(Value::as_array)
                            .map(|p| {
                                p.iter()
                                    .filter_map(|m| m.get("containerPort").and_then(Value::as_i64))
                                    .map(|p| p as i32)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        TaskDef {
            label,
            task_role_arn: s(td, "taskRoleArn").filter(|r| !r.is_empty()),
            execution_role_arn: s(td, "executionRoleArn").filter(|r| !r.is_empty()),
            pid_mode: s(td, "pidMode"),
            containers,
        }
    }

    /// From DescribeTaskDefinition.
    pub fn from_sdk(td: &aws_sdk_ecs::types::TaskDefinition) -> TaskDef {
        let label = format!("{}:{}", td.family().unwrap_or(""), td.revision);
        let containers = td
            .container_definitions()
            .iter()
            .map(|c| ContainerDef {
                name: c.name().unwrap_or("").to_string(),
                image: c.image().unwrap_or("").to_string(),
                readonly_root_filesystem: c.readonly_root_filesystem,
                init_process_enabled: c.linux_parameters().and_then(|l| l.init_process_enabled),
                environment: c
                    .environment()
                    .iter()
                    .filter_map(|kv| kv.name().map(str::to_owned))
                    .collect(),
                secrets: c
                    .secrets()
                    .iter()
                    .map(|s| (s.name().to_string(), s.value_from().to_string()))
                    .collect(),
                log_driver: c
                    .log_configuration()
                    .map(|l| l.log_driver().as_str().to_string()),
                log_options: c
                    .log_configuration()
                    .and_then(|l| l.options())
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                ports: c
                    .port_mappings()
                    .iter()
                    .filter_map(|p| p.container_port)
                    .collect(),
            })
            .collect();
        TaskDef {
            label,
            task_role_arn: td
                .task_role_arn()
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            execution_role_arn: td
                .execution_role_arn()
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            pid_mode: td.pid_mode().map(|p| p.as_str().to_string()),
            containers,
        }
    }

    /// The containers, narrowed to `only` when given.
    pub fn containers<'a>(
        &'a self,
        only: Option<&'a str>,
    ) -> impl Iterator<Item = &'a ContainerDef> {
        self.containers
            .iter()
            .filter(move |c| only.is_none_or(|n| n == c.name))
    }
}

/// Rows 13, 14, 15 (per container) and 17 of one task definition.
pub fn rows(td: &TaskDef, only_container: Option<&str>) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for c in td.containers(only_container) {
        out.push(readonly_root(td, c));
        out.push(init_process(td, c));
        out.push(credentials(td, c));
    }
    out.push(pid_mode(td));
    out
}

fn base(id: &'static str, row: u8, td: &TaskDef, c: &ContainerDef) -> CheckResult {
    CheckResult::new(id, Group::TaskDefinition, &td.label)
        .row(row)
        .container(&c.name)
}

/// Row 13: the agent writes to the container's filesystem.
pub fn readonly_root(td: &TaskDef, c: &ContainerDef) -> CheckResult {
    let check = base("exec.container.readonly_root_filesystem", 13, td, c);
    if c.readonly_root_filesystem == Some(true) {
        check.ng(
            format!("container {} has readonlyRootFilesystem: true; the exec agent cannot write its files", c.name),
            format!(
                "in the task definition, set \"readonlyRootFilesystem\": false for container {} (or remove it), then deploy",
                c.name
            ),
        )
    } else {
        check.ok("root filesystem is writable")
    }
}

/// Row 14: without an init process, exec sessions leave zombies.
pub fn init_process(td: &TaskDef, c: &ContainerDef) -> CheckResult {
    let check = base("exec.container.init_process_enabled", 14, td, c);
    if c.init_process_enabled == Some(true) {
        check.ok("initProcessEnabled is true")
    } else {
        check.warn(
            format!(
                "container {} has no init process; processes left by exec sessions become zombies",
                c.name
            ),
            format!(
                "in the task definition, set \"linuxParameters\": {{\"initProcessEnabled\": true}} for container {}",
                c.name
            ),
        )
    }
}

/// Row 15: static credentials override the task role.
pub fn credentials(td: &TaskDef, c: &ContainerDef) -> CheckResult {
    let check = base("exec.container.credential_variables", 15, td, c);
    let mut found: Vec<String> = Vec::new();
    for name in &c.environment {
        if CREDENTIAL_VARIABLES.contains(&name.as_str()) {
            found.push(format!("{name} (environment)"));
        }
    }
    for (name, _) in &c.secrets {
        if CREDENTIAL_VARIABLES.contains(&name.as_str()) {
            found.push(format!("{name} (secrets)"));
        }
    }
    if found.is_empty() {
        check.ok("no AWS credential variables")
    } else {
        check.warn(
            format!(
                "container {} sets {}; they override the task role and exec fails with TargetNotConnectedException",
                c.name,
                found.join(", ")
            ),
            format!(
                "remove {} from container {}'s environment/secrets and give the task role the permissions instead",
                found
                    .iter()
                    .map(|f| f.split(' ').next().unwrap_or(f))
                    .collect::<Vec<_>>()
                    .join(", "),
                c.name
            ),
        )
    }
}

/// Row 17: `pidMode: task`.
pub fn pid_mode(td: &TaskDef) -> CheckResult {
    let check = CheckResult::new(
        "exec.task_definition.pid_mode",
        Group::TaskDefinition,
        &td.label,
    )
    .row(17);
    match td.pid_mode.as_deref() {
        Some("task") => check.warn(
            "pidMode is task: every container sees the others' processes, exec sessions included, and the agent's processes are shared",
            "remove \"pidMode\": \"task\" from the task definition unless the containers must share a process namespace",
        ),
        Some(mode) => check.ok(format!("pidMode is {mode}")),
        None => check.ok("pidMode is not set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Status;
    use serde_json::json;

    #[test]
    fn rows_of_a_rendered_definition() {
        let td = TaskDef::from_json(&json!({
            "family": "web",
            "pidMode": "task",
            "containerDefinitions": [
                {"name": "app", "readonlyRootFilesystem": true,
                 "environment": [{"name": "AWS_ACCESS_KEY_ID", "value": "x"}],
                 "linuxParameters": {"initProcessEnabled": true}},
                {"name": "side", "secrets": [{"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": "arn"}]}
            ]
        }));
        assert_eq!(td.label, "web (rendered)");
        let r = rows(&td, None);
        let status: Vec<(&str, Option<&str>, Status)> = r
            .iter()
            .map(|c| (c.id, c.container.as_deref(), c.status))
            .collect();
        assert_eq!(
            status,
            vec![
                (
                    "exec.container.readonly_root_filesystem",
                    Some("app"),
                    Status::Ng
                ),
                (
                    "exec.container.init_process_enabled",
                    Some("app"),
                    Status::Ok
                ),
                (
                    "exec.container.credential_variables",
                    Some("app"),
                    Status::Warn
                ),
                (
                    "exec.container.readonly_root_filesystem",
                    Some("side"),
                    Status::Ok
                ),
                (
                    "exec.container.init_process_enabled",
                    Some("side"),
                    Status::Warn
                ),
                (
                    "exec.container.credential_variables",
                    Some("side"),
                    Status::Warn
                ),
                ("exec.task_definition.pid_mode", None, Status::Warn),
            ]
        );
        assert!(r[5].message.contains("AWS_SECRET_ACCESS_KEY (secrets)"));
        assert_eq!(rows(&td, Some("side")).len(), 4);
    }
}
