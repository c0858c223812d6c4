//! ECS calls ecsx shares between commands: listing a service's tasks while
//! describing them, finding one task by id, ARN or prefix, and summarising a
//! task the way `tasks` and the exec picker show it.

use aws_sdk_ecs::types::{DesiredStatus, Task};
use chrono::{Local, TimeZone};
use futures::stream::{FuturesOrdered, StreamExt};

use crate::aws::Aws;
use crate::error::{Error, Result};

/// Which tasks belong to "the service".
#[derive(Debug, Clone)]
pub enum Scope {
    /// `ListTasks --service-name`.
    Service(String),
    /// No service configured: the task definition's family.
    Family(String),
}

/// Where tasks are looked up, plus what error messages need.
#[derive(Debug, Clone)]
pub struct Target {
    pub cluster: String,
    pub scope: Scope,
    /// The config file, for hints.
    pub config_label: String,
}

/// DescribeTasks takes at most this many ids; ListTasks pages are as long.
pub const BATCH: usize = 100;

/// Map the ECS errors that name the user's cluster or service.
pub fn ecs_error<E, R>(
    aws: &Aws,
    target: &Target,
    operation: &'static str,
    err: aws_sdk_ecs::error::SdkError<E, R>,
) -> Error
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match aws.error(operation, err) {
        Error::Aws { code, .. } if code == "ClusterNotFoundException" => Error::ClusterNotFound {
            cluster: target.cluster.clone(),
            region: aws.region.clone(),
            config: target.config_label.clone(),
        },
        Error::Aws { code, .. } if code == "ServiceNotFoundException" => Error::ServiceNotFound {
            service: match &target.scope {
                Scope::Service(s) => s.clone(),
                Scope::Family(f) => f.clone(),
            },
            cluster: target.cluster.clone(),
            config: target.config_label.clone(),
        },
        other => other,
    }
}

/// List the tasks in scope with the given desired statuses, describing each
/// page while the next one is listed. Order: as ListTasks returns them.
pub async fn list_tasks(
    aws: &Aws,
    target: &Target,
    statuses: &[DesiredStatus],
) -> Result<Vec<Task>> {
    list_tasks_as(aws, target, statuses, |task| task).await
}

/// Like [`list_tasks`], but each described task is turned into `T` as soon as
/// its page is described, so that a caller that needs a few fields of 5,000
/// tasks never holds 5,000 full task documents.
pub async fn list_tasks_as<T, F>(
    aws: &Aws,
    target: &Target,
    statuses: &[DesiredStatus],
    map: F,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Task) -> T + Send + Sync + Copy + 'static,
{
    let ecs = aws.ecs();
    let mut batches = FuturesOrdered::new();
    for status in statuses {
        let mut request = ecs
            .list_tasks()
            .cluster(&target.cluster)
            .desired_status(status.clone())
            .max_results(BATCH as i32);
        request = match &target.scope {
            Scope::Service(name) => request.service_name(name),
            Scope::Family(family) => request.family(family),
        };
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ecs_error(aws, target, "ListTasks", e))?;
            let arns = page.task_arns.unwrap_or_default();
            if arns.is_empty() {
                continue;
            }
            crate::debug!("ListTasks: {} tasks on this page", arns.len());
            let ecs = ecs.clone();
            let cluster = target.cluster.clone();
            batches.push_back(tokio::spawn(async move {
                let out = ecs
                    .describe_tasks()
                    .cluster(cluster)
                    .set_tasks(Some(arns))
                    .send()
                    .await?;
                Ok::<Vec<T>, _>(out.tasks.unwrap_or_default().into_iter().map(map).collect())
            }));
        }
    }
    let mut tasks = Vec::new();
    while let Some(joined) = batches.next().await {
        let rows = joined
            .map_err(|e| Error::Sandbox(format!("internal: describe task failed: {e}")))?
            .map_err(|e| ecs_error(aws, target, "DescribeTasks", e))?;
        tasks.extend(rows);
    }
    Ok(tasks)
}

/// Describe tasks by id or ARN; unknown ones are returned apart.
pub async fn describe_tasks(
    aws: &Aws,
    target: &Target,
    ids: &[String],
) -> Result<(Vec<Task>, Vec<String>)> {
    let out = aws
        .ecs()
        .describe_tasks()
        .cluster(&target.cluster)
        .set_tasks(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| ecs_error(aws, target, "DescribeTasks", e))?;
    let missing = out
        .failures
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.arn.map(|a| last_segment(&a).to_string()))
        .collect();
    Ok((out.tasks.unwrap_or_default(), missing))
}

