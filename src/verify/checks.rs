//! The engine: gather in concurrent stages, then turn answers into results.
//! Rows 1-8 live here; IAM rows in `iam.rs`, resources in `resources.rs`,
//! the VPC endpoint row in `ec2.rs`, task definition rows in `taskdef.rs`.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{Cluster, ClusterField, DesiredStatus, Service, Task};

use super::iam::{self, Principal};
use super::taskdef::{self, TaskDef};
use super::{ec2, resources, CheckResult, Group, Input};
use crate::aws::Aws;
use crate::ecs::{self, task_id, Scope, Target};
use crate::error::{Error, Result};

/// What the exec rows need to know about the cluster's exec configuration.
#[derive(Debug, Clone, Default)]
pub(super) struct ExecConfig {
    pub kms_key_id: Option<String>,
    /// NONE, DEFAULT or OVERRIDE.
    pub logging: String,
    pub log_group: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_key_prefix: Option<String>,
}

/// The caller, as STS reports it.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    pub arn: String,
    pub account: String,
}

/// The caller's account (empty when STS did not answer) and the ARN, in that
/// account, of the cluster's exec KMS key, if it names one.
fn account_and_key(
    caller: &Result<Caller>,
    exec: &ExecConfig,
    region: &str,
) -> (String, Option<String>) {
    let account = caller
        .as_ref()
        .ok()
        .map(|c| c.account.clone())
        .unwrap_or_default();
    let key_arn = exec
        .kms_key_id
        .as_deref()
        .map(|k| iam::kms_key_arn(k, region, &account));
    (account, key_arn)
}

async fn caller_identity(aws: &Aws) -> Result<Caller> {
    let out = aws
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws.error("GetCallerIdentity", e))?;
    Ok(Caller {
        arn: out.arn().unwrap_or("").to_string(),
        account: out.account().unwrap_or("").to_string(),
    })
}

async fn describe_cluster(aws: &Aws, target: &Target) -> Result<Option<Cluster>> {
    let out = aws
        .ecs()
        .describe_clusters()
        .clusters(&target.cluster)
        .include(ClusterField::Configurations)
        .send()
        .await
        .map_err(|e| aws.error("DescribeClusters", e))?;
    Ok(out.clusters.unwrap_or_default().into_iter().next())
}

async fn describe_service(aws: &Aws, target: &Target, name: &str) -> Result<Option<Service>> {
    let out = aws
        .ecs()
        .describe_services()
        .cluster(&target.cluster)
        .services(name)
        .send()
        .await
        .map_err(|e| ecs::ecs_error(aws, target, "DescribeServices", e))?;
    Ok(out
        .services
        .unwrap_or_default()
        .into_iter()
        .find(|s| s.status() != Some("INACTIVE")))
}

async fn tasks(aws: &Aws, input: &Input) -> Result<Vec<Task>> {
    match &input.task_id {
        Some(id) => Ok(vec![ecs::find_task(aws, &input.target, id, true).await?]),
        None => ecs::list_tasks(aws, &input.target, &[DesiredStatus::Running]).await,
    }
}

async fn describe_task_definition(aws: &Aws, arn: String) -> (String, Result<TaskDef>) {
    let result = aws
        .ecs()
        .describe_task_definition()
        .task_definition(&arn)
        .send()
        .await
        .map_err(|e| aws.error("DescribeTaskDefinition", e))
        .and_then(|out| {
            out.task_definition()
                .map(TaskDef::from_sdk)
                .ok_or_else(|| Error::Aws {
                    operation: "DescribeTaskDefinition",
                    code: "Empty".into(),
                    message: "no task definition in the answer".into(),
                })
        });
    (arn, result)
}

/// The role a task runs with: its override, else its definition's.
fn task_role(task: &Task, td: Option<&TaskDef>) -> Option<String> {
    task.overrides()
        .and_then(|o| o.task_role_arn())
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .or_else(|| td.and_then(|td| td.task_role_arn.clone()))
}

