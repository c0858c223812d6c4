//! `ecsx verify`: every ECS Exec prerequisite and every resource the task
//! definition refers to, checked concurrently, each as one [`CheckResult`].
//!
//! The engine gathers what the checks need in a few concurrent stages (the
//! caller, the cluster, the service and the tasks first; then the task
//! definitions, roles, images, secrets, log groups, target groups and
//! subnets; then the task roles' simulations) and turns every answer into
//! results. A failed call never stops the others: it becomes the result of
//! the checks that needed it (WARN "could not check: ..." when ecsx may not
//! ask, NG when the answer itself is the problem).
//!
//! [`preflight`] runs only the fast rows that concern one task and container,
//! for `exec`.

mod checks;
mod ec2;
mod iam;
pub mod policy;
pub mod report;
mod resources;
mod taskdef;

use std::fmt;

use aws_sdk_ecs::types::Task;
use serde_json::Value;

use crate::aws::Aws;
use crate::ecs::Target;
use crate::error::Error;

pub use taskdef::TaskDef;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Ok,
    Ng,
    Warn,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Ng => "NG",
            Status::Warn => "WARN",
            Status::Skip => "SKIP",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of resource a check is about; results are grouped by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Caller,
    Cluster,
    Service,
    Task,
    TaskDefinition,
    Role,
    Image,
    Secret,
    LogGroup,
    TargetGroup,
    Network,
    Kms,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Caller => "caller",
            Group::Cluster => "cluster",
            Group::Service => "service",
            Group::Task => "task",
            Group::TaskDefinition => "taskDefinition",
            Group::Role => "role",
            Group::Image => "image",
            Group::Secret => "secret",
            Group::LogGroup => "logGroup",
            Group::TargetGroup => "targetGroup",
            Group::Network => "network",
            Group::Kms => "kmsKey",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Stable id, `exec.task.agent_running`; docs/verify.md lists them.
    pub id: &'static str,
    /// The row of the exec prerequisites table, for exec rows.
    pub row: Option<u8>,
    pub group: Group,
    /// The resource's name within its group: a task id, a role ARN, ...
    pub resource: String,
    /// The task the check concerns, if any.
    pub task: Option<String>,
    /// The container the check concerns, if any.
    pub container: Option<String>,
    pub status: Status,
    pub message: String,
    /// The exact change that fixes an NG or WARN.
    pub fix: Option<String>,
}

impl CheckResult {
    pub fn new(id: &'static str, group: Group, resource: impl Into<String>) -> CheckResult {
        CheckResult {
            id,
            row: None,
            group,
            resource: resource.into(),
            task: None,
            container: None,
            status: Status::Ok,
            message: String::new(),
            fix: None,
        }
    }

    pub fn row(mut self, row: u8) -> Self {
        self.row = Some(row);
        self
    }

    pub fn task(mut self, task: impl Into<String>) -> Self {
        self.task = Some(task.into());
        self
    }

    pub fn container(mut self, container: impl Into<String>) -> Self {
        self.container = Some(container.into());
        self
    }

    pub fn ok(mut self, message: impl Into<String>) -> Self {
        self.status = Status::Ok;
        self.message = message.into();
        self.fix = None;
        self
    }

    pub fn ng(mut self, message: impl Into<String>, fix: impl Into<String>) -> Self {
        self.status = Status::Ng;
        self.message = message.into();
        self.fix = Some(fix.into());
        self
    }

    pub fn warn(mut self, message: impl Into<String>, fix: impl Into<String>) -> Self {
        self.status = Status::Warn;
        self.message = message.into();
        self.fix = Some(fix.into());
        self
    }

    pub fn skip(mut self, reason: impl Into<String>) -> Self {
        self.status = Status::Skip;
        self.message = reason.into();
        self.fix = None;
        self
    }

