//! The sandbox's world: every AWS resource the emulator knows about, as plain
//! data. Handlers read it to answer calls; later operations (RunTask,
//! ExecuteCommand, ...) will change it. A world comes from an ecspresso config
//! ([`World::derive`]), from a world file ([`World::from_yaml_file`], see
//! `docs/sandbox.md`), or from both: a file applied on top of a derived world.
//!
//! Entities refer to each other by name (cluster name, `family:revision`), not
//! by ARN, so that changing `account` or `region` moves every ARN with it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

pub use super::worldfile::WorldError;

/// Account id used when neither the world file nor anything else names one.
pub const DEFAULT_ACCOUNT: &str = "123456789012";
/// Region used when nothing names one.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Number of RUNNING tasks generated per service (and for a service-less world).
pub const DEFAULT_TASK_COUNT: usize = 2;
/// Desired count of a derived service whose definition names none.
pub const DEFAULT_DESIRED_COUNT: u32 = 2;
/// Fargate platform version reported by tasks (the first with ECS Exec).
pub const FARGATE_PLATFORM_VERSION: &str = "1.4.0";

/// Everything the sandbox knows. Plain data: `Clone` is a snapshot.
#[derive(Clone, Debug)]
pub struct World {
    pub account: String,
    pub region: String,
    /// ARN of the identity STS reports; `None` means `arn:aws:iam::<account>:user/sandbox`.
    pub caller: Option<String>,
    /// Sleep this long before answering every call.
    pub latency: Duration,
    /// Fraction (0.0..=1.0) of calls answered with a throttling error.
    pub throttle_rate: f64,
    /// RUNNING tasks generated for each service that sets no `task_count` of its own,
    /// and for each standalone group.
    pub task_count: usize,
    /// Seed of the generators behind the fault knobs; `None` is a fixed default,
    /// so runs are reproducible either way.
    pub seed: Option<u64>,
    /// How ECS Exec sessions run, and the faults they suffer.
    pub exec: ExecKnobs,
    /// KMS keys besides those derived from clusters' `executeCommandConfiguration`.
    pub kms_keys: Vec<KmsKey>,
    pub clusters: Vec<Cluster>,
    /// IAM roles, users and policies (GetRole, SimulatePrincipalPolicy).
    pub iam: super::iam::Iam,
    /// Images, secrets, parameters, log groups, target groups, subnets, VPC endpoints.
    pub resources: super::resources::Resources,
    pub task_definitions: Vec<TaskDefinition>,
    pub services: Vec<Service>,
    /// Families whose generated tasks run outside any service (a config with no service).
    pub standalone: Vec<StandaloneGroup>,
    /// Every task, generated ones first; this order is the order ListTasks reports.
    pub tasks: Vec<Task>,
    /// The moment the world was made; generated timestamps are set relative to it.
    pub epoch: DateTime<Utc>,
}

/// ECS Exec knobs: where the local processes run and the faults injected into
/// their data channels (`exec:` in the world file, see docs/sandbox.md).
#[derive(Clone, Debug, PartialEq)]
pub struct ExecKnobs {
    /// Folder holding one working folder per task; `None`: a fresh temporary
    /// folder per sandbox, removed when the sandbox is dropped.
    pub root: Option<PathBuf>,
    /// Hold back every input acknowledgement this long.
    pub ack_delay: Duration,
    /// Fraction of input acknowledgements withheld (the client resends).
    pub ack_drop_rate: f64,
    /// Fraction of output messages sent twice.
    pub output_duplicate_rate: f64,
    /// Fraction of output messages sent after their successor.
    pub output_reorder_rate: f64,
    /// Send `pause_publication` once after this many output messages ...
    pub pause_after_messages: Option<u64>,
    /// ... and `start_publication` this much later.
    pub pause_for: Duration,
    /// Drop the socket once, without a close frame, after this many output bytes.
    pub drop_socket_after_bytes: Option<u64>,
    /// Fail this many ExecuteCommand calls with TargetNotConnectedException first.
    pub target_not_connected: u32,
    /// How the agent paces what it sends (exec and port sessions).
    pub agent_pacing: AgentPacing,
}

/// `exec.agent_pacing` in the world file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AgentPacing {
    /// As fast as the data channel's window allows.
    #[default]
    None,
    /// As the real agent: 1 s before an exec session's first read, then at
    /// most 1 KiB per read and 1 ms of sleep after each (exec and port).
    Real,
}

impl Default for ExecKnobs {
    fn default() -> ExecKnobs {
        ExecKnobs {
            root: None,
            ack_delay: Duration::ZERO,
            ack_drop_rate: 0.0,
            output_duplicate_rate: 0.0,
            output_reorder_rate: 0.0,
            pause_after_messages: None,
            pause_for: Duration::from_millis(500),
            drop_socket_after_bytes: None,
            target_not_connected: 0,
            agent_pacing: AgentPacing::None,
        }
    }
}

