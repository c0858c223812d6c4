//! Which container a session goes into: the task (by id, ARN or prefix, the
//! only running one, or the picker of [`crate::picker`]), the container (the flag, else
//! the first container of the task's own definition), the checks visible on
//! the task, verify's pre-flight rows, and watching the task while a session
//! runs. exec, cp, the fan-out and port-forward all choose through here.

use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, Task};

use crate::aws::Aws;
use crate::ecs::{self, exec_readiness, last_segment, local_time, task_id, Target};
use crate::error::{Error, Result};
use crate::picker::{self, Candidate, Choice};
use crate::progress;

fn exec_error(message: impl Into<String>) -> Error {
    Error::Exec(message.into())
}

/// A chosen container of a chosen task.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// The task as DescribeTasks gave it.
    pub task: Task,
    /// Its id (the last segment of the ARN).
    pub task_id: String,
    /// The container's name.
    pub container: String,
    /// The container's runtime id (empty when ECS gave none).
    pub runtime_id: String,
    /// The cluster's name, as the task's ARN names it.
    pub cluster: String,
}

impl Chosen {
    /// Build from a described task and a container name of it.
    pub fn new(task: Task, container: String, target: &Target) -> Chosen {
        let runtime_id = task
            .containers()
            .iter()
            .find(|c| c.name() == Some(container.as_str()))
            .and_then(|c| c.runtime_id())
            .unwrap_or_default()
            .to_string();
        let cluster = task
            .cluster_arn()
            .map(last_segment)
            .unwrap_or(&target.cluster)
            .to_string();
        Chosen {
            task_id: task_id(&task).to_string(),
            task,
            container,
            runtime_id,
            cluster,
        }
    }

    /// The task's ARN.
    pub fn task_arn(&self) -> &str {
        self.task.task_arn().unwrap_or_default()
    }

    /// The Session Manager target: `ecs:<cluster>_<task id>_<runtime id>`.
    pub fn ssm_target(&self) -> String {
        format!("ecs:{}_{}_{}", self.cluster, self.task_id, self.runtime_id)
    }
}

/// Choose the task and container for one session. `can_prompt`: whether the
/// numbered picker may read the terminal.
pub async fn choose(
    aws: &Aws,
    target: &Target,
    task_id_flag: Option<&str>,
    container: Option<&str>,
    can_prompt: bool,
) -> Result<Chosen> {
    let task = choose_task(aws, target, task_id_flag, can_prompt).await?;
    let container = choose_container(aws, target, &task, container).await?;
    Ok(Chosen::new(task, container, target))
}

/// [`choose`], then [`check_ready`]: a container exec can go into now.
pub async fn choose_ready(
    aws: &Aws,
    target: &Target,
    task_id_flag: Option<&str>,
    container: Option<&str>,
    can_prompt: bool,
) -> Result<Chosen> {
    let chosen = choose(aws, target, task_id_flag, container, can_prompt).await?;
    check_ready(&chosen)?;
    Ok(chosen)
}

/// The running tasks in scope (RUNNING desired, not yet STOPPED).
pub async fn running_tasks(aws: &Aws, target: &Target) -> Result<Vec<Task>> {
    let mut tasks = ecs::list_tasks(aws, target, &[DesiredStatus::Running]).await?;
    tasks.retain(|t| t.last_status() != Some("STOPPED"));
    Ok(tasks)
}

/// Pick the task: by id/prefix, the only running one, or the picker (the
/// filter command, else the numbered prompt when `can_prompt`).
pub async fn choose_task(
    aws: &Aws,
    target: &Target,
    id: Option<&str>,
    can_prompt: bool,
) -> Result<Task> {
    if let Some(id) = id {
        return progress::while_waiting(
            format!("looking up task {id}"),
            ecs::find_task(aws, target, id, false),
        )
        .await;
    }
    let mut tasks = progress::while_waiting(
        format!("listing the running tasks of {}", ecs::scope_label(target)),
        running_tasks(aws, target),
    )
    .await?;
    match tasks.len() {
        0 => Err(exec_error(format!(
            "no running tasks in {}; start one, or check `ecsx status`",
            ecs::scope_label(target)
        ))),
        1 => {
            let task = tasks.remove(0);
            eprintln!("ecsx: using the only running task {}", task_id(&task));
            Ok(task)
        }
        n => {
            let candidates: Vec<Candidate> = tasks.iter().map(candidate).collect();
            let filter = picker::configured_filter_command();
            match picker::choose("task", &candidates, filter.as_deref(), can_prompt).await? {
                Choice::Picked(index) => Ok(tasks.remove(index)),
                Choice::CannotAsk => Err(exec_error(format!(
                    "{n} tasks are running and stdin is not a terminal, so ecsx won't ask; pass --task-id with one of: {} (or pick with --filter-command / ECSPRESSO_FILTER_COMMAND, e.g. 'head -1')",
                    tasks.iter().map(task_id).collect::<Vec<_>>().join(", ")
                ))),
            }
        }
    }
}