    /// WARN "could not check": the call that would tell failed. `permission`
    /// is the IAM action of the call (`iam:GetRole`).
    pub fn could_not_check(self, err: &Error, permission: &str) -> Self {
        let (message, fix) = could_not_check(err, permission);
        self.warn(message, fix)
    }
}

/// Error codes of a service that does not know the operation (the sandbox
/// before it serves it, or an endpoint that is not AWS).
const UNKNOWN_OPERATION: &[&str] = &[
    "UnknownOperationException",
    "UnknownOperation",
    "InvalidAction",
];

/// The code of an AWS error, if it is one.
pub(crate) fn error_code(err: &Error) -> Option<&str> {
    match err {
        Error::Aws { code, .. } => Some(code.as_str()),
        _ => None,
    }
}

/// The message and fix of a check that could not be made.
pub(crate) fn could_not_check(err: &Error, permission: &str) -> (String, String) {
    let (service, operation) = permission.split_once(':').unwrap_or(("aws", permission));
    match error_code(err) {
        Some(code) if crate::error::DENIED_CODES.contains(&code) => (
            format!("could not check: needs {permission}"),
            format!("allow {permission} to the identity running ecsx verify"),
        ),
        Some(code) if UNKNOWN_OPERATION.contains(&code) => (
            format!("could not check: {service} did not answer {operation}"),
            format!("point ecsx at an endpoint that serves {service} {operation} (AWS does)"),
        ),
        // AWS's own answer: its line without the fix, and the fix apart.
        Some(code) => match err {
            Error::Aws {
                operation, message, ..
            } => (
                format!("could not check: {operation} failed: {code}: {message}"),
                crate::error::aws_fix(operation, code),
            ),
            _ => (
                format!("could not check: {err}"),
                "run ecsx verify again; with --debug to see the calls".to_string(),
            ),
        },
        None => (
            format!("could not check: {err}"),
            "run ecsx verify again; with --debug to see the calls".to_string(),
        ),
    }
}

/// What to verify.
#[derive(Debug, Clone)]
pub struct Input {
    pub target: Target,
    /// The configured service, if any.
    pub service: Option<String>,
    /// The task definition rendered from the config, if it renders.
    pub task_definition: Option<Value>,
    /// The service definition rendered from the config, if any.
    pub service_definition: Option<Value>,
    /// `--task-id`: only this task (an id, an ARN or a unique prefix).
    pub task_id: Option<String>,
    /// `--container`: only this container.
    pub container: Option<String>,
}

/// Run every check. The order of the results is stable: by group as they
/// first appear, then in check order.
pub async fn run(aws: &Aws, input: &Input) -> crate::error::Result<Vec<CheckResult>> {
    checks::run_all(aws, input).await
}

/// exec's pre-flight: the rows that concern one task and container (service
/// and task exec flags, task status, agent status, the caller's
/// `ecs:ExecuteCommand`, the task role's `ssmmessages:*`, KMS,
/// `readonlyRootFilesystem`, credential variables), run concurrently in at
/// most three round trips. An NG among them means exec would fail.
pub async fn preflight(
    aws: &Aws,
    target: &Target,
    task: &Task,
    container: &str,
) -> Vec<CheckResult> {
    checks::preflight(aws, target, task, container).await
}

/// `port-forward`'s pre-flight row (`port.caller.start_session`, NG when
/// denied): the caller's `ssm:StartSession` on the task and `document`.
/// Run it together with [`preflight`].
pub async fn port_preflight(aws: &Aws, task: &Task, document: &str) -> Vec<CheckResult> {
    checks::port_preflight(aws, task, document).await
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub ok: usize,
    pub ng: usize,
    pub warn: usize,
    pub skip: usize,
}

impl Summary {
    pub fn of(results: &[CheckResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.status {
                Status::Ok => s.ok += 1,
                Status::Ng => s.ng += 1,
                Status::Warn => s.warn += 1,
                Status::Skip => s.skip += 1,
            }
        }
        s
    }

    pub fn total(&self) -> usize {
        self.ok + self.ng + self.warn + self.skip
    }