/// A KMS key (symmetric, ENCRYPT_DECRYPT).
#[derive(Clone, Debug, PartialEq)]
pub struct KmsKey {
    /// The key id (a UUID in AWS).
    pub id: String,
    /// Alias names, each `alias/...`.
    pub aliases: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// The ARN, when it was named by one (a cluster's `kmsKeyId`); `None`:
    /// made from the world's account and region.
    pub arn: Option<String>,
}

/// What [`World::derive`] needs from an ecspresso config.
#[derive(Clone, Debug)]
pub struct DeriveInput {
    pub region: String,
    /// Cluster name or ARN.
    pub cluster: String,
    pub service: Option<String>,
    /// The rendered task definition, camelCase, not wrapped in `taskDefinition`.
    pub task_definition: Value,
    /// The rendered service definition, camelCase.
    pub service_definition: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct Cluster {
    pub name: String,
    /// ACTIVE, PROVISIONING, DEPROVISIONING, FAILED or INACTIVE.
    pub status: String,
    pub execute_command_configuration: Option<ExecuteCommandConfiguration>,
    /// `containerInsights` setting: `enabled`, `disabled` or `enhanced`.
    pub container_insights: String,
    pub registered_container_instances: u32,
    pub capacity_providers: Vec<String>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecuteCommandConfiguration {
    pub kms_key_id: Option<String>,
    pub logging: ExecLogging,
    pub log_configuration: Option<ExecLogConfiguration>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecLogging {
    None,
    #[default]
    Default,
    Override,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecLogConfiguration {
    pub cloud_watch_log_group_name: Option<String>,
    #[serde(default)]
    pub cloud_watch_encryption_enabled: bool,
    pub s3_bucket_name: Option<String>,
    #[serde(default)]
    pub s3_encryption_enabled: bool,
    pub s3_key_prefix: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A registered task definition revision.
#[derive(Clone, Debug)]
pub struct TaskDefinition {
    pub family: String,
    pub revision: u32,
    /// ACTIVE, INACTIVE or DELETE_IN_PROGRESS.
    pub status: String,
    pub registered_at: DateTime<Utc>,
    /// The registered document as ECS JSON (camelCase): containerDefinitions,
    /// taskRoleArn, cpu, ... Without the fields ECS adds (ARN, revision, status).
    pub body: Map<String, Value>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    pub cluster: String,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    /// `family:revision`.
    pub task_definition: String,
    pub desired_count: u32,
    /// `None` when the service uses a capacity provider strategy.
    pub launch_type: Option<LaunchType>,
    pub platform_version: Option<String>,
    pub enable_execute_command: bool,
    pub created_at: DateTime<Utc>,
    /// PRIMARY first.
    pub deployments: Vec<Deployment>,
    pub events: Vec<ServiceEvent>,
    /// ECS JSON, reported as given.
    pub load_balancers: Vec<Value>,
    pub network_configuration: Option<Value>,
    pub deployment_configuration: Value,
    pub capacity_provider_strategy: Vec<Value>,
    pub scheduling_strategy: String,
    pub tags: Vec<Tag>,
    /// Further service fields (ECS JSON) reported verbatim, e.g. healthCheckGracePeriodSeconds.
    pub extra: Map<String, Value>,
    /// Generated RUNNING tasks for this service; `None`: the world's `task_count`.
    pub task_count: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Deployment {
    /// `ecs-svc/<19 digits>`; tasks it started carry it as `startedBy`.
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    /// `family:revision`.
    pub task_definition: String,
    pub desired_count: u32,
    /// `None`: counted from the tasks this deployment started.
    pub running_count: Option<u32>,
    pub pending_count: Option<u32>,
    pub failed_tasks: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// COMPLETED, FAILED or IN_PROGRESS.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ServiceEvent {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub message: String,
}

/// Tasks of a family generated outside any service (group `family:<family>`).
#[derive(Clone, Debug)]
pub struct StandaloneGroup {
    pub cluster: String,
    /// `family:revision`.
    pub task_definition: String,
}

#[derive(Clone, Debug)]
pub struct Task {
    /// 32 lowercase hex digits.
    pub id: String,
    pub cluster: String,
    /// `family:revision`.
    pub task_definition: String,
    /// `service:<name>` or `family:<family>`.
    pub group: String,
    pub started_by: Option<String>,
    pub last_status: TaskStatus,
    pub desired_status: TaskStatus,
    pub launch_type: LaunchType,
    pub capacity_provider_name: Option<String>,
    pub platform_version: Option<String>,
    pub platform_family: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub availability_zone: String,
    pub enable_execute_command: bool,
    pub health_status: String,
    pub created_at: DateTime<Utc>,
    pub pull_started_at: Option<DateTime<Utc>>,
    pub pull_stopped_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopping_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub stopped_reason: Option<String>,
    pub stop_code: Option<String>,
    /// The task's ENI when its network mode is awsvpc.
    pub network: Option<TaskNetwork>,
    pub overrides: TaskOverrides,
    pub containers: Vec<TaskContainer>,
    pub version: u64,
    pub tags: Vec<Tag>,
    /// Made from `task_count`; replaced whenever the world's tasks are regenerated.
    pub generated: bool,
}

#[derive(Clone, Debug)]
pub struct TaskNetwork {
    pub attachment_id: String,
    pub eni_id: String,
    pub subnet_id: String,
    pub private_ip: String,
    pub mac_address: String,
}

#[derive(Clone, Debug, Default)]
pub struct TaskOverrides {
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    /// ECS JSON containerOverrides; `[{name}]` per container when empty.
    pub container_overrides: Vec<Value>,
}

#[derive(Clone, Debug)]
pub struct TaskContainer {
    pub name: String,
    pub image: String,
    /// Last part of the containerArn (a UUID).
    pub container_id: String,
    pub runtime_id: Option<String>,
    pub last_status: TaskStatus,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub health_status: String,
    /// The ExecuteCommandAgent; `None` when the task has exec disabled.
    pub exec_agent: Option<ManagedAgent>,
    /// PATH of the commands ECS Exec runs in this container; `None`: the usual
    /// system folders. Lets a world play an image without `sh` or `base64`.
    pub exec_path: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ManagedAgent {
    pub last_status: AgentStatus,
    pub reason: Option<String>,
    pub last_started_at: Option<DateTime<Utc>>,
}

/// A task's or container's lastStatus / desiredStatus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
    Deleted,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Provisioning => "PROVISIONING",
            TaskStatus::Pending => "PENDING",
            TaskStatus::Activating => "ACTIVATING",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Deactivating => "DEACTIVATING",
            TaskStatus::Stopping => "STOPPING",
            TaskStatus::Deprovisioning => "DEPROVISIONING",
            TaskStatus::Stopped => "STOPPED",
            TaskStatus::Deleted => "DELETED",
        }
    }

    /// Before RUNNING: nothing has started yet.
    pub fn is_starting(self) -> bool {
        matches!(
            self,
            TaskStatus::Provisioning | TaskStatus::Pending | TaskStatus::Activating
        )
    }

    /// After RUNNING: on the way down or gone.
    pub fn is_stopping(self) -> bool {
        matches!(
            self,
            TaskStatus::Deactivating
                | TaskStatus::Stopping
                | TaskStatus::Deprovisioning
                | TaskStatus::Stopped
                | TaskStatus::Deleted
        )
    }

    /// The desiredStatus ECS sets for a task in this lastStatus.
    pub fn default_desired(self) -> TaskStatus {
        if self.is_stopping() {
            TaskStatus::Stopped
        } else {
            TaskStatus::Running
        }
    }

    /// The lastStatus of a container in a task with this lastStatus.
    pub fn container_status(self) -> TaskStatus {
        if self.is_stopping() {
            TaskStatus::Stopped
        } else if self == TaskStatus::Running {
            TaskStatus::Running
        } else {
            TaskStatus::Pending
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LaunchType {
    Fargate,
    Ec2,
    External,
    ManagedInstances,
}

impl LaunchType {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchType::Fargate => "FARGATE",
            LaunchType::Ec2 => "EC2",
            LaunchType::External => "EXTERNAL",
            LaunchType::ManagedInstances => "MANAGED_INSTANCES",
        }
    }

    pub fn parse(s: &str) -> Option<LaunchType> {
        match s {
            "FARGATE" => Some(LaunchType::Fargate),
            "EC2" => Some(LaunchType::Ec2),
            "EXTERNAL" => Some(LaunchType::External),
            "MANAGED_INSTANCES" => Some(LaunchType::ManagedInstances),
            _ => None,
        }
    }
}

/// lastStatus of a managed agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentStatus {
    Pending,
    Running,
    Stopped,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Pending => "PENDING",
            AgentStatus::Running => "RUNNING",
            AgentStatus::Stopped => "STOPPED",
        }
    }

    /// The agent's status in a container with this lastStatus.
    pub fn for_container(status: TaskStatus) -> AgentStatus {
        match status {
            TaskStatus::Running => AgentStatus::Running,
            s if s.is_stopping() => AgentStatus::Stopped,
            _ => AgentStatus::Pending,
        }
    }
}

impl ExecLogging {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecLogging::None => "NONE",
            ExecLogging::Default => "DEFAULT",
            ExecLogging::Override => "OVERRIDE",
        }
    }
}

