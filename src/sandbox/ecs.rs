//! ECS operations over the world: request shapes, validation and answers as
//! botocore's ECS model (2014-11-13) describes them and AWS behaves.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::wire::{json_input, timestamp, ApiError, ServiceId};
use super::world::{name_from_arn, Cluster, Service, Tag, Task, TaskDefinition, TaskStatus, World};

/// Answer one ECS operation. Read-only operations take the world as it is.
pub(crate) fn handle(world: &World, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
    match operation {
        "ListTasks" => list_tasks(world, json_input(body)?),
        "DescribeTasks" => describe_tasks(world, json_input(body)?),
        "DescribeServices" => describe_services(world, json_input(body)?),
        "DescribeTaskDefinition" => describe_task_definition(world, json_input(body)?),
        "DescribeClusters" => describe_clusters(world, json_input(body)?),
        "ListServices" => list_services(world, json_input(body)?),
        "ListClusters" => list_clusters(world, json_input(body)?),
        other => Err(ApiError::unknown_operation(&ServiceId::Ecs, other)),
    }
}

fn cluster_not_found() -> ApiError {
    ApiError::new("ClusterNotFoundException", "Cluster not found.")
}

/// The cluster a request names (name or ARN; `default` when none), which must
/// exist and not be INACTIVE.
pub(crate) fn resolve_cluster<'w>(
    world: &'w World,
    cluster: Option<&str>,
) -> Result<&'w Cluster, ApiError> {
    let name = name_from_arn(cluster.unwrap_or("default"));
    match world.cluster(name) {
        Some(c) if c.status != "INACTIVE" => Ok(c),
        _ => Err(cluster_not_found()),
    }
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect(),
    )
}