/// Whether the text is a full task id (32 hex digits in new-style ARNs, a
/// UUID in old ones) or an ARN, so that no listing is needed.
fn is_full_id(text: &str) -> bool {
    text.starts_with("arn:")
        || (text.len() == 32 && text.chars().all(|c| c.is_ascii_hexdigit()))
        || (text.len() == 36 && uuid::Uuid::parse_str(text).is_ok())
}

/// Find one task by id, ARN or unique id prefix among the tasks in scope.
pub async fn find_task(
    aws: &Aws,
    target: &Target,
    id: &str,
    include_stopped: bool,
) -> Result<Task> {
    let id = id.trim();
    if id.is_empty() {
        return Err(Error::Usage(
            "--task-id is empty; pass a task id, an ARN or a unique prefix".into(),
        ));
    }
    if is_full_id(id) {
        let (mut tasks, _missing) = describe_tasks(aws, target, &[id.to_string()]).await?;
        if let Some(task) = tasks.pop() {
            return Ok(task);
        }
        return Err(Error::Task(format!(
            "task {id} not found in cluster {}; run `ecsx tasks --all` to see the tasks",
            target.cluster
        )));
    }
    let statuses: &[DesiredStatus] = if include_stopped {
        &[DesiredStatus::Running, DesiredStatus::Stopped]
    } else {
        &[DesiredStatus::Running]
    };
    let tasks = list_tasks(aws, target, statuses).await?;
    let mut matching: Vec<Task> = tasks
        .into_iter()
        .filter(|t| task_id(t).starts_with(id))
        .collect();
    match matching.len() {
        1 => Ok(matching.remove(0)),
        0 => Err(Error::Task(format!(
            "no task matches {id:?} in {}; run `ecsx tasks{}` to see the tasks",
            scope_label(target),
            if include_stopped { " --all" } else { "" }
        ))),
        _ => Err(Error::Task(format!(
            "task id prefix {id:?} is ambiguous: it matches {}; give more characters",
            matching.iter().map(task_id).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// "service web in cluster default" or "family web in cluster default".
pub fn scope_label(target: &Target) -> String {
    match &target.scope {
        Scope::Service(s) => format!("service {s} in cluster {}", target.cluster),
        Scope::Family(f) => format!("task family {f} in cluster {}", target.cluster),
    }
}

/// The last `/` segment of an ARN.
pub fn last_segment(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A task's id.
pub fn task_id(task: &Task) -> &str {
    task.task_arn.as_deref().map(last_segment).unwrap_or("")
}

/// `family:revision` from a task definition ARN.
pub fn task_definition_label(arn: &str) -> &str {
    last_segment(arn)
}

/// An SDK timestamp as RFC 3339 in local time.
pub fn local_time(t: &aws_smithy_types::DateTime) -> String {
    match Local.timestamp_opt(t.secs(), t.subsec_nanos()) {
        chrono::LocalResult::Single(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        _ => t.to_string(),
    }
}

/// Whether exec can reach the task: `ready`, `disabled`, or the agent's state.
pub fn exec_readiness(task: &Task) -> String {
    if !task.enable_execute_command {
        return "disabled".into();
    }
    let mut worst: Option<String> = None;
    for container in task.containers() {
        let agent = container
            .managed_agents()
            .iter()
            .find(|a| a.name().map(|n| n.as_str()) == Some("ExecuteCommandAgent"));
        match agent.and_then(|a| a.last_status()) {
            Some("RUNNING") => {}
            Some(status) => {
                worst.get_or_insert_with(|| format!("agent {status}"));
            }
            None => {
                worst.get_or_insert_with(|| "no agent".into());
            }
        }
    }
    worst.unwrap_or_else(|| "ready".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_ids_and_arns_skip_the_listing() {
        assert!(is_full_id("0123456789abcdef0123456789abcdef"));
        assert!(is_full_id("arn:aws:ecs:us-east-1:123:task/c/0123"));
        assert!(is_full_id("12345678-1234-1234-1234-123456789012"));
        assert!(!is_full_id("0123"));
        assert!(!is_full_id("0123456789abcdef0123456789abcdeg"));
    }

    #[test]
    fn arn_segments() {
        assert_eq!(last_segment("arn:aws:ecs:r:a:task/cl/abc"), "abc");
        assert_eq!(
            task_definition_label("arn:aws:ecs:r:a:task-definition/web:3"),
            "web:3"
        );
    }
}