    /// Whether the run fails: any NG, or with `strict` any WARN.
    pub fn failed(&self, strict: bool) -> bool {
        self.ng > 0 || (strict && self.warn > 0)
    }
}

/// Order results by group (first appearance), keeping check order within.
pub fn grouped(results: &[CheckResult]) -> Vec<((Group, String), Vec<&CheckResult>)> {
    let mut groups: Vec<((Group, String), Vec<&CheckResult>)> = Vec::new();
    for r in results {
        let key = (r.group, r.resource.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::cli::GlobalArgs;
    use aws_sdk_ecs::types::DesiredStatus;

    async fn preflight_in(world: Option<&str>, container: &str) -> Vec<CheckResult> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/verify");
        let mut app = App::new(GlobalArgs {
            config: Some(root.join("ecspresso.yml")),
            sandbox: true,
            sandbox_world: world.map(|w| root.join("worlds").join(w)),
            ..Default::default()
        });
        let target = app.target().unwrap();
        let aws = app.aws().await.unwrap().clone();
        let tasks = crate::ecs::list_tasks(&aws, &target, &[DesiredStatus::Running])
            .await
            .unwrap();
        let task = tasks.last().unwrap();
        preflight(&aws, &target, task, container).await
    }

    fn ng(results: &[CheckResult]) -> Vec<&'static str> {
        results
            .iter()
            .filter(|r| r.status == Status::Ng)
            .map(|r| r.id)
            .collect()
    }

    #[test]
    fn failed_calls_are_could_not_check() {
        let err = |code: &str| Error::Aws {
            operation: "SimulatePrincipalPolicy",
            code: code.into(),
            message: "m".into(),
        };
        let c = CheckResult::new("x", Group::Caller, "caller");
        let denied = c
            .clone()
            .could_not_check(&err("AccessDenied"), "iam:SimulatePrincipalPolicy");
        assert_eq!(denied.status, Status::Warn);
        assert_eq!(
            denied.message,
            "could not check: needs iam:SimulatePrincipalPolicy"
        );
        let unknown = c
            .clone()
            .could_not_check(&err("InvalidAction"), "iam:GetRole");
        assert_eq!(
            unknown.message,
            "could not check: iam did not answer GetRole"
        );
        let other = c.could_not_check(&err("Throttling"), "ecr:DescribeImages");
        assert_eq!(other.status, Status::Warn);
        assert!(other.message.starts_with("could not check: "));
        assert!(other.fix.is_some());
    }

    #[tokio::test]
    async fn preflight_runs_the_rows_of_one_task_and_container() {
        let healthy = preflight_in(None, "app").await;
        assert!(ng(&healthy).is_empty(), "{healthy:#?}");
        let ids: Vec<&str> = healthy.iter().map(|r| r.id).collect();
        for id in [
            "exec.caller.identity",
            "exec.caller.execute_command",
            "exec.service.enable_execute_command",
            "exec.task.running",
            "exec.task.enable_execute_command",
            "exec.task.agent_running",
            "exec.task.task_role",
            "exec.container.readonly_root_filesystem",
            "exec.container.credential_variables",
            "exec.task_role.ssmmessages",
        ] {
            assert!(ids.contains(&id), "no {id} in {ids:?}");
        }
        assert!(healthy
            .iter()
            .all(|r| r.container.as_deref().is_none_or(|c| c == "app")));

        let broken = preflight_in(Some("exec.task.agent_running.yml"), "sidecar").await;
        assert_eq!(ng(&broken), vec!["exec.task.agent_running"], "{broken:#?}");
        let other = preflight_in(Some("exec.task.agent_running.yml"), "app").await;
        assert!(ng(&other).is_empty(), "{other:#?}");
        let readonly =
            preflight_in(Some("exec.container.readonly_root_filesystem.yml"), "app").await;
        assert_eq!(
            ng(&readonly),
            vec!["exec.container.readonly_root_filesystem"]
        );
    }
}