/// One task as the picker shows it: its id, and what a person chooses by.
pub fn candidate(t: &Task) -> Candidate {
    Candidate {
        id: task_id(t).to_string(),
        summary: format!(
            "{}, started {}, exec {}",
            t.last_status().unwrap_or("?"),
            t.started_at()
                .or(t.created_at())
                .map(local_time)
                .unwrap_or_else(|| "-".into()),
            exec_readiness(t)
        ),
    }
}

/// One task as the picker shows it (without its number).
pub fn picker_line(t: &Task) -> String {
    candidate(t).filter_line()
}

/// The container: the flag, else the first container of the task's definition.
pub async fn choose_container(
    aws: &Aws,
    target: &Target,
    task: &Task,
    flag: Option<&str>,
) -> Result<String> {
    let names: Vec<&str> = task.containers().iter().filter_map(|c| c.name()).collect();
    if let Some(name) = flag {
        if names.contains(&name) {
            return Ok(name.to_string());
        }
        return Err(exec_error(format!(
            "task {} has no container {name:?}; its containers are: {}",
            task_id(task),
            names.join(", ")
        )));
    }
    let arn = task.task_definition_arn().unwrap_or_default();
    let out = aws
        .ecs()
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| ecs::ecs_error(aws, target, "DescribeTaskDefinition", e))?;
    let first = out
        .task_definition()
        .and_then(|td| td.container_definitions().first())
        .and_then(|c| c.name())
        .map(str::to_owned);
    match first {
        Some(name) if names.contains(&name.as_str()) => Ok(name),
        _ => names
            .first()
            .map(|n| n.to_string())
            .ok_or_else(|| exec_error(format!("task {} has no containers", task_id(task)))),
    }
}

/// The container of each task (the flag, else the first of the task's own
/// definition), describing each distinct task definition once.
pub async fn choose_containers(
    aws: &Aws,
    target: &Target,
    tasks: Vec<Task>,
    flag: Option<&str>,
) -> Result<Vec<Chosen>> {
    let mut firsts: std::collections::HashMap<String, String> = Default::default();
    let mut chosen = Vec::with_capacity(tasks.len());
    for task in tasks {
        let arn = task.task_definition_arn().unwrap_or_default().to_string();
        let container = match (flag, firsts.get(&arn)) {
            (None, Some(first))
                if task
                    .containers()
                    .iter()
                    .any(|c| c.name() == Some(first.as_str())) =>
            {
                first.clone()
            }
            _ => {
                let name = choose_container(aws, target, &task, flag).await?;
                if flag.is_none() {
                    firsts.insert(arn, name.clone());
                }
                name
            }
        };
        chosen.push(Chosen::new(task, container, target));
    }
    Ok(chosen)
}

