//! The world file: YAML that describes a whole world, or changes a base world
//! (knobs, and entities patched by name or id). The format is documented in
//! `docs/sandbox.md`; keys are snake_case, values that are ECS documents
//! (task definition bodies, loadBalancers, networkConfiguration, ...) are ECS
//! JSON as AWS writes them. Unknown keys are errors, so typos do not pass
//! silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::world::{
    default_deployment_configuration, name_from_arn, primary_deployment, runtime_id, uuid_id,
    AgentStatus, Cluster, Deployment, ExecKnobs, ExecLogConfiguration, ExecLogging,
    ExecuteCommandConfiguration, KmsKey, LaunchType, ManagedAgent, Service, ServiceEvent, Tag,
    Task, TaskContainer, TaskDefinition, TaskStatus, World,
};

/// Why a world file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot read world file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Bad YAML, or a key or value of the wrong shape. Line and column are 1-based.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed, but refers to something the world does not have.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// A point in time: an RFC 3339 timestamp, or a duration (`90m`) meaning that
/// long before the world was made.
#[derive(Clone, Copy, Debug)]
enum When {
    At(DateTime<Utc>),
    Ago(Duration),
}

impl When {
    fn resolve(self, epoch: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            When::At(t) => t,
            When::Ago(d) => {
                epoch - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
            }
        }
    }
}

/// Deserialize a scalar through `check`, which sees it as text. Checking inside
/// the visitor (not after deserializing) lets serde_yaml put the value's own
/// line, column and key path on the error.
fn checked<'de, D, T>(d: D, check: fn(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct Checked<T>(fn(&str) -> Result<T, String>);

    impl<'de, T> serde::de::Visitor<'de> for Checked<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or number")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            (self.0)(v).map_err(E::custom)
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
            self.visit_str(&v.to_string())
        }
    }

    d.deserialize_any(Checked(check))
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<When, D::Error> {
        checked(d, |s| {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Ok(When::At(t.with_timezone(&Utc)));
            }
            humantime::parse_duration(s.trim_end_matches(" ago"))
                .map(When::Ago)
                .map_err(|_| format!("`{s}` is neither an RFC 3339 time nor a duration like `90m`"))
        })
    }
}

fn de_latency<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    checked(d, |s| {
        humantime::parse_duration(s)
            .map(Some)
            .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. `20ms`"))
    })
}

fn de_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    checked(d, |s| match s.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(Some(rate)),
        _ => Err(format!("`{s}` is not a fraction from 0.0 to 1.0")),
    })
}

fn de_account<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |s| {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Some(s.to_string()))
        } else {
            Err(format!("`{s}` is not an account id: 12 digits, quoted"))
        }
    })
}

fn de_arn<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |s| {
        if s.starts_with("arn:") && s.split(':').count() >= 6 {
            Ok(Some(s.to_string()))
        } else {
            Err(format!("`{s}` is not an ARN"))
        }
    })
}

/// A deserializer for a string field that must be one of a few spellings.
macro_rules! one_of {
    ($name:ident, [$($v:literal),+ $(,)?]) => {
        fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
            checked(d, |s| {
                const ALLOWED: &[&str] = &[$($v),+];
                if ALLOWED.contains(&s) {
                    Ok(Some(s.to_string()))
                } else {
                    Err(format!("unknown value `{s}`, expected one of: {}", ALLOWED.join(", ")))
                }
            })
        }
    };
}