/// Check every `include` value against the operation's allowed ones.
fn check_include(include: &[String], allowed: &[&str]) -> Result<(), ApiError> {
    match include.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(bad) => Err(ApiError::invalid_parameter(format!(
            "Invalid include value `{bad}`; expected one of: {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// Opaque paging tokens: the offset of the next item and a fingerprint of the
/// request's filters, so that a token is only good for the listing that made it.
mod token {
    use super::*;

    pub(super) fn encode(offset: usize, fingerprint: u64) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("ecsx-sandbox:v1:{offset}:{fingerprint:016x}"))
    }

    pub(super) fn decode(token: &str, fingerprint: u64) -> Result<usize, ApiError> {
        let invalid = || ApiError::invalid_parameter("Invalid token for nextToken.");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(token)
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let rest = text.strip_prefix("ecsx-sandbox:v1:").ok_or_else(invalid)?;
        let (offset, print) = rest.split_once(':').ok_or_else(invalid)?;
        if print != format!("{fingerprint:016x}") {
            return Err(invalid());
        }
        offset.parse().map_err(|_| invalid())
    }
}

/// One page of `items` (already filtered) from the request's token and size.
fn page<T>(
    items: impl Iterator<Item = T>,
    next_token: Option<&str>,
    max_results: usize,
    fingerprint: u64,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match next_token {
        Some(t) if !t.is_empty() => token::decode(t, fingerprint)?,
        _ => 0,
    };
    let mut out: Vec<T> = items.skip(start).take(max_results + 1).collect();
    let next = if out.len() > max_results {
        out.truncate(max_results);
        Some(token::encode(start + max_results, fingerprint))
    } else {
        None
    };
    Ok((out, next))
}

fn max_results(requested: Option<i64>, default: usize) -> Result<usize, ApiError> {
    match requested {
        None => Ok(default),
        Some(n) if (1..=100).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::invalid_parameter(format!(
            "maxResults must be between 1 and 100 (got {n})."
        ))),
    }
}

fn fingerprint(parts: &[Option<&str>]) -> u64 {
    let joined: Vec<&str> = parts.iter().map(|p| p.unwrap_or("\u{0}")).collect();
    super::world::fnv64(&joined.join("\u{1}"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListTasksInput {
    cluster: Option<String>,
    container_instance: Option<String>,
    family: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    started_by: Option<String>,
    service_name: Option<String>,
    desired_status: Option<String>,
    launch_type: Option<String>,
}

fn family_of(td_key: &str) -> &str {
    td_key.rsplit_once(':').map_or(td_key, |(f, _)| f)
}

fn list_tasks(world: &World, input: ListTasksInput) -> Result<Value, ApiError> {
    let max = max_results(input.max_results, 100)?;
    let desired = match input.desired_status.as_deref() {
        None | Some("RUNNING") => TaskStatus::Running,
        Some("PENDING") => TaskStatus::Pending,
        Some("STOPPED") => TaskStatus::Stopped,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "Invalid desiredStatus `{other}`; expected RUNNING, PENDING or STOPPED."
            )))
        }
    };
    let launch_type =
        match input.launch_type.as_deref() {
            None => None,
            Some(lt) => Some(super::world::LaunchType::parse(lt).ok_or_else(|| {
                ApiError::invalid_parameter(format!("Invalid launchType `{lt}`."))
            })?),
        };
    if input.started_by.is_some()
        && (input.service_name.is_some()
            || input.family.is_some()
            || input.container_instance.is_some()
            || input.launch_type.is_some())
    {
        return Err(ApiError::invalid_parameter(
            "startedBy must be the only filter when it is used.",
        ));
    }
    let cluster = resolve_cluster(world, input.cluster.as_deref())?;
    let group = match input.service_name.as_deref() {
        Some(name) => {
            let name = name_from_arn(name);
            match world.service(&cluster.name, name) {
                Some(s) => Some(format!("service:{}", s.name)),
                None => {
                    return Err(ApiError::new(
                        "ServiceNotFoundException",
                        "Service not found.",
                    ))
                }
            }
        }
        None => None,
    };
    let print = fingerprint(&[
        Some(&cluster.name),
        group.as_deref(),
        input.family.as_deref(),
        Some(desired.as_str()),
        input.started_by.as_deref(),
        launch_type.map(|l| l.as_str()),
    ]);
    let matching = world.tasks.iter().filter(|t| {
        t.cluster == cluster.name
            && t.desired_status == desired
            && group.as_ref().is_none_or(|g| &t.group == g)
            && input
                .family
                .as_ref()
                .is_none_or(|f| family_of(&t.task_definition) == f)
            && input
                .started_by
                .as_ref()
                .is_none_or(|s| t.started_by.as_ref() == Some(s))
            && launch_type.is_none_or(|l| t.launch_type == l)
    });
    let (tasks, next) = page(matching, input.next_token.as_deref(), max, print)?;
    let arns: Vec<Value> = tasks
        .into_iter()
        .map(|t| Value::String(world.task_arn(&t.cluster, &t.id)))
        .collect();
    let mut out = json!({"taskArns": arns});
    if let Some(next) = next {
        out["nextToken"] = Value::String(next);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeTasksInput {
    cluster: Option<String>,
    tasks: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

/// The task id in an id or task ARN (`.../task/ID` or `.../task/CLUSTER/ID`),
/// with the cluster the ARN names, if any.
pub(crate) fn task_ref(reference: &str) -> (Option<&str>, &str) {
    if !reference.starts_with("arn:") {
        return (None, reference);
    }
    let resource = reference.splitn(6, ':').nth(5).unwrap_or("");
    let mut parts = resource.split('/');
    let _kind = parts.next();
    match (parts.next(), parts.next()) {
        (Some(cluster), Some(id)) => (Some(cluster), id),
        (Some(id), None) => (None, id),
        _ => (None, reference),
    }
}

fn describe_tasks(world: &World, input: DescribeTasksInput) -> Result<Value, ApiError> {
    let requested = input.tasks.unwrap_or_default();
    if requested.is_empty() {
        return Err(ApiError::invalid_parameter("Tasks cannot be empty."));
    }
    if requested.len() > 100 {
        return Err(ApiError::invalid_parameter(
            "Too many tasks were provided. A maximum of 100 tasks can be described at once.",
        ));
    }
    check_include(&input.include, &["TAGS"])?;
    let with_tags = input.include.iter().any(|i| i == "TAGS");
    let cluster = resolve_cluster(world, input.cluster.as_deref())?;
    let wanted: HashSet<&str> = requested.iter().map(|r| task_ref(r).1).collect();
    // One pass over the world, whatever its size.
    let found: HashMap<&str, &Task> = world
        .tasks
        .iter()
        .filter(|t| t.cluster == cluster.name && wanted.contains(t.id.as_str()))
        .map(|t| (t.id.as_str(), t))
        .collect();
    let mut seen = HashSet::new();
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for reference in &requested {
        let (arn_cluster, id) = task_ref(reference);
        if !seen.insert(id) {
            continue;
        }
        match found.get(id) {
            Some(task) if arn_cluster.is_none_or(|c| c == cluster.name) => tasks.push(task_json(world, task, with_tags)),
            _ => failures.push(json!({
                "arn": if reference.starts_with("arn:") { reference.clone() } else { world.task_arn(&cluster.name, id) },
                "reason": "MISSING",
            })),
        }
    }
    Ok(json!({"tasks": tasks, "failures": failures}))
}

fn insert_opt(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_string(), v);
    }
}

pub(crate) fn task_json(world: &World, t: &Task, with_tags: bool) -> Value {
    let task_arn = world.task_arn(&t.cluster, &t.id);
    let mut m = Map::new();
    let network = t.network.as_ref();
    if let Some(n) = network {
        m.insert(
            "attachments".into(),
            json!([{
                "id": n.attachment_id,
                "type": "ElasticNetworkInterface",
                "status": if t.last_status.is_stopping() { "DELETED" } else { "ATTACHED" },
                "details": [
                    {"name": "subnetId", "value": n.subnet_id},
                    {"name": "networkInterfaceId", "value": n.eni_id},
                    {"name": "macAddress", "value": n.mac_address},
                    {"name": "privateDnsName", "value": private_dns(world, &n.private_ip)},
                    {"name": "privateIPv4Address", "value": n.private_ip},
                ]
            }]),
        );
    } else {
        m.insert("attachments".into(), json!([]));
    }
    m.insert(
        "attributes".into(),
        json!([{"name": "ecs.cpu-architecture", "value": "x86_64"}]),
    );
    m.insert("availabilityZone".into(), json!(t.availability_zone));
    insert_opt(
        &mut m,
        "capacityProviderName",
        t.capacity_provider_name.as_ref().map(|c| json!(c)),
    );
    m.insert("clusterArn".into(), json!(world.cluster_arn(&t.cluster)));
    let connected = !t.last_status.is_stopping() || t.last_status == TaskStatus::Stopping;
    m.insert(
        "connectivity".into(),
        json!(if connected {
            "CONNECTED"
        } else {
            "DISCONNECTED"
        }),
    );
    insert_opt(&mut m, "connectivityAt", t.pull_started_at.map(timestamp));
    let containers: Vec<Value> = t
        .containers
        .iter()
        .map(|c| container_json(world, t, c, &task_arn))
        .collect();
    m.insert("containers".into(), Value::Array(containers));
    insert_opt(&mut m, "cpu", t.cpu.as_ref().map(|v| json!(v)));
    m.insert("createdAt".into(), timestamp(t.created_at));
    m.insert("desiredStatus".into(), json!(t.desired_status.as_str()));
    m.insert(
        "enableExecuteCommand".into(),
        json!(t.enable_execute_command),
    );
    if t.launch_type == super::world::LaunchType::Fargate {
        m.insert("ephemeralStorage".into(), json!({"sizeInGiB": 20}));
    }
    insert_opt(
        &mut m,
        "executionStoppedAt",
        t.stopped_at
            .map(|s| timestamp(s - chrono::Duration::seconds(10))),
    );
    m.insert("group".into(), json!(t.group));
    m.insert("healthStatus".into(), json!(t.health_status));
    m.insert("lastStatus".into(), json!(t.last_status.as_str()));
    m.insert("launchType".into(), json!(t.launch_type.as_str()));
    insert_opt(&mut m, "memory", t.memory.as_ref().map(|v| json!(v)));
    let container_overrides: Vec<Value> = if t.overrides.container_overrides.is_empty() {
        t.containers
            .iter()
            .map(|c| json!({"name": c.name}))
            .collect()
    } else {
        t.overrides.container_overrides.clone()
    };
    let mut overrides = Map::new();
    overrides.insert(
        "containerOverrides".into(),
        Value::Array(container_overrides),
    );
    overrides.insert("inferenceAcceleratorOverrides".into(), json!([]));
    insert_opt(
        &mut overrides,
        "taskRoleArn",
        t.overrides.task_role_arn.as_ref().map(|v| json!(v)),
    );
    insert_opt(
        &mut overrides,
        "executionRoleArn",
        t.overrides.execution_role_arn.as_ref().map(|v| json!(v)),
    );
    m.insert("overrides".into(), Value::Object(overrides));
    insert_opt(
        &mut m,
        "platformVersion",
        t.platform_version.as_ref().map(|v| json!(v)),
    );
    insert_opt(
        &mut m,
        "platformFamily",
        t.platform_family.as_ref().map(|v| json!(v)),
    );
    insert_opt(&mut m, "pullStartedAt", t.pull_started_at.map(timestamp));
    insert_opt(&mut m, "pullStoppedAt", t.pull_stopped_at.map(timestamp));
    insert_opt(&mut m, "startedAt", t.started_at.map(timestamp));
    insert_opt(&mut m, "startedBy", t.started_by.as_ref().map(|v| json!(v)));
    insert_opt(&mut m, "stopCode", t.stop_code.as_ref().map(|v| json!(v)));
    insert_opt(&mut m, "stoppedAt", t.stopped_at.map(timestamp));
    insert_opt(
        &mut m,
        "stoppedReason",
        t.stopped_reason.as_ref().map(|v| json!(v)),
    );
    insert_opt(&mut m, "stoppingAt", t.stopping_at.map(timestamp));
    if with_tags {
        m.insert("tags".into(), tags_json(&t.tags));
    }
    m.insert("taskArn".into(), json!(task_arn));
    m.insert(
        "taskDefinitionArn".into(),
        json!(world.task_definition_arn(&t.task_definition)),
    );
    m.insert("version".into(), json!(t.version));
    Value::Object(m)
}

fn private_dns(world: &World, ip: &str) -> String {
    let host = format!("ip-{}", ip.replace('.', "-"));
    if world.region == "us-east-1" {
        format!("{host}.ec2.internal")
    } else {
        format!("{host}.{}.compute.internal", world.region)
    }
}

fn container_json(
    world: &World,
    t: &Task,
    c: &super::world::TaskContainer,
    task_arn: &str,
) -> Value {
    let mut m = Map::new();
    m.insert(
        "containerArn".into(),
        json!(world.container_arn(&t.cluster, &t.id, &c.container_id)),
    );
    m.insert("taskArn".into(), json!(task_arn));
    m.insert("name".into(), json!(c.name));
    m.insert("image".into(), json!(c.image));
    if !t.last_status.is_starting() {
        m.insert(
            "imageDigest".into(),
            json!(format!(
                "sha256:{}",
                super::world::hex_id(&format!("digest/{}", c.image), 64)
            )),
        );
    }
    if !c.last_status.is_starting() {
        insert_opt(&mut m, "runtimeId", c.runtime_id.as_ref().map(|v| json!(v)));
    }
    m.insert("lastStatus".into(), json!(c.last_status.as_str()));
    insert_opt(&mut m, "exitCode", c.exit_code.map(|v| json!(v)));
    insert_opt(&mut m, "reason", c.reason.as_ref().map(|v| json!(v)));
    m.insert("networkBindings".into(), json!([]));
    let interfaces = match &t.network {
        Some(n) => json!([{"attachmentId": n.attachment_id, "privateIpv4Address": n.private_ip}]),
        None => json!([]),
    };
    m.insert("networkInterfaces".into(), interfaces);
    m.insert("healthStatus".into(), json!(c.health_status));
    if let Some(agent) = &c.exec_agent {
        let mut a = Map::new();
        insert_opt(
            &mut a,
            "lastStartedAt",
            agent.last_started_at.map(timestamp),
        );
        a.insert("name".into(), json!("ExecuteCommandAgent"));
        insert_opt(&mut a, "reason", agent.reason.as_ref().map(|v| json!(v)));
        a.insert("lastStatus".into(), json!(agent.last_status.as_str()));
        m.insert("managedAgents".into(), json!([a]));
    }
    m.insert("cpu".into(), json!("0"));
    Value::Object(m)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopTaskInput {
    cluster: Option<String>,
    task: Option<String>,
    reason: Option<String>,
}

/// StopTask: the task is STOPPED at once (UserInitiated, the given reason or
/// "Task stopped by user"). Returns the answer and the task's id, whose
/// processes the caller ends.
pub(crate) fn stop_task(world: &mut World, body: &[u8]) -> Result<(Value, String), ApiError> {
    let input: StopTaskInput = json_input(body)?;
    let reference = input.task.unwrap_or_default();
    if reference.is_empty() {
        return Err(ApiError::invalid_parameter("Task cannot be empty."));
    }
    let cluster = resolve_cluster(world, input.cluster.as_deref())?
        .name
        .clone();
    let (arn_cluster, id) = task_ref(&reference);
    let not_found = || ApiError::invalid_parameter("The referenced task was not found.");
    if arn_cluster.is_some_and(|c| c != cluster) {
        return Err(not_found());
    }
    let id = id.to_string();
    let reason = input
        .reason
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "Task stopped by user".to_string());
    let now = chrono::Utc::now();
    let task = world
        .tasks
        .iter_mut()
        .find(|t| t.cluster == cluster && t.id == id)
        .ok_or_else(not_found)?;
    task.stop(&reason, now);
    let task = task.clone();
    Ok((json!({"task": task_json(world, &task, false)}), id))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeServicesInput {
    cluster: Option<String>,
    services: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

fn describe_services(world: &World, input: DescribeServicesInput) -> Result<Value, ApiError> {
    let requested = input.services.unwrap_or_default();
    if requested.is_empty() {
        return Err(ApiError::invalid_parameter("Services cannot be empty."));
    }
    if requested.len() > 10 {
        return Err(ApiError::invalid_parameter(
            "Too many services were provided. A maximum of 10 services can be described at once.",
        ));
    }
    check_include(&input.include, &["TAGS"])?;
    let with_tags = input.include.iter().any(|i| i == "TAGS");
    let cluster = resolve_cluster(world, input.cluster.as_deref())?;
    let mut services = Vec::new();
    let mut failures = Vec::new();
    for reference in &requested {
        let name = name_from_arn(reference);
        match world.service(&cluster.name, name) {
            Some(s) => services.push(service_json(world, s, with_tags)),
            None => failures.push(json!({
                "arn": world.service_arn(&cluster.name, name),
                "reason": "MISSING",
            })),
        }
    }
    Ok(json!({"services": services, "failures": failures}))
}

/// Running and pending tasks of a service, in all and per deployment (`startedBy`).
fn service_counts(world: &World, s: &Service) -> ((u32, u32), HashMap<String, (u32, u32)>) {
    let group = format!("service:{}", s.name);
    let mut total = (0, 0);
    let mut by_deployment: HashMap<String, (u32, u32)> = HashMap::new();
    for t in world.tasks.iter().filter(|t| {
        t.cluster == s.cluster && t.group == group && t.desired_status == TaskStatus::Running
    }) {
        let slot = by_deployment
            .entry(t.started_by.clone().unwrap_or_default())
            .or_default();
        if t.last_status == TaskStatus::Running {
            total.0 += 1;
            slot.0 += 1;
        } else if t.last_status.is_starting() {
            total.1 += 1;
            slot.1 += 1;
        }
    }
    (total, by_deployment)
}

fn service_json(world: &World, s: &Service, with_tags: bool) -> Value {
    let ((running, pending), by_deployment) = service_counts(world, s);
    let fargate = s.task_launch_type().0 == Some(super::world::LaunchType::Fargate);
    let mut m = Map::new();
    m.insert(
        "serviceArn".into(),
        json!(world.service_arn(&s.cluster, &s.name)),
    );
    m.insert("serviceName".into(), json!(s.name));
    m.insert("clusterArn".into(), json!(world.cluster_arn(&s.cluster)));
    m.insert(
        "loadBalancers".into(),
        Value::Array(s.load_balancers.clone()),
    );
    m.insert("serviceRegistries".into(), json!([]));
    m.insert("status".into(), json!(s.status));
    m.insert("desiredCount".into(), json!(s.desired_count));
    m.insert("runningCount".into(), json!(running));
    m.insert("pendingCount".into(), json!(pending));
    insert_opt(
        &mut m,
        "launchType",
        s.launch_type.map(|l| json!(l.as_str())),
    );
    if !s.capacity_provider_strategy.is_empty() {
        m.insert(
            "capacityProviderStrategy".into(),
            Value::Array(s.capacity_provider_strategy.clone()),
        );
    }
    insert_opt(
        &mut m,
        "platformVersion",
        s.platform_version.as_ref().map(|v| json!(v)),
    );
    if fargate {
        m.insert("platformFamily".into(), json!("Linux"));
    }
    m.insert(
        "taskDefinition".into(),
        json!(world.task_definition_arn(&s.task_definition)),
    );
    m.insert(
        "deploymentConfiguration".into(),
        s.deployment_configuration.clone(),
    );
    let deployments: Vec<Value> = s
        .deployments
        .iter()
        .map(|d| {
            let counted = by_deployment.get(&d.id).copied().unwrap_or_default();
            let mut dm = Map::new();
            dm.insert("id".into(), json!(d.id));
            dm.insert("status".into(), json!(d.status));
            dm.insert(
                "taskDefinition".into(),
                json!(world.task_definition_arn(&d.task_definition)),
            );
            dm.insert("desiredCount".into(), json!(d.desired_count));
            dm.insert(
                "pendingCount".into(),
                json!(d.pending_count.unwrap_or(counted.1)),
            );
            dm.insert(
                "runningCount".into(),
                json!(d.running_count.unwrap_or(counted.0)),
            );
            dm.insert("failedTasks".into(), json!(d.failed_tasks));
            dm.insert("createdAt".into(), timestamp(d.created_at));
            dm.insert("updatedAt".into(), timestamp(d.updated_at));
            insert_opt(
                &mut dm,
                "launchType",
                s.launch_type.map(|l| json!(l.as_str())),
            );
            if !s.capacity_provider_strategy.is_empty() {
                dm.insert(
                    "capacityProviderStrategy".into(),
                    Value::Array(s.capacity_provider_strategy.clone()),
                );
            }
            insert_opt(
                &mut dm,
                "platformVersion",
                s.platform_version.as_ref().map(|v| json!(v)),
            );
            if fargate {
                dm.insert("platformFamily".into(), json!("Linux"));
            }
            insert_opt(
                &mut dm,
                "networkConfiguration",
                s.network_configuration.clone(),
            );
            insert_opt(
                &mut dm,
                "rolloutState",
                d.rollout_state.as_ref().map(|v| json!(v)),
            );
            insert_opt(
                &mut dm,
                "rolloutStateReason",
                d.rollout_state_reason.as_ref().map(|v| json!(v)),
            );
            Value::Object(dm)
        })
        .collect();
    m.insert("deployments".into(), Value::Array(deployments));
    let mut events: Vec<_> = s.events.iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    let events: Vec<Value> = events
        .into_iter()
        .take(100)
        .map(|e| json!({"id": e.id, "createdAt": timestamp(e.created_at), "message": e.message}))
        .collect();
    m.insert("events".into(), Value::Array(events));
    m.insert("createdAt".into(), timestamp(s.created_at));
    m.insert("placementConstraints".into(), json!([]));
    m.insert("placementStrategy".into(), json!([]));
    insert_opt(
        &mut m,
        "networkConfiguration",
        s.network_configuration.clone(),
    );
    m.insert("schedulingStrategy".into(), json!(s.scheduling_strategy));
    m.insert("deploymentController".into(), json!({"type": "ECS"}));
    m.insert("createdBy".into(), json!(world.caller_arn()));
    m.insert("enableECSManagedTags".into(), json!(false));
    m.insert("propagateTags".into(), json!("NONE"));
    m.insert(
        "enableExecuteCommand".into(),
        json!(s.enable_execute_command),
    );
    for (k, v) in &s.extra {
        m.insert(k.clone(), v.clone());
    }
    if with_tags {
        m.insert("tags".into(), tags_json(&s.tags));
    }
    Value::Object(m)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeTaskDefinitionInput {
    task_definition: Option<String>,
    #[serde(default)]
    include: Vec<String>,
}

fn describe_task_definition(
    world: &World,
    input: DescribeTaskDefinitionInput,
) -> Result<Value, ApiError> {
    check_include(&input.include, &["TAGS"])?;
    let reference = input.task_definition.unwrap_or_default();
    if reference.is_empty() {
        return Err(ApiError::client("Task Definition can not be blank."));
    }
    let td = world
        .find_task_definition(&reference)
        .ok_or_else(|| ApiError::client("Unable to describe task definition."))?;
    let tags = if input.include.iter().any(|i| i == "TAGS") {
        tags_json(&td.tags)
    } else {
        json!([])
    };
    Ok(json!({"taskDefinition": task_definition_json(world, td), "tags": tags}))
}

/// The fields ECS fills into a container definition on registration.
const CONTAINER_DEFAULTS: &[&str] = &[
    "cpu",
    "portMappings",
    "essential",
    "environment",
    "mountPoints",
    "volumesFrom",
    "systemControls",
];

fn container_default(key: &str) -> Value {
    match key {
        "cpu" => json!(0),
        "essential" => json!(true),
        _ => json!([]),
    }
}

fn task_definition_json(world: &World, td: &TaskDefinition) -> Value {
    let mut m = Map::new();
    m.insert(
        "taskDefinitionArn".into(),
        json!(world.task_definition_arn(&td.key())),
    );
    for (k, v) in &td.body {
        m.insert(k.clone(), v.clone());
    }
    if let Some(Value::Array(defs)) = m.get_mut("containerDefinitions") {
        for def in defs.iter_mut().filter_map(Value::as_object_mut) {
            for key in CONTAINER_DEFAULTS {
                def.entry(key.to_string())
                    .or_insert_with(|| container_default(key));
            }
        }
    }
    m.insert("revision".into(), json!(td.revision));
    m.entry("volumes").or_insert_with(|| json!([]));
    m.insert("status".into(), json!(td.status));
    m.entry("placementConstraints").or_insert_with(|| json!([]));
    let fargate = td.default_launch_type() == super::world::LaunchType::Fargate
        && td.body.contains_key("requiresCompatibilities");
    m.insert(
        "compatibilities".into(),
        if fargate {
            json!(["EC2", "FARGATE"])
        } else {
            json!(["EC2"])
        },
    );
    m.insert("registeredAt".into(), timestamp(td.registered_at));
    m.insert("registeredBy".into(), json!(world.caller_arn()));
    Value::Object(m)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeClustersInput {
    clusters: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

fn describe_clusters(world: &World, input: DescribeClustersInput) -> Result<Value, ApiError> {
    let requested = match input.clusters {
        Some(c) if !c.is_empty() => c,
        _ => vec!["default".to_string()],
    };
    if requested.len() > 100 {
        return Err(ApiError::invalid_parameter(
            "Too many clusters were provided. A maximum of 100 clusters can be described at once.",
        ));
    }
    check_include(
        &input.include,
        &[
            "ATTACHMENTS",
            "CONFIGURATIONS",
            "SETTINGS",
            "STATISTICS",
            "TAGS",
        ],
    )?;
    let has = |what: &str| input.include.iter().any(|i| i == what);
    let mut clusters = Vec::new();
    let mut failures = Vec::new();
    for reference in &requested {
        let name = name_from_arn(reference);
        match world.cluster(name) {
            Some(c) => clusters.push(cluster_json(world, c, &has)),
            None => failures.push(json!({"arn": world.cluster_arn(name), "reason": "MISSING"})),
        }
    }
    Ok(json!({"clusters": clusters, "failures": failures}))
}

fn cluster_json(world: &World, c: &Cluster, has: &dyn Fn(&str) -> bool) -> Value {
    use super::world::LaunchType;
    // (running, pending) per launch type: [FARGATE, EC2 and the rest].
    let mut counts = [(0u32, 0u32); 2];
    for t in world.tasks.iter().filter(|t| t.cluster == c.name) {
        let slot = &mut counts[usize::from(t.launch_type != LaunchType::Fargate)];
        if t.last_status == TaskStatus::Running {
            slot.0 += 1;
        } else if t.last_status.is_starting() {
            slot.1 += 1;
        }
    }
    let mut services = [(0u32, 0u32); 2]; // (active, draining)
    for s in world.services.iter().filter(|s| s.cluster == c.name) {
        let slot = &mut services[usize::from(s.task_launch_type().0 != Some(LaunchType::Fargate))];
        match s.status.as_str() {
            "ACTIVE" => slot.0 += 1,
            "DRAINING" => slot.1 += 1,
            _ => {}
        }
    }
    let mut m = Map::new();
    m.insert("clusterArn".into(), json!(world.cluster_arn(&c.name)));
    m.insert("clusterName".into(), json!(c.name));
    if has("CONFIGURATIONS") {
        if let Some(x) = &c.execute_command_configuration {
            let mut e = Map::new();
            insert_opt(&mut e, "kmsKeyId", x.kms_key_id.as_ref().map(|v| json!(v)));
            e.insert("logging".into(), json!(x.logging.as_str()));
            if let Some(l) = &x.log_configuration {
                let mut lm = Map::new();
                insert_opt(
                    &mut lm,
                    "cloudWatchLogGroupName",
                    l.cloud_watch_log_group_name.as_ref().map(|v| json!(v)),
                );
                lm.insert(
                    "cloudWatchEncryptionEnabled".into(),
                    json!(l.cloud_watch_encryption_enabled),
                );
                insert_opt(
                    &mut lm,
                    "s3BucketName",
                    l.s3_bucket_name.as_ref().map(|v| json!(v)),
                );
                lm.insert("s3EncryptionEnabled".into(), json!(l.s3_encryption_enabled));
                insert_opt(
                    &mut lm,
                    "s3KeyPrefix",
                    l.s3_key_prefix.as_ref().map(|v| json!(v)),
                );
                e.insert("logConfiguration".into(), Value::Object(lm));
            }
            m.insert(
                "configuration".into(),
                json!({"executeCommandConfiguration": Value::Object(e)}),
            );
        }
    }
    m.insert("status".into(), json!(c.status));
    m.insert(
        "registeredContainerInstancesCount".into(),
        json!(c.registered_container_instances),
    );
    m.insert("runningTasksCount".into(), json!(counts[0].0 + counts[1].0));
    m.insert("pendingTasksCount".into(), json!(counts[0].1 + counts[1].1));
    m.insert(
        "activeServicesCount".into(),
        json!(services[0].0 + services[1].0),
    );
    let statistics = if has("STATISTICS") {
        let stat = |name: &str, n: u32| json!({"name": name, "value": n.to_string()});
        json!([
            stat("runningEC2TasksCount", counts[1].0),
            stat("runningFargateTasksCount", counts[0].0),
            stat("pendingEC2TasksCount", counts[1].1),
            stat("pendingFargateTasksCount", counts[0].1),
            stat("activeEC2ServiceCount", services[1].0),
            stat("activeFargateServiceCount", services[0].0),
            stat("drainingEC2ServiceCount", services[1].1),
            stat("drainingFargateServiceCount", services[0].1),
        ])
    } else {
        json!([])
    };
    m.insert("statistics".into(), statistics);
    m.insert(
        "tags".into(),
        if has("TAGS") {
            tags_json(&c.tags)
        } else {
            json!([])
        },
    );
    m.insert(
        "settings".into(),
        if has("SETTINGS") {
            json!([{"name": "containerInsights", "value": c.container_insights}])
        } else {
            json!([])
        },
    );
    m.insert("capacityProviders".into(), json!(c.capacity_providers));
    m.insert("defaultCapacityProviderStrategy".into(), json!([]));
    if has("ATTACHMENTS") {
        m.insert("attachments".into(), json!([]));
    }
    Value::Object(m)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListServicesInput {
    cluster: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    launch_type: Option<String>,
    scheduling_strategy: Option<String>,
}

fn list_services(world: &World, input: ListServicesInput) -> Result<Value, ApiError> {
    let max = max_results(input.max_results, 10)?;
    let cluster = resolve_cluster(world, input.cluster.as_deref())?;
    let print = fingerprint(&[
        Some(&cluster.name),
        input.launch_type.as_deref(),
        input.scheduling_strategy.as_deref(),
    ]);
    let matching = world.services.iter().filter(|s| {
        s.cluster == cluster.name
            && s.status != "INACTIVE"
            && input
                .launch_type
                .as_deref()
                .is_none_or(|l| s.launch_type.map(|x| x.as_str()) == Some(l))
            && input
                .scheduling_strategy
                .as_deref()
                .is_none_or(|st| s.scheduling_strategy == st)
    });
    let (services, next) = page(matching, input.next_token.as_deref(), max, print)?;
    let arns: Vec<Value> = services
        .into_iter()
        .map(|s| json!(world.service_arn(&s.cluster, &s.name)))
        .collect();
    let mut out = json!({"serviceArns": arns});
    if let Some(next) = next {
        out["nextToken"] = json!(next);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListClustersInput {
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn list_clusters(world: &World, input: ListClustersInput) -> Result<Value, ApiError> {
    let max = max_results(input.max_results, 100)?;
    let matching = world.clusters.iter().filter(|c| c.status != "INACTIVE");
    let (clusters, next) = page(matching, input.next_token.as_deref(), max, fingerprint(&[]))?;
    let arns: Vec<Value> = clusters
        .into_iter()
        .map(|c| json!(world.cluster_arn(&c.name)))
        .collect();
    let mut out = json!({"clusterArns": arns});
    if let Some(next) = next {
        out["nextToken"] = json!(next);
    }
    Ok(out)
}