impl Cluster {
    pub fn new(name: &str) -> Cluster {
        Cluster {
            name: name.to_string(),
            status: "ACTIVE".to_string(),
            execute_command_configuration: None,
            container_insights: "disabled".to_string(),
            registered_container_instances: 0,
            capacity_providers: Vec::new(),
            tags: Vec::new(),
        }
    }
}

impl TaskDefinition {
    /// `family:revision`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.family, self.revision)
    }

    fn str_field(&self, name: &str) -> Option<String> {
        match self.body.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn cpu(&self) -> Option<String> {
        self.str_field("cpu")
    }

    pub fn memory(&self) -> Option<String> {
        self.str_field("memory")
    }

    pub fn network_mode(&self) -> Option<String> {
        self.str_field("networkMode")
    }

    pub fn task_role_arn(&self) -> Option<String> {
        self.str_field("taskRoleArn")
    }

    /// FARGATE unless `requiresCompatibilities` names launch types without it.
    pub fn default_launch_type(&self) -> LaunchType {
        match self.body.get("requiresCompatibilities") {
            Some(Value::Array(a)) if !a.is_empty() && !a.iter().any(|v| v == "FARGATE") => a
                .iter()
                .filter_map(Value::as_str)
                .find_map(LaunchType::parse)
                .unwrap_or(LaunchType::Ec2),
            _ => LaunchType::Fargate,
        }
    }

    /// (name, image) of every container definition.
    pub fn containers(&self) -> Vec<(String, String)> {
        let Some(Value::Array(defs)) = self.body.get("containerDefinitions") else {
            return Vec::new();
        };
        defs.iter()
            .map(|d| {
                let name = d.get("name").and_then(Value::as_str).unwrap_or("app");
                let image = d.get("image").and_then(Value::as_str).unwrap_or("");
                (name.to_string(), image.to_string())
            })
            .collect()
    }

    /// A task definition from its ECS JSON. `tags` ([{key, value}]) move out of
    /// the body, as RegisterTaskDefinition does; ECS-added fields are dropped.
    pub fn from_json(body: &Value, revision: u32, registered_at: DateTime<Utc>) -> TaskDefinition {
        let mut body = body.as_object().cloned().unwrap_or_default();
        let tags = body
            .remove("tags")
            .map(|t| tags_from_json(&t))
            .unwrap_or_default();
        for added in [
            "taskDefinitionArn",
            "revision",
            "status",
            "registeredAt",
            "registeredBy",
            "deregisteredAt",
            "compatibilities",
            "requiresAttributes",
        ] {
            body.remove(added);
        }
        let family = body
            .get("family")
            .and_then(Value::as_str)
            .filter(|f| !f.is_empty())
            .unwrap_or("app")
            .to_string();
        body.insert("family".to_string(), Value::String(family.clone()));
        TaskDefinition {
            family,
            revision,
            status: "ACTIVE".to_string(),
            registered_at,
            body,
            tags,
        }
    }
}