one_of!(
    cluster_status,
    [
        "ACTIVE",
        "PROVISIONING",
        "DEPROVISIONING",
        "FAILED",
        "INACTIVE"
    ]
);
one_of!(service_status, ["ACTIVE", "DRAINING", "INACTIVE"]);
one_of!(deployment_status, ["PRIMARY", "ACTIVE", "INACTIVE"]);
one_of!(rollout_state, ["COMPLETED", "FAILED", "IN_PROGRESS"]);
one_of!(health_status, ["HEALTHY", "UNHEALTHY", "UNKNOWN"]);
one_of!(insights, ["enabled", "disabled", "enhanced"]);
one_of!(scheduling_strategy, ["REPLICA", "DAEMON"]);
one_of!(
    stop_code,
    [
        "TaskFailedToStart",
        "EssentialContainerExited",
        "UserInitiated",
        "ServiceSchedulerInitiated",
        "SpotInterruption",
        "TerminationNotice",
    ]
);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    #[serde(default, deserialize_with = "de_account")]
    account: Option<String>,
    region: Option<String>,
    #[serde(default, deserialize_with = "de_arn")]
    caller: Option<String>,
    #[serde(default, deserialize_with = "de_latency")]
    latency: Option<Duration>,
    #[serde(default, deserialize_with = "de_rate")]
    throttle_rate: Option<f64>,
    task_count: Option<usize>,
    seed: Option<u64>,
    exec: Option<ExecKnobsEntry>,
    #[serde(default)]
    kms_keys: Vec<KmsKeyEntry>,
    iam: Option<super::iam::IamEntry>,
    resources: Option<super::resources::ResourcesEntry>,
    #[serde(default)]
    clusters: Vec<ClusterEntry>,
    #[serde(default)]
    task_definitions: Vec<Map<String, Value>>,
    #[serde(default)]
    services: Vec<ServiceEntry>,
    #[serde(default)]
    tasks: Vec<TaskEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterEntry {
    name: String,
    #[serde(default, deserialize_with = "cluster_status")]
    status: Option<String>,
    execute_command_configuration: Option<ExecEntry>,
    #[serde(default, deserialize_with = "insights")]
    container_insights: Option<String>,
    registered_container_instances: Option<u32>,
    capacity_providers: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecEntry {
    kms_key_id: Option<String>,
    logging: Option<ExecLogging>,
    log_configuration: Option<ExecLogConfiguration>,
}

/// `exec:`: where ECS Exec runs its processes, and the faults of its data channels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecKnobsEntry {
    root: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_latency")]
    ack_delay: Option<Duration>,
    #[serde(default, deserialize_with = "de_rate")]
    ack_drop_rate: Option<f64>,
    #[serde(default, deserialize_with = "de_rate")]
    output_duplicate_rate: Option<f64>,
    #[serde(default, deserialize_with = "de_rate")]
    output_reorder_rate: Option<f64>,
    pause_after_messages: Option<u64>,
    #[serde(default, deserialize_with = "de_latency")]
    pause_for: Option<Duration>,
    drop_socket_after_bytes: Option<u64>,
    target_not_connected: Option<u32>,
    agent_pacing: Option<PacingEntry>,
}

/// `exec.agent_pacing`: `none` (the default) or `real`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum PacingEntry {
    None,
    Real,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KmsKeyEntry {
    id: Option<String>,
    #[serde(default, deserialize_with = "de_aliases")]
    aliases: Option<Vec<String>>,
    description: Option<String>,
    enabled: Option<bool>,
    created_at: Option<When>,
}