/// The exec prerequisites visible on the task itself: RUNNING, started with
/// exec enabled, and the container's ExecuteCommandAgent RUNNING.
pub fn check_ready(chosen: &Chosen) -> Result<()> {
    let task = &chosen.task;
    let id = &chosen.task_id;
    let container = &chosen.container;
    match task.last_status() {
        Some("RUNNING") => {}
        Some(status @ ("PROVISIONING" | "PENDING" | "ACTIVATING")) => {
            return Err(exec_error(format!(
                "task {id} is {status}, not RUNNING yet; wait a few seconds and try again"
            )))
        }
        status => {
            let reason = task
                .stopped_reason()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Err(exec_error(format!(
                "task {id} is {}{reason}; pick a running task (`ecsx tasks`)",
                status.unwrap_or("not running")
            )));
        }
    }
    if !task.enable_execute_command {
        return Err(exec_error(format!(
            "task {id} was started without exec enabled; run `aws ecs update-service --enable-execute-command --force-new-deployment` (or set \"enableExecuteCommand\": true) and exec into a new task"
        )));
    }
    let agent = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(container.as_str()))
        .and_then(|c| {
            c.managed_agents()
                .iter()
                .find(|a| a.name().map(|n| n.as_str()) == Some("ExecuteCommandAgent"))
        });
    match agent.and_then(|a| a.last_status()) {
        Some("RUNNING") => Ok(()),
        Some("PENDING") => Err(exec_error(format!(
            "the exec agent in task {id} container {container} is still PENDING; wait a few seconds and try again"
        ))),
        Some(status) => Err(exec_error(format!(
            "the exec agent in task {id} container {container} is {status}{}; start a new task (check the task role's ssmmessages permissions with `ecsx verify`)",
            agent.and_then(|a| a.reason()).map(|r| format!(" ({r})")).unwrap_or_default()
        ))),
        None => Err(exec_error(format!(
            "task {id} container {container} has no exec agent; the task was started without exec enabled; start a new task with exec enabled"
        ))),
    }
}

/// verify's rows for this task and container (caller's ecs:ExecuteCommand,
/// the task role's ssmmessages, KMS, logging, the task definition), run
/// concurrently. NG lines stop the caller; WARN lines are shown.
pub async fn verify_preflight(aws: &Aws, target: &Target, chosen: &Chosen) -> Result<()> {
    let started = std::time::Instant::now();
    let results = progress::while_waiting(
        format!(
            "pre-flight checks for task {} container {}",
            chosen.task_id, chosen.container
        ),
        crate::verify::preflight(aws, target, &chosen.task, &chosen.container),
    )
    .await;
    crate::debug!(
        "pre-flight: {} checks in {:?}",
        results.len(),
        started.elapsed()
    );
    report_preflight(&results)
}

/// Show NG and WARN rows of a pre-flight; any NG is an error with the count.
pub fn report_preflight(results: &[crate::verify::CheckResult]) -> Result<()> {
    let line = |r: &crate::verify::CheckResult| {
        let fix = r
            .fix
            .as_ref()
            .map(|f| format!("; fix: {f}"))
            .unwrap_or_default();
        format!("{}: {}{fix}", r.id, r.message)
    };
    let mut ng = 0;
    for r in results {
        match r.status {
            crate::verify::Status::Ng => {
                ng += 1;
                eprintln!("ecsx: [NG] {}", line(r));
            }
            crate::verify::Status::Warn => eprintln!("ecsx: [WARN] {}", line(r)),
            _ => {}
        }
    }
    if ng > 0 {
        return Err(exec_error(format!(
            "pre-flight: {ng} check{} NG (above); fix {}, or pass --skip-verify to try anyway",
            if ng == 1 { "" } else { "s" },
            if ng == 1 { "it" } else { "them" }
        )));
    }
    Ok(())
}

/// How often the task is checked for having stopped during a session.
pub fn task_poll_interval() -> Duration {
    std::env::var("ECSX_TASK_POLL_INTERVAL")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(Duration::from_secs(10))
}

/// The task's stoppedReason if it has stopped (or is stopping, or is gone).
pub async fn stopped_reason(aws: &Aws, target: &Target, id: &str) -> Option<String> {
    let (tasks, missing) = ecs::describe_tasks(aws, target, &[id.to_string()])
        .await
        .ok()?;
    match tasks.first() {
        Some(task)
            if matches!(
                task.last_status(),
                Some("STOPPED" | "DEPROVISIONING" | "STOPPING")
            ) =>
        {
            Some(
                task.stopped_reason()
                    .unwrap_or("no reason given")
                    .to_string(),
            )
        }
        None if !missing.is_empty() => Some("the task no longer exists".into()),
        _ => None,
    }
}

/// Resolves when the task has stopped, with its reason.
pub async fn watch_task(aws: Aws, target: Target, id: String) -> String {
    let interval = task_poll_interval();
    loop {
        tokio::time::sleep(interval).await;
        if let Some(reason) = stopped_reason(&aws, &target, &id).await {
            return reason;
        }
    }
}