/// `[{key, value}]` (ECS JSON) to tags; anything else is ignored.
pub fn tags_from_json(v: &Value) -> Vec<Tag> {
    let Some(items) = v.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|t| {
            let key = t.get("key")?.as_str()?;
            let value = t.get("value").and_then(Value::as_str).unwrap_or("");
            Some(Tag {
                key: key.to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

/// The name at the end of an ARN (`.../NAME`), or the input when it is not an ARN.
pub fn name_from_arn(s: &str) -> &str {
    if s.starts_with("arn:") {
        s.rsplit('/').next().unwrap_or(s)
    } else {
        s
    }
}

/// The ARN partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A 64-bit FNV-1a hash, for deterministic ids and tokens.
pub(crate) fn fnv64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One step of splitmix64: a well-mixed 64-bit value from any seed.
pub(crate) fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `n` lowercase hex digits determined by `seed`: same world, same ids.
pub(crate) fn hex_id(seed: &str, n: usize) -> String {
    let mut out = String::with_capacity(n + 16);
    let mut state = fnv64(seed);
    while out.len() < n {
        state = splitmix64(state);
        out.push_str(&format!("{state:016x}"));
    }
    out.truncate(n);
    out
}

/// `n` decimal digits (no leading zero) determined by `seed`.
pub(crate) fn digit_id(seed: &str, n: usize) -> String {
    let mut out = String::with_capacity(n + 20);
    let mut state = fnv64(seed);
    while out.len() < n {
        state = splitmix64(state);
        out.push_str(&format!("{:019}", state % 10_000_000_000_000_000_000));
    }
    out.truncate(n);
    if out.starts_with('0') {
        out.replace_range(0..1, "1");
    }
    out
}

/// A container's runtimeId as Fargate reports it: `<task id>-<10 digits>`.
pub(crate) fn runtime_id(task_id: &str, container: &str) -> String {
    format!(
        "{task_id}-{}",
        digit_id(&format!("runtime/{task_id}/{container}"), 10)
    )
}

/// A UUID-shaped id determined by `seed`.
pub(crate) fn uuid_id(seed: &str) -> String {
    let h = hex_id(seed, 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

impl World {
    /// A world with no resources, default knobs, made now.
    pub fn empty() -> World {
        World {
            account: DEFAULT_ACCOUNT.to_string(),
            region: DEFAULT_REGION.to_string(),
            caller: None,
            latency: Duration::ZERO,
            throttle_rate: 0.0,
            task_count: DEFAULT_TASK_COUNT,
            seed: None,
            exec: ExecKnobs::default(),
            kms_keys: Vec::new(),
            clusters: Vec::new(),
            iam: Default::default(),
            resources: Default::default(),
            task_definitions: Vec::new(),
            services: Vec::new(),
            standalone: Vec::new(),
            tasks: Vec::new(),
            epoch: Utc::now(),
        }
    }

    /// The default world from an ecspresso config: its cluster (ACTIVE), its
    /// task definition registered as `family:1`, its service (if any) using it
    /// with enableExecuteCommand true and desiredCount from the service
    /// definition or 2, and `task_count` (default 2) RUNNING tasks with exec
    /// enabled and every container's ExecuteCommandAgent RUNNING. With no
    /// service: the tasks are standalone tasks of the family (group `family:<family>`).
    pub fn derive(input: &DeriveInput) -> World {
        let mut world = World::empty();
        if !input.region.is_empty() {
            world.region = input.region.clone();
        }
        let cluster = match name_from_arn(&input.cluster) {
            "" => "default".to_string(),
            name => name.to_string(),
        };
        world.clusters.push(Cluster::new(&cluster));
        world.iam = super::iam::Iam::derive(&input.task_definition);
        world.resources = super::resources::Resources::derive(
            &input.task_definition,
            input.service_definition.as_ref(),
        );

        let td = TaskDefinition::from_json(
            &input.task_definition,
            1,
            world.epoch - chrono::Duration::days(1),
        );
        let td_key = td.key();
        let default_launch = td.default_launch_type();
        world.task_definitions.push(td);

        match &input.service {
            Some(name) if !name.is_empty() => {
                let empty = Value::Object(Map::new());
                let def = input.service_definition.as_ref().unwrap_or(&empty);
                let service = derive_service(
                    &world,
                    name_from_arn(name),
                    &cluster,
                    &td_key,
                    def,
                    default_launch,
                );
                world.services.push(service);
            }
            _ => world.standalone.push(StandaloneGroup {
                cluster,
                task_definition: td_key,
            }),
        }
        world.regenerate_tasks();
        world
    }

    /// A world file (YAML). It may be complete (clusters, services, task
    /// definitions, tasks) or only knobs/overrides applied on top of `base`
    /// (typically a derived world). Errors carry the path, and line and column
    /// where the parser knows them.
    pub fn from_yaml_file(path: &Path, base: Option<World>) -> Result<World, WorldError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        World::from_yaml_str(&text, path, base)
    }

    /// Like [`World::from_yaml_file`] with the text in hand; `path` names it in errors.
    pub fn from_yaml_str(
        text: &str,
        path: &Path,
        base: Option<World>,
    ) -> Result<World, WorldError> {
        super::worldfile::apply(text, path, base.unwrap_or_else(World::empty))
    }

    /// The identity STS reports.
    pub fn caller_arn(&self) -> String {
        match &self.caller {
            Some(arn) => arn.clone(),
            None => format!(
                "arn:{}:iam::{}:user/sandbox",
                partition(&self.region),
                self.account
            ),
        }
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{}:{}:{}:{}",
            partition(&self.region),
            service,
            self.region,
            self.account,
            resource
        )
    }

    pub fn cluster_arn(&self, cluster: &str) -> String {
        self.arn("ecs", &format!("cluster/{cluster}"))
    }

    pub fn service_arn(&self, cluster: &str, service: &str) -> String {
        self.arn("ecs", &format!("service/{cluster}/{service}"))
    }

    pub fn task_arn(&self, cluster: &str, task_id: &str) -> String {
        self.arn("ecs", &format!("task/{cluster}/{task_id}"))
    }

    pub fn container_arn(&self, cluster: &str, task_id: &str, container_id: &str) -> String {
        self.arn(
            "ecs",
            &format!("container/{cluster}/{task_id}/{container_id}"),
        )
    }

    /// ARN of a task definition given as `family:revision`.
    pub fn task_definition_arn(&self, family_revision: &str) -> String {
        self.arn("ecs", &format!("task-definition/{family_revision}"))
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    pub fn service(&self, cluster: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.cluster == cluster && s.name == name)
    }

    /// Resolve a task definition given as family (latest ACTIVE revision),
    /// `family:revision` or ARN.
    pub fn find_task_definition(&self, reference: &str) -> Option<&TaskDefinition> {
        let reference = reference
            .rsplit("task-definition/")
            .next()
            .unwrap_or(reference);
        match reference.rsplit_once(':') {
            Some((family, revision)) => {
                let revision: u32 = revision.parse().ok()?;
                self.task_definitions
                    .iter()
                    .find(|td| td.family == family && td.revision == revision)
            }
            None => self
                .task_definitions
                .iter()
                .filter(|td| td.family == reference && td.status == "ACTIVE")
                .max_by_key(|td| td.revision),
        }
    }

    /// Replace every generated task: `task_count` (or the service's own count)
    /// RUNNING tasks for each ACTIVE service and each standalone group. Explicit
    /// tasks stay, after the generated ones. Ids are deterministic.
    pub fn regenerate_tasks(&mut self) {
        let mut tasks = Vec::new();
        // Position among all generated tasks: spreads zones and keeps addresses unique.
        let mut n = 0;
        for service in self.services.iter().filter(|s| s.status == "ACTIVE") {
            let count = service.task_count.unwrap_or(self.task_count);
            let primary = service.primary();
            let td_key = primary.map_or(service.task_definition.as_str(), |d| {
                d.task_definition.as_str()
            });
            let Some(td) = self.find_task_definition(td_key) else {
                continue;
            };
            let subnets = subnets_of(service.network_configuration.as_ref());
            for i in 0..count {
                let seed = format!("{}/{}/{}", service.cluster, service.name, i);
                let (launch_type, provider) = service.task_launch_type();
                let mut task = self.new_task(&seed, n, &service.cluster, td, launch_type, &subnets);
                n += 1;
                task.capacity_provider_name = provider;
                task.group = format!("service:{}", service.name);
                task.started_by = primary.map(|d| d.id.clone());
                task.platform_version = match task.launch_type {
                    LaunchType::Fargate => Some(
                        service
                            .platform_version
                            .clone()
                            .filter(|v| v != "LATEST")
                            .unwrap_or_else(|| FARGATE_PLATFORM_VERSION.to_string()),
                    ),
                    _ => None,
                };
                task.set_exec(service.enable_execute_command);
                task.generated = true;
                tasks.push(task);
            }
        }
        for group in &self.standalone {
            let Some(td) = self.find_task_definition(&group.task_definition) else {
                continue;
            };
            for i in 0..self.task_count {
                let seed = format!("{}/family:{}/{}", group.cluster, td.family, i);
                let mut task = self.new_task(&seed, n, &group.cluster, td, None, &[]);
                n += 1;
                task.group = format!("family:{}", td.family);
                task.generated = true;
                tasks.push(task);
            }
        }
        tasks.extend(self.tasks.drain(..).filter(|t| !t.generated));
        self.tasks = tasks;
    }

    /// A RUNNING task of `td` with exec enabled and every agent RUNNING: the
    /// base every generated or file-described task starts from. `index` spreads
    /// tasks over availability zones, subnets and addresses.
    pub fn new_task(
        &self,
        seed: &str,
        index: usize,
        cluster: &str,
        td: &TaskDefinition,
        launch_type: Option<LaunchType>,
        subnets: &[String],
    ) -> Task {
        let id = hex_id(&format!("task/{seed}"), 32);
        let launch_type = launch_type.unwrap_or_else(|| td.default_launch_type());
        let fargate = launch_type == LaunchType::Fargate;
        let offset = chrono::Duration::seconds(600 + index as i64);
        let created_at = self.epoch - offset;
        let started_at = created_at + chrono::Duration::seconds(40);
        let zones = ["a", "b", "c"];
        let availability_zone = format!("{}{}", self.region, zones[index % zones.len()]);
        let awsvpc = fargate || td.network_mode().as_deref() == Some("awsvpc");
        let network = awsvpc.then(|| {
            let subnet_id = if subnets.is_empty() {
                format!(
                    "subnet-0{}",
                    hex_id(&format!("subnet/{}", index % zones.len()), 16)
                )
            } else {
                subnets[index % subnets.len()].clone()
            };
            TaskNetwork {
                attachment_id: uuid_id(&format!("attachment/{id}")),
                eni_id: format!("eni-0{}", hex_id(&format!("eni/{id}"), 16)),
                subnet_id,
                private_ip: format!("10.0.{}.{}", (index / 250) % 256, index % 250 + 4),
                mac_address: {
                    let h = hex_id(&format!("mac/{id}"), 10);
                    format!(
                        "0a:{}:{}:{}:{}:{}",
                        &h[0..2],
                        &h[2..4],
                        &h[4..6],
                        &h[6..8],
                        &h[8..10]
                    )
                },
            }
        });
        let containers = td
            .containers()
            .into_iter()
            .map(|(name, image)| TaskContainer {
                container_id: uuid_id(&format!("container/{id}/{name}")),
                runtime_id: Some(runtime_id(&id, &name)),
                name,
                image,
                last_status: TaskStatus::Running,
                exit_code: None,
                reason: None,
                health_status: "UNKNOWN".to_string(),
                exec_agent: Some(ManagedAgent {
                    last_status: AgentStatus::Running,
                    reason: None,
                    last_started_at: Some(started_at + chrono::Duration::seconds(5)),
                }),
                exec_path: None,
            })
            .collect();
        Task {
            cluster: cluster.to_string(),
            task_definition: td.key(),
            group: format!("family:{}", td.family),
            started_by: None,
            last_status: TaskStatus::Running,
            desired_status: TaskStatus::Running,
            launch_type,
            capacity_provider_name: None,
            platform_version: fargate.then(|| FARGATE_PLATFORM_VERSION.to_string()),
            platform_family: fargate.then(|| "Linux".to_string()),
            cpu: td.cpu().or_else(|| fargate.then(|| "256".to_string())),
            memory: td.memory().or_else(|| fargate.then(|| "512".to_string())),
            availability_zone,
            enable_execute_command: true,
            health_status: "UNKNOWN".to_string(),
            created_at,
            pull_started_at: Some(created_at + chrono::Duration::seconds(10)),
            pull_stopped_at: Some(created_at + chrono::Duration::seconds(30)),
            started_at: Some(started_at),
            stopping_at: None,
            stopped_at: None,
            stopped_reason: None,
            stop_code: None,
            network,
            overrides: TaskOverrides::default(),
            containers,
            version: 4,
            tags: Vec::new(),
            generated: false,
            id,
        }
    }
}

impl Service {
    /// The PRIMARY deployment (the first one when none says PRIMARY): the one
    /// that starts new tasks.
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| d.status == "PRIMARY")
            .or_else(|| self.deployments.first())
    }

    /// The launch type of the tasks this service starts, and their capacity
    /// provider when the service uses a capacity provider strategy.
    pub fn task_launch_type(&self) -> (Option<LaunchType>, Option<String>) {
        if let Some(lt) = self.launch_type {
            return (Some(lt), None);
        }
        let provider = self
            .capacity_provider_strategy
            .first()
            .and_then(|s| s.get("capacityProvider"))
            .and_then(Value::as_str);
        match provider {
            Some(p) if p.starts_with("FARGATE") => (Some(LaunchType::Fargate), Some(p.to_string())),
            Some(p) => (Some(LaunchType::Ec2), Some(p.to_string())),
            None => (None, None),
        }
    }
}

impl Task {
    /// What StopTask does: desired and last status STOPPED now, stop code
    /// UserInitiated, the given reason, containers and agents stopped (exit
    /// code 143, what SIGTERM gives, unless one is known). A task already
    /// STOPPED is left as it is.
    pub fn stop(&mut self, reason: &str, now: DateTime<Utc>) {
        if self.last_status == TaskStatus::Stopped || self.last_status == TaskStatus::Deleted {
            return;
        }
        self.desired_status = TaskStatus::Stopped;
        self.last_status = TaskStatus::Stopped;
        self.stop_code = Some("UserInitiated".to_string());
        self.stopped_reason = Some(reason.to_string());
        self.stopping_at = Some(now);
        self.stopped_at = Some(now);
        for c in &mut self.containers {
            let was_running = c.last_status == TaskStatus::Running;
            c.last_status = TaskStatus::Stopped;
            if was_running {
                c.exit_code.get_or_insert(143);
            }
            if let Some(agent) = &mut c.exec_agent {
                agent.last_status = AgentStatus::Stopped;
            }
        }
        self.version += 2;
    }

    /// Turn ECS Exec on or off: on gives every container an ExecuteCommandAgent
    /// in the state its container implies; off removes the agents, as ECS does.
    pub fn set_exec(&mut self, enabled: bool) {
        self.enable_execute_command = enabled;
        let started = self.started_at;
        for c in &mut self.containers {
            if !enabled {
                c.exec_agent = None;
            } else if c.exec_agent.is_none() {
                c.exec_agent = Some(ManagedAgent {
                    last_status: AgentStatus::for_container(c.last_status),
                    reason: None,
                    last_started_at: started,
                });
            }
        }
    }
}

fn subnets_of(network_configuration: Option<&Value>) -> Vec<String> {
    network_configuration
        .and_then(|n| n.pointer("/awsvpcConfiguration/subnets"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The default PRIMARY deployment of a service, COMPLETED.
pub(crate) fn primary_deployment(
    cluster: &str,
    service: &str,
    task_definition: &str,
    desired_count: u32,
    at: DateTime<Utc>,
) -> Deployment {
    let id = format!(
        "ecs-svc/{}",
        digit_id(
            &format!("deployment/{cluster}/{service}/{task_definition}"),
            19
        )
    );
    Deployment {
        rollout_state_reason: Some(format!("ECS deployment {id} completed.")),
        id,
        status: "PRIMARY".to_string(),
        task_definition: task_definition.to_string(),
        desired_count,
        running_count: None,
        pending_count: None,
        failed_tasks: 0,
        created_at: at,
        updated_at: at + chrono::Duration::minutes(3),
        rollout_state: Some("COMPLETED".to_string()),
    }
}

/// The default deploymentConfiguration of a new service.
pub(crate) fn default_deployment_configuration() -> Value {
    serde_json::json!({
        "deploymentCircuitBreaker": {"enable": false, "rollback": false},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100
    })
}

/// Service fields the model keeps in typed form; the rest of a service
/// definition goes to [`Service::extra`].
const MODELLED_SERVICE_FIELDS: &[&str] = &[
    "serviceName",
    "cluster",
    "taskDefinition",
    "desiredCount",
    "launchType",
    "platformVersion",
    "enableExecuteCommand",
    "loadBalancers",
    "networkConfiguration",
    "deploymentConfiguration",
    "capacityProviderStrategy",
    "schedulingStrategy",
    "tags",
];

/// Fields of a service definition that DescribeServices does not report.
const REQUEST_ONLY_SERVICE_FIELDS: &[&str] = &[
    "clientToken",
    "role",
    "serviceConnectConfiguration",
    "volumeConfigurations",
];

fn derive_service(
    world: &World,
    name: &str,
    cluster: &str,
    td_key: &str,
    def: &Value,
    default_launch: LaunchType,
) -> Service {
    let created_at = world.epoch - chrono::Duration::hours(1);
    let desired_count = def
        .get("desiredCount")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_DESIRED_COUNT, |n| n as u32);
    let capacity_provider_strategy: Vec<Value> = def
        .get("capacityProviderStrategy")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let launch_type = match def
        .get("launchType")
        .and_then(Value::as_str)
        .and_then(LaunchType::parse)
    {
        Some(lt) => Some(lt),
        None if !capacity_provider_strategy.is_empty() => None,
        None => Some(default_launch),
    };
    let platform_version = def
        .get("platformVersion")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| (launch_type != Some(LaunchType::Ec2)).then(|| "LATEST".to_string()));
    let deployment = primary_deployment(cluster, name, td_key, desired_count, created_at);
    let events = vec![
        ServiceEvent {
            id: uuid_id(&format!("event/{cluster}/{name}/steady")),
            created_at: deployment.updated_at,
            message: format!("(service {name}) has reached a steady state."),
        },
        ServiceEvent {
            id: uuid_id(&format!("event/{cluster}/{name}/deployment")),
            created_at: deployment.updated_at - chrono::Duration::seconds(5),
            message: format!(
                "(service {name}) (deployment {}) deployment completed.",
                deployment.id
            ),
        },
        ServiceEvent {
            id: uuid_id(&format!("event/{cluster}/{name}/started")),
            created_at: deployment.created_at + chrono::Duration::seconds(20),
            message: format!("(service {name}) has started {desired_count} tasks."),
        },
    ];
    let extra: Map<String, Value> = def
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !MODELLED_SERVICE_FIELDS.contains(&k.as_str())
                        && !REQUEST_ONLY_SERVICE_FIELDS.contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Service {
        name: name.to_string(),
        cluster: cluster.to_string(),
        status: "ACTIVE".to_string(),
        task_definition: td_key.to_string(),
        desired_count,
        launch_type,
        platform_version,
        enable_execute_command: true,
        created_at,
        deployments: vec![deployment],
        events,
        load_balancers: def
            .get("loadBalancers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        network_configuration: def.get("networkConfiguration").cloned(),
        deployment_configuration: def
            .get("deploymentConfiguration")
            .cloned()
            .unwrap_or_else(default_deployment_configuration),
        capacity_provider_strategy,
        scheduling_strategy: def
            .get("schedulingStrategy")
            .and_then(Value::as_str)
            .unwrap_or("REPLICA")
            .to_string(),
        tags: def.get("tags").map(tags_from_json).unwrap_or_default(),
        extra,
        task_count: None,
    }
}