fn de_aliases<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let aliases = Vec::<String>::deserialize(d)?;
    for alias in &aliases {
        let name = alias.strip_prefix("alias/").unwrap_or("");
        if name.is_empty() || name.starts_with("aws/") {
            return Err(serde::de::Error::custom(format!(
                "`{alias}` is not an alias name: write `alias/NAME` (not `alias/aws/...`, which AWS keeps)"
            )));
        }
    }
    Ok(Some(aliases))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    name: String,
    cluster: Option<String>,
    #[serde(default, deserialize_with = "service_status")]
    status: Option<String>,
    task_definition: Option<String>,
    desired_count: Option<u32>,
    launch_type: Option<LaunchType>,
    platform_version: Option<String>,
    enable_execute_command: Option<bool>,
    created_at: Option<When>,
    task_count: Option<usize>,
    deployments: Option<Vec<DeploymentEntry>>,
    events: Option<Vec<EventEntry>>,
    load_balancers: Option<Vec<Value>>,
    network_configuration: Option<Value>,
    deployment_configuration: Option<Value>,
    capacity_provider_strategy: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "scheduling_strategy")]
    scheduling_strategy: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeploymentEntry {
    id: Option<String>,
    #[serde(default, deserialize_with = "deployment_status")]
    status: Option<String>,
    task_definition: Option<String>,
    desired_count: Option<u32>,
    running_count: Option<u32>,
    pending_count: Option<u32>,
    failed_tasks: Option<u32>,
    #[serde(default, deserialize_with = "rollout_state")]
    rollout_state: Option<String>,
    rollout_state_reason: Option<String>,
    created_at: Option<When>,
    updated_at: Option<When>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventEntry {
    message: String,
    id: Option<String>,
    created_at: Option<When>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskEntry {
    id: Option<String>,
    cluster: Option<String>,
    service: Option<String>,
    task_definition: Option<String>,
    group: Option<String>,
    started_by: Option<String>,
    last_status: Option<TaskStatus>,
    desired_status: Option<TaskStatus>,
    stopped_reason: Option<String>,
    #[serde(default, deserialize_with = "stop_code")]
    stop_code: Option<String>,
    enable_execute_command: Option<bool>,
    launch_type: Option<LaunchType>,
    platform_version: Option<String>,
    availability_zone: Option<String>,
    private_ip: Option<String>,
    subnet_id: Option<String>,
    #[serde(default, deserialize_with = "de_arn")]
    task_role_arn: Option<String>,
    cpu: Option<String>,
    memory: Option<String>,
    #[serde(default, deserialize_with = "health_status")]
    health_status: Option<String>,
    created_at: Option<When>,
    started_at: Option<When>,
    stopped_at: Option<When>,
    containers: Option<Vec<ContainerEntry>>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerEntry {
    name: String,
    image: Option<String>,
    last_status: Option<TaskStatus>,
    exit_code: Option<i32>,
    reason: Option<String>,
    #[serde(default, deserialize_with = "health_status")]
    health_status: Option<String>,
    /// The ExecuteCommandAgent's lastStatus.
    agent: Option<AgentStatus>,
    agent_reason: Option<String>,
    /// PATH of the commands ECS Exec runs there.
    exec_path: Option<String>,
}

fn tags(map: BTreeMap<String, String>) -> Vec<Tag> {
    map.into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect()
}

/// Parse `text`, then apply it to `world`.
pub(crate) fn apply(text: &str, path: &Path, world: World) -> Result<World, WorldError> {
    let file = parse(text, path)?;
    Applier { world, path }.run(file)
}

fn parse(text: &str, path: &Path) -> Result<WorldFile, WorldError> {
    // An empty file (or one with only comments) is an empty change.
    let parsed: Result<Option<WorldFile>, _> = serde_yaml::from_str(text);
    match parsed {
        Ok(file) => Ok(file.unwrap_or_default()),
        Err(e) => {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let mut message = e.to_string();
            // serde_yaml appends the position; the error already carries it.
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            Err(WorldError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message,
            })
        }
    }
}

struct Applier<'a> {
    world: World,
    path: &'a Path,
}

impl Applier<'_> {
    fn invalid(&self, message: String) -> WorldError {
        WorldError::Invalid {
            path: self.path.to_path_buf(),
            message,
        }
    }

    fn run(mut self, file: WorldFile) -> Result<World, WorldError> {
        let w = &mut self.world;
        if let Some(account) = file.account {
            w.account = account;
        }
        if let Some(region) = file.region {
            w.region = region;
        }
        if file.caller.is_some() {
            w.caller = file.caller;
        }
        if let Some(latency) = file.latency {
            w.latency = latency;
        }
        if let Some(rate) = file.throttle_rate {
            w.throttle_rate = rate;
        }
        if let Some(count) = file.task_count {
            w.task_count = count;
        }
        if file.seed.is_some() {
            w.seed = file.seed;
        }
        if let Some(x) = file.exec {
            apply_exec_knobs(&mut w.exec, x);
        }
        if let Some(iam) = file.iam {
            self.world.iam.apply(iam);
        }
        if let Some(r) = file.resources {
            let base = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
            if let Err(message) = self.world.resources.apply(r, &base) {
                return Err(self.invalid(message));
            }
        }
        for (i, entry) in file.kms_keys.into_iter().enumerate() {
            self.kms_key(i, entry);
        }
        for entry in file.clusters {
            self.cluster(entry);
        }
        for (i, entry) in file.task_definitions.into_iter().enumerate() {
            self.task_definition(i, entry)?;
        }
        for (i, entry) in file.services.into_iter().enumerate() {
            self.service(i, entry)?;
        }
        self.world.regenerate_tasks();
        for (i, entry) in file.tasks.into_iter().enumerate() {
            self.task(i, entry)?;
        }
        Ok(self.world)
    }

    fn kms_key(&mut self, i: usize, e: KmsKeyEntry) {
        let epoch = self.world.epoch;
        let id = e.id.clone().unwrap_or_else(|| {
            let seed = e
                .aliases
                .as_ref()
                .and_then(|a| a.first().cloned())
                .unwrap_or_else(|| i.to_string());
            uuid_id(&format!("kms/{seed}"))
        });
        let index = match self.world.kms_keys.iter().position(|k| k.id == id) {
            Some(k) => k,
            None => {
                self.world.kms_keys.push(KmsKey {
                    id: id.clone(),
                    aliases: Vec::new(),
                    description: String::new(),
                    enabled: true,
                    created_at: epoch - chrono::Duration::days(30),
                    arn: None,
                });
                self.world.kms_keys.len() - 1
            }
        };
        let k = &mut self.world.kms_keys[index];
        if let Some(v) = e.aliases {
            k.aliases = v;
        }
        if let Some(v) = e.description {
            k.description = v;
        }
        if let Some(v) = e.enabled {
            k.enabled = v;
        }
        if let Some(v) = e.created_at {
            k.created_at = v.resolve(epoch);
        }
    }

    fn cluster(&mut self, e: ClusterEntry) {
        let name = name_from_arn(&e.name).to_string();
        let index = match self.world.clusters.iter().position(|c| c.name == name) {
            Some(i) => i,
            None => {
                self.world.clusters.push(Cluster::new(&name));
                self.world.clusters.len() - 1
            }
        };
        let c = &mut self.world.clusters[index];
        if let Some(status) = e.status {
            c.status = status;
        }
        if let Some(x) = e.execute_command_configuration {
            c.execute_command_configuration = Some(ExecuteCommandConfiguration {
                kms_key_id: x.kms_key_id,
                logging: x.logging.unwrap_or_default(),
                log_configuration: x.log_configuration,
            });
        }
        if let Some(v) = e.container_insights {
            c.container_insights = v;
        }
        if let Some(v) = e.registered_container_instances {
            c.registered_container_instances = v;
        }
        if let Some(v) = e.capacity_providers {
            c.capacity_providers = v;
        }
        if let Some(v) = e.tags {
            c.tags = tags(v);
        }
    }

    fn task_definition(
        &mut self,
        i: usize,
        mut body: Map<String, Value>,
    ) -> Result<(), WorldError> {
        let Some(family) = body
            .get("family")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Err(self.invalid(format!("task_definitions[{i}]: `family` is required")));
        };
        let revision = match body.get("revision") {
            None => None,
            Some(v) => match v.as_u64().filter(|r| (1..=u64::from(u32::MAX)).contains(r)) {
                Some(r) => Some(r as u32),
                None => {
                    return Err(self.invalid(format!(
                        "task_definitions[{i}] ({family}): bad revision {v}"
                    )))
                }
            },
        };
        let status = match body.remove("status") {
            None => "ACTIVE".to_string(),
            Some(Value::String(s))
                if ["ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"].contains(&s.as_str()) =>
            {
                s
            }
            Some(v) => {
                return Err(
                    self.invalid(format!("task_definitions[{i}] ({family}): bad status {v}"))
                )
            }
        };
        let w = &mut self.world;
        let revision = revision.unwrap_or_else(|| {
            w.task_definitions
                .iter()
                .filter(|td| td.family == family)
                .map(|td| td.revision)
                .max()
                .unwrap_or(0)
                + 1
        });
        let registered_at = match body.get("registeredAt") {
            Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) => t.with_timezone(&Utc),
                Err(_) => {
                    return Err(self.invalid(format!(
                        "task_definitions[{i}] ({family}): bad registeredAt `{s}`"
                    )))
                }
            },
            _ => w.epoch - chrono::Duration::days(1),
        };
        let mut td = TaskDefinition::from_json(&Value::Object(body), revision, registered_at);
        td.status = status;
        match w
            .task_definitions
            .iter_mut()
            .find(|t| t.family == family && t.revision == revision)
        {
            Some(existing) => *existing = td,
            None => w.task_definitions.push(td),
        }
        Ok(())
    }

    /// The cluster an entry names, or the world's first (creating `default` in an empty world).
    fn cluster_for(&mut self, named: Option<&str>, what: &str) -> Result<String, WorldError> {
        match named {
            Some(name) => {
                let name = name_from_arn(name);
                if self.world.cluster(name).is_none() {
                    return Err(
                        self.invalid(format!("{what}: cluster `{name}` is not in the world"))
                    );
                }
                Ok(name.to_string())
            }
            None => {
                if self.world.clusters.is_empty() {
                    self.world.clusters.push(Cluster::new("default"));
                }
                Ok(self.world.clusters[0].name.clone())
            }
        }
    }

    /// `family:revision` of a task definition reference, or of the newest
    /// revision of the world's first family when there is none.
    fn task_definition_for(
        &self,
        reference: Option<&str>,
        what: &str,
    ) -> Result<String, WorldError> {
        let found = match reference {
            Some(r) => self.world.find_task_definition(r),
            None => self
                .world
                .task_definitions
                .first()
                .and_then(|first| self.world.find_task_definition(&first.family.clone())),
        };
        match (found, reference) {
            (Some(td), _) => Ok(td.key()),
            (None, Some(r)) => {
                Err(self.invalid(format!("{what}: task definition `{r}` is not in the world")))
            }
            (None, None) => {
                Err(self.invalid(format!("{what}: the world has no task definition to run")))
            }
        }
    }

    fn service(&mut self, i: usize, e: ServiceEntry) -> Result<(), WorldError> {
        let name = name_from_arn(&e.name).to_string();
        let what = format!("services[{i}] ({name})");
        // A service named without a cluster patches the service of that name, wherever it is.
        let existing_cluster = match &e.cluster {
            None => self
                .world
                .services
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.cluster.clone()),
            Some(_) => None,
        };
        let cluster = match existing_cluster {
            Some(c) => c,
            None => self.cluster_for(e.cluster.as_deref(), &what)?,
        };
        let td_given = match &e.task_definition {
            Some(r) => Some(self.task_definition_for(Some(r), &what)?),
            None => None,
        };
        let epoch = self.world.epoch;
        let index = match self.world.service(&cluster, &name) {
            Some(_) => self
                .world
                .services
                .iter()
                .position(|s| s.cluster == cluster && s.name == name),
            None => None,
        };
        let index = match index {
            Some(i) => i,
            None => {
                let td = match &td_given {
                    Some(td) => td.clone(),
                    None => self.task_definition_for(None, &what)?,
                };
                let desired = e
                    .desired_count
                    .unwrap_or(super::world::DEFAULT_DESIRED_COUNT);
                let created_at = epoch - chrono::Duration::hours(1);
                let launch_type = self
                    .world
                    .find_task_definition(&td)
                    .map_or(LaunchType::Fargate, TaskDefinition::default_launch_type);
                self.world.services.push(Service {
                    name: name.clone(),
                    cluster: cluster.clone(),
                    status: "ACTIVE".to_string(),
                    task_definition: td.clone(),
                    desired_count: desired,
                    launch_type: Some(launch_type),
                    platform_version: (launch_type == LaunchType::Fargate)
                        .then(|| "LATEST".to_string()),
                    enable_execute_command: true,
                    created_at,
                    deployments: vec![primary_deployment(
                        &cluster, &name, &td, desired, created_at,
                    )],
                    events: Vec::new(),
                    load_balancers: Vec::new(),
                    network_configuration: None,
                    deployment_configuration: default_deployment_configuration(),
                    capacity_provider_strategy: Vec::new(),
                    scheduling_strategy: "REPLICA".to_string(),
                    tags: Vec::new(),
                    extra: Map::new(),
                    task_count: None,
                });
                self.world.services.len() - 1
            }
        };
        let world = &mut self.world;
        let s = &mut world.services[index];
        if let Some(v) = e.status {
            s.status = v;
        }
        if let Some(v) = e.desired_count {
            s.desired_count = v;
            if let Some(primary) = s.deployments.iter_mut().find(|d| d.status == "PRIMARY") {
                primary.desired_count = v;
            }
        }
        if let Some(td) = td_given {
            if s.task_definition != td {
                s.task_definition = td.clone();
                s.deployments = vec![primary_deployment(
                    &cluster,
                    &name,
                    &td,
                    s.desired_count,
                    epoch,
                )];
            }
        }
        if let Some(v) = e.launch_type {
            s.launch_type = Some(v);
            if v != LaunchType::Fargate {
                s.platform_version = None;
            }
        }
        if let Some(v) = e.capacity_provider_strategy {
            if !v.is_empty() && e.launch_type.is_none() {
                s.launch_type = None;
            }
            s.capacity_provider_strategy = v;
        }
        if let Some(v) = e.platform_version {
            s.platform_version = Some(v);
        }
        if let Some(v) = e.enable_execute_command {
            s.enable_execute_command = v;
        }
        if let Some(v) = e.created_at {
            s.created_at = v.resolve(epoch);
        }
        if let Some(v) = e.task_count {
            s.task_count = Some(v);
        }
        if let Some(v) = e.load_balancers {
            s.load_balancers = v;
        }
        if let Some(v) = e.network_configuration {
            s.network_configuration = Some(v);
        }
        if let Some(v) = e.deployment_configuration {
            s.deployment_configuration = v;
        }
        if let Some(v) = e.scheduling_strategy {
            s.scheduling_strategy = v;
        }
        if let Some(v) = e.tags {
            s.tags = tags(v);
        }
        if let Some(events) = e.events {
            s.events = events
                .into_iter()
                .enumerate()
                .map(|(k, ev)| ServiceEvent {
                    id: ev
                        .id
                        .unwrap_or_else(|| uuid_id(&format!("event/{cluster}/{name}/file/{k}"))),
                    // Listed newest first, a minute apart, unless dated.
                    created_at: ev
                        .created_at
                        .map_or(epoch - chrono::Duration::minutes(k as i64 + 1), |t| {
                            t.resolve(epoch)
                        }),
                    message: ev.message,
                })
                .collect();
        }
        let Some(deployments) = e.deployments else {
            return Ok(());
        };
        let (service_td, service_desired, service_created) =
            (s.task_definition.clone(), s.desired_count, s.created_at);
        let mut built: Vec<Deployment> = Vec::new();
        for (k, d) in deployments.into_iter().enumerate() {
            let what = format!("{what}: deployments[{k}]");
            let td = match d.task_definition.as_deref() {
                Some(r) => self.task_definition_for(Some(r), &what)?,
                None => service_td.clone(),
            };
            let mut dep = primary_deployment(
                &cluster,
                &name,
                &format!("{td}/{k}"),
                service_desired,
                service_created,
            );
            dep.task_definition = td;
            if k > 0 {
                dep.status = "ACTIVE".to_string();
                dep.desired_count = 0;
                dep.rollout_state = Some("COMPLETED".to_string());
            }
            if let Some(id) = d.id {
                dep.id = id;
            }
            dep.rollout_state_reason = Some(format!("ECS deployment {} completed.", dep.id));
            if let Some(v) = d.status {
                dep.status = v;
            }
            if let Some(v) = d.desired_count {
                dep.desired_count = v;
            }
            dep.running_count = d.running_count;
            dep.pending_count = d.pending_count;
            if let Some(v) = d.failed_tasks {
                dep.failed_tasks = v;
            }
            if let Some(v) = d.rollout_state {
                dep.rollout_state_reason = match v.as_str() {
                    "IN_PROGRESS" => None,
                    "FAILED" => Some(format!(
                        "ECS deployment circuit breaker: tasks failed to start in deployment {}.",
                        dep.id
                    )),
                    _ => dep.rollout_state_reason,
                };
                dep.rollout_state = Some(v);
            }
            if let Some(v) = d.rollout_state_reason {
                dep.rollout_state_reason = Some(v);
            }
            if let Some(v) = d.created_at {
                dep.created_at = v.resolve(epoch);
            }
            dep.updated_at = d.updated_at.map_or(dep.created_at, |t| t.resolve(epoch));
            built.push(dep);
        }
        let s = &mut self.world.services[index];
        if let Some(primary) = built.iter().find(|d| d.status == "PRIMARY") {
            s.task_definition = primary.task_definition.clone();
        }
        s.deployments = built;
        Ok(())
    }

    fn task(&mut self, i: usize, e: TaskEntry) -> Result<(), WorldError> {
        let what = match &e.id {
            Some(id) => format!("tasks[{i}] ({id})"),
            None => format!("tasks[{i}]"),
        };
        if let Some(id) = &e.id {
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(self.invalid(format!(
                    "{what}: a task id is letters and digits (ECS uses 32 hex digits)"
                )));
            }
        }
        let existing =
            e.id.as_ref()
                .and_then(|id| self.world.tasks.iter().position(|t| &t.id == id));
        let mut task = match existing {
            Some(k) => self.world.tasks[k].clone(),
            None => self.new_task(i, &e, &what)?,
        };
        if existing.is_some() {
            if let Some(service) = &e.service {
                let Some(s) = self.world.service(&task.cluster, name_from_arn(service)) else {
                    return Err(self.invalid(format!(
                        "{what}: service `{service}` is not in cluster `{}`",
                        task.cluster
                    )));
                };
                task.group = format!("service:{}", s.name);
                task.started_by = s.primary().map(|d| d.id.clone());
            }
        }
        self.patch_task(&mut task, e, &what)?;
        match existing {
            Some(k) => self.world.tasks[k] = task,
            None => self.world.tasks.push(task),
        }
        Ok(())
    }

    /// A fresh RUNNING task for an entry that names no existing task: of the
    /// entry's service (its cluster, deployment, launch type and exec flag), or
    /// standalone.
    fn new_task(&mut self, i: usize, e: &TaskEntry, what: &str) -> Result<Task, WorldError> {
        let seed = format!("file/{i}/{}", e.id.as_deref().unwrap_or(""));
        let index = self.world.tasks.len();
        let service = match &e.service {
            Some(name) => {
                let name = name_from_arn(name);
                let cluster = e.cluster.as_deref().map(name_from_arn);
                let found = self
                    .world
                    .services
                    .iter()
                    .find(|s| s.name == name && cluster.is_none_or(|c| c == s.cluster));
                match found {
                    Some(s) => Some(s.clone()),
                    None => {
                        return Err(
                            self.invalid(format!("{what}: service `{name}` is not in the world"))
                        )
                    }
                }
            }
            None => None,
        };
        let mut task = match service {
            Some(s) => {
                let td_key = match e.task_definition.as_deref() {
                    Some(r) => self.task_definition_for(Some(r), what)?,
                    None => s
                        .primary()
                        .map_or(s.task_definition.clone(), |d| d.task_definition.clone()),
                };
                let Some(td) = self.world.find_task_definition(&td_key) else {
                    return Err(self.invalid(format!(
                        "{what}: task definition `{td_key}` is not in the world"
                    )));
                };
                let subnets: Vec<String> = s
                    .network_configuration
                    .as_ref()
                    .and_then(|n| n.pointer("/awsvpcConfiguration/subnets"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let (launch_type, provider) = s.task_launch_type();
                let mut task =
                    self.world
                        .new_task(&seed, index, &s.cluster, td, launch_type, &subnets);
                task.capacity_provider_name = provider;
                task.group = format!("service:{}", s.name);
                task.started_by = s.primary().map(|d| d.id.clone());
                task.set_exec(s.enable_execute_command);
                task
            }
            None => {
                let cluster = self.cluster_for(e.cluster.as_deref(), what)?;
                let td_key = self.task_definition_for(e.task_definition.as_deref(), what)?;
                let Some(td) = self.world.find_task_definition(&td_key) else {
                    return Err(self.invalid(format!(
                        "{what}: task definition `{td_key}` is not in the world"
                    )));
                };
                self.world.new_task(&seed, index, &cluster, td, None, &[])
            }
        };
        if let Some(id) = &e.id {
            task.id = id.clone();
            for c in &mut task.containers {
                c.runtime_id = Some(runtime_id(id, &c.name));
            }
            if let Some(n) = &mut task.network {
                n.attachment_id = uuid_id(&format!("attachment/{id}"));
            }
        }
        Ok(task)
    }

    fn patch_task(&self, task: &mut Task, e: TaskEntry, what: &str) -> Result<(), WorldError> {
        let epoch = self.world.epoch;
        if let Some(v) = e.task_definition.as_deref() {
            task.task_definition = self.task_definition_for(Some(v), what)?;
        }
        if let Some(v) = e.group {
            task.group = v;
        }
        if let Some(v) = e.started_by {
            task.started_by = Some(v);
        }
        if let Some(v) = e.launch_type {
            task.launch_type = v;
            if v != LaunchType::Fargate {
                task.platform_version = None;
            }
        }
        if let Some(v) = e.platform_version {
            task.platform_version = Some(v);
        }
        if let Some(v) = e.availability_zone {
            task.availability_zone = v;
        }
        if let Some(net) = &mut task.network {
            if let Some(v) = e.private_ip {
                net.private_ip = v;
            }
            if let Some(v) = e.subnet_id {
                net.subnet_id = v;
            }
        }
        if let Some(v) = e.task_role_arn {
            task.overrides.task_role_arn = Some(v);
        }
        if let Some(v) = e.cpu {
            task.cpu = Some(v);
        }
        if let Some(v) = e.memory {
            task.memory = Some(v);
        }
        if let Some(v) = e.health_status {
            task.health_status = v;
        }
        if let Some(v) = e.created_at {
            task.created_at = v.resolve(epoch);
        }
        if let Some(v) = e.started_at {
            task.started_at = Some(v.resolve(epoch));
        }
        if let Some(v) = e.tags {
            task.tags = tags(v);
        }
        if let Some(v) = e.enable_execute_command {
            task.set_exec(v);
        }
        if let Some(status) = e.last_status {
            set_task_status(task, status);
        }
        if let Some(v) = e.desired_status {
            task.desired_status = v;
        }
        if let Some(v) = e.stopped_at {
            task.stopped_at = Some(v.resolve(epoch));
        }
        if let Some(v) = e.stopped_reason {
            task.stopped_reason = Some(v);
        }
        if let Some(v) = e.stop_code {
            task.stop_code = Some(v);
        }
        for c in e.containers.unwrap_or_default() {
            let k = match task.containers.iter().position(|x| x.name == c.name) {
                Some(k) => k,
                None => {
                    let status = task.last_status.container_status();
                    task.containers.push(TaskContainer {
                        container_id: uuid_id(&format!("container/{}/{}", task.id, c.name)),
                        runtime_id: Some(runtime_id(&task.id, &c.name)),
                        name: c.name.clone(),
                        image: String::new(),
                        last_status: status,
                        exit_code: None,
                        reason: None,
                        health_status: "UNKNOWN".to_string(),
                        exec_agent: task.enable_execute_command.then(|| ManagedAgent {
                            last_status: AgentStatus::for_container(status),
                            reason: None,
                            last_started_at: task.started_at,
                        }),
                        exec_path: None,
                    });
                    task.containers.len() - 1
                }
            };
            let exec = task.enable_execute_command;
            let started = task.started_at;
            let x = &mut task.containers[k];
            if let Some(v) = c.image {
                x.image = v;
            }
            if let Some(v) = c.last_status {
                x.last_status = v;
                if let Some(agent) = &mut x.exec_agent {
                    agent.last_status = AgentStatus::for_container(v);
                }
            }
            if let Some(v) = c.exit_code {
                x.exit_code = Some(v);
            }
            if let Some(v) = c.reason {
                x.reason = Some(v);
            }
            if let Some(v) = c.health_status {
                x.health_status = v;
            }
            if let Some(v) = c.exec_path {
                x.exec_path = Some(v);
            }
            if c.agent.is_some() || c.agent_reason.is_some() {
                if !exec {
                    return Err(self.invalid(format!(
                        "{what}: container `{}` sets its agent but the task has enable_execute_command false",
                        c.name
                    )));
                }
                let agent = x.exec_agent.get_or_insert(ManagedAgent {
                    last_status: AgentStatus::for_container(x.last_status),
                    reason: None,
                    last_started_at: started,
                });
                if let Some(v) = c.agent {
                    agent.last_status = v;
                    if v == AgentStatus::Pending {
                        agent.last_started_at = None;
                    }
                }
                if let Some(v) = c.agent_reason {
                    agent.reason = Some(v);
                }
            }
        }
        Ok(())
    }
}

fn apply_exec_knobs(k: &mut ExecKnobs, x: ExecKnobsEntry) {
    if let Some(v) = x.root {
        k.root = Some(v);
    }
    if let Some(v) = x.ack_delay {
        k.ack_delay = v;
    }
    if let Some(v) = x.ack_drop_rate {
        k.ack_drop_rate = v;
    }
    if let Some(v) = x.output_duplicate_rate {
        k.output_duplicate_rate = v;
    }
    if let Some(v) = x.output_reorder_rate {
        k.output_reorder_rate = v;
    }
    if let Some(v) = x.pause_after_messages {
        k.pause_after_messages = Some(v);
    }
    if let Some(v) = x.pause_for {
        k.pause_for = v;
    }
    if let Some(v) = x.drop_socket_after_bytes {
        k.drop_socket_after_bytes = Some(v);
    }
    if let Some(v) = x.target_not_connected {
        k.target_not_connected = v;
    }
    if let Some(v) = x.agent_pacing {
        k.agent_pacing = match v {
            PacingEntry::None => super::world::AgentPacing::None,
            PacingEntry::Real => super::world::AgentPacing::Real,
        };
    }
}

/// Move a task to `status` and everything that goes with it, as ECS would
/// report it: desiredStatus, container and agent states, stop times and reason.
fn set_task_status(task: &mut Task, status: TaskStatus) {
    task.last_status = status;
    task.desired_status = status.default_desired();
    let container_status = status.container_status();
    for c in &mut task.containers {
        c.last_status = container_status;
        if let Some(agent) = &mut c.exec_agent {
            agent.last_status = AgentStatus::for_container(container_status);
            if status.is_starting() {
                agent.last_started_at = None;
            }
        }
    }
    if status.is_starting() {
        task.started_at = None;
        task.pull_stopped_at = None;
        if status != TaskStatus::Pending {
            task.pull_started_at = None;
        }
        task.version = 2;
    }
    if status.is_stopping() {
        let stopping_at = task.started_at.unwrap_or(task.created_at) + chrono::Duration::minutes(5);
        task.stopping_at = Some(stopping_at);
        task.stop_code
            .get_or_insert_with(|| "EssentialContainerExited".to_string());
        task.stopped_reason
            .get_or_insert_with(|| "Essential container in task exited".to_string());
        if matches!(
            status,
            TaskStatus::Stopped | TaskStatus::Deleted | TaskStatus::Deprovisioning
        ) {
            task.stopped_at = Some(stopping_at + chrono::Duration::seconds(30));
            for c in &mut task.containers {
                c.exit_code.get_or_insert(1);
            }
        }
        task.version = 6;
    }
}
