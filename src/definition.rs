//! Task and service definitions as users write them: bare RegisterTaskDefinition
//! JSON or wrapped `{"taskDefinition": ...}` as `aws ecs describe-task-definition`
//! prints it, with camelCase or PascalCase keys. Everything is normalised to
//! camelCase, keeping container order and the case of user-chosen keys.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Maps whose keys belong to the user (labels, driver options), not to ECS.
const USER_KEYED: [&str; 5] = ["dockerLabels", "options", "labels", "driverOpts", "tags"];

/// Fields ECS fills in and that RegisterTaskDefinition refuses.
const READ_ONLY_TASK_DEFINITION: [&str; 8] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
];

/// camelCase a key: `ContainerDefinitions` → `containerDefinitions`.
fn camel(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) if first.is_ascii_uppercase() => {
            // Keep acronyms such as `CPU` → `cpu`, `IPCMode` → `ipcMode`.
            let upper_run = key.chars().take_while(|c| c.is_ascii_uppercase()).count();
            if upper_run > 1 && upper_run < key.len() {
                let (head, tail) = key.split_at(upper_run - 1);
                format!("{}{}", head.to_ascii_lowercase(), tail)
            } else if upper_run == key.len() {
                key.to_ascii_lowercase()
            } else {
                first.to_ascii_lowercase().to_string() + chars.as_str()
            }
        }
        _ => key.to_string(),
    }
}

/// camelCase every key, except below the user-keyed maps.
pub fn camelize(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map {
                let key = camel(&key);
                let value = if USER_KEYED.contains(&key.as_str()) && value.is_object() {
                    value
                } else {
                    camelize(value)
                };
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(camelize).collect()),
        other => other,
    }
}

/// Unwrap `{"taskDefinition": {...}}`, camelCase, and drop read-only fields.
pub fn normalize_task_definition(value: Value) -> Value {
    let mut value = camelize(value);
    if let Value::Object(map) = &mut value {
        if map.len() <= 2 {
            if let Some(inner @ Value::Object(_)) = map.shift_remove("taskDefinition") {
                value = inner;
            }
        }
    }
    if let Value::Object(map) = &mut value {
        for key in READ_ONLY_TASK_DEFINITION {
            map.shift_remove(key);
        }
    }
    value
}

/// Unwrap `{"service": {...}}` or `{"services": [ {...} ]}` and camelCase.
pub fn normalize_service_definition(value: Value) -> Value {
    let mut value = camelize(value);
    if let Value::Object(map) = &mut value {
        if map.len() == 1 {
            if let Some(inner @ Value::Object(_)) = map.shift_remove("service") {
                return inner;
            }
            if let Some(Value::Array(mut items)) = map.shift_remove("services") {
                if items.len() == 1 {
                    return items.remove(0);
                }
                return Value::Array(items);
            }
        }
    }
    value
}

/// A task definition must have a family and at least one named container.
pub fn check_task_definition(path: &Path, value: &Value) -> Result<()> {
    let bad = |message: &str| Error::Config {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let map = value
        .as_object()
        .ok_or_else(|| bad("a task definition must be a JSON object"))?;
    let containers = map.get("containerDefinitions").and_then(Value::as_array);
    match containers {
        None => {
            return Err(bad(
                "the task definition has no containerDefinitions; add at least one container",
            ))
        }
        Some(c) if c.is_empty() => {
            return Err(bad(
                "the task definition's containerDefinitions is empty; add at least one container",
            ))
        }
        Some(c) => {
            for (i, container) in c.iter().enumerate() {
                if container
                    .get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    return Err(Error::Config {
                        path: path.to_path_buf(),
                        message: format!(
                            "containerDefinitions[{i}] has no name; give every container a name"
                        ),
                    });
                }
            }
        }
    }
    if map
        .get("family")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(bad(
            "the task definition has no family; add \"family\": \"<name>\"",
        ));
    }
    Ok(())
}

/// The family of a normalised task definition.
pub fn family(value: &Value) -> Option<&str> {
    value.get("family").and_then(Value::as_str)
}

/// Container names in definition order.
pub fn container_names(value: &Value) -> Vec<&str> {
    value
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pascal_case_keys_become_camel_case_but_labels_keep_theirs() {
        let v = normalize_task_definition(json!({
            "Family": "web",
            "CPU": "256",
            "IpcMode": "none",
            "ContainerDefinitions": [
                {"Name": "app", "DockerLabels": {"Com.Example": "x"},
                 "LogConfiguration": {"LogDriver": "awslogs", "Options": {"awslogs-group": "g", "Mode": "m"}}},
                {"Name": "sidecar"}
            ]
        }));
        assert_eq!(v["family"], "web");
        assert_eq!(v["cpu"], "256");
        assert_eq!(v["ipcMode"], "none");
        assert_eq!(container_names(&v), vec!["app", "sidecar"]);
        assert_eq!(
            v["containerDefinitions"][0]["dockerLabels"]["Com.Example"],
            "x"
        );
        assert_eq!(
            v["containerDefinitions"][0]["logConfiguration"]["options"]["Mode"],
            "m"
        );
    }

    #[test]
    fn wrapped_definitions_are_unwrapped_and_read_only_fields_dropped() {
        let v = normalize_task_definition(json!({
            "taskDefinition": {"family": "web", "revision": 7, "status": "ACTIVE",
                               "taskDefinitionArn": "arn:x", "containerDefinitions": [{"name": "a"}]},
            "tags": []
        }));
        assert_eq!(v["family"], "web");
        assert!(v.get("revision").is_none());
        assert!(v.get("taskDefinitionArn").is_none());
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["family", "containerDefinitions"],
            "key order is kept"
        );
    }

    #[test]
    fn a_definition_without_containers_is_refused() {
        let p = Path::new("td.json");
        let err = check_task_definition(p, &json!({"family": "web"})).unwrap_err();
        assert!(err.to_string().contains("containerDefinitions"), "{err}");
        let err = check_task_definition(p, &json!({"family": "web", "containerDefinitions": []}))
            .unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        assert!(check_task_definition(
            p,
            &json!({"family": "web", "containerDefinitions": [{"name": "a"}]})
        )
        .is_ok());
    }
}