fn exec_config(cluster: Option<&Cluster>) -> ExecConfig {
    let Some(conf) = cluster
        .and_then(|c| c.configuration())
        .and_then(|c| c.execute_command_configuration())
    else {
        return ExecConfig {
            logging: "DEFAULT".into(),
            ..Default::default()
        };
    };
    let log = conf.log_configuration();
    ExecConfig {
        kms_key_id: conf
            .kms_key_id()
            .filter(|k| !k.is_empty())
            .map(str::to_owned),
        logging: conf
            .logging()
            .map(|l| l.as_str().to_string())
            .unwrap_or_else(|| "DEFAULT".into()),
        log_group: log
            .and_then(|l| l.cloud_watch_log_group_name())
            .filter(|g| !g.is_empty())
            .map(str::to_owned),
        s3_bucket: log
            .and_then(|l| l.s3_bucket_name())
            .filter(|b| !b.is_empty())
            .map(str::to_owned),
        s3_key_prefix: log.and_then(|l| l.s3_key_prefix()).map(str::to_owned),
    }
}

/// Run every check.
pub(super) async fn run_all(aws: &Aws, input: &Input) -> Result<Vec<CheckResult>> {
    let target = &input.target;
    let only = input.container.as_deref();
    let service_name = input.service.clone().or(match &target.scope {
        Scope::Service(s) => Some(s.clone()),
        Scope::Family(_) => None,
    });

    // Stage 1: who, where, what runs.
    let (caller, cluster, service, tasks) = tokio::join!(
        caller_identity(aws),
        describe_cluster(aws, target),
        async {
            match &service_name {
                Some(name) => Some(describe_service(aws, target, name).await),
                None => None,
            }
        },
        tasks(aws, input),
    );
    let tasks = match tasks {
        Ok(tasks) => Ok(tasks),
        // A task the user named that does not exist is a usage error.
        Err(e @ (Error::Task(_) | Error::Usage(_))) => return Err(e),
        Err(e) => Err(e),
    };
    if let (Some(name), Ok(tasks)) = (only, &tasks) {
        if !tasks.is_empty()
            && !tasks
                .iter()
                .any(|t| t.containers().iter().any(|c| c.name() == Some(name)))
        {
            let names: Vec<&str> = tasks[0]
                .containers()
                .iter()
                .filter_map(|c| c.name())
                .collect();
            return Err(Error::Task(format!(
                "no task has a container {name:?}; the containers are: {}",
                names.join(", ")
            )));
        }
    }
    let cluster_ok = matches!(&cluster, Ok(Some(c)) if c.status() == Some("ACTIVE"));
    let exec = exec_config(cluster.as_ref().ok().and_then(|c| c.as_ref()));

    // Stage 2: task definitions, the caller's permissions, the resources.
    let task_list: &[Task] = tasks.as_deref().unwrap_or(&[]);
    let mut td_arns: Vec<String> = Vec::new();
    for t in task_list {
        if let Some(arn) = t.task_definition_arn() {
            if !td_arns.iter().any(|a| a == arn) {
                td_arns.push(arn.to_string());
            }
        }
    }
    let rendered = input.task_definition.as_ref().map(TaskDef::from_json);
    let principal = caller.as_ref().ok().map(|c| Principal::of_caller(&c.arn));
    let task_arns: Vec<String> = task_list
        .iter()
        .filter_map(|t| t.task_arn().map(str::to_owned))
        .collect();
    let (account, key_arn) = account_and_key(&caller, &exec, &aws.region);
    let (tds, (caller_rows, port_row), kms_key, resource_rows, network, agents) = tokio::join!(
        futures::future::join_all(
            td_arns
                .iter()
                .cloned()
                .map(|arn| describe_task_definition(aws, arn))
        ),
        async {
            tokio::join!(
                iam::caller_rows(
                    aws,
                    principal.as_ref(),
                    target,
                    &task_arns,
                    key_arn.as_deref()
                ),
                iam::start_session_row(
                    aws,
                    principal.as_ref(),
                    &task_arns,
                    &crate::port::spec::DOCUMENTS,
                    false
                )
            )
        },
        async {
            match &exec.kms_key_id {
                Some(key) => Some(iam::describe_key(aws, key).await),
                None => None,
            }
        },
        resources::rows(
            aws,
            rendered.as_ref(),
            input.service_definition.as_ref(),
            service
                .as_ref()
                .and_then(|s| s.as_ref().ok())
                .and_then(|s| s.as_ref()),
            only
        ),
        ec2::row(
            aws,
            task_list,
            service
                .as_ref()
                .and_then(|s| s.as_ref().ok())
                .and_then(|s| s.as_ref())
        ),
        container_agents(aws, target, task_list),
    );
    let tds: BTreeMap<String, Result<TaskDef>> = tds.into_iter().collect();

    // Stage 3: the roles (existence, trust, and the task roles' permissions).
    let mut task_roles: Vec<String> = Vec::new();
    // Each task role's awslogs groups (where DEFAULT exec logging writes).
    let mut role_log_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add_role = |role: String, td: Option<&TaskDef>| {
        let groups = role_log_groups.entry(role.clone()).or_default();
        if let Some(td) = td {
            for g in iam::awslogs_group_arns(td, only, &aws.region, &account) {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        if !task_roles.contains(&role) {
            task_roles.push(role);
        }
    };
    for t in task_list {
        let td = t
            .task_definition_arn()
            .and_then(|a| tds.get(a))
            .and_then(|r| r.as_ref().ok());
        if let Some(role) = task_role(t, td) {
            add_role(role, td);
        }
    }
    if task_list.is_empty() {
        if let Some(role) = rendered.as_ref().and_then(|r| r.task_role_arn.clone()) {
            add_role(role, rendered.as_ref());
        }
    }
    let mut roles: Vec<(String, &'static str)> = Vec::new();
    if let Some(r) = &rendered {
        if let Some(arn) = &r.execution_role_arn {
            roles.push((arn.clone(), "execution"));
        }
        if let Some(arn) = &r.task_role_arn {
            roles.push((arn.clone(), "task"));
        }
    }
    for role in &task_roles {
        if !roles.iter().any(|(a, _)| a == role) {
            roles.push((role.clone(), "task"));
        }
    }
    let role_rows = futures::future::join_all(roles.iter().map(|(arn, kind)| {
        iam::role_rows(
            aws,
            arn,
            kind,
            &exec,
            key_arn.as_deref(),
            &account,
            role_log_groups.get(arn).map(Vec::as_slice),
        )
    }))
    .await;

    // Results, in a stable order.
    let mut out: Vec<CheckResult> = Vec::new();
    out.push(caller_row(&caller));
    out.extend(caller_rows);
    out.push(port_row);
    out.extend(cluster_rows(target, &cluster, &exec));
    if let Some(key) = kms_key {
        out.push(key);
    }
    out.extend(service_rows(
        target,
        service_name.as_deref(),
        service.as_ref(),
    ));
    match &tasks {
        Ok(list) if list.is_empty() => {
            out.push(
                CheckResult::new("exec.service.running_tasks", Group::Service, service_label(target))
                    .warn(
                        format!("no running tasks in {}: the task rows were not checked", ecs::scope_label(target)),
                        "start a task (aws ecs update-service --desired-count 1) and run ecsx verify again",
                    ),
            );
        }
        Ok(list) => {
            for task in list {
                let td = task
                    .task_definition_arn()
                    .and_then(|a| tds.get(a))
                    .and_then(|r| r.as_ref().ok());
                out.extend(task_rows(
                    target,
                    service_name.as_deref(),
                    task,
                    td,
                    only,
                    &agents,
                ));
            }
        }
        Err(e) => {
            let check =
                CheckResult::new("exec.task.running", Group::Service, service_label(target)).row(6);
            out.push(if cluster_ok {
                check.could_not_check(e, "ecs:ListTasks")
            } else {
                check.skip(format!("tasks not listed: {e}"))
            });
        }
    }
    // Task definition rows: the running tasks' definitions, else the rendered one.
    if td_arns.is_empty() {
        if let Some(r) = &rendered {
            out.extend(taskdef::rows(r, only));
        }
    } else {
        for arn in &td_arns {
            match tds.get(arn) {
                Some(Ok(td)) => out.extend(taskdef::rows(td, only)),
                Some(Err(e)) => out.push(
                    CheckResult::new(
                        "exec.task_definition.described",
                        Group::TaskDefinition,
                        ecs::task_definition_label(arn),
                    )
                    .could_not_check(e, "ecs:DescribeTaskDefinition"),
                ),
                None => {}
            }
        }
    }
    for rows in role_rows {
        out.extend(rows);
    }
    out.extend(network);
    out.extend(resource_rows);
    Ok(out)
}

/// exec's pre-flight for one task and container.
/// `port-forward`'s own row: the caller's `ssm:StartSession` on the task
/// and on `document`.
pub(super) async fn port_preflight(aws: &Aws, task: &Task, document: &str) -> Vec<CheckResult> {
    let caller = caller_identity(aws).await;
    let principal = caller.as_ref().ok().map(|c| Principal::of_caller(&c.arn));
    let task_arns: Vec<String> = task.task_arn().map(str::to_owned).into_iter().collect();
    vec![iam::start_session_row(aws, principal.as_ref(), &task_arns, &[document], true).await]
}

pub(super) async fn preflight(
    aws: &Aws,
    target: &Target,
    task: &Task,
    container: &str,
) -> Vec<CheckResult> {
    let service = task
        .group()
        .and_then(|g| g.strip_prefix("service:"))
        .map(str::to_owned);
    let task_arns: Vec<String> = task.task_arn().map(str::to_owned).into_iter().collect();
    let td_arn = task.task_definition_arn().unwrap_or("").to_string();
    // Round trip 1: caller, cluster, service, task definition.
    let (caller, cluster, svc, (_, td)) = tokio::join!(
        caller_identity(aws),
        describe_cluster(aws, target),
        async {
            match &service {
                Some(name) => Some(describe_service(aws, target, name).await),
                None => None,
            }
        },
        describe_task_definition(aws, td_arn),
    );
    let exec = exec_config(cluster.as_ref().ok().and_then(|c| c.as_ref()));
    let (account, key_arn) = account_and_key(&caller, &exec, &aws.region);
    let principal = caller.as_ref().ok().map(|c| Principal::of_caller(&c.arn));
    let td = td.ok();
    let role = task_role(task, td.as_ref());
    // Round trip 2: the simulations.
    let (caller_rows, role_rows) = tokio::join!(
        iam::caller_rows(
            aws,
            principal.as_ref(),
            target,
            &task_arns,
            key_arn.as_deref()
        ),
        async {
            match &role {
                Some(arn) => {
                    let groups = td
                        .as_ref()
                        .map(|td| {
                            iam::awslogs_group_arns(td, Some(container), &aws.region, &account)
                        })
                        .unwrap_or_default();
                    iam::task_role_permission_rows(
                        aws,
                        arn,
                        &exec,
                        key_arn.as_deref(),
                        &account,
                        &groups,
                    )
                    .await
                }
                None => Vec::new(),
            }
        },
    );
    let mut out = vec![caller_row(&caller)];
    out.extend(caller_rows);
    if let Some(svc) = &svc {
        out.extend(
            service_rows(target, service.as_deref(), Some(svc))
                .into_iter()
                .filter(|r| r.id == "exec.service.enable_execute_command"),
        );
    }
    out.extend(
        task_rows(
            target,
            service.as_deref(),
            task,
            td.as_ref(),
            Some(container),
            &BTreeMap::new(),
        )
        .into_iter()
        .filter(|r| r.id != "exec.task.platform_version"),
    );
    if let Some(td) = &td {
        for c in td.containers(Some(container)) {
            out.push(taskdef::readonly_root(td, c));
            out.push(taskdef::credentials(td, c));
        }
    }
    out.extend(role_rows);
    out
}

fn service_label(target: &Target) -> String {
    match &target.scope {
        Scope::Service(s) => s.clone(),
        Scope::Family(f) => format!("family {f}"),
    }
}

/// Row 1.
fn caller_row(caller: &Result<Caller>) -> CheckResult {
    let check = CheckResult::new("exec.caller.identity", Group::Caller, "caller").row(1);
    match caller {
        Ok(c) => check.ok(format!("{} (account {})", c.arn, c.account)),
        Err(e) => check.ng(
            format!("no usable credentials: {e}"),
            "set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or run `aws sso login`",
        ),
    }
}

/// Rows 2 and 3.
fn cluster_rows(
    target: &Target,
    cluster: &Result<Option<Cluster>>,
    exec: &ExecConfig,
) -> Vec<CheckResult> {
    let name = &target.cluster;
    let active = CheckResult::new("exec.cluster.active", Group::Cluster, name).row(2);
    let config = CheckResult::new("exec.cluster.exec_configuration", Group::Cluster, name).row(3);
    match cluster {
        Err(e) => vec![
            active.could_not_check(e, "ecs:DescribeClusters"),
            config.skip("the cluster was not described"),
        ],
        Ok(None) => vec![
            active.ng(
                format!("cluster {name} does not exist"),
                format!(
                    "check `cluster:` in {} and the region, or create it: aws ecs create-cluster --cluster-name {name}",
                    target.config_label
                ),
            ),
            config.skip("no cluster"),
        ],
        Ok(Some(c)) => {
            let status = c.status().unwrap_or("UNKNOWN");
            let active = if status == "ACTIVE" {
                active.ok("ACTIVE")
            } else {
                active.ng(
                    format!("cluster {name} is {status}, not ACTIVE"),
                    format!("use an ACTIVE cluster in `cluster:` of {}", target.config_label),
                )
            };
            let mut parts = vec![format!("exec logging {}", exec.logging)];
            if let Some(g) = &exec.log_group {
                parts.push(format!("CloudWatch log group {g}"));
            }
            if let Some(b) = &exec.s3_bucket {
                parts.push(format!("S3 bucket {b}"));
            }
            parts.push(match &exec.kms_key_id {
                Some(k) => format!("KMS key {k}"),
                None => "no KMS key".into(),
            });
            vec![active, config.ok(parts.join(", "))]
        }
    }
}

/// Row 4.
fn service_rows(
    target: &Target,
    name: Option<&str>,
    service: Option<&Result<Option<Service>>>,
) -> Vec<CheckResult> {
    let Some(name) = name else {
        return vec![CheckResult::new(
            "exec.service.enable_execute_command",
            Group::Service,
            service_label(target),
        )
        .row(4)
        .skip("the config names no service")];
    };
    let check =
        CheckResult::new("exec.service.enable_execute_command", Group::Service, name).row(4);
    let enable = format!(
        "aws ecs update-service --cluster {} --service {name} --enable-execute-command --force-new-deployment (and set \"enableExecuteCommand\": true in the service definition)",
        target.cluster
    );
    match service {
        None => vec![check.skip("the config names no service")],
        Some(Err(Error::ClusterNotFound { .. })) => vec![check.skip("no cluster")],
        Some(Err(e)) => vec![check.could_not_check(e, "ecs:DescribeServices")],
        Some(Ok(None)) => vec![check.ng(
            format!(
                "service {name} does not exist in cluster {}",
                target.cluster
            ),
            format!(
                "check `service:` in {}, or create the service (ecspresso deploy)",
                target.config_label
            ),
        )],
        Some(Ok(Some(s))) if s.enable_execute_command => {
            vec![check.ok("enableExecuteCommand is true")]
        }
        Some(Ok(Some(_))) => vec![check.ng("enableExecuteCommand is false", enable)],
    }
}

/// Rows 5-8 for one task (agent rows per container).
fn task_rows(
    target: &Target,
    service: Option<&str>,
    task: &Task,
    td: Option<&TaskDef>,
    only: Option<&str>,
    agents: &BTreeMap<String, Result<Option<String>>>,
) -> Vec<CheckResult> {
    let id = task_id(task).to_string();
    let base =
        |check: &'static str, row: u8| CheckResult::new(check, Group::Task, &id).row(row).task(&id);
    let redeploy = match service {
        Some(s) => format!(
            "aws ecs update-service --cluster {} --service {s} --force-new-deployment",
            target.cluster
        ),
        None => "run a new task with --enable-execute-command".to_string(),
    };
    let mut out = Vec::new();

    // Row 6.
    let status = task.last_status().unwrap_or("UNKNOWN");
    let running = status == "RUNNING";
    let row6 = base("exec.task.running", 6);
    out.push(match status {
        "RUNNING" => row6.ok("RUNNING"),
        "PROVISIONING" | "PENDING" | "ACTIVATING" => row6.warn(
            format!("task is {status}, not RUNNING yet"),
            "wait until the task is RUNNING (ecsx tasks), then exec",
        ),
        _ => row6.ng(
            format!(
                "task is {status}{}",
                task.stopped_reason()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            format!("exec into a running task (ecsx tasks); to replace this one: {redeploy}"),
        ),
    });

    // Row 5.
    let row5 = base("exec.task.enable_execute_command", 5);
    out.push(if task.enable_execute_command {
        row5.ok("enableExecuteCommand is true")
    } else {
        row5.ng(
            "the task was started without exec enabled (before the service's flag was set)",
            format!("{redeploy} (after enabling exec on the service)"),
        )
    });

    // Row 8.
    out.push(platform_row(
        task,
        base("exec.task.platform_version", 8),
        agents,
    ));

    // Row 10: the task has a role at all (its permissions are the role's rows).
    let row10 = base("exec.task.task_role", 10);
    out.push(match (task_role(task, td), td) {
        (Some(role), _) => row10.ok(format!("task role {}", iam::role_name(&role))),
        (None, None) => row10.skip("the task definition was not described"),
        (None, Some(td)) => row10.ng(
            format!("the task has no task role ({} has no taskRoleArn); the exec agent needs one", td.label),
            "set \"taskRoleArn\" in the task definition to a role that trusts ecs-tasks.amazonaws.com and allows ssmmessages:CreateControlChannel, CreateDataChannel, OpenControlChannel, OpenDataChannel; then deploy",
        ),
    });

    // Row 7, per container.
    for c in task.containers() {
        let name = c.name().unwrap_or("");
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let check = base("exec.task.agent_running", 7).container(name);
        let agent = c
            .managed_agents()
            .iter()
            .find(|a| a.name().map(|n| n.as_str()) == Some("ExecuteCommandAgent"));
        let result = if !task.enable_execute_command {
            check.skip("exec is not enabled on the task")
        } else if !running {
            check.skip(format!("the task is {status}"))
        } else {
            match agent.and_then(|a| a.last_status()) {
                Some("RUNNING") => check.ok("ExecuteCommandAgent RUNNING"),
                Some("PENDING") => check.warn(
                    format!("ExecuteCommandAgent in container {name} is PENDING"),
                    "wait a few seconds and run again; the agent is starting",
                ),
                Some(s) => check.ng(
                    format!(
                        "ExecuteCommandAgent in container {name} is {s}{}",
                        agent
                            .and_then(|a| a.reason())
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    ),
                    format!(
                        "fix the task role's ssmmessages permissions and the network path to ssmmessages (see the other rows), then replace the task: {redeploy}"
                    ),
                ),
                None => check.ng(
                    format!("container {name} has no ExecuteCommandAgent"),
                    format!("replace the task: {redeploy}"),
                ),
            }
        };
        out.push(result);
    }
    out
}

/// Version text as numbers: `1.4.0` → [1, 4, 0].
fn version(text: &str) -> Option<Vec<u32>> {
    text.trim_start_matches('v')
        .split('.')
        .map(|p| p.parse().ok())
        .collect()
}

fn at_least(v: &[u32], min: &[u32]) -> bool {
    let len = v.len().max(min.len());
    let get = |s: &[u32], i: usize| s.get(i).copied().unwrap_or(0);
    for i in 0..len {
        if get(v, i) != get(min, i) {
            return get(v, i) > get(min, i);
        }
    }
    true
}

/// Row 8: Fargate platform version, or the EC2 container agent's version.
fn platform_row(
    task: &Task,
    check: CheckResult,
    agents: &BTreeMap<String, Result<Option<String>>>,
) -> CheckResult {
    if let Some(instance) = task.container_instance_arn() {
        return match agents.get(instance) {
            None => check.skip("container instance not described"),
            Some(Err(e)) => check.could_not_check(e, "ecs:DescribeContainerInstances"),
            Some(Ok(None)) => check.warn(
                format!("container instance {} reports no agent version", ecs::last_segment(instance)),
                "check the ECS container agent on the instance",
            ),
            Some(Ok(Some(v))) => match version(v) {
                Some(parts) if at_least(&parts, &[1, 50, 2]) => {
                    check.ok(format!("ECS container agent {v}"))
                }
                _ => check.ng(
                    format!("ECS container agent {v} is older than 1.50.2"),
                    format!(
                        "aws ecs update-container-agent --cluster <cluster> --container-instance {}",
                        ecs::last_segment(instance)
                    ),
                ),
            },
        };
    }
    let Some(pv) = task.platform_version() else {
        return check.skip("no platform version (not Fargate)");
    };
    let windows = task
        .platform_family()
        .is_some_and(|f| f.to_ascii_uppercase().starts_with("WINDOWS"));
    let min: &[u32] = if windows { &[1, 0, 0] } else { &[1, 4, 0] };
    let min_text = if windows { "1.0.0" } else { "1.4.0" };
    if pv == "LATEST" {
        return check.ok("Fargate LATEST");
    }
    match version(pv) {
        Some(parts) if at_least(&parts, min) => check.ok(format!("Fargate {pv}")),
        _ => check.ng(
            format!("Fargate platform version {pv} is older than {min_text}"),
            "set \"platformVersion\": \"LATEST\" (or 1.4.0) in the service definition and deploy: aws ecs update-service --platform-version LATEST --force-new-deployment",
        ),
    }
}

/// The ECS agent version of each container instance the tasks run on.
async fn container_agents(
    aws: &Aws,
    target: &Target,
    tasks: &[Task],
) -> BTreeMap<String, Result<Option<String>>> {
    let mut arns: Vec<String> = tasks
        .iter()
        .filter_map(|t| t.container_instance_arn().map(str::to_owned))
        .collect();
    arns.sort();
    arns.dedup();
    let mut out = BTreeMap::new();
    if arns.is_empty() {
        return out;
    }
    let calls = arns.chunks(100).map(|chunk| {
        aws.ecs()
            .describe_container_instances()
            .cluster(&target.cluster)
            .set_container_instances(Some(chunk.to_vec()))
            .send()
    });
    let answers = futures::future::join_all(calls).await;
    for (chunk, answer) in arns.chunks(100).zip(answers) {
        match answer {
            Ok(o) => {
                for ci in o.container_instances() {
                    if let Some(arn) = ci.container_instance_arn() {
                        out.insert(
                            arn.to_string(),
                            Ok(ci
                                .version_info()
                                .and_then(|v| v.agent_version())
                                .map(str::to_owned)),
                        );
                    }
                }
            }
            Err(e) => {
                let err = aws.error("DescribeContainerInstances", e);
                for arn in chunk {
                    out.insert(arn.clone(), Err(clone_error(&err)));
                }
            }
        }
    }
    out
}

/// Errors are not Clone; keep what the results need.
pub(super) fn clone_error(err: &Error) -> Error {
    match err {
        Error::Aws {
            operation,
            code,
            message,
        } => Error::Aws {
            operation,
            code: code.clone(),
            message: message.clone(),
        },
        other => Error::Task(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare() {
        assert!(at_least(&version("1.4.0").unwrap(), &[1, 4, 0]));
        assert!(at_least(&version("1.10").unwrap(), &[1, 4, 0]));
        assert!(!at_least(&version("1.3.0").unwrap(), &[1, 4, 0]));
        assert!(at_least(&version("1.50.2").unwrap(), &[1, 50, 2]));
        assert!(!at_least(&version("1.49.9").unwrap(), &[1, 50, 2]));
        assert!(version("LATEST").is_none());
    }
}
